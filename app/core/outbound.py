"""Outbound HTTP to addresses that users choose (webhooks, push endpoints), guarded against SSRF.

Every A/AAAA record of the host is checked, at registration and again before each send; the request
then goes to the address that was checked (the original Host header and TLS SNI are kept), so a DNS
answer that changes between the check and the connect (rebinding) cannot redirect it. Redirects are
never followed, proxies from the environment are ignored, and response bodies are read up to a cap.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections import OrderedDict
from collections.abc import Iterable

import httpx
import msgspec
from opentelemetry.trace import SpanKind

from app.core import tracing

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services; most are link-local already, listed so the rule survives any stdlib change.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "168.63.129.16")
)
MAX_URL_LENGTH = 2000
RESOLVE_TIMEOUT_S = 3.0


class UnsafeUrl(Exception):
    """The URL may not be called: wrong scheme, unresolvable, or an address we refuse."""


class Target(msgspec.Struct, frozen=True):
    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


class Answer(msgspec.Struct, frozen=True):
    status: int
    headers: dict[str, str]
    body: bytes
    latency_ms: int


def address_refused(ip: IPAddress) -> str | None:
    """Why `ip` may not be called (None when it is a public unicast address)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            return address_refused(embedded)
    if ip in METADATA_ADDRESSES:
        return "metadata"
    for name in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):
        if getattr(ip, f"is_{name}"):
            return name.replace("_", "-")
    if not ip.is_global:
        return "not-global"
    return None


def _allowed(host: str, ip: IPAddress | None, allow: Iterable[str]) -> bool:
    for entry in allow:
        entry = entry.strip().lower()
        if "/" in entry:
            if ip is not None:
                try:
                    if ip in ipaddress.ip_network(entry, strict=False):
                        return True
                except ValueError:
                    continue
        elif entry == host:
            return True
    return False


def parse(url: str) -> httpx.URL:
    """The URL when it is absolute http(s) with a host and no credentials; UnsafeUrl otherwise."""
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl("the URL is too long")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise UnsafeUrl("the URL is not valid") from None
    if parsed.scheme not in ("http", "https"):
        raise UnsafeUrl("only http and https URLs are allowed")
    if not parsed.host:
        raise UnsafeUrl("the URL has no host")
    # httpx parses any integer as a port (99999, 0, -1); none of those can be connected to.
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise UnsafeUrl("the port must be a number from 1 to 65535")
    if parsed.userinfo:
        raise UnsafeUrl("credentials in the URL are not allowed")
    if parsed.fragment:
        raise UnsafeUrl("a fragment is not allowed")
    return parsed


async def resolve(url: str, allow: Iterable[str] = ()) -> Target:
    """Check `url` and every address its host resolves to; the checked addresses, to connect to."""
    parsed = parse(url)
    host = parsed.host.lower().strip("[]")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    allow = tuple(allow)
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = await _lookup(host, port)
    host_allowed = _allowed(host, None, allow)
    for ip in addresses:
        reason = address_refused(ip)
        if reason and not (host_allowed or _allowed(host, ip, allow)):
            raise UnsafeUrl(f"{host} resolves to a {reason} address")
    return Target(str(parsed), parsed.scheme, host, port, tuple(str(ip) for ip in addresses))


async def _lookup(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S
        )
    except (OSError, TimeoutError, UnicodeError):
        raise UnsafeUrl(f"{host} does not resolve") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
    if not addresses:
        raise UnsafeUrl(f"{host} does not resolve")
    return addresses


class Sender:
    """POSTs to checked targets. One connection pool per (scheme, host): a TLS connection made with
    one name's SNI is never reused for another name that happens to share the address."""

    def __init__(self, *, max_clients: int = 256, max_body_bytes: int = 4096) -> None:
        self._clients: OrderedDict[tuple[str, str], httpx.AsyncClient] = OrderedDict()
        self._max_clients = max_clients
        self.max_body_bytes = max_body_bytes

    def _client(self, scheme: str, host: str) -> httpx.AsyncClient:
        key = (scheme, host)
        client = self._clients.get(key)
        if client is None:
            client = httpx.AsyncClient(
                follow_redirects=False,
                trust_env=False,
                limits=httpx.Limits(max_connections=20, max_keepalive_connections=5),
            )
            self._clients[key] = client
            if len(self._clients) > self._max_clients:
                _, oldest = self._clients.popitem(last=False)
                asyncio.get_running_loop().create_task(oldest.aclose())
        else:
            self._clients.move_to_end(key)
        return client

    async def post(
        self, target: Target, *, content: bytes, headers: dict[str, str], timeout_s: float
    ) -> Answer:
        """Send to the first checked address that accepts a connection; the status and capped body."""
        # The host only, never the URL: paths and queries of users' endpoints may hold their secrets.
        attributes = {
            "http.request.method": "POST",
            "server.address": target.host,
            "server.port": target.port,
        }
        with tracing.span(f"POST {target.host}", kind=SpanKind.CLIENT, attributes=attributes) as current:
            answer = await self._post(target, content=content, headers=headers, timeout_s=timeout_s)
            if current is not None:
                current.set_attribute("http.response.status_code", answer.status)
            return answer

    async def _post(
        self, target: Target, *, content: bytes, headers: dict[str, str], timeout_s: float
    ) -> Answer:
        parsed = httpx.URL(target.url)
        host_header = parsed.netloc.decode("ascii")  # httpx drops a default port; no userinfo (parse)
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        client = self._client(target.scheme, target.host)
        last_error: Exception | None = None
        started = time.perf_counter()
        for address in target.addresses:
            pinned = parsed.copy_with(host=address, port=target.port)
            request = client.build_request(
                "POST",
                pinned,
                content=content,
                headers={**headers, "Host": host_header},
                timeout=httpx.Timeout(timeout_s),
                extensions=extensions,
            )
            try:
                async with asyncio.timeout(timeout_s * 2):
                    response = await client.send(request, stream=True)
                    try:
                        body = await self._read_capped(response)
                    finally:
                        await response.aclose()
            except httpx.ConnectError as exc:
                last_error = exc
                continue
            latency_ms = int((time.perf_counter() - started) * 1000)
            return Answer(response.status_code, dict(response.headers), body, latency_ms)
        assert last_error is not None
        raise last_error

    async def _read_capped(self, response: httpx.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_raw():
            chunks.append(chunk[: self.max_body_bytes - size])
            size += len(chunks[-1])
            if size >= self.max_body_bytes:
                break
        return b"".join(chunks)

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), OrderedDict()
        for client in clients:
            await client.aclose()
