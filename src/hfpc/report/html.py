"""A self-contained HTML gallery of results: original / generated / heatmap, verdict, reasons.

Images are embedded as downscaled JPEG data URIs, so the file can be mailed or archived alone.
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

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("hfpc.report", "templates"),
                          autoescape=jinja2.select_autoescape(["html"]))


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
        heats = [(name, c["artifacts"]["heatmap"]) for name, c in (r.get("checks") or {}).items()
                 if (c.get("artifacts") or {}).get("heatmap")]
        cards.append({
            "row": r,
            "status": "error" if r.get("error") else ("pass" if r.get("passed") else "fail"),
            "failing": failing,
            "original": thumbnail(resolve_ref(r["original"], base), thumb),
            "generated": thumbnail(resolve_ref(r["generated"], base), thumb),
            "heatmaps": [(name, thumbnail(resolve_ref(h, base), thumb)) for name, h in heats],
        })
    counts = Counter(c["status"] for c in (
        {"status": "error" if r.get("error") else ("pass" if r.get("passed") else "fail")} for r in rows))
    check_names = sorted({n for r in rows for n in (r.get("checks") or {})})
    failing_counts = Counter(n for c in cards for n in c["failing"])
    html = _ENV.get_template("report.html").render(
        title=title or f"hfpc report — {results.name}", cards=cards, total=len(rows),
        shown=len(shown), counts=counts, checks=check_names, failing_counts=failing_counts,
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out
