"""`StaticFiles`: an ASGI app serving a folder, safe against every path a client can make up.

A request path is checked segment by segment before the file system is touched: ``..``,
backslashes, colons (drive letters, alternate data streams), control characters, segments ending
in a dot or a space (Windows drops those, so ``.. `` would climb) and Windows device names are
refused. The joined path is then resolved (symlinks included) and must stay inside the folder's
real path, compared segment by segment (``static_disallow`` is not inside ``static``). Only
regular files are served: a FIFO or a device is never opened. Every refusal is the same 404 as a
file that does not exist, so a client learns nothing about the disk.

Every stat, open and read runs in the file pool (`lanner.concurrency.run_file_io`); sending is
`FileResponse`'s, with its ``ETag``, ``Last-Modified``, 304 and ``Range`` handling. A 304 is
decided from the lookup's stat (`FileResponse.not_modified`), so it never opens the file.
"""

from __future__ import annotations

import errno
import hashlib
import mimetypes
import os
import re
import stat
import threading
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import quote

from lanner._files import FileUnavailable, open_regular_file
from lanner.concurrency import run_file_io
from lanner.datastructures import Headers
from lanner.errors import ProblemResponse
from lanner.responses import FileResponse, RedirectResponse
from lanner.types import Message, Receive, Scope, Send

__all__ = ["StaticFiles"]

# A static file's URL is short; a longer path is refused before any work whose cost grows with it
# (realpath makes one lstat per segment, over an ever longer path).
_MAX_PATH = 2048
_MAX_ACCEPT_ENCODING = 1024
# Control characters, backslash (a separator on Windows), colon (drive letters, `CON:`, NTFS
# streams) and lone surrogates (no file system encoding can carry them).
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\\:\ud800-\udfff]")
# Windows opens these devices whatever the extension or trailing spaces: `nul.txt`, `AUX `.
_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{port}{n}" for port in ("COM", "LPT") for n in "0123456789\u00b9\u00b2\u00b3"]
)
# Errors that mean "nothing to serve here": answered 404 like a missing file.
_MISSES = frozenset(
    (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENAMETOOLONG, errno.EACCES, errno.EPERM, errno.EINVAL)
)
_ENCODED_SEPARATOR = re.compile(rb"%(?:2f|5c|00)", re.IGNORECASE)
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")
# Precompressed siblings, in order of preference when the client weighs them equally.
_SIBLINGS = (("br", ".br"), ("gzip", ".gz"))
_CODING_NAMES = {"br": "br", "gzip": "gzip", "x-gzip": "gzip"}
_CACHEABLE = frozenset((200, 206, 304))
_URL_SAFE = "/!$&'()*+,;=:@~"
_HASH_LENGTH = 12
_HASH_CHUNK = 256 * 1024
_CONDITIONAL = frozenset((b"if-none-match", b"if-modified-since"))


@dataclass(frozen=True, slots=True)
class _Hit:
    """The file to send for a request, with the headers that describe it."""

    path: str
    media_type: str
    headers: dict[str, str]
    stat: os.stat_result  # of `path` when it was found: enough to answer a conditional request


class _Slash:
    """A directory holding an index page was asked for without its trailing slash."""


_SLASH = _Slash()


