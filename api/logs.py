"""Request logs that never carry a clear ID number: a client may put one in a path or a query
(a mistaken URL, a probe); the access log line has it replaced before it is written."""

from __future__ import annotations

import copy
import logging
import re

from ce_ledger.domain.identity import check_digit

_CANDIDATE = re.compile(r"(?<![0-9])([0-9]{17})([0-9Xx])(?![0-9A-Za-z])")


def redact(text: str) -> str:
    """Each valid resident ID number in ``text`` replaced by a mark."""
    return _CANDIDATE.sub(lambda m: "[ID number removed]" if check_digit(m[1]) == m[2].upper() else m[0], text)


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
