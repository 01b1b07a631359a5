"""``hfpc profile``: show and write Profiles."""

from __future__ import annotations

from pathlib import Path

import typer

from hfpc.cli._common import console, fail
from hfpc.errors import ProfileError

app = typer.Typer(no_args_is_help=True, help="Inspect profiles (checks, backends, thresholds).")


@app.command("show")
def show(profile: str = typer.Argument("default", help="'default' or a profile TOML file")) -> None:
    """Print a profile with every setting resolved, as TOML."""
    from hfpc.profile import Profile

    try:
        p = Profile.load(profile)
    except ProfileError as e:
        fail(str(e))
    console.print(p.to_toml(), highlight=False, markup=False)


@app.command("write")
def write(out: Path = typer.Argument(..., help="TOML file to write"),
          profile: str = typer.Option("default", "--from", help="profile to start from")) -> None:
    """Write a profile (default: the built-in one) to a TOML file to edit."""
    from hfpc.profile import Profile

    try:
        path = Profile.load(profile).save(out)
    except ProfileError as e:
        fail(str(e))
    console.print(f"wrote {path}")


@app.command("doc")
def doc(write: Path | None = typer.Option(None, "--write", help="markdown file whose settings block to replace "
                                          "(docs/profiles.md)")) -> None:
    """Print the settings reference (every Profile key and check setting) as markdown tables."""
    from hfpc import settings_doc

    if write is None:
        console.print(settings_doc.render(), highlight=False, markup=False, soft_wrap=True)
        return
    try:
        changed = settings_doc.write(write)
    except (OSError, ValueError) as e:
        fail(f"{write}: {e}")
    console.print(f"{write}: {'updated' if changed else 'already up to date'}")
