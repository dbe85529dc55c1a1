"""Where a request came from and where it was sent: peers, trusted proxies, Host headers.

Shared by the proxy-aware middleware (`ProxyHeadersMiddleware`, `HTTPSRedirectMiddleware`) and
the host check (`TrustedHostMiddleware`). Everything that reads a client-controlled value here
validates it and answers ``None`` for what it cannot trust, so callers never build a URL or an
address out of raw header bytes.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Sequence
from typing import Literal, NamedTuple
from urllib.parse import quote_from_bytes

from lanner.datastructures import quote_path
from lanner.types import Scope

__all__ = [
    "MAX_FORWARDED_SIZE",
    "Forwarding",
    "ProxyHeader",
    "TrustedProxies",
    "check_proxy_header",
    "check_text",
    "format_host",
    "parse_address",
    "parse_host",
    "read_forwarding",
    "request_target",
    "scope_scheme",
    "single_host",
]

#: Which headers a proxy writes: ``"x-forwarded"`` (``X-Forwarded-For/-Proto/-Host``),
#: ``"forwarded"`` (RFC 7239 ``Forwarded``), or ``"auto"`` (the X-Forwarded ones when the request
#: has any, else ``Forwarded``).
ProxyHeader = Literal["auto", "x-forwarded", "forwarded"]
_PROXY_HEADERS = ("auto", "x-forwarded", "forwarded")

#: Bytes of a forwarding header (all its lines joined) that are read. Longer ``X-Forwarded-For``
#: and ``Forwarded`` values are read from the right (the part trusted proxies wrote), so padding
#: the client's own part cannot hide the address the proxy appended; longer ``X-Forwarded-Proto``
#: and ``X-Forwarded-Host`` values are ignored.
MAX_FORWARDED_SIZE = 4096

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# A reg-name made of DNS-ish labels (underscores allowed: container and service names use them),
# or a bracketed IPv6 literal; then an optional port. No userinfo, percent-escapes, or anything
# that could change how a URL built from it parses.
_HOST = re.compile(rb"(\[[0-9a-f:.]{2,45}\]|(?:[a-z0-9_-]{1,63}\.)*[a-z0-9_-]{1,63}\.?)(?::([0-9]{1,5}))?")
MAX_HOST = 260
_CACHE_SIZE = 1024
# A literal peer name ("testclient"): what is not an address but could not be mistaken for one.
_PEER_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_IP_LIKE = re.compile(r"[0-9.]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
_X_HEADERS = (b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host")
_WANTED = frozenset((*_X_HEADERS, b"forwarded"))
# What stays as it is when raw path and query bytes become URL text (existing escapes included).
_PATH_SAFE = "!$&'()*+,;=:@/%"
_QUERY_SAFE = "!$&'()*+,;=:@/%?"


def check_text(what: str, value: str) -> str:
    """Return `value` if it holds no control character (CR and LF included).

    Raises:
        ValueError: it does; a header built from it could be split in two.
    """
    if _CONTROL.search(value) is not None:
        raise ValueError(f"{what} must not contain control characters (CR, LF...): {value!r}")
    return value


def check_proxy_header(value: str) -> ProxyHeader:
    """Return `value` if it names a `ProxyHeader` choice.

    Raises:
        ValueError: it is not ``"auto"``, ``"x-forwarded"`` or ``"forwarded"``.
    """
    if value not in _PROXY_HEADERS:
        raise ValueError(f"proxy_header must be one of {', '.join(_PROXY_HEADERS)}, not {value!r}")
    return value  # type: ignore[return-value]


class TrustedProxies:
    """A set of proxy addresses: single IPs, CIDR networks, literal peer names, or ``"*"`` (all).

    An IPv4-mapped IPv6 peer (``::ffff:10.0.0.1``, from a dual-stack socket) matches the IPv4
    entries too. A literal name (letters, digits, ``.``, ``_``, ``-``: ``"testclient"``) is
    compared as it is with ``scope["client"][0]``. A scope without a client (a Unix socket under
    some servers) is trusted only by ``"*"``.

    Args:
        proxies: the entries, as an iterable or one comma-separated string (``"10.0.0.1, 10.1.0.0/16"``).

    Raises:
        ValueError: an entry is empty, holds control characters, or is neither an address, a
            network nor a literal name (``10.0.0.300``, ``10.0.0.0/33``, ``::zz``).
    """

    __slots__ = ("_cache", "_exact", "_networks", "trusts_all")

    def __init__(self, proxies: str | Iterable[str]) -> None:
        entries = proxies.split(",") if isinstance(proxies, str) else list(proxies)
        exact: set[str] = set()
        networks: list[_IPNetwork] = []
        self.trusts_all = False
        for raw in entries:
            if not isinstance(raw, str):
                raise TypeError(f"trusted proxies must be strings, not {raw!r}")
            entry = check_text("a trusted proxy", raw).strip()
            if entry == "*":
                self.trusts_all = True
                continue
            if not entry:
                raise ValueError(f"invalid trusted proxy {raw!r}: an address, a CIDR network or '*'")
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                if _PEER_NAME.fullmatch(entry) is None or _IP_LIKE.fullmatch(entry) is not None:
                    raise ValueError(f"invalid trusted proxy address or network {entry!r}") from None
                exact.add(entry)
                continue
            if network.num_addresses == 1:
                exact.add(str(network.network_address))
            else:
                networks.append(network)
        self._exact = frozenset(exact)
        self._networks = tuple(networks)
        # PERF(proxy headers, trusted peer): the same few proxies ask again and again; parsing
        # an address and scanning the networks costs ~3 us, a dict hit ~0.05 us.
        self._cache: dict[str, bool] = {}

    def __contains__(self, host: object) -> bool:
        """Whether `host` (a peer address as the server gives it, or ``None``) is trusted."""
        if self.trusts_all:
            return True
        if not isinstance(host, str):
            return False
        known = self._cache.get(host)
        if known is None:
            known = self._check(host)
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[host] = known
        return known

    def _check(self, host: str) -> bool:
        if host in self._exact:
            return True
        if not self._networks and ":" not in host:
            return False  # an IPv4 address or a name, not listed
        try:
            address: _IPAddress = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return str(address) in self._exact or any(address in network for network in self._networks)

    def trusts_peer(self, scope: Scope) -> bool:
        """Whether the scope's direct peer (``scope["client"][0]``) is a trusted proxy."""
        client = scope.get("client")
        return (client[0] if client else None) in self


