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

Relative paths are resolved against the manifest's folder; URLs are kept as they are.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from hfpc.errors import ManifestError
from hfpc.types import Sample

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
    original = resolve_ref(str(original), base)
    generated = resolve_ref(str(generated), base)
    used = {ok, gk, "id", "mask", "caption", "label", "failure"}
    mask = row.get("mask")
    return Sample(
        id=str(row.get("id") or sample_id(original, generated)),
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


def _rows_to_samples(rows: Iterable[tuple[int, dict[str, Any]]], base: Path, name: str) -> Iterator[Sample]:
    for lineno, row in rows:
        where = f"{name}:{lineno}: "
        if not isinstance(row, dict):
            raise ManifestError(f"{where}expected a JSON object, got {type(row).__name__}")
        if _is_grouped(row):
            yield from _grouped_to_samples(row, base, where)
        else:
            yield row_to_sample(row, base, where)


def read_jsonl(path: Path) -> list[Sample]:
    """Read a JSONL manifest (flat or grouped rows) or a JSON array of flat rows."""
    text = path.read_text(encoding="utf-8-sig")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ManifestError(f"{path}: invalid JSON ({e})") from None
        return list(_rows_to_samples(enumerate(data, 1), path.parent, str(path)))

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as e:
                raise ManifestError(f"{path}:{lineno}: invalid JSON ({e.msg})") from None

    return list(_rows_to_samples(rows(), path.parent, str(path)))


def read_csv(path: Path, columns: dict[str, str] | None = None) -> list[Sample]:
    """Read a CSV manifest with a header; ``columns`` maps Sample fields to column names."""
    columns = columns or {}
    with path.open(newline="", encoding="utf-8-sig") as f:
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
        return list(_rows_to_samples(rows, path.parent, str(path)))


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


def read_manifest(path: str | Path, columns: dict[str, str] | None = None) -> list[Sample]:
    """Read any supported manifest (by extension, or a folder) into Samples.

    Raises :class:`ManifestError` naming the file (and line) when it cannot be parsed, and
    when two rows share an id.
    """
    p = Path(path)
    if not p.exists():
        raise ManifestError(f"{p}: manifest not found")
    if p.is_dir():
        samples = read_folder(p)
    elif p.suffix.lower() == ".csv":
        samples = read_csv(p, columns)
    elif p.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        samples = read_jsonl(p)
    else:
        raise ManifestError(f"{p}: unknown manifest type (use .jsonl, .json, .csv or a folder)")
    seen: dict[str, int] = {}
    for i, s in enumerate(samples):
        if s.id in seen:
            raise ManifestError(f"{p}: sample id {s.id!r} appears twice (rows {seen[s.id] + 1} and {i + 1})")
        seen[s.id] = i
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
