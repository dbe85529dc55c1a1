"""Work to run after the response has been sent."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from lanner.concurrency import run_in_threadpool


class BackgroundTasks:
    """An ordered list of calls made after the response is sent.

    Declare a handler parameter annotated ``BackgroundTasks`` to receive the request's instance.
    Async functions are awaited; plain functions run in the thread pool.
    """

    __slots__ = ("_tasks",)

    def __init__(self) -> None:
        self._tasks: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []

    def add_task(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """Schedule ``func(*args, **kwargs)`` to run after the response."""
        self._tasks.append((func, args, kwargs))

    def __len__(self) -> int:
        return len(self._tasks)

    async def __call__(self) -> None:
        """Run every task in order.

        Raises:
            Exception: whatever a task raises; the remaining tasks do not run.
        """
        for func, args, kwargs in self._tasks:
            if _is_async(func):
                await func(*args, **kwargs)
            else:
                result = await run_in_threadpool(func, *args, **kwargs)
                # A sync callable may still hand back a coroutine (a lambda around an async call).
                if inspect.isawaitable(result):
                    await result


def _is_async(func: Callable[..., Any]) -> bool:
    """Whether calling `func` starts a coroutine: async functions and objects with async __call__."""
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(type(func).__call__)
