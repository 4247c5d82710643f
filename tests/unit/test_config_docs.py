"""docs/configuration.md is generated from the settings catalogue and must match it."""

from __future__ import annotations

import re
from pathlib import Path

from qmoi.config import CATALOGUE, SECRET_VARIABLES, VARIABLES, json_file_values
from qmoi.config.docs import COMMAND, render

DOC = Path(__file__).parents[2] / "docs" / "configuration.md"


def test_the_configuration_reference_matches_the_catalogue() -> None:
    assert DOC.is_file(), f"{DOC} is missing: run `make docs` ({COMMAND})"
    assert DOC.read_text(encoding="utf-8") == render(), (
        f"docs/configuration.md is out of date with src/qmoi/config/catalogue.py: "
        f"run `make docs` ({COMMAND}) and commit the result"
    )


def test_every_setting_has_one_row_and_secrets_are_marked() -> None:
    text = render()
    rows = {m[1]: m[0] for m in re.finditer(r"^\| `([A-Z_0-9]+)` \|.*$", text, re.M)}
    assert list(rows) == [s.name for s in CATALOGUE]
    assert len(CATALOGUE) == len(VARIABLES)
    for name, row in rows.items():
        assert ("*secret*" in row) == (name in SECRET_VARIABLES), name


def test_the_json_example_reads_as_known_variables(tmp_path: Path) -> None:
    example = re.search(r"```json\n(.*?)```", render(), re.S)
    assert example is not None
    path = tmp_path / "qmoi.json"
    path.write_text(example[1], encoding="utf-8")
    values = json_file_values(path)
    assert set(values) <= VARIABLES.keys()
    assert values["AIRTEL_CLIENT_ID"] == "…"
    assert values["QMOI_DAILY_TARGET_AIRTEL"] == "10000"
