"""A real Flask app, the "legacy" app the WSGI tests mount inside lanner at ``/legacy``.

It uses what a Flask app in the middle of a migration uses: sessions, ``url_for`` links and
redirects, a streamed generator response, an upload form, and error pages of its own.
"""

import hashlib
import threading
import time
from collections.abc import Iterator

from flask import Flask, Response, abort, redirect, request, session, stream_with_context, url_for
from werkzeug.wrappers import Response as BaseResponse

app = Flask(__name__)
app.secret_key = "legacy-secret-for-tests"

#: Set by a test once it has received the first chunk of ``/gated``; the generator waits for it.
GATE = threading.Event()
#: Set when the endless ``/forever`` generator is closed (its client went away).
FOREVER_CLOSED = threading.Event()
#: Requests inside ``/slow`` right now, and the most seen at once.
SLOW = {"now": 0, "most": 0}
_slow_lock = threading.Lock()


@app.errorhandler(404)
def not_found(error: Exception) -> tuple[str, int]:
    return f"<h1>legacy 404</h1><p>{request.path} is not here</p>", 404


@app.errorhandler(500)
def server_error(error: Exception) -> tuple[str, int]:
    return "<h1>legacy 500</h1><p>the old app broke</p>", 500


@app.get("/")
def index() -> dict[str, str]:
    return {"app": "flask", "script_root": request.script_root, "path": request.path}


@app.get("/hello")
def hello() -> str:
    return "hello from flask"


@app.get("/links")
def links() -> dict[str, str]:
    return {
        "hello": url_for("hello"),
        "item": url_for("item", item_id=7),
        "external": url_for("hello", _external=True),
        "static": url_for("static", filename="site.css"),
    }


@app.get("/items/<int:item_id>")
def item(item_id: int) -> dict[str, int]:
    return {"id": item_id}


@app.get("/old-hello")
def old_hello() -> BaseResponse:
    return redirect(url_for("hello"))


@app.post("/login")
def login() -> BaseResponse:
    session["user"] = request.form["user"]
    return redirect(url_for("whoami"))


@app.get("/whoami")
def whoami() -> dict[str, object]:
    session["visits"] = session.get("visits", 0) + 1
    return {"user": session.get("user"), "visits": session["visits"]}


@app.post("/logout")
def logout() -> BaseResponse:
    session.clear()
    return redirect(url_for("whoami"))


@app.get("/boom")
def boom() -> str:
    raise RuntimeError("the old app broke")


@app.get("/teapot")
def teapot() -> str:
    abort(418)


@app.post("/echo")
def echo() -> dict[str, object]:
    data = request.get_data()
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "type": request.content_type}


@app.get("/upload")
def upload_form() -> str:
    return (
        f'<form method="post" action="{url_for("upload")}" enctype="multipart/form-data">'
        '<input type="file" name="file"><input name="title"><button>Send</button></form>'
    )


@app.post("/upload")
def upload() -> dict[str, object]:
    file = request.files["file"]
    data = file.read()
    return {
        "filename": file.filename,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "title": request.form.get("title"),
    }


@app.get("/stream")
def stream() -> Response:
    count = request.args.get("n", 3, type=int)
    delay = request.args.get("delay", 0.0, type=float)
    greeting = session.get("user", "anonymous")

    def generate() -> Iterator[str]:
        for i in range(count):
            if i:
                time.sleep(delay)
            yield f"chunk {i} for {greeting}\n"

    return Response(stream_with_context(generate()), mimetype="text/plain")


@app.get("/gated")
def gated() -> Response:
    def generate() -> Iterator[str]:
        yield "first\n"
        # A buffering adapter would only deliver "first" after this wait timed out.
        yield "released\n" if GATE.wait(10) else "timed out\n"

    return Response(generate(), mimetype="text/plain")


@app.get("/forever")
def forever() -> Response:
    FOREVER_CLOSED.clear()

    def generate() -> Iterator[str]:
        try:
            while True:
                yield "tick\n"
                time.sleep(0.02)
        finally:
            FOREVER_CLOSED.set()

    return Response(generate(), mimetype="text/plain")


@app.get("/slow")
def slow() -> dict[str, int]:
    delay = request.args.get("delay", 0.3, type=float)
    with _slow_lock:
        SLOW["now"] += 1
        SLOW["most"] = max(SLOW["most"], SLOW["now"])
    try:
        time.sleep(delay)
    finally:
        with _slow_lock:
            SLOW["now"] -= 1
    return {"most": SLOW["most"]}
