"""Dotted field paths: list selectors key[field=value], parsed once, malformed ones refused."""

from __future__ import annotations

import pytest

from consumer.paths import Step, compile_path, path_problem
from consumer.sources.fields import extract

TARGETS = {
    "target": [
        {"id": "0oa1app", "type": "AppInstance"},
        {"id": 7, "type": "Count"},
        {"id": "00uFIRST", "type": "User"},
        {"id": "00uSECOND", "type": "User"},
        {"id": "flag", "type": True},
    ]
}


def test_selector_takes_the_first_entry_whose_field_equals_the_value() -> None:
    """target[type=User].id: the first User entry, wherever it stands in the list."""
    assert extract("target[type=User].id", TARGETS, {}) == "00uFIRST"


def test_selector_compares_integers_by_their_decimal_form_and_nothing_else() -> None:
    """An integer field matches its decimal string; a boolean never matches 'True'."""
    assert extract("target[id=7].type", TARGETS, {}) == "Count"
    assert extract("target[type=True].id", TARGETS, {}) is None


@pytest.mark.parametrize(
    "body",
    [
        TARGETS,
        {"target": [{"id": "x", "type": "user"}]},  # case matters
        {"target": {"type": "User", "id": "x"}},  # not a list
        {"target": ["User"]},  # entries that are not objects
        {},
    ],
)
def test_selector_without_a_match_is_missing(body: object) -> None:
    """No entry matches (or no list at all): the value is missing, as for any missing step."""
    assert extract("target[type=Nobody].id", body, {}) is None


def test_selector_value_may_hold_dots_and_equals_signs() -> None:
    """Everything between '=' and ']' is the value: e-mail addresses and URLs select too."""
    body = {"ids": [{"k": "a.b=c", "v": 1}]}
    assert compile_path("ids[k=a.b=c].v") == (Step("ids", "k", "a.b=c"), Step("v"))
    assert extract("ids[k=a.b=c].v", body, {}) == 1


def test_plain_paths_and_indexes_still_walk_as_before() -> None:
    """data.object.id and target.0.id keep their meaning."""
    assert extract("target.2.id", TARGETS, {}) == "00uFIRST"
    assert extract("a.b", {"a": {"b": "c"}}, {}) == "c"
    assert compile_path("a.0.b") == (Step("a"), Step("0"), Step("b"))


@pytest.mark.parametrize(
    "path",
    [
        "target[type=User",
        "target[type]",
        "target[=User].id",
        "a..b",
        ".a",
        "a.",
        "[type=User]",
        "a[b=c]d",
        "a[b=c][d=e]",
        "a[b.c=d]",
        "",
    ],
)
def test_malformed_paths_are_named(path: str) -> None:
    """A malformed selector or an empty step is a problem, reported with the path."""
    problem = path_problem(path)
    assert problem is not None and repr(path) in problem
    with pytest.raises(ValueError, match="malformed field path"):
        compile_path(path)


def test_header_paths_are_not_dotted_paths() -> None:
    """header:<Name> is checked for a name only; its name may hold any characters."""
    assert path_problem("header:X-Okta-Verification[1]") is None
    assert path_problem("header:") is not None
