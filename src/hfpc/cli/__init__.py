"""The ``hfpc`` command line: one typer module per command group, each a thin layer."""

from __future__ import annotations

import logging
import sys

import typer

from hfpc.cli import data, demo, evaluate, judging, label, models, profile, report, train

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Judge AI-generated product advertising images.")


def _version(value: bool) -> None:
    if value:
        from hfpc import __version__

        typer.echo(f"hfpc {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the version and exit")) -> None:
    """Judge AI-generated product advertising images."""


app.command("demo")(demo.demo)
app.command("demo-data")(data.demo_data)
app.command("judge")(judging.judge)
app.command("filter")(judging.filter_)
app.command("report")(report.report)
app.command("evaluate")(evaluate.evaluate)
app.command("calibrate")(evaluate.calibrate)
app.command("label")(label.label)
app.add_typer(profile.app, name="profile")
app.add_typer(data.app, name="data")
app.add_typer(train.app, name="train")
app.add_typer(models.app, name="models")


EXTRAS = {"torch": "models", "transformers": "models", "safetensors": "models", "huggingface_hub": "models",
          "sklearn": "models", "matplotlib": "eval", "playwright": "dev"}


def main() -> None:
    """Entry point of the ``hfpc`` script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from hfpc.errors import HfpcError

    try:
        app(prog_name="hfpc")
    except HfpcError as e:
        # a bad setting or input that a command did not handle itself: one line, no traceback
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except ModuleNotFoundError as e:
        top = (e.name or "").split(".")[0]
        if top not in EXTRAS:
            raise
        print(f"error: this command needs {top}, which comes with an extra: pip install 'hfpc[{EXTRAS[top]}]'",
              file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
