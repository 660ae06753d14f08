"""CSV cells a spreadsheet opens as text: the one writer every CSV export uses.

OWASP's advice against CSV (formula) injection: a cell starting with =, +, -, @, a tab or
a carriage return is run by Excel, LibreOffice and Sheets as a formula, so it gets a
single quote in front; and each cell holding a separator (",", or ";" for the many
locales that use it), a quote, a tab or a line break is quoted, quotes doubled.

The quote is reversible: neutralise() also adds one before a cell that is already quotes
followed by such a character, so restore() drops exactly one quote where neutralise()
added it and a CSV export imports back to the very same ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Any number of quotes, then a character a spreadsheet starts a formula with.
_FORMULA = re.compile(r"'*[=+\-@\t\r]")
_NEEDS_QUOTES = re.compile(r'[,;"\t\r\n]|^\s|\s$')


def neutralise(value: str) -> str:
    """value with a "'" in front if a spreadsheet would run it as a formula."""
    return "'" + value if _FORMULA.match(value) else value


def restore(value: str) -> str:
    """The value neutralise() was given: its added quote dropped, anything else unchanged."""
    return value[1:] if value.startswith("'") and _FORMULA.match(value, 1) else value


def cell(value: object) -> str:
    """One value as CSV text: neutralised, and quoted if it holds a separator or a quote."""
    text = neutralise("" if value is None else str(value))
    if _NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def line(values: Iterable[object], terminator: str = "\r\n") -> str:
    """One CSV line of values (None as an empty cell), ended by terminator."""
    return ",".join(cell(v) for v in values) + terminator