class StaticFiles:
    """An ASGI app serving the files under `directory`: ``app.mount("/static", StaticFiles(...))``.

    Answers ``GET`` and ``HEAD`` (405 with ``Allow: GET, HEAD`` otherwise) through `FileResponse`:
    ``ETag`` and ``Last-Modified``, 304 for ``If-None-Match``/``If-Modified-Since``, single byte
    ranges (206, 416). A miss, and every refused path, is a 404 problem document, or the folder's
    ``404.html`` (status 404) with `html`. Directories are never listed.

    The app reads its path relative to ``root_path`` (ASGI 2.4: the mount prefix, with the full
    path in ``path``); an older server that strips the prefix from ``path`` works too.

    Args:
        directory: the folder to serve. Its real path is taken at each request, so a symlinked
            folder can be switched (atomic deploys) while the app runs.
        html: serve ``index.html`` for a directory (``/dir`` redirects with 308 to ``/dir/``) and
            the folder's ``404.html`` for misses.
        follow_symlink: serve symlinks that point outside the folder. The path asked for must
            still lie inside it; without this, any path whose real path leaves the folder is a 404.
        cache_control: a ``Cache-Control`` value added to 200, 206 and 304 answers for files,
            e.g. ``"public, max-age=3600"``.
        precompressed: serve ``app.css.br`` or ``app.css.gz`` instead of ``app.css`` (with
            ``Content-Encoding`` and the original ``Content-Type``) to clients that accept it,
            brotli first at equal weight. Every answer for a file with such a sibling carries
            ``Vary: Accept-Encoding``, and each encoding has its own ``ETag``.
        check_dir: check now that `directory` exists.

    Raises:
        RuntimeError: with `check_dir`, if `directory` is not an existing directory.

    Names never served, because a portable folder cannot hold them or Windows would read them as
    something else: names with a backslash, a colon or a control character, names ending in a dot
    or a space, and device names (``CON``, ``nul.txt``, ``COM1``...), on every platform.
    """

    cache_size = 1024  # how many content hashes `url_path` keeps

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        html: bool = False,
        follow_symlink: bool = False,
        cache_control: str | None = None,
        precompressed: bool = True,
        check_dir: bool = True,
    ) -> None:
        self.directory = os.fspath(directory)
        self.html = html
        self.follow_symlink = follow_symlink
        self.cache_control = cache_control
        self.precompressed = precompressed
        if check_dir and not os.path.isdir(self.directory):
            raise RuntimeError(f"StaticFiles directory {self.directory!r} does not exist")
        # Absolute now, so a later chdir does not move the folder.
        self._directory = os.path.abspath(self.directory)
        self._hashes: OrderedDict[tuple[str, int, int], str] = OrderedDict()
        self._hashes_lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request (a websocket is closed, other scope types are ignored).

        Raises:
            OSError: when a file that was found cannot be read for another reason than missing
                or forbidden (an I/O error): a 500 from the app, not a 404.

        """
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1000})
            return
        if scope["method"] not in ("GET", "HEAD"):
            await ProblemResponse(405, headers={"Allow": "GET, HEAD"})(scope, receive, send)
            return
        relative, public = _split_path(scope)
        segments = _segments(relative)
        raw_path = scope.get("raw_path")
        if segments is None or (raw_path and _ENCODED_SEPARATOR.search(raw_path)):
            await self._not_found(scope, receive, send)
            return
        codings = _accepted_codings(scope) if self.precompressed else ()
        found = await run_file_io(self._locate, segments, relative.endswith("/"), codings)
        if found is None:
            await self._not_found(scope, receive, send)
        elif isinstance(found, _Slash):
            await RedirectResponse(_with_slash(public, scope), 308)(scope, receive, send)
        elif not await self._send_file(found, scope, receive, send):
            await self._not_found(scope, receive, send)

    def url_path(self, path: str) -> str:
        """Return `path` with ``?v=<hash>``, the first 12 hex digits of the file's SHA-256.

        For cache-busting URLs: serve them with a long ``cache_control``. The hash is cached per
        (real path, modification time, size) in an LRU of `cache_size` entries, so a changed file
        gets a new URL. Computing it reads the whole file in the calling thread: it blocks briefly
        the first time each version of a file is asked for (call it from sync template code).

        Args:
            path: the file's path relative to `directory` (a leading ``/`` is allowed).

        Returns:
            `path` as given plus the query, or `path` alone if no regular file is there (or the
            path is refused).

        Raises:
            OSError: if the file exists but cannot be read for another reason than missing or
                forbidden (an I/O error).

        """
        segments = _segments(path)
        if segments is None:
            return path
        root = os.path.realpath(self._directory)
        found = self._regular_under(root, os.path.join(root, *segments))
        if found is None:
            return path
        real, result = found
        with self._hashes_lock:
            digest = self._hashes.get((real, result.st_mtime_ns, result.st_size))
        if digest is None:
            digest = self._hash(real)
            if digest is None:
                return path
        return f"{path}?v={digest}"

    def _hash(self, real: str) -> str | None:
        try:
            file, result = open_regular_file(real)
        except (FileUnavailable, OSError) as exc:
            if _is_miss(exc):
                return None
            raise
        hasher = hashlib.sha256()
        with file:
            for chunk in iter(lambda: file.read(_HASH_CHUNK), b""):
                hasher.update(chunk)
        digest = hasher.hexdigest()[:_HASH_LENGTH]
        # Keyed by the open file's own stat: a file replaced meanwhile is hashed under its new key.
        key = (real, result.st_mtime_ns, result.st_size)
        with self._hashes_lock:
            self._hashes[key] = digest
            self._hashes.move_to_end(key)
            while len(self._hashes) > self.cache_size:
                self._hashes.popitem(last=False)
        return digest

    def _locate(self, segments: list[str], slash: bool, codings: tuple[str, ...]) -> _Hit | _Slash | None:
        """Find what to send for a checked path (runs in the file pool)."""
        root = os.path.realpath(self._directory)
        name = os.path.join(root, *segments)
        found = self._stat_under(root, name)
        if found is None:
            return None
        real, result = found
        if stat.S_ISDIR(result.st_mode):
            if not self.html:
                return None
            name = os.path.join(name, "index.html")
            found = self._regular_under(root, name)
            if found is None:
                return None
            if not slash:
                return _SLASH
            real, result = found
        elif slash or not stat.S_ISREG(result.st_mode):
            return None
        return self._describe(root, name, real, result, codings)

    def _describe(
        self, root: str, name: str, real: str, result: os.stat_result, codings: tuple[str, ...]
    ) -> _Hit:
        headers: dict[str, str] = {}
        if self.cache_control is not None:
            headers["cache-control"] = self.cache_control
        if self.precompressed:
            siblings = {}
            for coding, suffix in _SIBLINGS:
                sibling = self._sibling_under(root, name + suffix)
                if sibling is not None:
                    siblings[coding] = sibling
            if siblings:
                headers["vary"] = "Accept-Encoding"
                chosen = next((coding for coding in codings if coding in siblings), None)
                if chosen is not None:
                    real, result = siblings[chosen]
                    headers["content-encoding"] = chosen
                    # Its own validator, never equal to the identity file's (same mtime and size
                    # happen with reproducible builds).
                    headers["etag"] = f'"{result.st_mtime_ns:x}-{result.st_size:x}-{chosen}"'
        return _Hit(real, _media_type(name), headers, result)

    def _stat_under(self, root: str, name: str) -> tuple[str, os.stat_result] | None:
        """The real path and stat of `name`, or ``None`` if it is missing or outside `root`."""
        real = os.path.realpath(name)
        # With follow_symlink the path as named must be inside (it is, being built from checked
        # segments; kept as a second lock), else the real path must.
        if not _inside(root, os.path.normpath(name) if self.follow_symlink else real):
            return None
        try:
            return real, os.stat(real)
        except OSError as exc:
            if _is_miss(exc):
                return None
            raise

    def _regular_under(self, root: str, name: str) -> tuple[str, os.stat_result] | None:
        found = self._stat_under(root, name)
        return found if found is not None and stat.S_ISREG(found[1].st_mode) else None

    def _sibling_under(self, root: str, name: str) -> tuple[str, os.stat_result] | None:
        """`_regular_under` for a precompressed sibling, which most files do not have."""
        # PERF: (static, static304) a missing name needs no realpath (one lstat per segment,
        # ~8 us) to be refused: a stat failing first (~1 us) halves _locate (53 -> 26 us) for a
        # file without siblings. Whatever exists still gets every check.
        try:
            os.stat(name)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
        return self._regular_under(root, name)

    async def _send_file(self, hit: _Hit, scope: Scope, receive: Receive, send: Send) -> bool:
        """Send `hit`; ``False`` if it vanished (or became unreadable) before anything was sent."""
        # No stat_result: FileResponse fstat-s the descriptor it reads, so Content-Length always
        # matches the bytes sent even if the file is replaced between the lookup and the open.
        response = FileResponse(hit.path, headers=hit.headers, media_type=hit.media_type)
        # PERF: (static304) a file not modified is answered from _locate's stat, without opening
        # it: one trip to the file pool instead of two (open + fstat), and no descriptor. In
        # process vs Starlette 0.64x -> 1.09x; with _sibling_under, 1.18x in process and 1.70x
        # on uvicorn (quick, c64; was 0.99-1.07x).
        if any(name in _CONDITIONAL for name, _ in scope["headers"]):
            not_modified = response.not_modified(scope, hit.stat)
            if not_modified is not None:
                await send({"type": "http.response.start", "status": 304, "headers": not_modified})
                await send({"type": "http.response.body", "body": b""})
                return True
        if self.cache_control is not None:
            send = _cache_control_on_success(send)
        try:
            await response(scope, receive, send)
        except (FileUnavailable, OSError) as exc:
            # FileResponse opens the file before sending anything, so a 404 can still be sent.
            if _is_miss(exc):
                return False
            raise
        return True

    async def _not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.html:
            page = await run_file_io(self._error_page)
            if page is not None:
                try:
                    await FileResponse(page, 404, media_type="text/html")(scope, receive, send)
                    return
                except (FileUnavailable, OSError) as exc:
                    if not _is_miss(exc):
                        raise
        await ProblemResponse(404)(scope, receive, send)

    def _error_page(self) -> str | None:
        root = os.path.realpath(self._directory)
        found = self._regular_under(root, os.path.join(root, "404.html"))
        return None if found is None else found[0]


def _is_miss(exc: BaseException) -> bool:
    return isinstance(exc, FileUnavailable) or (isinstance(exc, OSError) and exc.errno in _MISSES)


def _inside(root: str, path: str) -> bool:
    try:
        # commonpath compares whole segments: /srv/static_disallow is not inside /srv/static.
        return os.path.commonpath((root, path)) == root
    except ValueError:  # different drives
        return False


def _split_path(scope: Scope) -> tuple[str, str]:
    """The path relative to the mount, and the full public path (mount prefix included)."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    # ASGI 2.4 servers (and lanner's mounts) put root_path in front of path; older ones do not.
    if root_path and path.startswith(root_path) and path[len(root_path) : len(root_path) + 1] in ("", "/"):
        return path[len(root_path) :], path
    return path, root_path + path


