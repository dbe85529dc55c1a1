"""lanner.security.passwords (Argon2 through pwdlib: hashing, rehash on login, the unknown-user
dummy check) and lanner.security._compare.compare_secret."""

import hashlib
import statistics
import sys
import time

import pytest

from lanner.security._compare import compare_secret
from lanner.security.passwords import PasswordHasher, hash_password, verify_and_update, verify_password

# Cheap costs keep the suite fast; the module functions below use the real defaults.
FAST = {"time_cost": 1, "memory_cost": 8 * 1024, "parallelism": 1}


def test_hash_and_verify():
    hasher = PasswordHasher(**FAST)
    stored = hasher.hash("correct horse")
    assert stored.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert hasher.verify("correct horse", stored) is True
    assert hasher.verify("correct horsf", stored) is False
    assert hasher.verify("", stored) is False
    assert hasher.hash("correct horse") != stored  # a fresh salt each time


def test_non_ascii_and_bytes_passwords():
    hasher = PasswordHasher(**FAST)
    stored = hasher.hash("pässwörd ✓")
    assert hasher.verify("pässwörd ✓", stored)
    assert hasher.verify("pässwörd ✓".encode(), stored)
    assert not hasher.verify("passwort ✓", stored)
    assert hasher.verify(b"\xff\x00raw", hasher.hash(b"\xff\x00raw"))


def test_wrong_types_are_type_errors():
    hasher = PasswordHasher(**FAST)
    with pytest.raises(TypeError, match="the password must be str or bytes, not int"):
        hasher.hash(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not NoneType"):
        hasher.verify(None, hasher.hash("x"))  # type: ignore[arg-type]


def test_unreadable_hashes_are_value_errors():
    hasher = PasswordHasher(**FAST)
    for stored in (
        "plain-text-password",
        "$2b$12$" + "a" * 53,
        "$argon2id$v=19$m=8192,t=1,p=1$c2FsdA$!!notb64",
    ):
        with pytest.raises(ValueError, match="not a password hash this PasswordHasher can read"):
            hasher.verify("x", stored)


def test_unknown_user_returns_false_and_does_the_same_work():
    hasher = PasswordHasher(time_cost=2, memory_cost=16 * 1024, parallelism=1)
    stored = hasher.hash("secret")
    assert hasher.verify("secret", None) is False
    assert hasher.verify("secret", "") is False
    assert hasher.verify_and_update("secret", None) == (False, None)

    def median(stored_hash: str | None) -> float:
        timings = []
        for _ in range(7):
            start = time.perf_counter()
            hasher.verify("guess", stored_hash)
            timings.append(time.perf_counter() - start)
        return statistics.median(timings)

    known, unknown = median(stored), median(None)
    # Without the dummy check an unknown user would take microseconds, not milliseconds.
    assert known > 0.002
    assert 0.4 < unknown / known < 2.5, (known, unknown)


def test_the_first_unknown_user_costs_one_hash_not_two():
    firsts, knowns = [], []
    for _ in range(5):
        hasher = PasswordHasher(time_cost=2, memory_cost=16 * 1024, parallelism=1)
        stored = hasher.hash("secret")
        start = time.perf_counter()
        hasher.verify("guess", None)  # makes the dummy hash: that is its one Argon2 computation
        firsts.append(time.perf_counter() - start)
        start = time.perf_counter()
        hasher.verify("guess", stored)
        knowns.append(time.perf_counter() - start)
    first, known = statistics.median(firsts), statistics.median(knowns)
    assert first < known * 1.6, (first, known)


def test_verify_and_update_rehashes_when_the_costs_change():
    old = PasswordHasher(**FAST)
    new = PasswordHasher(time_cost=2, memory_cost=8 * 1024, parallelism=1)
    stored = old.hash("secret")
    assert new.verify_and_update("wrong", stored) == (False, None)
    ok, upgraded = new.verify_and_update("secret", stored)
    assert ok is True
    assert upgraded is not None
    assert upgraded.startswith("$argon2id$v=19$m=8192,t=2,p=1$")
    assert new.verify_and_update("secret", upgraded) == (True, None)
    # The old settings still read the new hash (the costs are in the hash).
    assert old.verify("secret", upgraded)


class Sha256Legacy:
    """A pwdlib hasher for an old scheme: "sha256$<hex>" (unsalted; why it must go)."""

    @classmethod
    def identify(cls, hash: str | bytes) -> bool:
        return str(hash).startswith("sha256$")

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        raw = password.encode() if isinstance(password, str) else password
        return "sha256$" + hashlib.sha256(raw).hexdigest()

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        return self.hash(password) == hash

    def check_needs_rehash(self, hash: str | bytes) -> bool:
        return False


def test_legacy_hashes_verify_and_are_replaced_by_argon2():
    hasher = PasswordHasher(**FAST, legacy=[Sha256Legacy()])
    legacy = Sha256Legacy().hash("secret")
    assert hasher.verify("secret", legacy)
    assert hasher.verify_and_update("nope", legacy) == (False, None)
    ok, upgraded = hasher.verify_and_update("secret", legacy)
    assert ok
    assert upgraded is not None
    assert upgraded.startswith("$argon2id$")
    assert hasher.hash("x").startswith("$argon2id$")  # new hashes never use the legacy scheme
    with pytest.raises(ValueError, match="can read"):
        PasswordHasher(**FAST).verify("secret", legacy)


def test_module_functions_use_the_default_costs():
    stored = hash_password("hunter2")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password("hunter2", stored)
    assert not verify_password("hunter3", stored)
    assert not verify_password("hunter2", None)
    assert verify_and_update("hunter2", stored) == (True, None)
    ok, upgraded = verify_and_update("weak", PasswordHasher(**FAST).hash("weak"))
    assert ok
    assert upgraded is not None
    assert upgraded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_repr_shows_the_settings():
    assert repr(PasswordHasher(**FAST)) == "PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)"
    assert repr(PasswordHasher()) == "PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)"


def test_missing_pwdlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pwdlib", None)
    with pytest.raises(ImportError, match=r"pip install 'lanner\[passwords\]'"):
        PasswordHasher()


# --- compare_secret ---------------------------------------------------------------------------


def test_compare_secret():
    assert compare_secret("key-123", "key-123")
    assert not compare_secret("key-123", "key-124")
    assert not compare_secret("key", "key-123")  # different lengths are simply unequal
    assert not compare_secret("", "x")
    assert compare_secret("", "")
    assert compare_secret("clé ✓", "clé ✓")  # hmac.compare_digest alone refuses non-ASCII str
    assert not compare_secret("clé", "cle")
    assert compare_secret("clé", "clé".encode())
    assert compare_secret(b"\x00\xff", bytearray(b"\x00\xff"))  # type: ignore[arg-type]
    assert not compare_secret("\ud800", "x")  # a lone surrogate does not raise


def test_compare_secret_refuses_other_types():
    with pytest.raises(TypeError, match="compare_secret: given must be str or bytes, not int"):
        compare_secret(1, "1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected must be str or bytes, not NoneType"):
        compare_secret("1", None)  # type: ignore[arg-type]
