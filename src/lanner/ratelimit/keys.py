"""Key functions: who a request counts against (`client_ip`, `user`), and how long a key may be.

A key function takes the request and returns a string; every distinct string has a bucket of its
own. Any callable of that shape works as ``RateLimit(..., key=...)``, sync or async.
"""

from __future__ import annotations

import hashlib
import socket

from lanner.requests import HTTPConnection

__all__ = ["MAX_KEY_LENGTH", "bounded_key", "client_ip", "user"]

#: Longer keys are replaced by a hash, so a client cannot make the store keep huge keys.
MAX_KEY_LENGTH = 128


def client_ip(request: HTTPConnection) -> str:
    """The client's IP address (``request.client.host``); "" when the server does not know it.

    An IPv6 client is keyed by its /64 network (`network_key`).

    Behind a reverse proxy, add ``ProxyHeadersMiddleware`` with the proxy's address as trusted:
    the address is then the real client's, not the proxy's, which would put every client in one
    bucket.
    """
    client = request.scope.get("client")
    return network_key(str(client[0])) if client else ""


def network_key(address: str) -> str:
    """`address` as a rate-limit key: IPv4 as it is, IPv6 by its /64 network.

    One IPv6 subscriber usually holds a whole /64; keyed per address it would get 2**64 buckets.
    An IPv4 address written in IPv6 form (``::ffff:192.0.2.1``) counts as the IPv4 address.
    """
    if ":" not in address:
        return address
    try:
        packed = socket.inet_pton(socket.AF_INET6, address.partition("%")[0])
    except OSError:
        return address  # not an address (a peer name): as it is
    if packed[:12] == _V4_MAPPED:
        return socket.inet_ntop(socket.AF_INET, packed[12:])
    return packed[:8].hex() + "::/64"


_V4_MAPPED = b"\0" * 10 + b"\xff\xff"


def user(request: HTTPConnection) -> str:
    """The authenticated identity, so a user's limit follows them across addresses.

    In order: ``request.state.user`` when a dependency that ran earlier set it (a string, or an
    object with an ``id`` or ``username``); else a hash of the ``Authorization`` header (the
    credentials never reach the store); else the client's IP address. The three kinds are
    prefixed (``user:``, ``auth:``, ``ip:``) so they never share a bucket.

    Unverified credentials each get their own bucket: a client can mint new ones to escape the
    limit. Check the credentials in a dependency that runs first and sets ``request.state.user``,
    or add a `client_ip` limit as well.
    """
    identity = getattr(request.state, "user", None)
    if identity is not None:
        if isinstance(identity, (str, int)):
            return f"user:{identity}"
        for attribute in ("id", "username"):
            value = getattr(identity, attribute, None)
            if value is not None:
                return f"user:{value}"
    authorization = request.headers.get("authorization")
    if authorization:
        return "auth:" + hashlib.sha256(authorization.encode("latin-1")).hexdigest()[:32]
    return "ip:" + client_ip(request)


def bounded_key(key: str) -> str:
    """`key` itself when short enough, else ``"sha256:"`` and the first 32 hex digits of its hash."""
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
