"""Code that runs outside a request: teardown hooks, ``app.app_context()`` and CLI commands.

Flask keeps per-request values in ``g`` and closes them in ``teardown_request`` or
``teardown_appcontext`` functions; lanner keeps them on ``request.state`` and closes them in
``app.teardown_request`` hooks, called ``hook(request, error)`` after every response, in the reverse
of the order they were registered.

A helper written for requests (``get_db(request)`` reading ``request.app.config`` and caching on
``request.state``) also runs where there is no request: ``app.app_context()`` gives an
`AppContext`, which has the two attributes such helpers use, ``app`` and ``state``, and runs the
teardown hooks when the ``with`` block ends. A click command decorated with `pass_app_context`
receives one as its first argument::

    @app.cli.command("init-db")
    @pass_app_context
    def init_db_command(request):
        init_db(request)
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from lanner.concurrency import run_in_threadpool
from lanner.datastructures import State
from lanner.exceptions import HTTPException

logger = logging.getLogger("lanner.error")

F = TypeVar("F", bound=Callable[..., Any])

#: Where `pass_app_context` finds the app in a click context's ``meta``.
APP_META_KEY = "lanner.app"


def teardown_error(failure: BaseException | None) -> Exception | None:
    """What a teardown hook is told: the error the request failed with, if it was not an HTTP answer."""
    if isinstance(failure, Exception) and not isinstance(failure, HTTPException):
        return failure
    return None


async def run_teardown(
    hooks: Sequence[tuple[Callable[..., Any], bool]], request: Any, failure: BaseException | None
) -> None:
    """Call each ``(hook, is_async)`` as ``hook(request, error)``, the last registered first.

    A hook that raises is logged and the others still run: the response is already sent.
    """
    error = teardown_error(failure)
    for hook, is_async in reversed(hooks):
        try:
            if is_async:
                await hook(request, error)
            else:
                await run_in_threadpool(hook, request, error)
        except Exception:
            logger.exception("teardown hook %r failed", hook)


class AppContext:
    """The part of a request that code outside one can have: the app and a fresh ``state``.

    Made by ``app.app_context()``; use it as ``with`` (or ``async with``) block. When the block
    ends the app's teardown hooks run with this object in place of the request, so a database
    connection a helper opened on ``state`` is closed as it would be after a request.

    Attributes:
        app: the application.
        state: values for the length of the block (a request's ``request.state``).
    """

    __slots__ = ("app", "state")

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state = State()

    def url_for(self, name: str, /, **path_params: Any) -> str:
        """Return the path of the route called `name`, with the app's ``root_path``."""
        return str(self.app.root_path) + str(self.app.url_path_for(name, **path_params))

    def __enter__(self) -> AppContext:
        return self

    def __exit__(self, kind: object, error: BaseException | None, traceback: object) -> None:
        hooks = self.app.teardown_hooks
        if any(inspect.iscoroutinefunction(hook) for hook in hooks) and _loop_running():
            raise RuntimeError(
                "an async teardown hook needs `async with app.app_context()` inside a running loop"
            )
        failure = teardown_error(error)
        for hook in reversed(hooks):
            try:
                result = hook(self, failure)
                if inspect.isawaitable(result):
                    asyncio.run(_awaited(result))
            except Exception:
                logger.exception("teardown hook %r failed", hook)

    async def __aenter__(self) -> AppContext:
        return self

    async def __aexit__(self, kind: object, error: BaseException | None, traceback: object) -> None:
        hooks = [(hook, inspect.iscoroutinefunction(hook)) for hook in self.app.teardown_hooks]
        await run_teardown(hooks, self, error)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _awaited(awaitable: Any) -> None:
    await awaitable


def pass_app_context(command: F) -> F:
    """Decorate a click command so it receives an `AppContext` of the app as its first argument.

    The app is the one whose ``app.cli`` group runs the command (``lanner --app TARGET NAME`` or
    ``CliRunner().invoke(app.cli, [NAME])``); the teardown hooks run when the command returns.
    lanner's spelling of Flask's ``with_appcontext``, passing what Flask keeps in globals.
    """

    @functools.wraps(command)
    def run_with_context(*args: Any, **kwargs: Any) -> Any:
        import click  # installed with uvicorn

        context = click.get_current_context()
        app = context.meta.get(APP_META_KEY)
        if app is None:
            raise click.UsageError(
                "this command needs its app: run it through app.cli (lanner --app TARGET ...)"
            )
        with app.app_context() as app_context:
            return command(app_context, *args, **kwargs)

    return cast(F, run_with_context)


def command_group(app: Any, help_text: str) -> Any:
    """A ``click.Group`` whose commands can find `app` (through `pass_app_context`)."""
    import click  # installed with uvicorn

    class AppCommands(click.Group):
        def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
            context = super().make_context(*args, **kwargs)
            context.meta[APP_META_KEY] = app
            return context

    return AppCommands(help=help_text)


__all__ = ["AppContext", "command_group", "pass_app_context", "run_teardown", "teardown_error"]
