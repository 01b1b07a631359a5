"""Manifest readers: rows of any supported format → :class:`~hfpc.types.Sample`.

Supported inputs
- JSONL (or a JSON array) of flat rows. Keys: ``original``/``origin``, ``generated``/
  ``generation``, optional ``id``, ``mask``, ``caption``, ``label``, ``failure``; other keys go
  to ``Sample.meta``. This covers HFPC-44k's flat format ``{origin, generation, label}``.
- JSONL of grouped rows ``{ORIGINAL: {"generations": [...], "labels": [...]}}`` (HFPC-44k's
  grouped format).
- CSV with a header; column names may be given, else the same aliases as JSONL apply.
- A folder with ``originals/NAME.*`` and ``generated/NAME*.{png,jpg,jpeg,webp}`` (optionally
  ``masks/NAME.png``).

Relative paths are resolved against the manifest's folder; URLs are kept as they are (``hfpc
data download`` fetches them; ``hfpc filter`` refuses them). ``skip_bad_rows=True`` turns a row
that cannot be read into a Sample carrying ``meta["manifest_error"]``, which ``run_filter``
records as an error row instead of stopping.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from hfpc.errors import ManifestError
from hfpc.types import Sample

log = logging.getLogger(__name__)
MANIFEST_ERROR_KEY = "manifest_error"

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
ORIGINAL_KEYS = ("original", "origin", "original_image", "product")
GENERATED_KEYS = ("generated", "generation", "generated_image", "image")
LABEL_WORDS = {"pass": 1, "passed": 1, "good": 1, "true": 1, "yes": 1, "1": 1,
               "fail": 0, "failed": 0, "bad": 0, "false": 0, "no": 0, "0": 0}


def sample_id(original: str, generated: str) -> str:
    """A stable id for a pair without one: a short hash of the two references."""
    return hashlib.sha1(f"{original}\n{generated}".encode()).hexdigest()[:12]


def parse_label(value: Any, where: str = "") -> int | None:
    """Normalise a reviewer label (1/0, true/false, "pass"/"fail") to 1, 0 or None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        if value in (0, 1):
            return int(value)
        raise ManifestError(f"{where}label {value!r} is not 0 or 1")
    key = str(value).strip().lower()
    if key in LABEL_WORDS:
        return LABEL_WORDS[key]
    raise ManifestError(f"{where}label {value!r} is not one of pass/fail/1/0/true/false")


def resolve_ref(ref: str, base: Path) -> str:
    """A manifest or result reference as used: URLs as they are, relative paths joined to ``base``."""
    if "://" in ref:
        return ref
    p = Path(ref).expanduser()
    return str(p if p.is_absolute() else (base / p))


def _pick(row: dict[str, Any], keys: Iterable[str]) -> tuple[str | None, Any]:
    for k in keys:
        if k in row and row[k] not in (None, ""):
            return k, row[k]
    return None, None


def row_to_sample(row: dict[str, Any], base: Path, where: str = "") -> Sample:
    """Turn one flat row into a Sample, resolving paths against ``base``."""
    ok, original = _pick(row, ORIGINAL_KEYS)
    gk, generated = _pick(row, GENERATED_KEYS)
    if original is None or generated is None:
        raise ManifestError(
            f"{where}needs an original ({'/'.join(ORIGINAL_KEYS)}) and a generated image "
            f"({'/'.join(GENERATED_KEYS)}); found keys {sorted(row)}"
        )
    for key, value in ((ok, original), (gk, generated), ("mask", row.get("mask"))):
        if value not in (None, "") and not isinstance(value, str):
            raise ManifestError(f"{where}'{key}' must be a path or URL (a string), got "
                                f"{type(value).__name__} {value!r}")
    original = resolve_ref(original, base)
    generated = resolve_ref(generated, base)
    used = {ok, gk, "id", "mask", "caption", "label", "failure"}
    mask = row.get("mask")
    given = row.get("id")
    return Sample(
        id=str(given) if given not in (None, "") else sample_id(original, generated),
        original=original,
        generated=generated,
        mask=resolve_ref(str(mask), base) if mask else None,
        caption=row.get("caption") or None,
        label=parse_label(row.get("label"), where),
        failure=row.get("failure") or None,
        meta={k: v for k, v in row.items() if k not in used},
    )


