"""How a server process runs a batch (up to 1,000 items, tens of milliseconds of one core), so
that the batches of a platform sending several at once are shared by all the processes of
``ce-ledger serve --workers N``.

Measured on two cores with two processes and two clients sending batches (docs/scale.md, twelfth
session): a keep-alive connection stays with the process that accepted it, and asyncio accepts
every connection waiting at once, so in 6 of 22 rows measured one process took both clients and
the other idled. Two things together share them out:

- a batch's answer closes its connection (``ONE_BATCH_A_CONNECTION``), so each batch is accepted
  anew;
- with several processes, a process records its batch on its event loop, and so accepts nothing
  until it has answered: the next connection is taken by a process that is free (gunicorn's sync
  workers, for these endpoints). Run in the thread pool instead, a busy process's loop still
  accepted while the batch waited for PostgreSQL, and took new batches too.
  Other requests on a connection that process already holds wait for the batch (at most a few
  hundred milliseconds); new connections go to the free processes.

With one process (``--workers 1``, the default) there is no other to take a connection: the batch
runs in the thread pool, and other requests are answered beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")

ONE_BATCH_A_CONNECTION = {"connection": "close"}


async def run_batch(processes: int, work: Callable[..., T], *args: object) -> T:
    """``work(*args)``: on this process's event loop when ``processes`` (the server's, the
    ``CE_LEDGER_SERVER_PROCESSES`` setting that ``ce-ledger serve`` sets) are several, so that
    this one accepts no connection meanwhile; else in the thread pool."""
    if processes > 1:
        return work(*args)
    return await run_in_threadpool(work, *args)
