"""A self-contained HTML gallery of results: original / generated / heatmap, verdict, reasons.

Every failed card lists its reasons (check, code, sentence) under the main failure, and the
page filters by reason: a card shows under a reason when any of its findings has that code.

Images are embedded as downscaled JPEG data URIs, so the file can be mailed or archived alone.
Relative image references in result rows are looked up next to the results file first, then in
the folders above it (a run of ``hfpc filter`` from a parent folder with relative paths records
them relative to that folder), then in the current directory.
"""

from __future__ import annotations

import base64
import io
from collections import Counter
from pathlib import Path
from typing import Any

import jinja2
from PIL import Image

from hfpc.data.images import load_image
from hfpc.data.manifests import resolve_ref
from hfpc.errors import ImageLoadError
from hfpc.results import read_results
from hfpc.taxonomy import FAILED_CHECK, describe, normalize, rank, reason_text

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("hfpc.report", "templates"),
                          autoescape=jinja2.select_autoescape(["html"]))


def locate_ref(ref: str, base: str | Path) -> str:
    """Where the image a result row names lies, for a results file in the folder ``base``.

    URLs and absolute paths are returned as they are. A relative path is tried against
    ``base``, each folder above it and the current directory; the first that exists wins, and
    ``base / ref`` is returned when none does (the caller then reports it as missing).
    """
    first = resolve_ref(ref, Path(base))
    if "://" in ref or Path(ref).expanduser().is_absolute() or Path(first).exists():
        return first
    here = Path(base).resolve()
    for folder in (*here.parents, Path.cwd()):
        candidate = folder / ref
        if candidate.exists():
            return str(candidate)
    return first


def thumbnail(path: str | Path, side: int = 256) -> str | None:
    """A JPEG data URI of the image at ``path`` (None if it cannot be read)."""
    try:
        img = load_image(path)
    except ImageLoadError:
        return None
    im = Image.fromarray(img.rgb)
    im.thumbnail((side, side))
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=82)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def row_reasons(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``reasons`` of a result row, failure names normalised to taxonomy codes.

    Rows written before ``reasons`` existed get one reason per failing check, from its
    ``failure`` and ``explanation``; passed and error rows have none.
    """
    if row.get("passed") is not False:
        return []
    given = row.get("reasons")
    if given:
        return [{**x, "failure": normalize(x.get("failure")) or FAILED_CHECK} for x in given]
    return [{"check": name, "code": normalize(c.get("failure")) or FAILED_CHECK,
             "failure": normalize(c.get("failure")) or FAILED_CHECK, "sentence": c.get("explanation", ""),
             "where": ""} for name, c in (row.get("checks") or {}).items() if not c.get("passed")]


def write_report(results: str | Path, out: str | Path, limit: int | None = None,
                 thumb: int = 256, title: str | None = None) -> Path:
    """Render ``results`` (JSONL) to one HTML file at ``out``; failures and errors come first."""
    results = Path(results)
    rows = read_results(results)
    base = results.parent
    order = {None: 0, False: 1, True: 2}
    rows.sort(key=lambda r: (order.get(r.get("passed"), 0), str(r.get("id"))))
    shown = rows[:limit] if limit else rows
    cards: list[dict[str, Any]] = []
    for r in shown:
        failing = [n for n, c in (r.get("checks") or {}).items() if not c.get("passed")]
        reasons = row_reasons(r)
        heats = [(name, c["artifacts"]["heatmap"]) for name, c in (r.get("checks") or {}).items()
                 if (c.get("artifacts") or {}).get("heatmap")]
        cards.append({
            "row": r,
            "status": "error" if r.get("error") else ("pass" if r.get("passed") else "fail"),
            "failing": failing,
            "reasons": reasons,
            "codes": list(dict.fromkeys(x["failure"] for x in reasons)),
            "main": normalize(r.get("failure")) if r.get("passed") is False else None,
            "main_index": next((i for i, x in enumerate(reasons) if x["failure"] == normalize(r.get("failure"))), -1),
            "original": thumbnail(locate_ref(r["original"], base), thumb),
            "generated": thumbnail(locate_ref(r["generated"], base), thumb),
            "heatmaps": [(name, thumbnail(locate_ref(h, base), thumb)) for name, h in heats],
        })
    counts = Counter(c["status"] for c in (
        {"status": "error" if r.get("error") else ("pass" if r.get("passed") else "fail")} for r in rows))
    check_names = sorted({n for r in rows for n in (r.get("checks") or {})})
    failing_counts = Counter(n for c in cards for n in c["failing"])
    reason_counts = Counter(code for c in cards for code in c["codes"])
    main_counts = Counter(c["main"] for c in cards if c["main"])
    reason_names = sorted(reason_counts, key=lambda code: (rank(code), code))
    html = _ENV.get_template("report.html").render(
        title=title or f"hfpc report — {results.name}", cards=cards, total=len(rows),
        shown=len(shown), counts=counts, checks=check_names, failing_counts=failing_counts,
        reasons=[(code, reason_counts[code], main_counts.get(code, 0), describe(code)) for code in reason_names],
        describe=describe, reason_text=reason_text,
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out
