"""CSV exports a spreadsheet opens safely: no cell runs as a formula (OWASP CSV injection),
and a mappings export still imports back to the very same ids."""

from __future__ import annotations

import csv
import io

import pytest

from consumer.csvcell import neutralise, restore

RISKY = ['=HYPERLINK("http://x","y")', "+1+2", "-2+3", "@SUM(A1)", "'=1+1", "''-x"]


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


SAFE = ["u-1", "a=b", "'plain", "", "x'=1"]


@pytest.mark.parametrize("value", [*RISKY, "\t=1", "\r=1"])
def test_a_cell_a_spreadsheet_would_run_gets_a_quote_in_front(value: str) -> None:
    """=, +, -, @, tab and CR first (after any quotes) get one "'" in front."""
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", SAFE)
def test_other_cells_are_left_alone(value: str) -> None:
    """Only what a spreadsheet would run is changed."""
    assert neutralise(value) == value


@pytest.mark.parametrize("value", [*RISKY, *SAFE, "'", "'''", "\t=1"])
def test_restore_undoes_neutralise_exactly(value: str) -> None:
    """One quote is dropped only where neutralise put it: every id survives the round trip."""
    assert restore(neutralise(value)) == value


def test_csv_cells_with_separators_or_quotes_are_quoted() -> None:
    """A ";" (the separator of many locales), "," or '"' inside a cell is quoted, not split."""
    from consumer.csvcell import line

    text = line(["a;=1", "b,c", 'say "hi"', "tab\tin", "plain"], "\n")
    assert text == '"a;=1","b,c","say ""hi""","tab\tin",plain\n'
    assert _cells(text) == [["a;=1", "b,c", 'say "hi"', "tab\tin", "plain"]]
