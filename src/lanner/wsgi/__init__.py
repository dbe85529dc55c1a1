"""WSGI both ways: a WSGI app (Flask, Django...) inside a lanner app, and a lanner app on a WSGI server.

Both directions need a2wsgi, an optional dependency (``pip install 'lanner[wsgi]'``) imported only
when an adapter is created: `WSGIMount` reads request bodies that come in pieces through it, and
`to_wsgi` hands requests to its loop thread through it under multi-threaded servers. The hot paths
are lanner's own. `WSGIMount` never makes the thread running the WSGI app wait for the event loop:
the response goes over in batches, fire and forget, one batch for a response whose
``Content-Length`` is reached. Under a single-threaded WSGI server, `to_wsgi` runs the app on the
serving thread itself and starts each request's task eagerly (its first steps run at once, without
polling for I/O), which is what makes it faster than Flask on gunicorn's sync workers; the task is
an ordinary `asyncio.Task`, so timeouts, cancellation and context variables behave as on any loop.

`WSGIMount` serves a WSGI app as an ASGI app, so that ``app.mount("/legacy", WSGIMount(flask_app))``
keeps an old app running under a prefix while its routes move to lanner one at a time. The WSGI app
sees ``SCRIPT_NAME`` = the mount prefix (ASGI ``root_path``) and ``PATH_INFO`` = the rest of the
path, so its own ``url_for`` builds ``/legacy/...`` links. It runs in a thread pool of its own
(`threads`), apart from lanner's pool for sync handlers, so a slow old app cannot starve new routes.
It is held to ``start_response`` as WSGI servers hold it (PEP 3333): the status goes out with the
first body bytes, so an error page may still replace it with ``exc_info``, and a second call
without ``exc_info`` raises.

`to_wsgi` turns a lanner app into a WSGI callable for servers that only speak WSGI (gunicorn sync
workers, mod_wsgi, uWSGI, waitress)::

    # myapp/wsgi.py
    from myapp import app
    application = app.wsgi  # or lanner.wsgi.to_wsgi(app)

    $ gunicorn -w 4 myapp.wsgi:application
    $ gunicorn -w 4 'lanner.wsgi:load("myapp:app")'  # without a module of your own

(gunicorn's loader takes a name or a call, not ``myapp:app.wsgi``.) The lifespan runs once per
worker process: startup on the first request the process serves (not at import, so a server that
imports the app before forking its workers does not start it in the parent), or earlier by calling
`WSGIAdapter.startup` (gunicorn's ``post_worker_init`` hook, say, so that a failing startup stops the
worker at boot). Shutdown runs when the process exits normally (gunicorn's workers do on SIGTERM).
A failing startup makes every request of that process raise `WSGIStartupError`, which the server
logs and answers with its own 500; the startup is not retried. The URL arrives as the server passes
it: a path that is not UTF-8 is decoded with U+FFFD and a query string that was not percent-encoded
is read as UTF-8, as ASGI servers do. A body that ends before its ``Content-Length`` (the client
went away) is answered 400 if the app had nothing to say.

What does not work under WSGI:

- WebSockets: WSGI has no way to hand over the connection. A request that asks for a WebSocket
  (``Upgrade: websocket``) is answered at once with a 501 problem document saying so; serve the app
  on an ASGI server (``lanner run``, uvicorn) for its WebSocket routes.
- Chunked request bodies without a ``Content-Length`` under a multi-threaded server: answered
  with 411 (a2wsgi reads the body by its length). Single-threaded servers read them to the end.
- Knowing that the client went away: ``request.is_disconnected()`` stays False until the response
  is over, and a streamed response (server-sent events) keeps producing until the server fails to
  write it.
- Concurrency: a sync worker serves one request at a time, a streamed response holds its worker
  for as long as it lasts, and background tasks run before the worker takes its next request.
  Under a single-threaded server the event loop runs only while a request is served, so tasks the
  lifespan leaves running in the background pause between requests.
- HTTP/2, response trailers, and the ``http.response.*`` extensions ASGI servers offer.

Under a multi-threaded server the app's event loop runs in a thread of each process (uWSGI needs
``--enable-threads``).

The package, one concept per module:

- `lanner.wsgi.mount`: `WSGIMount` (a WSGI app inside lanner) and `split_path`, over ``_relay``
  (one request between the WSGI app's thread and the event loop).
- `lanner.wsgi.adapter`: `to_wsgi`, `WSGIAdapter`, `WSGIStartupError` and `load` (lanner on a
  WSGI server), over ``_worker`` (one process's event loop and lifespan), ``_loop`` (that event
  loop, which a serving thread may run eagerly), ``_inline`` (a request run by the serving thread),
  ``_scope`` (its ASGI scope), ``_threaded`` (a request handed to the loop's thread through
  a2wsgi), ``_answers`` (what the adapter answers itself) and ``_fork`` (surviving a fork).
- ``_base``: the WSGI types, the ``lanner.wsgi`` logger, the lazy a2wsgi import, status lines.
"""

from lanner.wsgi._base import Environ as Environ
from lanner.wsgi._base import StartResponse as StartResponse
from lanner.wsgi._base import WSGIApp as WSGIApp
from lanner.wsgi._base import logger as logger
from lanner.wsgi.adapter import WSGIAdapter, WSGIStartupError, load, to_wsgi
from lanner.wsgi.mount import WSGIMount, split_path

__all__ = ["WSGIAdapter", "WSGIMount", "WSGIStartupError", "load", "split_path", "to_wsgi"]
