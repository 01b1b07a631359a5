"""The guarded image fetcher: one place where hfpc fetches an image by URL.

Used by ``hfpc data download`` (and meant for the HTTP service when it fetches by URL). A URL
from a manifest or a request is untrusted, so the fetcher

- resolves the host once and refuses any address that is not public (loopback, private,
  link-local — cloud metadata at 169.254.169.254 included —, multicast, reserved, unspecified,
  shared/CGNAT, and the IPv6 forms of all of these: IPv4-mapped, NAT64, 6to4 …) unless the
  policy allows private addresses or names the network;
- connects to the address it vetted (never resolves a second time) and checks the connected
  peer as well, so DNS rebinding between the check and the connection gains nothing; TLS still
  verifies the certificate against the host name of the URL;
- follows redirects itself, vetting every hop, at most ``max_redirects`` of them, http(s) only;
- gives each file a total deadline (every connect, read and write is limited to what is left
  of it, so a server dripping one byte at a time cannot hold a worker) and a size cap;
- accepts the body only if Pillow can open and verify it as an image, and writes the file
  atomically (``.part`` then ``os.replace``) with the extension of the format it found.

Every refusal is a :class:`FetchError` whose ``reason`` is a short code and whose message
says what happened.
"""

from __future__ import annotations

import io
import ipaddress
import os
import socket
import time
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import httpcore
import httpx
from PIL import Image

Resolver = Callable[[str, int], list[str]]

# Declared content types that may carry an image; the bytes decide in the end.
IMAGE_CONTENT_TYPES = frozenset({"image/jpeg", "image/jpg", "image/pjpeg", "image/png", "image/webp", "image/gif",
                                 "image/bmp", "image/x-ms-bmp", "image/tiff", "application/octet-stream"})
FORMAT_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp",
                     "TIFF": ".tif", "MPO": ".jpg"}
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
RETRYABLE_CODES = frozenset({429, 500, 502, 503, 504})

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})


class FetchError(RuntimeError):
    """A URL that could not be fetched. ``reason`` is a short code: ``blocked_address``,
    ``bad_url``, ``resolve``, ``network``, ``deadline``, ``http_status``, ``too_many_redirects``,
    ``not_an_image``, ``too_large``, ``empty``. ``retryable`` says whether trying again may help."""

    def __init__(self, reason: str, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.retryable = retryable


@dataclass(frozen=True)
class FetchPolicy:
    """What the fetcher allows. ``timeout`` limits each connect/read/write, ``deadline`` the whole
    file (all hops and attempts together). ``allow_networks`` lets named non-public networks
    through (e.g. an internal image store) without opening all of them."""

    allow_private: bool = False
    allow_networks: tuple[str, ...] = ()
    max_bytes: int = 50_000_000
    timeout: float = 30.0
    deadline: float = 120.0
    max_redirects: int = 5
    user_agent: str = "hfpc-downloader"
    ssl_context: typing.Any = field(default=None, compare=False, repr=False)
    """An ``ssl.SSLContext`` for https (default: certifi's CA bundle, certificates verified)."""
    _allowed: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_allowed", tuple(ipaddress.ip_network(n, strict=False) for n in self.allow_networks))

    def allows(self, ip: str) -> bool:
        addr = _parse_ip(ip)
        return self.allow_private or is_public_address(addr) or any(addr in n for n in self._allowed)


def _parse_ip(ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if isinstance(ip, str):
        return ipaddress.ip_address(ip.split("%", 1)[0])  # drop an IPv6 zone id
    return ip


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped, NAT64, 6to4, IPv4-compatible)."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr in _NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if addr.sixtofour is not None:
        return addr.sixtofour
    if int(addr) >> 32 == 0 and int(addr) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(addr))
    return None


