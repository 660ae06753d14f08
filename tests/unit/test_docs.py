"""The docs site builds in strict mode, and every internal link and anchor in it resolves."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# [text](target) outside code; a target with a scheme (https:, mailto:) is not internal.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


class _Ids(HTMLParser):
    """Every id attribute of one HTML page: the anchors a link may name."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids.update(value for name, value in attrs if name == "id" and value)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built by `mkdocs build --strict` (what `make docs` runs) in a temporary dir."""
    out = tmp_path_factory.mktemp("site")
    argv = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return out


def _prose(text: str) -> str:
    """Markdown without fenced code blocks and inline code, where links are not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


def _anchors(site: Path, page: Path) -> set[str]:
    """The ids of the built page of one docs Markdown file."""
    parser = _Ids()
    parser.feed((site / page.relative_to(DOCS).with_suffix(".html")).read_text(encoding="utf-8"))
    return parser.ids


def _broken(site: Path, source: Path) -> list[str]:
    """The internal links of one Markdown file whose file or anchor does not exist."""
    broken = []
    for target in LINK.findall(_prose(source.read_text(encoding="utf-8"))):
        if EXTERNAL.match(target):
            continue
        path, _, anchor = target.partition("#")
        file = (source.parent / path).resolve() if path else source
        if not file.exists():
            broken.append(target)
        elif anchor and (file.suffix != ".md" or not file.is_relative_to(DOCS)):
            broken.append(f"{target} (an anchor outside the docs pages cannot be checked)")
        elif anchor and anchor not in _anchors(site, file):
            broken.append(target)
    return broken


def _nav_pages(nav: list[object]) -> list[str]:
    """The Markdown files a mkdocs nav lists, nested sections included."""
    pages: list[str] = []
    for item in nav:
        for value in item.values() if isinstance(item, dict) else [item]:
            pages += _nav_pages(value) if isinstance(value, list) else [str(value)]
    return pages


def test_every_internal_link_and_anchor_resolves(site: Path) -> None:
    """Links in README.md, CHANGELOG.md and each docs page name a file and anchor that exist."""
    sources = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted(DOCS.glob("*.md"))]
    broken = {str(s.relative_to(ROOT)): _broken(site, s) for s in sources}
    assert {name: links for name, links in broken.items() if links} == {}


def test_the_nav_lists_every_page_and_the_readme_links_each(site: Path) -> None:
    """Every docs page is in the nav (and was built); the README links every nav page."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["strict"] is True and config["site_dir"] == "build/site"
    pages = _nav_pages(config["nav"])
    assert sorted(pages) == sorted(p.name for p in DOCS.glob("*.md"))
    assert all((site / Path(p).with_suffix(".html")).is_file() for p in pages)
    readme = set(LINK.findall(_prose((ROOT / "README.md").read_text(encoding="utf-8"))))
    missing = [p for p in pages if p != "index.md" and f"docs/{p}" not in readme]
    assert missing == []


def test_the_readme_is_short_and_says_the_two_commands() -> None:
    """What it is, `make run` and `make test`, the screenshot; the rest lives in docs/."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 100
    assert "make run" in readme and "make test" in readme
    assert "](docs/status-page.png)" in readme