def _segments(relative: str) -> list[str] | None:
    """The path's segments to join under the root, or ``None`` if the path is refused."""
    if len(relative) > _MAX_PATH:
        return None
    segments = []
    for segment in relative.split("/"):
        if segment in ("", "."):
            continue
        if (
            segment == ".."
            or segment[-1] in ". "
            or _FORBIDDEN.search(segment) is not None
            or segment.partition(".")[0].strip().upper() in _DEVICES
        ):
            return None
        segments.append(segment)
    return segments


def _accepted_codings(scope: Scope) -> tuple[str, ...]:
    """The precompressed codings the client accepts (q > 0), best first; br wins a tie."""
    header = ", ".join(Headers.from_scope(scope).getlist("accept-encoding"))
    if not header or len(header) > _MAX_ACCEPT_ENCODING:
        return ()
    weights: dict[str, float] = {}
    for item in header.split(","):
        name, _, parameters = item.partition(";")
        name = name.strip().lower()
        if name == "*" or name in _CODING_NAMES:
            coding = _CODING_NAMES.get(name, name)
            weights[coding] = max(weights.get(coding, 0.0), _weight(parameters))
    star = weights.get("*", 0.0)
    ranked = [(weights.get(coding, star), coding) for coding, _ in _SIBLINGS]
    # sorted() is stable: at equal weight the _SIBLINGS order (br first) stays.
    return tuple(coding for weight, coding in sorted(ranked, key=lambda pair: -pair[0]) if weight > 0)