def is_public_address(ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for a globally routable unicast address that is not a cloud-metadata address."""
    addr = _parse_ip(ip)
    if isinstance(addr, ipaddress.IPv6Address):
        inner = _embedded_ipv4(addr)
        if inner is not None:  # the packets end up at the IPv4 address: judge that one
            return is_public_address(inner)
    if addr in _METADATA:
        return False
    return not (addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_multicast
                or addr.is_reserved or addr.is_unspecified or not addr.is_global)


def resolve_host(host: str, port: int) -> list[str]:
    """The addresses of ``host`` (an IP literal is its own answer), in resolver order."""
    try:
        return [str(_parse_ip(host))]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# ---- network layer: vetted connections with a deadline -------------------------------------


class _Clock:
    def __init__(self, deadline_at: float, total: float) -> None:
        self.deadline_at = deadline_at
        self.total = total

    def left(self, timeout: float | None = None) -> float:
        left = self.deadline_at - time.monotonic()
        if left <= 0:
            raise FetchError("deadline", f"took longer than the deadline of {self.total:g} s")
        return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, clock: _Clock) -> None:
        self._inner = inner
        self._clock = clock

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return self._inner.read(max_bytes, timeout=self._clock.left(timeout))
        except httpcore.ReadTimeout:
            self._clock.left()  # turns a timeout cut short by the deadline into a deadline error
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout=self._clock.left(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: typing.Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname=server_hostname, timeout=self._clock.left(timeout))
        return _DeadlineStream(inner, self._clock)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves once, vets every address, connects to a vetted address, checks the peer."""

    def __init__(self, policy: FetchPolicy, resolver: Resolver, clock: _Clock) -> None:
        self._policy = policy
        self._resolver = resolver
        self._clock = clock
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.NetworkStream:
        try:
            addrs = self._resolver(host, port)
        except OSError as e:
            raise FetchError("resolve", f"cannot resolve {host}: {e}", retryable=True) from None
        if not addrs:
            raise FetchError("resolve", f"cannot resolve {host}: no addresses", retryable=True)
        blocked = [a for a in addrs if not self._policy.allows(a)]
        if blocked:
            raise FetchError("blocked_address", f"{host} resolves to non-public address {blocked[0]} "
                             "(refused; --allow-private permits it)")
        last: Exception | None = None
        for ip in addrs:
            try:
                stream = self._inner.connect_tcp(ip, port, timeout=self._clock.left(timeout),
                                                 local_address=local_address, socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                last = e
                continue
            sock = stream.get_extra_info("socket")
            peer = sock.getpeername()[0] if sock is not None else ip
            if not self._policy.allows(peer):
                stream.close()
                raise FetchError("blocked_address", f"{host}: connected peer {peer} is not a public address")
            return _DeadlineStream(stream, self._clock)
        assert last is not None
        raise last

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.NetworkStream:
        raise FetchError("bad_url", "unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


_SSL_CONTEXT: typing.Any = None


def _ssl_context() -> typing.Any:
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:  # built once (loading the CA bundle is slow); SSLContext is thread-safe
        _SSL_CONTEXT = httpx.create_ssl_context(trust_env=False)
    return _SSL_CONTEXT


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport on a connection pool whose every connection goes through the guard."""

    def __init__(self, backend: _GuardedBackend, ssl_context: typing.Any = None) -> None:  # noqa: D107
        self._pool = httpcore.ConnectionPool(ssl_context=ssl_context or _ssl_context(), network_backend=backend,
                                             max_connections=4, retries=0)


# ---- the fetch ---------------------------------------------------------------------------------


def _check_url(url: str) -> httpx.URL:
    try:
        u = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as e:
        raise FetchError("bad_url", f"not a valid URL ({e})") from None
    if u.scheme not in ("http", "https") or not u.host:
        raise FetchError("bad_url", f"only http(s) URLs with a host are fetched, not {url!r}")
    return u


@contextmanager
def _open(url: str, policy: FetchPolicy, resolver: Resolver | None,
          deadline_at: float | None) -> Iterator[httpx.Response]:
    """The final (non-redirect, status 200) response for ``url``, every hop vetted."""
    clock = _Clock(deadline_at if deadline_at is not None else time.monotonic() + policy.deadline, policy.deadline)
    backend = _GuardedBackend(policy, resolver or resolve_host, clock)
    timeout = httpx.Timeout(policy.timeout)
    with httpx.Client(transport=_GuardedTransport(backend, policy.ssl_context), timeout=timeout, follow_redirects=False,
                      trust_env=False, headers={"User-Agent": policy.user_agent}) as client:
        current = _check_url(url)
        for hop in range(policy.max_redirects + 1):
            clock.left()
            try:
                resp = client.send(client.build_request("GET", current), stream=True)
            except httpx.TimeoutException as e:
                clock.left()
                raise FetchError("network", f"timed out ({type(e).__name__})", retryable=True) from None
            except httpx.HTTPError as e:
                raise FetchError("network", f"{type(e).__name__}: {e}", retryable=True) from None
            try:
                if resp.status_code in REDIRECT_CODES:
                    location = resp.headers.get("location")
                    if not location:
                        raise FetchError("http_status", f"HTTP {resp.status_code} without a Location")
                    if hop == policy.max_redirects:
                        raise FetchError("too_many_redirects", f"more than {policy.max_redirects} redirects")
                    current = _check_url(urljoin(str(current), location))
                    continue
                if resp.status_code != 200:
                    raise FetchError("http_status", f"HTTP {resp.status_code}",
                                     retryable=resp.status_code in RETRYABLE_CODES)
                yield resp
                return
            finally:
                resp.close()
    raise AssertionError("unreachable")  # pragma: no cover


def _body(resp: httpx.Response, policy: FetchPolicy) -> Iterator[bytes]:
    ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and ctype not in IMAGE_CONTENT_TYPES:
        raise FetchError("not_an_image", f"content type {ctype!r} is not an image type")
    try:
        length = int(resp.headers.get("content-length") or 0)
    except ValueError:
        length = 0
    if length > policy.max_bytes:
        raise FetchError("too_large", f"{length:,} bytes exceeds the limit of {policy.max_bytes:,}")
    size = 0
    try:
        for chunk in resp.iter_bytes(65536):
            size += len(chunk)
            if size > policy.max_bytes:
                raise FetchError("too_large", f"more than the limit of {policy.max_bytes:,} bytes")
            yield chunk
    except httpx.TimeoutException as e:
        raise FetchError("network", f"timed out reading the body ({type(e).__name__})", retryable=True) from None
    except httpx.HTTPError as e:
        raise FetchError("network", f"{type(e).__name__}: {e}", retryable=True) from None
    if size == 0:
        raise FetchError("empty", "empty response body")


def sniff_image(source: str | os.PathLike[str] | typing.BinaryIO) -> str:
    """The Pillow format name of an image file or stream; FetchError('not_an_image') otherwise."""
    try:
        with Image.open(source) as im:
            fmt = im.format or ""
            im.verify()
    except Exception as e:  # noqa: BLE001 - whatever Pillow raises, it is not an image we take
        raise FetchError("not_an_image", f"the body is not a readable image ({type(e).__name__}: {e})") from None
    if fmt not in FORMAT_EXTENSIONS:
        raise FetchError("not_an_image", f"image format {fmt or 'unknown'!r} is not accepted")
    return fmt


def fetch_to_file(url: str, folder: str | os.PathLike[str], stem: str, policy: FetchPolicy | None = None,
                  resolver: Resolver | None = None, deadline_at: float | None = None) -> Path:
    """Fetch ``url`` into ``folder/stem.<ext>`` (ext from the sniffed format), atomically.

    ``deadline_at`` (a ``time.monotonic()`` instant) overrides ``policy.deadline`` so that
    retries of one file share one deadline. Raises :class:`FetchError`.
    """
    policy = policy or FetchPolicy()
    folder = Path(folder)
    part = folder / f"{stem}.part"
    try:
        with _open(url, policy, resolver, deadline_at) as resp, part.open("wb") as f:
            for chunk in _body(resp, policy):
                f.write(chunk)
        fmt = sniff_image(part)
        final = folder / f"{stem}{FORMAT_EXTENSIONS[fmt]}"
        os.replace(part, final)
        return final
    finally:
        part.unlink(missing_ok=True)


def fetch_bytes(url: str, policy: FetchPolicy | None = None, resolver: Resolver | None = None,
                deadline_at: float | None = None) -> bytes:
    """Fetch ``url`` into memory (at most ``policy.max_bytes``) and return its verified image bytes."""
    policy = policy or FetchPolicy()
    with _open(url, policy, resolver, deadline_at) as resp:
        data = b"".join(_body(resp, policy))
    sniff_image(io.BytesIO(data))
    return data