def _grouped_to_samples(row: dict[str, Any], base: Path, where: str) -> Iterator[Sample]:
    (original, group), = row.items()
    gens = group.get("generations")
    if not isinstance(gens, list):
        raise ManifestError(f"{where}grouped row has no 'generations' list")
    labels = group.get("labels") or [None] * len(gens)
    if len(labels) != len(gens):
        raise ManifestError(f"{where}{len(gens)} generations but {len(labels)} labels")
    for gen, label in zip(gens, labels):
        yield row_to_sample({"original": original, "generated": gen, "label": label}, base, where)


def _is_grouped(row: dict[str, Any]) -> bool:
    if len(row) != 1:
        return False
    (value,) = row.values()
    return isinstance(value, dict) and "generations" in value


class _BadRow:
    """A row that is not JSON (read with ``skip_bad_rows``): carries the parse error."""

    def __init__(self, message: str) -> None:
        self.message = message


def bad_row_sample(row: Any, name: str, lineno: int, message: str) -> Sample:
    """The stand-in Sample of a manifest row that could not be read (``skip_bad_rows``)."""
    d = row if isinstance(row, dict) else {}
    given = d.get("id")
    _, original = _pick(d, ORIGINAL_KEYS)
    _, generated = _pick(d, GENERATED_KEYS)
    usable = given not in (None, "") and not isinstance(given, (dict, list))
    return Sample(
        id=str(given) if usable else f"{Path(name).name}:{lineno}",
        original=original if isinstance(original, str) else "",
        generated=generated if isinstance(generated, str) else f"{name}:{lineno}",
        meta={MANIFEST_ERROR_KEY: message},
    )


def _rows_to_samples(rows: Iterable[tuple[int, Any]], base: Path, name: str,
                     skip_bad_rows: bool = False) -> Iterator[Sample]:
    for lineno, row in rows:
        where = f"{name}:{lineno}: "
        try:
            if isinstance(row, _BadRow):
                raise ManifestError(f"{where}{row.message}")
            if not isinstance(row, dict):
                raise ManifestError(f"{where}expected a JSON object, got {type(row).__name__}")
            if _is_grouped(row):
                yield from list(_grouped_to_samples(row, base, where))
            else:
                yield row_to_sample(row, base, where)
        except ManifestError as e:
            if not skip_bad_rows:
                raise
            log.warning("%s (recorded as an error row)", e)
            yield bad_row_sample(row, name, lineno, str(e))


