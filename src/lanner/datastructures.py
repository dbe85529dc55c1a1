"""Request primitives: headers, query parameters, cookies, URLs, client addresses and state bags.

Everything here sits on the request hot path, so objects wrap what the ASGI server already gave
(the raw header list, the query-string bytes) and decode only what is asked for, when it is asked.
"""

from __future__ import annotations

import enum
import re
from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from typing import Any, Literal, NamedTuple, TypeVar, overload
from urllib.parse import (
    SplitResult,
    quote,
    quote_from_bytes,
    quote_plus,
    unquote_plus,
    unquote_to_bytes,
    urlencode,
    urlsplit,
)

from lanner.exceptions import MalformedQueryError

_T = TypeVar("_T")

# RFC 9110 section 5.6.2: a field name is a token.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# A Host header is trusted only when it is a plain host[:port]; anything else (slashes, "@",
# whitespace...) would let a client reshape the URL the application builds from it.
_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]+)(?::[0-9]*)?")
# Characters kept as they are when the decoded ASGI path and the raw query string become a URL.
_PATH_SAFE = "/!$&'()*+,;=:@-._~"
_QUERY_SAFE = "/?!$&'()*+,;=:@-._~%[]"
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# RFC 9110 section 5.5: a field value holds HTAB, SP, visible ASCII and obs-text (0x80-0xFF) only.
_FORBIDDEN_VALUE_CHAR = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class _Unset(enum.Enum):
    UNSET = enum.auto()


_UNSET = _Unset.UNSET


def _encode_field(key: str, value: str) -> tuple[bytes, bytes]:
    if not _TOKEN.fullmatch(key):
        raise ValueError(f"Invalid header name {key!r}: a header name must be an RFC 9110 token")
    # PERF: (timeit, "text/html; charset=utf-8") the regex only runs when isprintable() sees
    # something unusual (a tab, a control or a non-ASCII character): 136 -> 72 ns.
    if not value.isprintable():
        bad = _FORBIDDEN_VALUE_CHAR.search(value)
        if bad is not None:
            # Refusing CR and LF is what stops header injection (a value smuggling
            # "\r\nSet-Cookie: ..."); the other controls would make the server drop the connection.
            raise ValueError(
                f"Invalid value for header {key!r}: control character {bad[0]!r} is not allowed "
                "(RFC 9110 field values allow only HTAB among the control characters)"
            )
    try:
        raw_value = value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"Invalid value for header {key!r}: only latin-1 characters are allowed") from None
    return key.lower().encode("latin-1"), raw_value


class Headers(Mapping[str, str]):
    """Immutable, case-insensitive, multi-valued view of ASGI raw headers.

    The raw list is wrapped, not copied; names in it must already be lower-case bytes, as ASGI
    servers provide them. Values are decoded as latin-1 when read. Keys may be given in any case.
    `len()`, iteration, `keys()`, `values()` and `items()` see every header line, duplicates kept.

    Args:
        raw: the ASGI header list (`[(b"content-type", b"text/plain"), ...]`); empty when `None`.

    """

    __slots__ = ("_list",)

    def __init__(self, raw: list[tuple[bytes, bytes]] | None = None) -> None:
        self._list: list[tuple[bytes, bytes]] = [] if raw is None else raw

    @classmethod
    def from_scope(cls, scope: Mapping[str, Any]) -> Headers:
        """Wrap the headers of an ASGI connection scope (`scope["headers"]`).

        Raises:
            KeyError: if the scope has no `"headers"` key.

        """
        return cls(scope["headers"])

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        """The underlying ASGI header list itself (not a copy)."""
        return self._list

    def __getitem__(self, key: str) -> str:
        """Return the first value of header `key`.

        Raises:
            KeyError: if no header has that name.

        """
        value = self._first(key)
        if value is None:
            raise KeyError(key)
        return value.decode("latin-1")

    # PERF: (timeit, one hit and one miss on 6 headers) a miss returns None instead of raising and
    # catching KeyError, and `get`/`in` share it: 1.8 -> 0.75 µs.
    def _first(self, key: str) -> bytes | None:
        try:
            name = key.lower().encode("latin-1")
        except UnicodeEncodeError:
            return None
        for header_name, header_value in self._list:
            if header_name == name:
                return header_value
        return None

    @overload
    def get(self, key: str) -> str | None: ...

    @overload
    def get(self, key: str, default: _T) -> str | _T: ...

    def get(self, key: str, default: object = None) -> object:
        """Return the first value of header `key`, or `default` when it is absent."""
        value = self._first(key)
        return default if value is None else value.decode("latin-1")

    def getlist(self, key: str) -> list[str]:
        """Return every value of header `key`, in order; an empty list when it is absent."""
        try:
            name = key.lower().encode("latin-1")
        except UnicodeEncodeError:
            return []
        return [v.decode("latin-1") for k, v in self._list if k == name]

    def keys(self) -> list[str]:  # type: ignore[override]
        """Return the lower-case name of every header line, duplicates kept."""
        return [k.decode("latin-1") for k, _ in self._list]

    def values(self) -> list[str]:  # type: ignore[override]
        """Return the value of every header line, in order."""
        return [v.decode("latin-1") for _, v in self._list]

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        """Return every `(lower-case name, value)` pair, in order, duplicates kept."""
        return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self._list]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._first(key) is not None

    def __len__(self) -> int:
        return len(self._list)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def _grouped(self) -> dict[bytes, list[bytes]]:
        # Lines with different names may come in any order; values of one name keep theirs.
        grouped: dict[bytes, list[bytes]] = {}
        for k, v in self._list:
            grouped.setdefault(k, []).append(v)
        return grouped

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self._grouped() == other._grouped()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(raw={self._list!r})"


