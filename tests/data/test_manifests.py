from __future__ import annotations

import json
from pathlib import Path

import pytest

from hfpc.data.manifests import read_manifest, sample_id, write_manifest
from hfpc.errors import ManifestError
from tests.conftest import FIXTURES


def test_hfpc44k_flat_format() -> None:
    samples = read_manifest(FIXTURES / "hfpc44k_flat.jsonl")
    assert len(samples) == 5
    s = samples[0]
    assert s.original.startswith("https://") and s.generated.startswith("https://")
    assert s.label == 1
    assert s.id == sample_id(s.original, s.generated)
    assert len({x.id for x in samples}) == 5


def test_hfpc44k_grouped_format() -> None:
    rows = [json.loads(line) for line in (FIXTURES / "hfpc44k_grouped.jsonl").read_text().splitlines()]
    expected = sum(len(next(iter(r.values()))["generations"]) for r in rows)
    samples = read_manifest(FIXTURES / "hfpc44k_grouped.jsonl")
    assert len(samples) == expected
    first_original = next(iter(rows[0]))
    group = rows[0][first_original]
    assert [s.label for s in samples[: len(group["labels"])]] == group["labels"]
    assert all(s.original == first_original for s in samples[: len(group["labels"])])


def test_relative_paths_resolve_against_manifest(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    m = tmp_path / "sub" / "m.jsonl"
    m.write_text(json.dumps({"id": "a", "original": "o.png", "generated": "g/x.png", "label": "fail",
                             "caption": "a bottle", "kind": "demo"}) + "\n")
    (s,) = read_manifest(m)
    assert s.original == str(tmp_path / "sub" / "o.png")
    assert s.generated == str(tmp_path / "sub" / "g" / "x.png")
    assert s.label == 0 and s.caption == "a bottle" and s.meta == {"kind": "demo"}


def test_json_array(tmp_path: Path) -> None:
    m = tmp_path / "m.json"
    m.write_text(json.dumps([{"origin": "a.png", "generation": "b.png", "label": 1}]))
    (s,) = read_manifest(m)
    assert s.original.endswith("a.png") and s.label == 1


def test_csv_with_named_columns(tmp_path: Path) -> None:
    m = tmp_path / "m.csv"
    m.write_text("product_img,ad_img,verdict\nx.jpg,y.jpg,pass\nx.jpg,z.jpg,fail\n")
    samples = read_manifest(m, columns={"original": "product_img", "generated": "ad_img", "label": "verdict"})
    assert [s.label for s in samples] == [1, 0]
    assert samples[1].generated == str(tmp_path / "z.jpg")
    with pytest.raises(ManifestError, match="not in header"):
        read_manifest(m, columns={"original": "nope"})


def test_folder_manifest_longest_name_wins(tmp_path: Path) -> None:
    for d in ("originals", "generated"):
        (tmp_path / d).mkdir()
    for name in ("a", "ab"):
        (tmp_path / "originals" / f"{name}.jpg").write_bytes(b"x")
    for name in ("a_1.png", "a_2.jpg", "ab_1.webp", "notes.txt"):
        (tmp_path / "generated" / name).write_bytes(b"x")
    samples = {s.id: s for s in read_manifest(tmp_path)}
    assert set(samples) == {"a_1", "a_2", "ab_1"}
    assert samples["ab_1"].original.endswith("ab.jpg")
    assert samples["a_2"].original.endswith("a.jpg")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"original": "a.png"}\n', "needs an original"),
        ('{"original": "a.png", "generated": "b.png", "label": 3}\n', "label 3"),
        ('{"original": "a.png", "generated": "b.png"}\nnot json\n', r"m.jsonl:2: invalid JSON"),
        ('{"id": "x", "original": "a", "generated": "b"}\n{"id": "x", "original": "c", "generated": "d"}\n',
         "appears twice"),
    ],
)
def test_manifest_errors_name_file_and_line(tmp_path: Path, text: str, match: str) -> None:
    m = tmp_path / "m.jsonl"
    m.write_text(text)
    with pytest.raises(ManifestError, match=match):
        read_manifest(m)


def test_unknown_manifest_type_and_missing(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not found"):
        read_manifest(tmp_path / "nope.jsonl")
    (tmp_path / "m.txt").write_text("x")
    with pytest.raises(ManifestError, match="unknown manifest type"):
        read_manifest(tmp_path / "m.txt")


def test_write_manifest_roundtrip(tmp_path: Path) -> None:
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"id": "a", "original": "o.png", "generated": "g.png", "label": 1, "kind": "k"}) + "\n")
    samples = read_manifest(m)
    out = tmp_path / "copy" / "m.jsonl"
    write_manifest(tmp_path / "m2.jsonl", samples)
    assert read_manifest(tmp_path / "m2.jsonl") == samples
    write_manifest(out, samples)
    assert read_manifest(out)[0].original == str(tmp_path / "o.png")