def parse_address(text: str) -> tuple[str, int] | None:
    """Parse a forwarded node: ``1.2.3.4``, ``1.2.3.4:80``, ``2001:db8::1``, ``[2001:db8::1]:80``.

    Returns the normalised address and the port (0 when absent or obfuscated, ``_abc``), or
    ``None`` for anything else: ``unknown``, an obfuscated identifier (``_hidden``), a host name,
    garbage.
    """
    text = text.strip()
    port_text = ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                return None
            port_text = rest[1:]
        if ":" not in host:
            return None  # brackets are for IPv6 only
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host = text
    address = _normal_ip(host)
    if address is None:
        return None
    port = 0
    if port_text and not port_text.startswith("_"):
        if not port_text.isdigit() or len(port_text) > 5 or int(port_text) > 65535:
            return None
        port = int(port_text)
    return address, port


def _normal_ip(text: str) -> str | None:
    """`text` as `ipaddress` writes it, if it is an IP address (no IPv6 zone)."""
    # PERF(proxy headers, trusted peer): inet_pton validates in ~0.1 us where ip_address takes
    # ~1.6 us; a dotted quad it accepts (no leading zeros, four decimal parts) is already normal.
    if ":" not in text:
        try:
            socket.inet_pton(socket.AF_INET, text)
        except (OSError, ValueError):
            return None
        return text
    try:
        packed = socket.inet_pton(socket.AF_INET6, text)
    except (OSError, ValueError):
        return None
    return str(ipaddress.IPv6Address(packed))


