"""Request logs that never carry a clear ID number: a client may put one in a path or a query
(a mistaken URL, a probe); the access log line has it replaced before it is written."""

from __future__ import annotations

import copy
import logging

from ce_ledger.domain.identity import redact_id_numbers


def redact(text: str) -> str:
    """Each valid resident ID number in ``text`` replaced by a mark."""
    return redact_id_numbers(text, "[ID number removed]")


class RedactIdNumbers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)  # type: ignore[arg-type]
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def log_config(level: str) -> dict:
    """uvicorn's own logging configuration, with the filter on its access and error logs."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["no_id_numbers"] = {"()": RedactIdNumbers}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("no_id_numbers")
    config["loggers"]["uvicorn"]["level"] = level.upper()
    return config
