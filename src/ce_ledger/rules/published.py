"""The rule-sets published so far. Adding one is adding a module and a line here."""

from ce_ledger.rules import nx2019
from ce_ledger.rules.ruleset import Registry

PUBLISHED = Registry(nx2019.RULE_SET)