def parse_host(value: bytes) -> tuple[str, int | None] | None:
    """Validate a ``Host`` value: ``host``, ``host:port``, ``[v6]``, ``[v6]:port``.

    Returns the host lower-cased, without a trailing dot (IPv6 compressed, in brackets), and the port;
    ``None`` when the value is malformed: empty, ``user@host``, a path, whitespace, characters a
    host cannot hold, an empty or out-of-range port, an invalid IPv6 literal.
    """
    if not value or len(value) > MAX_HOST:
        return None
    match = _HOST.fullmatch(value.lower())
    if match is None:
        return None
    host = match[1].decode("ascii")
    if host.startswith("["):
        try:
            host = f"[{ipaddress.IPv6Address(host[1:-1])}]"
        except ValueError:
            return None
    else:
        host = host.removesuffix(".")
        if len(host) > 253:
            return None
    port: int | None = None
    if match[2] is not None:
        port = int(match[2])
        if port > 65535:
            return None
    return host, port


def format_host(host: str, port: int | None) -> str:
    """``host`` or ``host:port``, as a URL's authority (no userinfo)."""
    return host if port is None else f"{host}:{port}"


def single_host(scope: Scope) -> bytes | None:
    """The request's one ``Host`` header value; ``None`` when it has none or more than one."""
    found: bytes | None = None
    for name, value in scope.get("headers", ()):
        if name == b"host":
            if found is not None:
                return None
            found = value
    return found


def request_target(scope: Scope) -> str:
    r"""The request's path and query as URL text, for a redirect to the same resource elsewhere.

    The raw path is used when the server gives it (so ``%2F`` stays ``%2F``); bytes a URL cannot
    hold are percent-encoded (``\`` included). The result always starts with ``/``: a path like
    ``//evil.com`` stays a path once put after a host.
    """
    raw_path = scope.get("raw_path")
    path = quote_from_bytes(raw_path, _PATH_SAFE) if raw_path else quote_path(scope.get("path") or "/")
    if not path.startswith("/"):
        path = "/" + path
    query = scope.get("query_string") or b""
    if query:
        path += "?" + quote_from_bytes(query, _QUERY_SAFE)
    return path


class Forwarding(NamedTuple):
    """What trusted proxies said about a request; each field ``None`` when they said nothing usable.

    Attributes:
        client: the client's address and port (0 when not given).
        scheme: ``"http"`` or ``"https"``, the scheme the client used towards the proxies.
        host: the validated host the client asked for, ``host[:port]``.
    """

    client: tuple[str, int] | None
    scheme: str | None
    host: str | None


_NOTHING = Forwarding(None, None, None)


def read_forwarding(
    scope: Scope, trusted: TrustedProxies, proxy_header: ProxyHeader = "auto", *, want_host: bool = False
) -> Forwarding:
    """Read the forwarding headers of a request whose direct peer is a trusted proxy.

    The caller checks the peer first (`TrustedProxies.trusts_peer`). Each proxy appends the
    address it received the request from, so the list is walked from the right, skipping trusted
    proxies: the first untrusted address is the client. An entry that is not a valid address
    (``unknown``, garbage, a truncated start) stops the walk; the client is then the last address
    walked, if any. When every entry is trusted the leftmost one is the client.

    The scheme and host are those the proxy that appended the client's entry received: the
    entry's own ``proto``/``host`` in ``Forwarded``; for ``X-Forwarded-Proto``/``-Host``, the value at
    the client's position when the list has one value per ``X-Forwarded-For`` entry, the only
    value when there is one, otherwise the rightmost (the direct peer's).

    Args:
        scope: the request's scope.
        trusted: the trusted proxies.
        proxy_header: which headers to read (`ProxyHeader`).
        want_host: read ``X-Forwarded-Host`` / ``Forwarded host=`` too.
    """
    lines: dict[bytes, list[bytes]] = {}
    for name, value in scope.get("headers", ()):
        if name in _WANTED:
            lines.setdefault(name, []).append(value)
    if not lines:
        return _NOTHING
    use_x = proxy_header == "x-forwarded" or (
        proxy_header == "auto" and any(name in lines for name in _X_HEADERS)
    )
    if use_x:
        return _read_x_forwarded(lines, trusted, want_host)
    if proxy_header != "x-forwarded" and b"forwarded" in lines:
        return _read_forwarded(lines[b"forwarded"], trusted, want_host)
    return _NOTHING


def _joined(values: list[bytes] | None) -> str | None:
    if not values:
        return None
    return b",".join(values).decode("latin-1")


