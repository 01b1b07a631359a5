"""Manifests that a batch must survive: odd ids, odd types, odd bytes, bad rows, empty files."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from hfpc.data.manifests import MANIFEST_ERROR_KEY, read_manifest
from hfpc.errors import ManifestError


def test_id_zero_is_kept(tmp_path: Path) -> None:
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"id": 0, "original": "a.png", "generated": "b.png"}) + "\n"
                 + json.dumps({"id": False, "original": "a.png", "generated": "c.png"}) + "\n")
    assert [s.id for s in read_manifest(m)] == ["0", "False"]


@pytest.mark.parametrize("value", [7, ["a.png"], {"path": "a.png"}, True])
def test_non_string_path_is_a_clear_error(tmp_path: Path, value: object) -> None:
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"original": "a.png", "generated": value}) + "\n")
    with pytest.raises(ManifestError, match=r"m.jsonl:1: 'generated' must be a path or URL \(a string\)"):
        read_manifest(m)


def test_non_utf8_jsonl_names_the_line(tmp_path: Path) -> None:
    m = tmp_path / "m.jsonl"
    m.write_bytes(b'{"original": "a.png", "generated": "b.png"}\n{"original": "\xff.png", "generated": "c.png"}\n')
    with pytest.raises(ManifestError, match=r"m.jsonl:2: not valid UTF-8 \(byte 0xff\)"):
        read_manifest(m)


def test_non_utf8_csv_names_the_line(tmp_path: Path) -> None:
    m = tmp_path / "m.csv"
    m.write_bytes(b"original,generated\na.png,b.png\na.png,caf\xe9.png\n")
    with pytest.raises(ManifestError, match=r"m.csv:3: not valid UTF-8"):
        read_manifest(m)


def test_csv_still_reads_quoted_newlines(tmp_path: Path) -> None:
    m = tmp_path / "m.csv"
    m.write_text('original,generated,caption\r\na.png,b.png,"two\r\nlines"\r\n', newline="")
    (s,) = read_manifest(m)
    assert s.caption == "two\r\nlines"


def test_empty_manifest_warns(tmp_path: Path, caplog) -> None:
    m = tmp_path / "m.jsonl"
    m.write_text("\n")
    with caplog.at_level(logging.WARNING):
        assert read_manifest(m) == []
    assert "no samples" in caplog.text


def test_skip_bad_rows_keeps_them_as_error_samples(tmp_path: Path) -> None:
    m = tmp_path / "m.jsonl"
    m.write_text('{"id": "ok", "original": "a.png", "generated": "b.png"}\n'
                 "not json\n"
                 '{"id": "nolabel", "original": "a.png", "generated": "c.png", "label": 7}\n'
                 '[1, 2]\n'
                 '{"original": "a.png"}\n')
    with pytest.raises(ManifestError, match="m.jsonl:2"):
        read_manifest(m)
    samples = read_manifest(m, skip_bad_rows=True)
    assert [s.id for s in samples] == ["ok", "m.jsonl:2", "nolabel", "m.jsonl:4", "m.jsonl:5"]
    assert MANIFEST_ERROR_KEY not in samples[0].meta
    errors = [s.meta[MANIFEST_ERROR_KEY] for s in samples[1:]]
    assert "m.jsonl:2: invalid JSON" in errors[0] and "label 7" in errors[1]
    assert "expected a JSON object" in errors[2] and "needs an original" in errors[3]


def test_urls_are_still_read_for_download(tmp_path: Path) -> None:
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"origin": "https://x/a.jpg", "generation": "https://x/b.jpg", "label": 1}) + "\n")
    (s,) = read_manifest(m)
    assert s.original == "https://x/a.jpg"
