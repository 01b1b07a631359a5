"""Helpers shared by the CLI modules: console, error exit, internal-error guard, progress bar.

Exit codes of the commands that judge: 0 every sample passed, 1 some failed, 2 some could not
be judged, 3 the run itself could not be done (a bad manifest, profile or results file, a
locked or mismatched results file, an internal error).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

EXIT_PASSED, EXIT_FAILED, EXIT_ERRORS, EXIT_RUN_FAILED = 0, 1, 2, 3


def printable(text: str) -> str:
    """``text`` with bytes that are not valid UTF-8 (surrogate escapes from file names) shown as ``\\udcff``."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def fail(message: str, code: int = 2) -> NoReturn:
    """Print an error in red on stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {escape(printable(message))}", highlight=False)
    raise typer.Exit(code)


def debug_enabled(flag: bool = False) -> bool:
    """``--debug`` or ``HFPC_DEBUG=1``: let unexpected exceptions show their traceback."""
    return flag or os.environ.get("HFPC_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


@contextmanager
def internal_errors(what: str, debug: bool = False) -> Iterator[None]:
    """Turn an unexpected exception into one line naming ``what`` and exit code 3 (unless debugging)."""
    try:
        yield
    except (typer.Exit, typer.Abort, typer.TyperException):  # typer's own exits and usage errors
        raise
    except ModuleNotFoundError as e:
        from hfpc.cli import EXTRAS

        if (e.name or "").split(".")[0] in EXTRAS or debug_enabled(debug):
            raise  # main() names the extra to install
        _internal(what, e)
    except Exception as e:
        if debug_enabled(debug):
            raise
        _internal(what, e)


def _internal(what: str, e: BaseException) -> NoReturn:
    first = next((line for line in str(e).splitlines() if line.strip()), "")
    fail(f"internal error while {what}: {type(e).__name__}: {first} "
         "(rerun with --debug or HFPC_DEBUG=1 for the traceback)", EXIT_RUN_FAILED)


@contextmanager
def progress_bar(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A rich progress bar; yields ``advance(n)``."""
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err_console, transient=False) as p:
        task = p.add_task(description, total=total)
        yield lambda n=1: p.advance(task, n)