def _decode(path: Path) -> str:
    """The manifest's text; bytes that are not UTF-8 give an error naming the line."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ManifestError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ManifestError(f"{path}:{line}: not valid UTF-8 (byte 0x{data[e.start]:02x}); save the manifest "
                            "as UTF-8") from None


def read_jsonl(path: Path, skip_bad_rows: bool = False) -> list[Sample]:
    """Read a JSONL manifest (flat or grouped rows) or a JSON array of flat rows."""
    text = _decode(path)
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ManifestError(f"{path}: invalid JSON ({e})") from None
        if not isinstance(data, list):
            raise ManifestError(f"{path}: expected a JSON array of rows, got {type(data).__name__}")
        return list(_rows_to_samples(enumerate(data, 1), path.parent, str(path), skip_bad_rows))

    def rows() -> Iterator[tuple[int, Any]]:
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as e:
                if not skip_bad_rows:
                    raise ManifestError(f"{path}:{lineno}: invalid JSON ({e.msg})") from None
                yield lineno, _BadRow(f"invalid JSON ({e.msg})")

    return list(_rows_to_samples(rows(), path.parent, str(path), skip_bad_rows))


def read_csv(path: Path, columns: dict[str, str] | None = None, skip_bad_rows: bool = False) -> list[Sample]:
    """Read a CSV manifest with a header; ``columns`` maps Sample fields to column names."""
    columns = columns or {}
    text = _decode(path)
    with io.StringIO(text, newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [c for c in columns.values() if c not in header]
        if missing:
            raise ManifestError(f"{path}: column(s) {missing} not in header {header}")
        rename = {v: k for k, v in columns.items()}
        rows = (
            (lineno, {rename.get(k, k): v for k, v in row.items() if k is not None})
            for lineno, row in enumerate(reader, 2)
        )
        try:
            return list(_rows_to_samples(rows, path.parent, str(path), skip_bad_rows))
        except csv.Error as e:
            raise ManifestError(f"{path}:{reader.line_num}: invalid CSV ({e})") from None


def read_folder(path: Path) -> list[Sample]:
    """Pair ``originals/NAME.*`` with ``generated/NAME*.{png,jpg,webp}`` (longest name wins)."""
    odir, gdir, mdir = path / "originals", path / "generated", path / "masks"
    if not odir.is_dir() or not gdir.is_dir():
        raise ManifestError(f"{path}: a folder manifest needs 'originals/' and 'generated/' subfolders")
    originals: dict[str, Path] = {}
    for f in sorted(odir.iterdir()):
        if f.suffix.lower() in IMAGE_EXTENSIONS and f.stem not in originals:
            originals[f.stem] = f
    names = sorted(originals, key=len, reverse=True)
    samples = []
    for g in sorted(gdir.iterdir()):
        if g.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
            continue
        name = next((n for n in names if g.stem.startswith(n)), None)
        if name is None:
            raise ManifestError(f"{g}: no original in {odir} whose name starts this file's name")
        masks = [m for m in mdir.glob(f"{name}.*")] if mdir.is_dir() else []
        samples.append(Sample(
            id=g.stem, original=str(originals[name]), generated=str(g),
            mask=str(masks[0]) if masks else None,
        ))
    return samples


def read_manifest(path: str | Path, columns: dict[str, str] | None = None,
                  skip_bad_rows: bool = False) -> list[Sample]:
    """Read any supported manifest (by extension, or a folder) into Samples.

    Raises :class:`ManifestError` naming the file (and line) when it cannot be parsed, and
    when two rows share an id. With ``skip_bad_rows`` a row that cannot be read becomes a
    Sample whose ``meta["manifest_error"]`` says why (``run_filter`` writes it as an error
    row). An empty manifest gives a warning.
    """
    p = Path(path)
    if not p.exists():
        raise ManifestError(f"{p}: manifest not found")
    if p.is_dir():
        samples = read_folder(p)
    elif p.suffix.lower() == ".csv":
        samples = read_csv(p, columns, skip_bad_rows)
    elif p.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        samples = read_jsonl(p, skip_bad_rows)
    else:
        raise ManifestError(f"{p}: unknown manifest type (use .jsonl, .json, .csv or a folder)")
    seen: dict[str, int] = {}
    for i, s in enumerate(samples):
        if s.id in seen:
            raise ManifestError(f"{p}: sample id {s.id!r} appears twice (rows {seen[s.id] + 1} and {i + 1})")
        seen[s.id] = i
    if not samples:
        log.warning("%s: the manifest has no samples", p)
    return samples


def write_manifest(path: str | Path, samples: Iterable[Sample]) -> None:
    """Write Samples as a JSONL manifest with paths relative to its folder where possible."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    base = p.parent.resolve()
    tmp = p.with_name(f".{p.name}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for s in samples:
            d = s.to_dict()
            for key in ("original", "generated", "mask"):
                if key in d and "://" not in d[key]:
                    with contextlib.suppress(ValueError):
                        d[key] = str(Path(d[key]).resolve().relative_to(base))
            meta = d.pop("meta", {})
            f.write(json.dumps({**d, **meta}) + "\n")
    tmp.replace(p)