class MutableHeaders(Headers):
    """Headers that edit their raw list in place, so whoever shares the list sees every change.

    Names are stored lower-cased. Names must be RFC 9110 tokens and values latin-1 text without
    control characters other than HTAB (0x00-0x08, 0x0A-0x1F and 0x7F are refused, CR and LF among
    them); anything else raises `ValueError`, which rules out header injection.

    Args:
        raw: the list to edit (a response's header list); a new empty list when `None`.

    """

    __slots__ = ()

    def _indexes(self, key: str) -> list[int]:
        try:
            name = key.lower().encode("latin-1")
        except UnicodeEncodeError:
            return []
        return [i for i, (k, _) in enumerate(self._list) if k == name]

    def __setitem__(self, key: str, value: str) -> None:
        """Set header `key` to the single value `value`.

        The first existing line of that name is replaced in place and the others are removed; a new
        line is appended when there is none.

        Raises:
            ValueError: if the name is not a token or the value holds a control character other
                than HTAB, or a character outside latin-1.

        """
        field = _encode_field(key, value)
        indexes = self._indexes(key)
        if not indexes:
            self._list.append(field)
            return
        self._list[indexes[0]] = field
        for i in reversed(indexes[1:]):
            del self._list[i]

    def __delitem__(self, key: str) -> None:
        """Remove every line of header `key`.

        Raises:
            KeyError: if no header has that name.

        """
        indexes = self._indexes(key)
        if not indexes:
            raise KeyError(key)
        for i in reversed(indexes):
            del self._list[i]

    def append(self, key: str, value: str) -> None:
        """Add one more line for header `key`, keeping existing ones (e.g. a second Set-Cookie).

        Raises:
            ValueError: if the name is not a token or the value holds a control character other
                than HTAB, or a character outside latin-1.

        """
        self._list.append(_encode_field(key, value))

    def setdefault(self, key: str, value: str) -> str:
        """Return the first value of header `key`, adding it with `value` when it is absent.

        Raises:
            ValueError: if the header has to be added and the name or value is invalid.

        """
        existing = self.get(key)
        if existing is not None:
            return existing
        self.append(key, value)
        return value

    def update(self, other: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        """Set headers from a mapping or from `(name, value)` pairs.

        Each name present in `other` replaces the current values of that name; several pairs with
        the same name (as in another `Headers`) are all kept.

        Raises:
            ValueError: if a name or value is invalid; pairs before it have already been applied.

        """
        pairs = other.items() if isinstance(other, Mapping) else other
        seen: set[str] = set()
        for key, value in pairs:
            lowered = key.lower()
            if lowered in seen:
                self.append(key, value)
            else:
                seen.add(lowered)
                self[key] = value

    @overload
    def pop(self, key: str) -> str: ...

    @overload
    def pop(self, key: str, default: _T) -> str | _T: ...

    def pop(self, key: str, default: object = _UNSET) -> object:
        """Remove every line of header `key` and return its first value.

        Raises:
            KeyError: if the header is absent and no default was given.

        """
        indexes = self._indexes(key)
        if not indexes:
            if default is _UNSET:
                raise KeyError(key)
            return default
        value = self._list[indexes[0]][1].decode("latin-1")
        for i in reversed(indexes):
            del self._list[i]
        return value


def _decode_query_component(data: bytes, name: str | None) -> str:
    """Decode one name (`name` is None) or the value of parameter `name`: `+`, escapes, UTF-8."""
    if b"+" in data:
        data = data.replace(b"+", b" ")
    if b"%" in data:
        # Linear: it splits on "%" once; a malformed escape ("%zz", a trailing "%") stays literal.
        data = unquote_to_bytes(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if name is None:
            where = "a parameter name"
        else:
            where = f"the value of parameter {name[:40] + '...' if len(name) > 40 else name!r}"
        raise MalformedQueryError(
            f"Malformed query string: {where} is not valid UTF-8 "
            f"(byte 0x{exc.object[exc.start]:02x}: {exc.reason})"
        ) from None


def parse_query_string(raw: bytes | str) -> list[tuple[str, str]]:
    r"""Split a query string into `(name, value)` pairs, both decoded as strict UTF-8.

    Pairs are separated by `&` only (`;` is ordinary data); empty pairs are skipped and a pair
    without `=` gets a blank value, blank values being kept. In each name and value `+` becomes a
    space, then percent escapes are decoded; a malformed escape (`%zz`, a trailing `%`) is kept as
    it is. The bytes that result, raw non-ASCII bytes included, must be UTF-8. For valid input the
    result equals `urllib.parse.parse_qsl(text, keep_blank_values=True)`. Time is linear in the
    length of the query string.

    Args:
        raw: the query string without its `?`: the bytes of an ASGI scope's `query_string`, or text
            (encoded to UTF-8 before its escapes are decoded).

    Returns:
        Every pair, in order, duplicates kept.

    Raises:
        MalformedQueryError: (400) if a name or value is not valid UTF-8 once decoded: `%ff`, a lone
            `%c3`, a raw `\xff` byte.

    """
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    # PERF(params): nothing to decode, so splitting by hand gives what the full parse would,
    # without its per-field decoding; str.isascii() costs O(1). Inlined: 3.0 -> 0.72 µs.
    if "%" not in text and "+" not in text and text.isascii():
        return [(name, value) for name, _, value in (part.partition("=") for part in text.split("&") if part)]
    if isinstance(raw, bytes):
        data = raw
    else:
        try:
            data = raw.encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedQueryError("Malformed query string: it holds a lone surrogate") from None
    pairs: list[tuple[str, str]] = []
    for part in data.split(b"&"):
        if part:
            raw_name, _, raw_value = part.partition(b"=")
            name = _decode_query_component(raw_name, None)
            pairs.append((name, _decode_query_component(raw_value, name)))
    return pairs


class QueryParams(Mapping[str, str]):
    """Immutable multi-dict of query-string parameters, parsed on first use.

    A raw query string is parsed by `parse_query_string`: `&` separates pairs, `+` becomes a space,
    escapes are percent-decoded, blank values are kept, and names and values must be UTF-8. The
    parse happens on the first read (`[]`, `get`, `getlist`, iteration, `len`, comparison, `str`),
    which raises `MalformedQueryError` (a 400) when the query string is not valid UTF-8; `repr()`
    never raises. As a mapping it holds one entry per key, the last value given; `getlist()` and
    `multi_items()` see every value.

    Args:
        query: a raw query string (bytes from an ASGI scope, or str), a list of `(key, value)`
            pairs, or a mapping (another `QueryParams` gives all its pairs).

    """

    __slots__ = ("_dict", "_list", "_raw")

    def __init__(self, query: bytes | str | list[tuple[str, str]] | Mapping[str, str] = b"") -> None:
        self._raw: bytes | str = b""
        self._list: list[tuple[str, str]] | None = None
        self._dict: dict[str, str] | None = None
        if isinstance(query, (bytes, str)):
            self._raw = query
        elif isinstance(query, QueryParams):
            self._list = query.multi_items()
        elif isinstance(query, Mapping):
            self._list = list(query.items())
        else:
            self._list = list(query)

    def _pairs(self) -> list[tuple[str, str]]:
        if self._list is None:
            self._list = parse_query_string(self._raw) if self._raw else []
        return self._list

    def _mapping(self) -> dict[str, str]:
        if self._dict is None:
            self._dict = dict(self._pairs())
        return self._dict

    def __getitem__(self, key: str) -> str:
        """Return the last value given for `key`.

        Raises:
            KeyError: if `key` is absent.

        """
        return self._mapping()[key]

    @overload
    def get(self, key: str) -> str | None: ...

    @overload
    def get(self, key: str, default: _T) -> str | _T: ...

    def get(self, key: str, default: object = None) -> object:
        """Return the last value given for `key`, or `default` when it is absent."""
        return self._mapping().get(key, default)

    def getlist(self, key: str) -> list[str]:
        """Return every value given for `key`, in order; an empty list when it is absent."""
        return [v for k, v in self._pairs() if k == key]

    def keys(self) -> KeysView[str]:
        """Return the distinct keys, in order of first appearance."""
        return self._mapping().keys()

    def values(self) -> ValuesView[str]:
        """Return the last value of each key."""
        return self._mapping().values()

    def items(self) -> ItemsView[str, str]:
        """Return one `(key, last value)` pair per key."""
        return self._mapping().items()

    def multi_items(self) -> list[tuple[str, str]]:
        """Return every `(key, value)` pair, in order, duplicates kept."""
        return list(self._pairs())

    @overload
    def to_dict(self, flat: Literal[True] = True) -> dict[str, str]: ...
    @overload
    def to_dict(self, flat: Literal[False]) -> dict[str, list[str]]: ...
    def to_dict(self, flat: bool = True) -> dict[str, str] | dict[str, list[str]]:
        """A plain dict: each key's first value (Werkzeug's ``args.to_dict()``), or every value.

        Args:
            flat: one value per key, the first given; False gives each key its list of values.
        """
        if not flat:
            return self._grouped()
        first: dict[str, str] = {}
        for key, value in self._pairs():
            first.setdefault(key, value)
        return first

    def __contains__(self, key: object) -> bool:
        return key in self._mapping()

    def __len__(self) -> int:
        return len(self._mapping())

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping())

    def _grouped(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for k, v in self._pairs():
            grouped.setdefault(k, []).append(v)
        return grouped

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QueryParams):
            return NotImplemented
        return self._grouped() == other._grouped()

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return urlencode(self._pairs())

    def __repr__(self) -> str:
        try:
            return f"{type(self).__name__}({str(self)!r})"
        except MalformedQueryError:
            # repr() ends up in logs and tracebacks, so it shows what the client sent instead.
            return f"{type(self).__name__}({self._raw!r})"


def quote_path(path: str) -> str:
    """Percent-encode a decoded ASGI path back into URL form (``?``, ``#`` and ``%`` included)."""
    return quote(path, safe=_PATH_SAFE)


def quote_query(query_string: bytes) -> str:
    """The raw query-string bytes as URL text: existing escapes kept, other bytes encoded."""
    return quote_from_bytes(query_string, safe=_QUERY_SAFE)


def _split_netloc(netloc: str) -> tuple[str, str, str]:
    """Split a netloc into (userinfo, host, port), the host keeping its IPv6 brackets."""
    userinfo, _, hostport = netloc.rpartition("@")
    if hostport.startswith("["):
        host, _, rest = hostport.partition("]")
        return userinfo, host + "]", rest[1:] if rest.startswith(":") else ""
    host, _, port = hostport.partition(":")
    return userinfo, host, port


class URL:
    """An immutable URL, split into components only when one is read.

    Args:
        url: the URL text, absolute (`"https://example.com/a?b=1"`) or relative (`"/a"`).

    """

    __slots__ = ("_split", "_url")

    def __init__(self, url: str = "") -> None:
        self._url = url
        self._split: SplitResult | None = None

    @classmethod
    def from_scope(cls, scope: Mapping[str, Any]) -> URL:
        """Build the URL an ASGI http or websocket scope was requested with.

        The host comes from the `Host` header when there is exactly one and it is a well-formed
        `host[:port]`, otherwise
        from `scope["server"]` with the scheme's default port left out; without either the URL is
        relative. `root_path` is prefixed to `path` unless `path` already starts with it (servers
        differ on this). The decoded path is percent-encoded again, so the result is a valid URL.

        Raises:
            KeyError: if the scope has no `"path"`.

        """
        scheme: str = scope.get("scheme", "http")
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and not (path == root_path or path.startswith(root_path.rstrip("/") + "/")):
            path = root_path.rstrip("/") + path
        url = quote_path(path)
        query_string: bytes = scope.get("query_string", b"")
        if query_string:
            url += "?" + quote_query(query_string)

        hosts = [value for name, value in scope.get("headers", ()) if name == b"host"]
        # Two Host headers (RFC 9112 section 3.2 says: answer 400) are trusted no more than none.
        host = hosts[0].decode("latin-1") if len(hosts) == 1 else ""
        if not _HOST.fullmatch(host):
            host = ""
            server = scope.get("server")
            if server is not None and server[1] is not None:
                server_host, port = server[0], server[1]
                host = f"[{server_host}]" if ":" in server_host else server_host
                if _DEFAULT_PORTS.get(scheme) != port:
                    host += f":{port}"
        if host:
            url = f"{scheme}://{host}{url}"
        return cls(url)

    def _components(self) -> SplitResult:
        if self._split is None:
            self._split = urlsplit(self._url)
        return self._split

    @property
    def scheme(self) -> str:
        """The scheme (`"https"`), or `""` for a relative URL."""
        return self._components().scheme

    @property
    def netloc(self) -> str:
        """The network location (`"user@example.com:8000"`), or `""`."""
        return self._components().netloc

    @property
    def hostname(self) -> str | None:
        """The host name, lower-cased and without IPv6 brackets; `None` when there is none."""
        return self._components().hostname

    @property
    def port(self) -> int | None:
        """The explicit port; `None` when absent or not a valid port number."""
        try:
            return self._components().port
        except ValueError:
            return None

    @property
    def path(self) -> str:
        """The path, percent-encoded as it appears in the URL."""
        return self._components().path

    @property
    def query(self) -> str:
        """The query string without its `?`."""
        return self._components().query

    @property
    def fragment(self) -> str:
        """The fragment without its `#`."""
        return self._components().fragment

    @property
    def is_secure(self) -> bool:
        """Whether the scheme is `https` or `wss`."""
        return self._components().scheme in ("https", "wss")

    def replace(
        self,
        *,
        scheme: str | None = None,
        netloc: str | None = None,
        path: str | None = None,
        query: str | None = None,
        fragment: str | None = None,
        hostname: str | None = None,
        port: int | _Unset | None = _UNSET,
    ) -> URL:
        """Return a copy with the given components replaced; the others are kept.

        `hostname` and `port` edit the network location (after `netloc`, if both are given), keeping
        any user information; `port=None` removes the port. An IPv6 `hostname` is bracketed.

        Raises:
            ValueError: if `port` is outside 0-65535.

        """
        parts = self._components()
        new_netloc = parts.netloc if netloc is None else netloc
        if hostname is not None or port is not _UNSET:
            userinfo, host, port_text = _split_netloc(new_netloc)
            if hostname is not None:
                host = f"[{hostname}]" if ":" in hostname and "[" not in hostname else hostname
            if port is None:
                port_text = ""
            elif not isinstance(port, _Unset):
                if not 0 <= port <= 65535:
                    raise ValueError(f"Port {port} is outside 0-65535")
                port_text = str(port)
            new_netloc = (f"{userinfo}@" if userinfo else "") + host
            if port_text:
                new_netloc += f":{port_text}"
        new = parts._replace(
            scheme=parts.scheme if scheme is None else scheme,
            netloc=new_netloc,
            path=parts.path if path is None else path,
            query=parts.query if query is None else query,
            fragment=parts.fragment if fragment is None else fragment,
        )
        return URL(new.geturl())

    def include_query_params(self, **params: str | int | float) -> URL:
        """Return a copy whose query sets each given parameter to one value.

        A parameter already present is replaced where it first appeared (its other values are
        dropped); new ones are appended. Other parameters are kept exactly as they were encoded.
        """
        pending = {key: str(value) for key, value in params.items()}
        parts: list[str] = []
        for part in self.query.split("&"):
            if not part:
                continue
            key = unquote_plus(part.partition("=")[0], errors="replace")
            if key not in params:
                parts.append(part)
            elif key in pending:
                parts.append(f"{quote_plus(key)}={quote_plus(pending.pop(key))}")
        parts.extend(f"{quote_plus(key)}={quote_plus(value)}" for key, value in pending.items())
        return self.replace(query="&".join(parts))

    def __str__(self) -> str:
        return self._url

    def __eq__(self, other: object) -> bool:
        if isinstance(other, URL | str):
            return self._url == str(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._url)

    def __repr__(self) -> str:
        url = self._url
        parts = self._components()
        if parts.password:
            # Keep credentials out of logs and tracebacks.
            _, host, port_text = _split_netloc(parts.netloc)
            masked = f"{parts.username}:********@{host}" + (f":{port_text}" if port_text else "")
            url = parts._replace(netloc=masked).geturl()
        return f"{type(self).__name__}({url!r})"


class Address(NamedTuple):
    """The host and port of one end of a connection (ASGI `scope["client"]`)."""

    host: str
    port: int


class State:
    """An attribute bag for application or request state: `state.db = pool`, then `state.db`.

    Args:
        values: a dict to use as the backing store (shared, not copied); a new one when `None`.

    """

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        object.__setattr__(self, "_values", {} if values is None else values)

    def __getattr__(self, name: str) -> Any:
        """Return the value stored under `name`.

        Raises:
            AttributeError: if nothing was stored under that name.

        """
        if name == "_values":
            # Only reached before __init__ ran (copy, pickle); avoids endless recursion.
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(
                f"State has no attribute {name!r}; set it first (state.{name} = ...)"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_values":
            object.__setattr__(self, name, value)
        else:
            self._values[name] = value

    def __delattr__(self, name: str) -> None:
        """Remove the value stored under `name`.

        Raises:
            AttributeError: if nothing was stored under that name.

        """
        try:
            del self._values[name]
        except KeyError:
            raise AttributeError(f"State has no attribute {name!r}") from None

    # Flask's ``g`` has these, so code moved from ``g`` to ``request.state`` keeps working.
    def get(self, name: str, default: Any = None) -> Any:
        """The value stored under `name`, or `default`."""
        return self._values.get(name, default)

    def pop(self, name: str, *default: Any) -> Any:
        """Remove and return the value stored under `name` (or `default`).

        Raises:
            KeyError: nothing was stored under that name and no default was given.
        """
        return self._values.pop(name, *default)

    def setdefault(self, name: str, default: Any = None) -> Any:
        """The value stored under `name`, storing `default` there first if there is none."""
        return self._values.setdefault(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._values!r})"


def merge_vary(headers: list[tuple[bytes, bytes]], token: bytes) -> None:
    """Add `token` (``b"Accept-Encoding"``) to the ``Vary`` of raw `headers`, in place.

    Nothing changes when a ``Vary`` line already lists it or ``*``; otherwise it joins the first
    ``Vary`` line, or a new one.
    """
    wanted = token.lower()
    first = None
    for index, (name, value) in enumerate(headers):
        if name == b"vary":
            tokens = {item.strip().lower() for item in value.split(b",")}
            if b"*" in tokens or wanted in tokens:
                return
            if first is None:
                first = index
    if first is None:
        headers.append((b"vary", token))
    else:
        name, value = headers[first]
        headers[first] = (name, value + b", " + token if value.strip() else token)
