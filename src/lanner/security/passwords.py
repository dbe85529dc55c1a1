"""Password hashing with Argon2 (through pwdlib): hash, verify, upgrade old hashes on login.

Install the extra: ``pip install 'lanner[passwords]'``. pwdlib is imported when the first
`PasswordHasher` is made, so importing this module costs nothing.

Hashing is deliberately slow (tens of milliseconds) and blocks: call these functions from a sync
handler (it runs in the thread pool) or through ``await run_in_threadpool(verify_password, ...)``
from ``lanner.concurrency``, never directly in an ``async def`` handler.

A login that looks the user up, then verifies the password, answers fast when the user does not
exist, which tells an attacker which user names are real. Pass the stored hash, or None when there
is no such user: `verify_password` then verifies against a dummy hash, taking as long as a real
check, and returns False::

    user = users.get(form.username)
    if not verify_password(form.password, user.password_hash if user else None):
        raise HTTPException(400, "Incorrect username or password")
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

_MISSING_PWDLIB = "Password hashing needs pwdlib with Argon2: pip install 'lanner[passwords]'"


class PasswordHasher:
    """Argon2id password hashing with settings, verification and rehash-on-login.

    New hashes use Argon2id with the given costs. Hashes made with other costs (or by a `legacy`
    hasher) still verify, and `verify_and_update` returns a replacement hash to store, so raising
    the costs later upgrades each user's hash at their next login.

    The default costs are OWASP's Argon2id baseline (19 MiB, 2 iterations, 1 lane): about 50 to
    100 ms per check on a small server, so a login stays quick and a flood of them cannot exhaust
    memory. Raise them when the hardware allows; old hashes upgrade at the next login.

    Args:
        time_cost: Argon2 iterations.
        memory_cost: Argon2 memory in KiB.
        parallelism: Argon2 lanes (threads per hash).
        legacy: further pwdlib hashers (e.g. ``pwdlib.hashers.bcrypt.BcryptHasher()``) whose
            hashes verify and get replaced by Argon2 ones on login.

    Raises:
        ImportError: pwdlib or argon2-cffi is not installed.
    """

    __slots__ = ("_dummy", "_hash", "_settings", "_unknown_errors")

    def __init__(
        self,
        *,
        time_cost: int = 2,
        memory_cost: int = 19 * 1024,
        parallelism: int = 1,
        legacy: Sequence[Any] = (),
    ) -> None:
        try:
            from pwdlib import PasswordHash, exceptions
            from pwdlib.hashers.argon2 import Argon2Hasher
        except ImportError as exc:
            raise ImportError(_MISSING_PWDLIB) from exc
        self._settings = {"time_cost": time_cost, "memory_cost": memory_cost, "parallelism": parallelism}
        argon2 = Argon2Hasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
        self._hash = PasswordHash((argon2, *legacy))
        self._unknown_errors: tuple[type[Exception], ...] = (
            exceptions.UnknownHashError,
            exceptions.HashVerificationError,
        )
        self._dummy: str | None = None

    def hash(self, password: str | bytes) -> str:
        """Hash `password` with a fresh random salt.

        Returns:
            The encoded hash (``$argon2id$v=19$m=...``) to store; it holds the salt and the costs.

        Raises:
            TypeError: `password` is neither ``str`` nor ``bytes``.
        """
        _check_password(password)
        return str(self._hash.hash(password))

    def verify(self, password: str | bytes, hash: str | None) -> bool:
        """Whether `password` matches the stored `hash`.

        Args:
            password: what the user typed.
            hash: the stored hash; None (or ``""``) for a user that does not exist or has no
                password: a dummy hash is verified instead, so the answer (False) takes as long
                as a real check and the timing does not reveal which users exist.

        Raises:
            TypeError: `password` is neither ``str`` nor ``bytes``.
            ValueError: `hash` is not a hash this hasher can read (a corrupt value, or a scheme
                without a `legacy` hasher).
        """
        return self.verify_and_update(password, hash)[0]

    def verify_and_update(self, password: str | bytes, hash: str | None) -> tuple[bool, str | None]:
        """Verify `password` against `hash` and, when it matches but is outdated, rehash it.

        Store the second item when it is not None: the hash used other costs or a legacy scheme.

        Args:
            password: what the user typed.
            hash: the stored hash, or None for an unknown user (see `verify`).

        Returns:
            ``(matches, new_hash)``; `new_hash` is None unless the password matched and the hash
            needs upgrading.

        Raises:
            TypeError: `password` is neither ``str`` nor ``bytes``.
            ValueError: `hash` is not a hash this hasher can read.
        """
        _check_password(password)
        if not hash:
            self._burn(password)
            return False, None
        try:
            matches, new_hash = self._hash.verify_and_update(password, hash)
        except self._unknown_errors as exc:
            raise ValueError("not a password hash this PasswordHasher can read") from exc
        return bool(matches), new_hash

    def _burn(self, password: str | bytes) -> None:
        """Spend what checking `password` against a real hash costs: one Argon2 computation."""
        if self._dummy is None:
            # The first time, making the dummy hash is that computation (a second would double it).
            self._dummy = str(self._hash.hash(secrets.token_urlsafe(16)))
        else:
            self._hash.verify(password, self._dummy)

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={value}" for name, value in self._settings.items())
        return f"PasswordHasher({settings})"


def _check_password(password: object) -> None:
    if not isinstance(password, (str, bytes)):
        raise TypeError(f"the password must be str or bytes, not {type(password).__name__}")


_default: PasswordHasher | None = None


def _default_hasher() -> PasswordHasher:
    global _default
    if _default is None:
        _default = PasswordHasher()
    return _default


def hash_password(password: str | bytes) -> str:
    """Hash `password` with Argon2id and the default costs (see `PasswordHasher.hash`).

    Raises:
        ImportError: pwdlib or argon2-cffi is not installed.
        TypeError: `password` is neither ``str`` nor ``bytes``.
    """
    return _default_hasher().hash(password)


def verify_password(password: str | bytes, hash: str | None) -> bool:
    """Whether `password` matches `hash`; None for an unknown user costs the same and is False.

    See `PasswordHasher.verify`.

    Raises:
        ImportError: pwdlib or argon2-cffi is not installed.
        TypeError: `password` is neither ``str`` nor ``bytes``.
        ValueError: `hash` is not an Argon2 hash.
    """
    return _default_hasher().verify(password, hash)


def verify_and_update(password: str | bytes, hash: str | None) -> tuple[bool, str | None]:
    """Verify `password` and return a new hash to store when the old one is outdated.

    See `PasswordHasher.verify_and_update`.

    Raises:
        ImportError: pwdlib or argon2-cffi is not installed.
        TypeError: `password` is neither ``str`` nor ``bytes``.
        ValueError: `hash` is not an Argon2 hash.
    """
    return _default_hasher().verify_and_update(password, hash)
