from __future__ import annotations

import http.server
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from hfpc.data.download import download_manifest
from hfpc.data.manifests import read_manifest


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 30)).save(buf, "PNG")
    return buf.getvalue()


class _Handler(http.server.BaseHTTPRequestHandler):
    hits: dict[str, int] = {}

    def log_message(self, *a) -> None:  # silence
        pass

    def do_GET(self) -> None:  # noqa: N802
        n = self.hits[self.path] = self.hits.get(self.path, 0) + 1
        if self.path.startswith("/flaky") and n < 2:
            self.send_response(503)
            self.end_headers()
            return
        if self.path.startswith("/html"):
            body, ctype = b"<html></html>", "text/html"
        elif self.path.startswith("/big"):
            body, ctype = b"x" * 5000, "image/png"
        elif self.path.startswith("/missing"):
            self.send_response(404)
            self.end_headers()
            return
        else:
            body, ctype = _png(), "image/png"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture()
def server() -> Iterator[str]:
    _Handler.hits = {}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def test_download_resume_and_errors(tmp_path: Path, server: str) -> None:
    m = tmp_path / "urls.jsonl"
    rows = [{"origin": f"{server}/o1.png", "generation": f"{server}/g1.png", "label": 1},
            {"origin": f"{server}/o1.png", "generation": f"{server}/flaky.png", "label": 0},
            {"origin": f"{server}/o2.png", "generation": f"{server}/html", "label": 1},
            {"origin": f"{server}/o2.png", "generation": f"{server}/missing.png", "label": 0},
            {"origin": f"{server}/o2.png", "generation": f"{server}/big.png", "label": 0}]
    m.write_text("".join(json.dumps(r) + "\n" for r in rows))
    samples = read_manifest(m)
    s = download_manifest(samples, tmp_path / "out", workers=4, retries=2, backoff=0.01, max_bytes=1000,
                          allow_private=True)
    assert (s.urls, s.downloaded, s.failed) == (7, 4, 3)
    errors = {json.loads(x)["url"].rsplit("/", 1)[1]: json.loads(x)["error"] for x in s.errors.read_text().splitlines()}
    assert "not an image type" in errors["html"] and "HTTP 404" in errors["missing.png"]
    assert "exceeds the limit" in errors["big.png"]
    local = read_manifest(s.manifest)
    assert len(local) == 2 and all(Path(x.generated).is_file() for x in local)
    assert [x.id for x in local] == [x.id for x in samples[:2]]  # ids survive the move to local files
    assert local[0].meta["source_generated"].endswith("/g1.png")
    hits = dict(_Handler.hits)
    s2 = download_manifest(samples, tmp_path / "out", workers=4, retries=0, max_bytes=1000, allow_private=True)
    assert s2.cached == 4 and s2.downloaded == 0
    assert _Handler.hits["/g1.png"] == hits["/g1.png"]  # not fetched again


def test_cli_download_refuses_loopback_unless_allowed(tmp_path: Path, server: str) -> None:
    from typer.testing import CliRunner

    from hfpc.cli import app

    m = tmp_path / "urls.jsonl"
    m.write_text(json.dumps({"origin": f"{server}/o1.png", "generation": f"{server}/g1.png", "label": 1}) + "\n")
    runner = CliRunner()
    r = runner.invoke(app, ["data", "download", str(m), "--out", str(tmp_path / "a"), "--retries", "0"])
    assert r.exit_code == 2, r.output
    rows = [json.loads(x) for x in (tmp_path / "a" / "errors.jsonl").read_text().splitlines()]
    assert {x["reason"] for x in rows} == {"blocked_address"} and len(rows) == 2
    assert _Handler.hits == {}  # nothing was requested
    r = runner.invoke(app, ["data", "download", str(m), "--out", str(tmp_path / "b"), "--allow-private",
                            "--deadline", "10", "--max-redirects", "2"])
    assert r.exit_code == 0, r.output
    assert len(read_manifest(tmp_path / "b" / "manifest.jsonl")) == 1
    r = runner.invoke(app, ["data", "download", str(m), "--out", str(tmp_path / "c"), "--allow-network", "nonsense"])
    assert r.exit_code != 0 and "--allow-network" in r.output
