"""docs/profiles.md's settings tables are generated from the Settings models and must not drift."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, Field
from typer.testing import CliRunner

from hfpc import settings_doc
from hfpc.checks.base import check_names
from hfpc.cli import app

DOC = Path(__file__).resolve().parents[1] / "docs" / "profiles.md"


def test_docs_profiles_md_matches_the_settings_models() -> None:
    text = DOC.read_text(encoding="utf-8")
    expected = settings_doc.splice(text, settings_doc.render())
    if text != expected:
        diff = "".join(difflib.unified_diff(text.splitlines(True), expected.splitlines(True),
                                            "docs/profiles.md (committed)", "docs/profiles.md (generated)", n=0))
        pytest.fail("docs/profiles.md is out of date with the Settings models. Regenerate it with\n\n"
                    f"    {settings_doc.REGENERATE}\n\nand commit the result. Difference:\n{diff}", pytrace=False)


def test_every_check_and_top_level_key_is_documented() -> None:
    from hfpc.profile import Profile

    tables = settings_doc.render()
    for name in check_names():
        assert f"`[checks.{name}]`" in tables
    for key in Profile.model_fields:
        if key != "checks":
            assert f"| `{key}` |" in tables


class _Demo(BaseModel):
    needed: str = Field(..., description="must be given")
    ratio: float = Field(0.5, ge=0, le=1, description="a share | with a pipe")
    mode: Literal["a", "b"] = "a"
    limit: int | None = Field(None, gt=0, description="off when unset")
    pair: tuple[str, str] = ("x", "y")
    enabled: bool = True


def test_table_shows_defaults_bounds_choices_and_meanings() -> None:
    rows = settings_doc.settings_table(_Demo).splitlines()
    assert rows[0] == "| key | default | allowed | meaning |"
    assert rows[2] == "| `needed` | required |  | must be given |"
    assert rows[3] == "| `ratio` | `0.5` | ≥ 0, ≤ 1 | a share \\| with a pipe |"
    assert rows[4] == '| `mode` | `"a"` | `"a"` \\| `"b"` |  |'
    assert rows[5] == "| `limit` | unset | > 0 | off when unset |"
    assert rows[6] == '| `pair` | `["x", "y"]` |  |  |'
    assert rows[7].startswith("| `enabled` | `true` |  | run this check")


def test_splice_keeps_the_prose_around_the_markers(tmp_path: Path) -> None:
    doc = tmp_path / "p.md"
    doc.write_text(f"# Title\nintro\n{settings_doc.BEGIN}\nold table\n{settings_doc.END}\noutro\n")
    assert settings_doc.write(doc)
    text = doc.read_text()
    assert text.startswith("# Title\nintro\n") and text.endswith(f"{settings_doc.END}\noutro\n")
    assert "old table" not in text and "`[checks.consistency]`" in text
    assert not settings_doc.write(doc)  # a second run changes nothing
    with pytest.raises(ValueError, match="settings:begin"):
        settings_doc.splice("no markers", "table")


def test_cli_profile_doc(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["profile", "doc"])
    assert r.exit_code == 0 and "| `max_local_change` |" in r.output
    doc = tmp_path / "p.md"
    doc.write_text(f"{settings_doc.BEGIN}\n{settings_doc.END}\n")
    r = runner.invoke(app, ["profile", "doc", "--write", str(doc)])
    assert r.exit_code == 0 and "updated" in r.output
    assert settings_doc.main(["--write", str(doc)]) == 0
    r = runner.invoke(app, ["profile", "doc", "--write", str(tmp_path / "none.md")])
    assert r.exit_code == 2
