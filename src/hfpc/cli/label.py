"""``hfpc label``: pseudo-labels from a vision-language model, for teams that have no labels yet."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.markup import escape

from hfpc.cli._common import EXIT_ERRORS, console, fail, progress_bar
from hfpc.errors import HfpcError


def label(
    manifest: Path = typer.Argument(..., help="manifest of pairs to label"),
    out: Path = typer.Option(..., "-o", "--out", help="labelled manifest to write (JSONL)"),
    vlm: str = typer.Option(..., "--vlm", help="the served model's name with --endpoint, else a transformers "
                            "image-text-to-text checkpoint (hub id or directory) run here"),
    endpoint: str | None = typer.Option(None, "--endpoint",
                                        help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1"),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env", help="environment variable with the API key"),
    concurrency: int = typer.Option(4, "--concurrency", min=1, max=64, help="requests in flight at once"),
    timeout: float = typer.Option(120.0, "--timeout", min=1, help="seconds to wait for one answer"),
    structured: bool = typer.Option(True, "--structured/--no-structured",
                                    help="ask for JSON-schema-constrained output (response_format)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="ask again for every pair instead of resuming"),
) -> None:
    """Ask a VLM judge about every pair and write a manifest with its labels, reasons and rationales.

    The answers are kept in OUT.answers.jsonl as they arrive (a killed run resumes); OUT is then
    written at once: each pair with ``label`` (1 pass, 0 fail), ``failure`` (the reason code),
    ``rationale``, ``confidence`` and ``label_source``. `hfpc train reward|taxonomy` read it.
    Pairs the judge could not answer are left out and counted (exit code 2).
    """
    from hfpc.data.manifests import read_manifest
    from hfpc.profile import Profile
    from hfpc.results import read_results, run_filter

    settings = {"backend": "vlm", "endpoint": endpoint, "model": vlm, "api_key_env": api_key_env,
                "concurrency": concurrency, "timeout": timeout, "structured": structured}
    settings = {k: v for k, v in settings.items() if v is not None}
    try:
        profile = Profile(name="vlm-label", description=f"pseudo-labels from {vlm}", checks={"taxonomy": settings})
        samples = read_manifest(manifest)
    except HfpcError as e:
        fail(str(e))
    answers = out.with_name(out.name + ".answers.jsonl")
    try:
        with progress_bar("asking", len(samples)) as advance:
            summary = run_filter(samples, answers, profile, workers=1, overwrite=overwrite, chunk_size=concurrency,
                                 retry_errors=True, progress=advance)
            if summary.skipped:
                advance(summary.skipped)
        rows = {r["id"]: r for r in read_results(answers)}
    except HfpcError as e:
        fail(str(e))
    written, errors = [], []
    for s in samples:
        row = rows.get(s.id)
        tax = (row or {}).get("checks", {}).get("taxonomy")
        if row is None or row.get("error") or tax is None:
            errors.append((s.id, (row or {}).get("error") or "not judged"))
            continue
        d = tax["details"]
        entry = s.to_dict()
        if s.label is not None:
            entry["reviewer_label"] = s.label
        entry.update(label=1 if tax["passed"] else 0, failure=None if tax["passed"] else d["reason"],
                     rationale=d["rationale"], confidence=d["confidence"], label_source=f"vlm:{vlm}")
        written.append({k: v for k, v in entry.items() if v is not None})
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in written), encoding="utf-8")
    os.replace(tmp, out)
    passed = sum(e["label"] for e in written)
    console.print(f"{len(written)} pairs labelled ({passed} pass, {len(written) - passed} fail) → "
                  f"[bold]{escape(str(out))}[/]; answers kept in {escape(str(answers))}")
    if errors:
        for sid, why in errors[:5]:
            console.print(f"  not labelled: {escape(sid)}: {escape(why)}")
        console.print(f"{len(errors)} pairs could not be labelled; rerun to ask again for them")
        raise typer.Exit(EXIT_ERRORS)
