"""Sessions: the `Session` mapping, the stores that keep it, flash messages and CSRF tokens.

A handler declares ``session: Session``; the app's `SessionConfig` loads it from the request's
cookie and writes it back when it changed. Importing this package loads neither itsdangerous nor
redis: `SessionConfig` imports itsdangerous when built, `RedisSessionStore` imports redis when
built.
"""

from lanner.sessions.config import SessionConfig, SessionTooLarge
from lanner.sessions.csrf import csrf_token, verify_csrf_token
from lanner.sessions.flash import flash, get_flashed_messages
from lanner.sessions.mapping import Session
from lanner.sessions.redis_store import RedisSessionStore
from lanner.sessions.stores import CookieSessionStore, MemorySessionStore, SessionStore

__all__ = [
    "CookieSessionStore",
    "MemorySessionStore",
    "RedisSessionStore",
    "Session",
    "SessionConfig",
    "SessionStore",
    "SessionTooLarge",
    "csrf_token",
    "flash",
    "get_flashed_messages",
    "verify_csrf_token",
]