def _weight(parameters: str) -> float:
    """The q-value among `parameters` (1 without one, 0 when malformed: never guess "accepted")."""
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "q":
            value = value.strip()
            return float(value) if _QVALUE.fullmatch(value) else 0.0
    return 1.0


def _media_type(name: str) -> str:
    media_type, encoding = mimetypes.guess_type(name)
    if encoding is not None:
        # `x.tar.gz` asked for by name is a gzip file, not a tar sent with Content-Encoding.
        return "application/gzip" if encoding == "gzip" else "application/octet-stream"
    return media_type or "application/octet-stream"


def _with_slash(public: str, scope: Scope) -> str:
    # One leading slash: `//host/` would send the client to another host.
    location = "/" + quote(public, safe=_URL_SAFE).lstrip("/") + "/"
    query: bytes = scope.get("query_string", b"")
    return f"{location}?{quote(query, safe=_URL_SAFE + '?%')}" if query else location


def _cache_control_on_success(send: Send) -> Send:
    """`send` without ``Cache-Control`` on answers other than 200, 206 and 304 (a 416)."""

    async def filtered(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] not in _CACHEABLE:
            headers = [header for header in message["headers"] if header[0] != b"cache-control"]
            message = {**message, "headers": headers}
        await send(message)

    return filtered
