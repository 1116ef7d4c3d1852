"""The resident ID number (公民身份号码, GB 11643-1999): check, mask, and key.

The clear number is personal data. It is validated here, turned into a keyed
digest (the stream id) and a masked form, and then dropped: no event, table or
log line ever holds it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date
from operator import mul
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator

from ce_ledger.domain.errors import InvalidInput

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_ZEROS = ord("0") * sum(_WEIGHTS)  # what the ASCII codes add beyond the digits' values
# ASCII digits only once read: ``\d`` also matched other scripts' digits (Arabic-Indic, say), which
# passed the check and then failed as the stream id was made (an error 500).
_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")
# The full-width digits and X that a Chinese input method may type are the same number.
_FULL_WIDTH = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789Xx")


class InvalidIdNumber(ValueError):
    """The ID number breaks GB 11643 (shape, birth date or check digit)."""


def check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character over the first 17 digits (GB 11643 §5.4), ASCII.
    Summed over the ASCII codes, less the zeros' codes: a third of the time of ``int`` per digit,
    on every item of every platform batch."""
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise ValueError("17 ASCII digits are needed for a check digit")
    return _CHECK_CHARS[(sum(map(mul, _WEIGHTS, first17.encode("ascii"))) - _ZEROS) % 11]


def normalise_id_number(raw: str) -> str:
    """The canonical form of a valid ID number; raises ``InvalidIdNumber`` naming the rule.

    The messages never repeat the number itself, so they are safe to log.
    """
    number = raw.strip().translate(_FULL_WIDTH).upper()
    if not _SHAPE.match(number):
        raise InvalidIdNumber(
            "must be 18 characters: 17 digits and a check digit (0-9 or X) (GB 11643)"
        )
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidIdNumber("digits 7-14 are not a valid birth date (GB 11643)") from None
    if check_digit(number[:17]) != number[17]:
        raise InvalidIdNumber("check digit does not match (GB 11643 MOD 11-2)")
    return number


def mask(number: str) -> str:
    """First 6 (region) and last 4 characters; the birth date and sequence hidden."""
    return f"{number[:6]}{'*' * 8}{number[-4:]}"


def professional_id(number: str, key: bytes) -> UUID:
    """The stream id of a person: HMAC-SHA256 under the ledger's secret key.

    Keyed, because an unkeyed hash of an 18-digit number with a check digit and a
    birth date is trivially brute-forced back to the number.
    """
    digest = hmac.new(key, number.encode("ascii"), hashlib.sha256).digest()
    return UUID(bytes=digest[:16])


def _checked(value: str) -> str:
    try:
        return normalise_id_number(value)
    except InvalidIdNumber as e:
        raise ValueError(str(e)) from None


# For request models: validated and normalised. Such a model must also set
# ``hide_input_in_errors``: pydantic would otherwise print the refused number.
IdNumber = Annotated[str, AfterValidator(_checked)]


# 18 ASCII characters not inside a longer run of ASCII digits or letters; and, where the text has a
# full-width digit, 18 characters of either width not inside a longer run of either. Both are
# searched: the second alone would miss an ASCII number touching a full-width digit or letter,
# which the first finds. (A text without full-width digits has no match of the second that the
# first misses.) The look back comes after the first digit, so that a search skips to digits (a
# leading one scanned every character of Chinese text at about twice the time).
_EMBEDDED = re.compile(r"[0-9](?<![0-9][0-9])[0-9]{16}[0-9Xx](?![0-9A-Za-z])")
_EMBEDDED_ANY_WIDTH = re.compile(
    r"[0-9０-９](?<![0-9０-９][0-9０-９])[0-9０-９]{16}[0-9０-９XxＸｘ](?![0-9０-９A-Za-zＡ-Ｚａ-ｚ])")
_FULL_WIDTH_DIGIT = re.compile(r"[０-９]")


def _patterns(text: str) -> tuple[re.Pattern[str], ...]:
    """The patterns ``text`` is searched with (above)."""
    return (_EMBEDDED, _EMBEDDED_ANY_WIDTH) if _FULL_WIDTH_DIGIT.search(text) else (_EMBEDDED,)


def _valid(candidate: str) -> bool:
    """Whether 18 characters found by ``_patterns`` are an ID number: the check digit matches."""
    number = candidate.translate(_FULL_WIDTH)
    return check_digit(number[:17]) == number[17].upper()


def holds_id_number(text: str) -> bool:
    """Whether free text carries a valid resident ID number (GB 11643: 17 digits and a check
    digit that matches, in ASCII or full-width characters). Chinese certificates are often
    numbered by their holder's ID number; such a number must not reach the store through a
    certificate or record field."""
    return any(_valid(m.group()) for pattern in _patterns(text) for m in pattern.finditer(text))


def redact_id_numbers(text: str, mark: str) -> str:
    """``text`` with each valid resident ID number in it replaced by ``mark`` (for log lines;
    ``mark`` holds no digit)."""
    for pattern in _patterns(text):
        text = pattern.sub(lambda m: mark if _valid(m.group()) else m.group(), text)
    return text


def refuse_id_numbers(fields: dict[str, object]) -> None:
    """Raise naming the first field whose text carries a valid ID number (never echoing it)."""
    # One search over all the text first (joined by a newline, which no match can span or touch
    # as a digit): almost every record has no 18-character number at all, and this runs on every
    # activity recorded.
    text = "\n".join([v for v in fields.values() if isinstance(v, str)])
    if not any(pattern.search(text) for pattern in _patterns(text)):
        return
    for name, value in fields.items():
        if isinstance(value, str) and holds_id_number(value):
            raise InvalidInput(
                name,
                "must not contain a resident ID number (it would be stored in clear); "
                "use the certificate's own number, or leave the ID number to the registration",
            )
