"""The repository keeps the shape it promises: modules small enough to read whole, and
documentation that lives in it — every document the code, help text or docs point to
exists here, and none points outside."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
MAX_MODULE_LINES = 500
#: documents of the project's first design, which are not part of this repository
OUTSIDE = re.compile(r"\b(MISSION|ARCHITECTURE|STYLE)\.md\b|\.\./shared/")
DOC_PATH = re.compile(r"\bdocs/[A-Za-z0-9_./-]+\.(?:md|png)\b")
MD_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def tracked(*suffixes: str) -> list[Path]:
    """Files git knows (tracked or new, not ignored), so build output never counts."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [ROOT / name for name in listed if name.endswith(suffixes) and (ROOT / name).exists()]


def test_no_module_in_src_is_over_the_limit() -> None:
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in tracked(".py")
        if path.is_relative_to(ROOT / "src")
        and (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, f"split these modules (over {MAX_MODULE_LINES} lines): {too_long}"


@pytest.mark.parametrize("suffixes", [(".py", ".md", ".toml", ".html", ".js", ".example")])
def test_nothing_cites_a_document_outside_the_repository(suffixes: tuple[str, ...]) -> None:
    citing = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in tracked(*suffixes)
        if path.name != Path(__file__).name
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not citing, f"these lines cite documents that are not in the repository: {citing}"


def test_every_docs_path_named_anywhere_exists() -> None:
    missing = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in tracked(".py", ".md", ".toml", ".example")
        if path.name != Path(__file__).name
        for name in DOC_PATH.findall(path.read_text())
        if not (ROOT / name).exists()
    }
    assert not missing, f"these name a document that does not exist: {sorted(missing)}"


def test_every_relative_link_in_the_documentation_resolves() -> None:
    broken = [
        f"{page.relative_to(ROOT)}: {target}"
        for page in tracked(".md")
        for target in MD_LINK.findall(page.read_text())
        if "://" not in target
        and not target.startswith("mailto:")
        and not (page.parent / target).exists()
    ]
    assert not broken, f"broken links: {broken}"
