"""``hfpc models``: fetch weights ahead of time for machines without internet access."""

from __future__ import annotations

import typer

from hfpc.cli._common import console, fail

app = typer.Typer(no_args_is_help=True, help="Manage model weights.")


@app.command("pull")
def pull(name: str = typer.Argument(..., help=(
        "alias (blip, clip, siglip, dinov2, grounding-dino, sam, sam-hq, slimsam, depth, qwen2.5-vl-3b, "
        "qwen2.5-vl-7b, smolvlm) or hub id"))) -> None:
    """Download a model into the Hugging Face cache so later runs work with HF_HUB_OFFLINE=1."""
    try:
        from hfpc.models.loading import pull as do_pull
    except ImportError:
        fail("the models extra is not installed: pip install 'hfpc[models]'")
    try:
        path = do_pull(name)
    except Exception as e:  # noqa: BLE001 - report network/auth errors plainly
        fail(f"{name}: download failed ({type(e).__name__}: {e})")
    console.print(f"{name} → [bold]{path}[/]")
