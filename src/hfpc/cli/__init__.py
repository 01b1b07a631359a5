"""The ``hfpc`` command line: one typer module per command group, each a thin layer."""

from __future__ import annotations

import logging
import sys

import typer

from hfpc.cli import data, demo, evaluate, judging, models, profile, report, train

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Judge AI-generated product advertising images.")
app.command("demo")(demo.demo)
app.command("demo-data")(data.demo_data)
app.command("judge")(judging.judge)
app.command("filter")(judging.filter_)
app.command("report")(report.report)
app.command("evaluate")(evaluate.evaluate)
app.command("calibrate")(evaluate.calibrate)
app.add_typer(profile.app, name="profile")
app.add_typer(data.app, name="data")
app.add_typer(train.app, name="train")
app.add_typer(models.app, name="models")


def main() -> None:
    """Entry point of the ``hfpc`` script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app(prog_name="hfpc")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
