"""The rule-sets published so far, newest first: the first that serves a year is in force.

Adding one is adding a module and a line here; an old one stays, so that verdicts
issued under it still replay.
"""

from ce_ledger.rules import nx2019, nx2019_1, nx2019_2
from ce_ledger.rules.ruleset import Registry

PUBLISHED = Registry(nx2019_2.RULE_SET, nx2019_1.RULE_SET, nx2019.RULE_SET)
