"""Parse the ``Cookie`` request header: lanner's own linear-time routine (RFC 6265, server side).

The standard library's ``http.cookies`` is quadratic on some quoted values (CVE-2024-7592 on
CPython before 3.11.10 / 3.12.6), and cookies are parsed on the event loop, so lanner does not use
it to read what clients send.
"""

from __future__ import annotations

import re

from lanner.exceptions import HTTPException

__all__ = ["MAX_COOKIE_HEADER_SIZE", "parse_cookies"]

#: The longest ``Cookie`` header `parse_cookies` accepts, in bytes (64 KiB); longer ones get 431.
MAX_COOKIE_HEADER_SIZE = 64 * 1024

# The escapes http.cookies (and so `Response.set_cookie`) writes inside a quoted cookie value:
# backslash and three octal digits for a byte outside the cookie alphabet, backslash before `"` or
# `\`. One left-to-right pass, as CPython's fix for CVE-2024-7592 does, so decoding stays linear.
_COOKIE_ESCAPE = re.compile(r"\\(?:([0-3][0-7][0-7])|(.))")
# RFC 6265 section 5.2: only SP and HTAB around names and values are insignificant.
_COOKIE_OWS = " \t"


def _unescape_cookie(match: re.Match[str]) -> str:
    octal = match[1]
    return chr(int(octal, 8)) if octal is not None else match[2]


def parse_cookies(header: str) -> dict[str, str]:
    r"""Parse a ``Cookie`` request header into a dict, in linear time.

    Follows what browsers send (RFC 6265 sections 4.2 and 5.4): pairs are split on `;`, and SP and
    HTAB around each name and value are dropped. A pair without `=` or with an empty name is
    skipped, so client input never makes it raise. When a name comes more than once the first value
    is kept: browsers send the cookie with the most specific path first. A value wrapped in double
    quotes loses the quotes, and inside them the escapes Python's ``http.cookies`` writes (and so
    `Response.set_cookie`) are decoded: backslash and three octal digits (``\054``) give that
    character, backslash and any other character give the character (``\"`` gives `"`). Unquoted
    values, and quotes that do not wrap the whole value, are kept exactly as sent. Nothing is
    percent-decoded, and non-ASCII bytes stay as the latin-1 characters the header was decoded to.

    Args:
        header: the ``Cookie`` header value, decoded as latin-1 (as `Headers` does).

    Returns:
        Cookie names mapped to their values.

    Raises:
        HTTPException: 431 (Request Header Fields Too Large) if the header is longer than
            `MAX_COOKIE_HEADER_SIZE` bytes.

    """
    if len(header) > MAX_COOKIE_HEADER_SIZE:
        raise HTTPException(431, "Cookie header too large")
    cookies: dict[str, str] = {}
    for chunk in header.split(";"):
        name, sep, value = chunk.partition("=")
        name = name.strip(_COOKIE_OWS)
        if not sep or not name or name in cookies:
            continue
        value = value.strip(_COOKIE_OWS)
        if len(value) >= 2 and value[0] == '"' == value[-1]:
            value = value[1:-1]
            if "\\" in value:
                value = _COOKIE_ESCAPE.sub(_unescape_cookie, value)
        cookies[name] = value
    return cookies