def _tail(values: list[bytes]) -> tuple[list[str], bool]:
    """The comma-separated items of the header's lines; only the last part of an oversized one."""
    text = b",".join(values).decode("latin-1")
    if len(text) <= MAX_FORWARDED_SIZE:
        return text.split(","), False
    items = text[-MAX_FORWARDED_SIZE:].split(",")
    return items[1:], True  # the first item may be cut


def _choose(
    nodes: Sequence[tuple[str, int] | None], trusted: TrustedProxies
) -> tuple[tuple[str, int] | None, int]:
    """Walk `nodes` from the right; return the client and the index where the walk stopped."""
    client: tuple[str, int] | None = None
    for index in range(len(nodes) - 1, -1, -1):
        node = nodes[index]
        if node is None:
            return client, index
        client = node
        if node[0] not in trusted:
            return client, index
    return client, 0


def _aligned(values: list[bytes] | None, count: int, index: int, truncated: bool) -> str | None:
    """The value of a list header at the client's position (see `read_forwarding`)."""
    text = _joined(values)
    if text is None or len(text) > MAX_FORWARDED_SIZE:
        return None
    items = [item.strip() for item in text.split(",")]
    if len(items) == 1:
        return items[0]
    if not truncated and len(items) == count:
        return items[index]
    return items[-1]


def _read_x_forwarded(
    lines: dict[bytes, list[bytes]], trusted: TrustedProxies, want_host: bool
) -> Forwarding:
    chain = lines.get(b"x-forwarded-for")
    client: tuple[str, int] | None = None
    count = index = 0
    truncated = False
    if chain:
        items, truncated = _tail(chain)
        nodes = [parse_address(item) for item in items]
        count = len(nodes)
        client, index = _choose(nodes, trusted)
    scheme = _scheme(_aligned(lines.get(b"x-forwarded-proto"), count, index, truncated))
    host = None
    if want_host:
        host = _host(_aligned(lines.get(b"x-forwarded-host"), count, index, truncated))
    return Forwarding(client, scheme, host)


def _read_forwarded(values: list[bytes], trusted: TrustedProxies, want_host: bool) -> Forwarding:
    items, _ = _tail(values)
    elements = [_parse_element(item) for item in items]
    nodes = [_node(element) for element in elements]
    client, index = _choose(nodes, trusted)
    element = (elements[index] if elements else None) or {}
    scheme = _scheme(element.get("proto"))
    host = _host(element.get("host")) if want_host else None
    return Forwarding(client, scheme, host)


def _node(element: dict[str, str] | None) -> tuple[str, int] | None:
    if element is None:
        return None
    node = element.get("for")
    return parse_address(node) if node is not None else None


# A forwarded-pair's value: a token, or a quoted-string with backslash escapes.
_PAIR = re.compile(
    r"""\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)=(?:([!#$%&'*+.^_`|~0-9A-Za-z:\[\]-]+)|"((?:[^"\\]|\\.)*)")\s*"""
)
_ESCAPE = re.compile(r"\\(.)")


def _parse_element(text: str) -> dict[str, str] | None:
    """One ``Forwarded`` element (``for=...;proto=...``) as a dict; ``None`` when malformed.

    Elements are split on bare commas and pairs on bare semicolons: no valid ``for``, ``proto``,
    ``host`` or ``by`` value holds either, and a quoted string stretching over them (a client's
    trick to swallow the element a proxy appended) only breaks the client's own part.
    """
    pairs: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        match = _PAIR.fullmatch(part)
        if match is None:
            return None
        name = match[1].lower()
        if name in pairs:
            return None  # RFC 7239 section 4: a parameter occurs at most once per element
        value = match[2] if match[2] is not None else _ESCAPE.sub(r"\1", match[3])
        pairs[name] = value
    return pairs or None


def _scheme(value: str | None) -> str | None:
    if value is None:
        return None
    return _SCHEMES.get(value.strip().lower())


def _host(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parsed = parse_host(value.strip().encode("ascii"))
    except UnicodeEncodeError:
        return None
    return format_host(*parsed) if parsed is not None else None


def scope_scheme(scheme: str, scope: Scope) -> str:
    """`scheme` (``http``/``https``) as the scope's kind spells it: ``ws``/``wss`` for a WebSocket."""
    if scope["type"] == "websocket":
        return "wss" if scheme == "https" else "ws"
    return scheme
