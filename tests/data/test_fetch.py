"""The guarded fetcher. Every server here listens on 127.0.0.1 and every connection the fetcher
makes is checked to go to 127.0.0.0/8: no test sends traffic anywhere else. "Public" host names
are mapped to 127.0.0.1 by a fake resolver, with 127.0.0.1/32 explicitly allowed."""

from __future__ import annotations

import http.server
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from PIL import Image

from hfpc.data.download import download_manifest
from hfpc.data.fetch import FetchError, FetchPolicy, fetch_bytes, fetch_to_file, is_public_address
from hfpc.data.manifests import read_manifest


def _img(fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 30)).save(buf, fmt)
    return buf.getvalue()


class _Handler(http.server.BaseHTTPRequestHandler):
    hits: dict[str, int] = {}
    protocol_version = "HTTP/1.1"

    def log_message(self, *a) -> None:
        pass

    def _send(self, code: int, body: bytes = b"", ctype: str = "image/png", headers: dict | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        u = urlparse(self.path)
        self.hits[u.path] = self.hits.get(u.path, 0) + 1
        q = parse_qs(u.query)
        if u.path == "/img.png":
            self._send(200, _img())
        elif u.path == "/jpeg-labelled-png":
            self._send(200, _img("JPEG"))
        elif u.path == "/octet":
            self._send(200, _img(), ctype="application/octet-stream")
        elif u.path == "/html-as-png":
            self._send(200, b"<html><body>login</body></html>" * 10)
        elif u.path == "/truncated-png":
            self._send(200, _img()[:40])
        elif u.path == "/redirect":
            self._send(302, headers={"Location": q["to"][0]})
        elif u.path.startswith("/hop/"):
            n = int(u.path.rsplit("/", 1)[1])
            left = int(q.get("until", ["1000"])[0])
            if n >= left:
                self._send(200, _img())
            else:
                self._send(307, headers={"Location": f"/hop/{n + 1}?until={left}"})
        elif u.path == "/chunked-big":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(20):
                self.wfile.write(b"400\r\n" + b"x" * 0x400 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif u.path == "/drip":  # a valid header, then one byte of body at a time
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.flush()
            self._drip(b"\x89PNG" + b"x" * 60)
        else:
            self._send(404, b"", ctype="text/plain")

    def _drip(self, data: bytes) -> None:
        try:
            for b in data:
                self.wfile.write(bytes([b]))
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass


class _HeaderDrip(http.server.BaseHTTPRequestHandler):
    """Sends its status line and headers one byte at a time, never finishing."""

    def log_message(self, *a) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        try:
            for b in b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nX-Padding: " + b"y" * 60:
                self.wfile.write(bytes([b]))
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass


def _serve(handler: type) -> Iterator[int]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield httpd.server_port
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def port() -> Iterator[int]:
    _Handler.hits = {}
    yield from _serve(_Handler)


@pytest.fixture()
def drip_port() -> Iterator[int]:
    yield from _serve(_HeaderDrip)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every TCP connection the fetcher opens is recorded; any non-loopback one fails the test."""
    seen: list[str] = []
    real = socket.create_connection

    def guarded(address, *a, **k):  # noqa: ANN001, ANN202
        host = str(address[0])
        seen.append(host)
        assert host.startswith("127."), f"test tried to connect to {host}"
        return real(address, *a, **k)

    monkeypatch.setattr(socket, "create_connection", guarded)
    return seen


FAKE_DNS = {"images.example": ["127.0.0.1"], "cdn.example": ["127.0.0.1"],
            "metadata.example": ["169.254.169.254"], "intranet.example": ["10.1.2.3"],
            "mixed.example": ["127.0.0.1", "192.168.0.7"]}


def fake_resolver(host: str, port: int) -> list[str]:
    if host in FAKE_DNS:
        return FAKE_DNS[host]
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host.strip("[]"))
        return [host.strip("[]")]
    except OSError:
        raise socket.gaierror(f"unknown host {host}") from None


# 127.0.0.1 stands in for "a public address"; nothing else non-public is allowed.
PUBLIC_ISH = FetchPolicy(allow_networks=("127.0.0.1/32",), deadline=10, timeout=5)


@pytest.mark.parametrize("ip", ["127.0.0.1", "127.5.5.5", "10.0.0.1", "172.16.3.4", "192.168.1.1", "169.254.169.254",
                                "100.64.0.1", "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::",
                                "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1", "::ffff:127.0.0.1",
                                "::ffff:169.254.169.254", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1",
                                "2002:a9fe:a9fe::1", "::127.0.0.1", "fe80::1%eth0",
                                "2001:0:4136:e378:8000:63bf:3fff:fdd2"])
def test_non_public_addresses(ip: str) -> None:
    assert not is_public_address(ip)
    assert not FetchPolicy().allows(ip)
    assert FetchPolicy(allow_private=True).allows(ip)


@pytest.mark.parametrize("ip", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111",
                                "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_public_addresses(ip: str) -> None:
    assert is_public_address(ip)


def test_loopback_refused_by_default_without_connecting(tmp_path: Path, port: int, loopback_only: list[str]) -> None:
    with pytest.raises(FetchError) as e:
        fetch_to_file(f"http://127.0.0.1:{port}/img.png", tmp_path, "a")
    assert e.value.reason == "blocked_address" and "127.0.0.1" in str(e.value)
    assert loopback_only == [] and _Handler.hits == {}
    assert fetch_to_file(f"http://127.0.0.1:{port}/img.png", tmp_path, "a", FetchPolicy(allow_private=True)).is_file()


def test_system_resolver_is_vetted(tmp_path: Path, port: int, monkeypatch: pytest.MonkeyPatch,
                                   loopback_only: list[str]) -> None:
    """A name that resolves (through socket.getaddrinfo) to loopback is refused like the literal."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *a, **k):  # noqa: ANN001, ANN202
        return real("127.0.0.1" if host == "sneaky.example" else host, *a, **k)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(FetchError, match="non-public address 127.0.0.1") as e:
        fetch_to_file(f"http://sneaky.example:{port}/img.png", tmp_path, "a")
    assert e.value.reason == "blocked_address" and loopback_only == []


@pytest.mark.parametrize("target", ["http://10.0.0.1/x.png", "http://169.254.169.254/latest/meta-data/",
                                    "http://[::ffff:169.254.169.254]/", "http://metadata.example/x",
                                    "http://intranet.example:8080/x", "http://127.0.0.2:{port}/img.png",
                                    "http://mixed.example:{port}/img.png", "http://[::1]:{port}/img.png"])
def test_redirect_to_non_public_refused_without_connecting(tmp_path: Path, port: int, target: str,
                                                           loopback_only: list[str]) -> None:
    url = f"http://images.example:{port}/redirect?to={target.format(port=port)}"
    with pytest.raises(FetchError) as e:
        fetch_to_file(url, tmp_path, "a", PUBLIC_ISH, resolver=fake_resolver)
    assert e.value.reason == "blocked_address"
    assert loopback_only == ["127.0.0.1"]  # only the first hop was connected
    assert _Handler.hits == {"/redirect": 1} and list(tmp_path.iterdir()) == []


def test_redirect_to_public_followed(tmp_path: Path, port: int) -> None:
    url = f"http://images.example:{port}/redirect?to=http://cdn.example:{port}/img.png"
    path = fetch_to_file(url, tmp_path, "a", PUBLIC_ISH, resolver=fake_resolver)
    assert path.name == "a.png" and _Handler.hits == {"/redirect": 1, "/img.png": 1}


def test_redirect_hop_cap(tmp_path: Path, port: int) -> None:
    policy = FetchPolicy(allow_private=True, max_redirects=3)
    assert fetch_to_file(f"http://127.0.0.1:{port}/hop/0?until=3", tmp_path, "ok", policy).is_file()
    with pytest.raises(FetchError) as e:
        fetch_to_file(f"http://127.0.0.1:{port}/hop/0", tmp_path, "loop", policy)
    assert e.value.reason == "too_many_redirects"
    assert sum(v for k, v in _Handler.hits.items()) == 4 + 4  # 3 redirects + the image; 4 hops then stop


def test_redirect_to_other_scheme_refused(tmp_path: Path, port: int) -> None:
    for target in ("file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1:6379/_"):
        with pytest.raises(FetchError) as e:
            fetch_to_file(f"http://127.0.0.1:{port}/redirect?to={target}", tmp_path, "a",
                          FetchPolicy(allow_private=True))
        assert e.value.reason == "bad_url"


def test_dns_rebinding_gains_nothing(tmp_path: Path, port: int, monkeypatch: pytest.MonkeyPatch,
                                     loopback_only: list[str]) -> None:
    """The host is resolved once; the connection goes to the address that was vetted."""
    answers = iter([["127.0.0.1"]] + [["10.9.9.9"]] * 10)  # first vetted answer, then "rebound"
    calls: list[str] = []

    def rebinding(host: str, port_: int) -> list[str]:
        calls.append(host)
        return next(answers)

    real = socket.getaddrinfo

    def no_second_lookup(host, *a, **k):  # noqa: ANN001, ANN202
        assert host == "127.0.0.1", f"a second DNS lookup of {host}"  # a numeric address needs no DNS
        return real(host, *a, **k)

    monkeypatch.setattr(socket, "getaddrinfo", no_second_lookup)
    path = fetch_to_file(f"http://rebind.example:{port}/img.png", tmp_path, "a", PUBLIC_ISH, resolver=rebinding)
    assert path.is_file() and calls == ["rebind.example"] and loopback_only == ["127.0.0.1"]


@pytest.mark.parametrize("what", ["body", "headers"])
def test_slow_drip_hits_total_deadline(tmp_path: Path, port: int, drip_port: int, what: str) -> None:
    """A server that sends a byte now and then cannot hold a download past its deadline."""
    url = f"http://127.0.0.1:{port}/drip" if what == "body" else f"http://127.0.0.1:{drip_port}/"
    t0 = time.monotonic()
    with pytest.raises(FetchError) as e:
        fetch_to_file(url, tmp_path, "a", FetchPolicy(allow_private=True, timeout=5, deadline=1.0))
    # a byte every 0.2 s never trips the 5 s read timeout: only the 1 s total deadline stops it
    assert e.value.reason == "deadline" and time.monotonic() - t0 < 4.0
    assert list(tmp_path.iterdir()) == []  # no .part file is left


def test_bytes_are_sniffed(tmp_path: Path, port: int) -> None:
    policy = FetchPolicy(allow_private=True)
    for path in ("/html-as-png", "/truncated-png"):
        with pytest.raises(FetchError) as e:
            fetch_to_file(f"http://127.0.0.1:{port}{path}", tmp_path, "a", policy)
        assert e.value.reason == "not_an_image"
        assert list(tmp_path.iterdir()) == []
    assert fetch_to_file(f"http://127.0.0.1:{port}/jpeg-labelled-png", tmp_path, "j", policy).name == "j.jpg"
    assert fetch_to_file(f"http://127.0.0.1:{port}/octet", tmp_path, "o", policy).name == "o.png"
    assert fetch_bytes(f"http://127.0.0.1:{port}/img.png", policy) == _img()
    with pytest.raises(FetchError, match="not a readable image"):
        fetch_bytes(f"http://127.0.0.1:{port}/html-as-png", policy)


def test_size_cap_without_content_length(tmp_path: Path, port: int) -> None:
    with pytest.raises(FetchError) as e:
        fetch_to_file(f"http://127.0.0.1:{port}/chunked-big", tmp_path, "a",
                      FetchPolicy(allow_private=True, max_bytes=4096))
    assert e.value.reason == "too_large" and list(tmp_path.iterdir()) == []


def test_download_records_every_refusal(tmp_path: Path, port: int) -> None:
    """Through download_manifest: each failure is an errors.jsonl row with url, reason, error;
    the dripping URL does not hold the run past its deadline even with retries."""
    base = f"http://images.example:{port}"
    rows = [{"origin": f"{base}/img.png", "generation": f"{base}/redirect?to=http://169.254.169.254/latest/",
             "label": 1},
            {"origin": f"{base}/img.png", "generation": f"{base}/drip", "label": 0},
            {"origin": f"{base}/img.png", "generation": f"{base}/html-as-png", "label": 0},
            {"origin": f"{base}/img.png", "generation": f"{base}/hop/0", "label": 0},
            {"origin": f"{base}/img.png", "generation": f"http://127.0.0.1:{port}/img.png", "label": 1}]
    m = tmp_path / "urls.jsonl"
    m.write_text("".join(json.dumps(r) + "\n" for r in rows))
    t0 = time.monotonic()
    resolver = fake_resolver
    policy = FetchPolicy(allow_networks=("127.0.0.1/32",), timeout=5, deadline=1.5, max_redirects=2)
    s = download_manifest(read_manifest(m), tmp_path / "out", workers=4, retries=3, backoff=0.01,
                          policy=policy, resolver=resolver)
    assert time.monotonic() - t0 < 4.0
    errors = {json.loads(x)["url"]: json.loads(x) for x in s.errors.read_text().splitlines()}
    reasons = {u.split(str(port), 1)[1]: e["reason"] for u, e in errors.items()}
    assert reasons == {"/redirect?to=http://169.254.169.254/latest/": "blocked_address", "/drip": "deadline",
                       "/html-as-png": "not_an_image", "/hop/0": "too_many_redirects"}
    assert all(e["error"] for e in errors.values())
    assert s.downloaded == 2 and s.failed == 4  # 127.0.0.1 is allowed here by allow_networks
    assert not list((tmp_path / "out" / "images").glob("*.part"))
    blocked = download_manifest(read_manifest(m), tmp_path / "out2", workers=2, retries=0,
                                policy=FetchPolicy(deadline=1.5), resolver=resolver)
    assert blocked.downloaded == 0 and blocked.failed == 6
    assert {json.loads(x)["reason"] for x in blocked.errors.read_text().splitlines()} == {"blocked_address"}


@pytest.fixture()
def tls_port(tmp_path: Path) -> Iterator[tuple[int, str]]:
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=images.example", "-addext", "subjectAltName=DNS:images.example",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    _Handler.hits = {}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield httpd.server_port, str(cert)
    httpd.shutdown()
    httpd.server_close()


def test_https_verifies_the_url_host_on_the_vetted_address(tmp_path: Path, tls_port: tuple[int, str],
                                                            loopback_only: list[str]) -> None:
    import ssl

    port, cert = tls_port
    ca = ssl.create_default_context(cafile=cert)
    policy = FetchPolicy(allow_networks=("127.0.0.1/32",), deadline=10, timeout=5, ssl_context=ca)
    path = fetch_to_file(f"https://images.example:{port}/img.png", tmp_path, "a", policy, resolver=fake_resolver)
    assert path.name == "a.png" and loopback_only == ["127.0.0.1"]
    with pytest.raises(FetchError) as e:  # same address, another name: the certificate does not match
        fetch_to_file(f"https://cdn.example:{port}/img.png", tmp_path, "b", policy, resolver=fake_resolver)
    assert e.value.reason == "network" and "certificate" in str(e.value).lower()
    with pytest.raises(FetchError, match="(?i)certificate"):  # the default context does not trust it
        fetch_to_file(f"https://images.example:{port}/img.png", tmp_path, "c",
                      FetchPolicy(allow_networks=("127.0.0.1/32",), deadline=10, timeout=5), resolver=fake_resolver)
