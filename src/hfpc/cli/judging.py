"""``hfpc judge`` (one pair) and ``hfpc filter`` (a manifest, in parallel, resumable)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.table import Table

from hfpc.cli._common import EXIT_ERRORS, EXIT_RUN_FAILED, console, fail, internal_errors, printable, progress_bar
from hfpc.data.images import load_image
from hfpc.errors import HfpcError, ModelNotAvailableError, ProfileError
from hfpc.profile import Profile


def _code(e: HfpcError) -> int:
    """2 when the checks cannot be built (bad profile, missing model: no sample can be judged), else 3."""
    return EXIT_ERRORS if isinstance(e, (ProfileError, ModelNotAvailableError)) else EXIT_RUN_FAILED


def _load_profile(profile: str | None, max_image_pixels: int | None = None) -> Profile:
    """The profile to judge with; ``--max-image-pixels`` wins over the profile and the environment."""
    try:
        p = Profile.load(profile)
        return p if max_image_pixels is None else p.model_copy(update={"max_image_pixels": max_image_pixels})
    except HfpcError as e:
        fail(str(e), _code(e))


_PIXELS_HELP = ("largest image (width × height) to decode; wins over the profile's max_image_pixels, "
                "which wins over HFPC_MAX_IMAGE_PIXELS")


_DEBUG_HELP = "show the traceback of an unexpected error (also HFPC_DEBUG=1)"
_NO_CHECKS_HELP = "judge even with a profile whose checks cannot fail a sample (everything passes)"


def judge(
    original: Path = typer.Argument(..., help="the merchant's product image"),
    generated: Path = typer.Argument(..., help="the generated advertising image"),
    mask: Path | None = typer.Option(None, "--mask", help="product mask of the original (else alpha or segmentation)"),
    profile: str | None = typer.Option(None, "--profile", "-p", help="profile TOML (default: built-in)"),
    as_json: bool = typer.Option(False, "--json", help="print the result row as JSON"),
    heatmap: Path | None = typer.Option(None, "--heatmap",
                                        help="write the consistency heatmap here (.jpg, .png or .webp)"),
    allow_no_checks: bool = typer.Option(False, "--allow-no-checks", help=_NO_CHECKS_HELP),
    max_image_pixels: int | None = typer.Option(None, "--max-image-pixels", min=1, help=_PIXELS_HELP),
    debug: bool = typer.Option(False, "--debug", help=_DEBUG_HELP),
) -> None:
    """Judge one original/generated pair and print the verdict.

    Exit code 0 if it passes, 1 if it fails, 2 if it could not be judged (bad image, bad
    profile, missing model), 3 if the run could not be done (internal error).
    """
    with internal_errors(f"judging {generated} against {original}", debug):
        _judge(original, generated, mask, profile, as_json, heatmap, allow_no_checks, max_image_pixels)


def _judge(original: Path, generated: Path, mask: Path | None, profile: str | None, as_json: bool,
           heatmap: Path | None, allow_no_checks: bool, max_image_pixels: int | None = None) -> None:
    import tempfile

    from hfpc.judge import Judge
    from hfpc.types import Sample

    with tempfile.TemporaryDirectory() as tmp:
        try:
            j = Judge(_load_profile(profile, max_image_pixels), artifacts_dir=tmp if heatmap else None)
        except HfpcError as e:
            fail(str(e), _code(e))
        _refuse_no_checks(j, allow_no_checks)
        v = j.judge(Sample(id=generated.stem, original=str(original), generated=str(generated),
                           mask=str(mask) if mask else None))
        if heatmap and not v.error:
            art = next((c.artifacts.get("heatmap") for c in v.checks.values() if c.artifacts.get("heatmap")), None)
            if art:
                src = Path(tmp) / art
                if src.suffix.lower() == heatmap.suffix.lower():
                    heatmap.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(src, heatmap)
                else:  # the user's suffix picks the picture type (.png, .jpg, .webp)
                    from hfpc.consistency.heatmap import write_heatmap

                    try:
                        write_heatmap(heatmap, load_image(src).rgb)
                    except ValueError as e:
                        fail(f"{heatmap}: {e}")
                for c in v.checks.values():
                    if "heatmap" in c.artifacts:
                        c.artifacts["heatmap"] = str(heatmap)
    if as_json:
        console.print_json(json.dumps(v.to_row()))
    else:
        if v.error:
            fail(v.error)
        from rich.markup import escape

        from hfpc.taxonomy import describe, reason_text

        head = "PASS" if v.passed else f"FAIL — {v.failure} ({describe(v.failure)})"
        t = Table(title=f"{generated.name}: {head}", title_justify="left")
        for col in ("check", "result", "value", "threshold", "why"):
            t.add_column(col)
        for name, c in v.checks.items():
            t.add_row(name, "[green]pass[/]" if c.passed else "[red]fail[/]", f"{c.value:.3f}",
                      f"{c.threshold:g}", c.explanation)
        console.print(t)
        if v.reasons:
            r = Table(title="reasons (the first is the main failure)", title_justify="left")
            for col in ("failure", "check", "code", "finding"):
                r.add_column(col)
            order = sorted(range(len(v.reasons)), key=lambda i: v.reasons[i].failure != v.failure)
            for i in order:
                x = v.reasons[i]
                r.add_row(f"[red]{escape(x.failure)}[/]", escape(x.check), escape(x.code),
                          escape(printable(reason_text(x))))
            console.print(r)
    if v.error:
        raise typer.Exit(2)
    raise typer.Exit(0 if v.passed else 1)


def _refuse_no_checks(judge: object, allow: bool) -> None:
    from hfpc.results import deciding_checks

    if not allow and not deciding_checks(judge):  # type: ignore[arg-type]
        fail("the profile enables no check that decides pass/fail, so every sample would pass; enable "
             "one (e.g. [checks.consistency]) or pass --allow-no-checks", EXIT_RUN_FAILED)


def filter_(
    manifest: Path = typer.Argument(..., help="manifest: JSONL/JSON/CSV file or folder"),
    out: Path = typer.Option(..., "-o", "--out", help="results JSONL (appended; resumable)"),
    profile: str | None = typer.Option(None, "--profile", "-p", help="profile TOML (default: built-in)"),
    workers: int = typer.Option(0, "--workers", "-j", min=0,
                                help="processes (0: one per core, no more than available memory holds)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="start over instead of resuming"),
    heatmaps: bool = typer.Option(True, "--heatmaps/--no-heatmaps", help="write heatmaps (JPEG) next to the results"),
    retry_errors: bool = typer.Option(False, "--retry-errors",
                                      help="on resume, judge every error row again (by default only those "
                                           "whose cause can pass: I/O errors, a killed worker)"),
    skip_bad_rows: bool = typer.Option(False, "--skip-bad-rows",
                                       help="a manifest row that cannot be read becomes an error row "
                                            "instead of stopping the run"),
    allow_no_checks: bool = typer.Option(False, "--allow-no-checks", help=_NO_CHECKS_HELP),
    max_image_pixels: int | None = typer.Option(None, "--max-image-pixels", min=1, help=_PIXELS_HELP),
    debug: bool = typer.Option(False, "--debug", help=_DEBUG_HELP),
) -> None:
    """Judge every sample of a manifest into a JSONL results file.

    Rows are flushed one by one; rerunning after a kill skips samples already judged. Samples
    that cannot be judged get an error row. The exit code describes the whole results file: 0
    all passed, 1 some failed, 2 some could not be judged (or none can: bad profile, missing
    model); 3 if the run could not be done (bad manifest, results file damaged, locked by
    another run or judged with another profile or hfpc version, internal error).
    """
    with internal_errors(f"judging {manifest} into {out}", debug):
        _filter(manifest, out, profile, workers, overwrite, heatmaps, retry_errors, skip_bad_rows,
                allow_no_checks, max_image_pixels)


def _filter(manifest: Path, out: Path, profile: str | None, workers: int, overwrite: bool, heatmaps: bool,
            retry_errors: bool, skip_bad_rows: bool, allow_no_checks: bool,
            max_image_pixels: int | None = None) -> None:
    from hfpc.data.manifests import read_manifest
    from hfpc.results import run_filter

    p = _load_profile(profile, max_image_pixels)
    try:
        samples = read_manifest(manifest, skip_bad_rows=skip_bad_rows)
    except HfpcError as e:
        fail(str(e), EXIT_RUN_FAILED)
    if samples and all("://" in s.generated or "://" in s.original for s in samples):
        fail(f"{manifest}: its images are URLs (e.g. {samples[0].generated}): this is a URL manifest: run "
             "`hfpc data download` first and judge the manifest it writes", EXIT_RUN_FAILED)
    art = out.with_name(out.stem + "_artifacts") if heatmaps else None
    try:
        with progress_bar("judging", len(samples)) as advance:
            summary = run_filter(samples, out, p, workers=workers or None, overwrite=overwrite,
                                 artifacts_dir=art, progress=advance, retry_errors=retry_errors,
                                 allow_no_checks=allow_no_checks)
            if summary.skipped:
                advance(summary.skipped)
    except HfpcError as e:
        fail(str(e), _code(e))
    console.print(f"{summary.total} samples: {summary.skipped} already judged, {summary.judged} judged now "
                  f"— [green]{summary.passed} passed[/], [red]{summary.failed} failed[/], "
                  f"{summary.errors} errors → [bold]{printable(str(out))}[/]")
    if summary.skipped:
        console.print(f"whole results file: {summary.file_passed} passed, {summary.file_failed} failed, "
                      f"{summary.file_errors} errors")
    raise typer.Exit(summary.exit_code)
