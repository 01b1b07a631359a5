"""``hfpc demo-data`` and the ``hfpc data`` group."""

from __future__ import annotations

from pathlib import Path

import typer

from hfpc.cli._common import console, progress_bar

app = typer.Typer(no_args_is_help=True, help="Get and prepare data.")


def demo_data(
    out: Path = typer.Argument(..., help="folder to write originals/, generated/ and manifest.jsonl"),
    n: int = typer.Option(60, "--n", min=1, help="number of generated samples"),
    seed: int = typer.Option(0, "--seed", help="random seed (same seed, same data)"),
    size: int = typer.Option(512, "--size", min=64, help="image side in pixels"),
    per_original: int = typer.Option(1, "--per-original", min=1,
                                     help="generations per original (reward training needs groups, e.g. 6)"),
) -> None:
    """Render a labelled synthetic demo/benchmark set (products composited into scenes)."""
    from hfpc.data.synth import generate_demo_set

    with progress_bar("rendering", n) as advance:
        manifest = generate_demo_set(out, n=n, seed=seed, size=size, per_original=per_original,
                                     progress=lambda i: advance(1))
    console.print(f"wrote {n} samples; manifest: [bold]{manifest}[/]")


@app.command("download")
def download(
    manifest: Path = typer.Argument(..., help="manifest with image URLs (e.g. HFPC-44k test.json)"),
    out: Path = typer.Option(..., "--out", help="folder for images/, manifest.jsonl, errors.jsonl"),
    workers: int = typer.Option(16, "--workers", "-j", min=1, help="concurrent downloads"),
    retries: int = typer.Option(3, "--retries", min=0),
    max_mb: float = typer.Option(50.0, "--max-mb", help="largest accepted image in MB"),
    timeout: float = typer.Option(30.0, "--timeout", help="seconds per connect or read"),
    deadline: float = typer.Option(120.0, "--deadline", min=0.1,
                                   help="seconds per file in all (redirects and retries included)"),
    max_redirects: int = typer.Option(5, "--max-redirects", min=0, help="redirects followed per URL"),
    allow_private: bool = typer.Option(False, "--allow-private",
                                       help="also fetch from loopback, private, link-local and other "
                                            "non-public addresses (refused by default)"),
    allow_network: list[str] = typer.Option([], "--allow-network",
                                            help="a non-public network to allow, e.g. 10.20.0.0/16 "
                                                 "(repeatable; narrower than --allow-private)"),
) -> None:
    """Download a URL manifest's images (resumable) and write a local manifest pointing to them."""
    from hfpc.cli._common import fail
    from hfpc.data.download import download_manifest
    from hfpc.data.fetch import FetchPolicy
    from hfpc.data.manifests import read_manifest
    from hfpc.errors import HfpcError

    try:
        samples = read_manifest(manifest)
        policy = FetchPolicy(allow_private=allow_private, allow_networks=tuple(allow_network),
                             max_bytes=int(max_mb * 1e6), timeout=timeout, deadline=deadline,
                             max_redirects=max_redirects)
    except HfpcError as e:
        fail(str(e))
    except ValueError as e:
        fail(f"--allow-network: {e}")
    n_urls = len({u for s in samples for u in (s.original, s.generated, s.mask) if u and "://" in u})
    with progress_bar("downloading", n_urls) as advance:
        summary = download_manifest(samples, out, workers=workers, retries=retries, policy=policy,
                                    progress=advance)
    console.print(f"{summary.urls} URLs: {summary.downloaded} downloaded, {summary.cached} already here, "
                  f"{summary.failed} failed (see {summary.errors}) → [bold]{summary.manifest}[/]")
    if summary.failed:
        raise typer.Exit(2)
