"""The startup heap freeze shared by every running app."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from lanner import _heap


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    # An app an earlier test left running still holds the freeze: start from none.
    while _heap._holders:
        _heap.release()
    gc.unfreeze()
    yield
    while _heap._holders:
        _heap.release()
    gc.unfreeze()


def test_the_last_release_unfreezes() -> None:
    _heap.hold()
    first = gc.get_freeze_count()
    assert first > 0
    kept = [object() for _ in range(10)]  # tracked objects made after the first hold
    _heap.hold()
    assert gc.get_freeze_count() > first  # the second app's objects are frozen too
    _heap.release()
    assert gc.get_freeze_count() > first  # one app still runs
    _heap.release()
    assert gc.get_freeze_count() == 0
    assert kept


def test_a_freeze_the_host_made_is_left_alone() -> None:
    gc.freeze()
    _heap.hold()
    _heap.release()
    assert gc.get_freeze_count() > 0


def test_release_without_a_hold_does_nothing() -> None:
    gc.freeze()
    _heap.release()
    assert gc.get_freeze_count() > 0
