"""Imported last by the tests' fork server (tests/launcher.py): what it imported is moved out of
the cyclic collector's reach (``gc.freeze``), as Python's documentation advises before forking.
Without it each child's first full collection — a server's ``collector.settle()`` at start,
an import's before its batches — walked every object of the fork server's preloaded code and
wrote to the page of each (copy-on-write): about 0.2 s of CPU a process, some 80 processes."""

import gc

gc.collect()
gc.freeze()
