"""Step 4: delete the mount. One lanner app, no Flask left.

The views ``lanner migrate`` converted in step 3, with what its report listed done by hand
(``app.run()`` removed: serve it with ``lanner run``), and the API routes moved in step 2 in place
of their converted copies. The templates and static files are the converted ones of step 3.
"""

import functools
from typing import Annotated, Any

from lanner import Form, HTTPException, Lanner, Request, Router, Session, flash
from lanner.errors import http_exception_handler
from lanner.responses import RedirectResponse
from lanner.templating import Templates

templates = Templates("step3_converted/templates")

app = Lanner(secret_key="dev: change me")  # in production: the LANNER_SECRET_KEY environment variable
app.static("/static", "step3_converted/static")

# A database would live here; a dict keeps the example self-contained.
BOOKMARKS = {1: {"id": 1, "title": "Python", "url": "https://www.python.org"}}

api = Router(prefix="/api", name="api")


def login_required(view):
    @functools.wraps(view)
    def wrapped_view(**kwargs):
        request = kwargs["request"]
        if request.state.user is None:
            flash(request.session, "Log in first.")
            return RedirectResponse(request.url_for("login"), 302)
        return view(**kwargs)

    return wrapped_view


@app.before_request
def load_user(request: Request):
    request.state.user = request.session.get("user")


@app.get("/")
def index(request: Request):
    return templates.render(request, "index.html", {"bookmarks": list(BOOKMARKS.values())})


@app.get("/login")
@app.post("/login")
def login(request: Request, session: Session, name: Annotated[str, Form()] = ""):
    if request.method == "POST":
        if name:
            session["user"] = name
            flash(session, f"Hello, {name}.")
            return RedirectResponse(request.url_for("index"), 302)
        flash(session, "A name is required.")
    return templates.render(request, "login.html")


@app.get("/logout")
def logout(request: Request, session: Session):
    session.clear()
    return RedirectResponse(request.url_for("index"), 302)


@app.get("/bookmarks/new")
@app.post("/bookmarks/new")
@login_required
def new_bookmark(
    request: Request, session: Session, title: Annotated[str, Form()] = "", url: Annotated[str, Form()] = ""
):
    if request.method == "POST":
        bookmark_id = max(BOOKMARKS) + 1
        BOOKMARKS[bookmark_id] = {"id": bookmark_id, "title": title, "url": url}
        flash(session, "Saved.")
        return RedirectResponse(request.url_for("show_bookmark", bookmark_id=bookmark_id), 302)
    return templates.render(request, "new.html")


@app.get("/bookmarks/{bookmark_id:int}")
def show_bookmark(bookmark_id, request: Request):
    bookmark = BOOKMARKS.get(bookmark_id)
    if bookmark is None:
        raise HTTPException(404)
    return templates.render(request, "bookmark.html", {"bookmark": bookmark})


@api.get("/bookmarks")
def list_bookmarks(limit: int = 10):
    return list(BOOKMARKS.values())[:limit]


@api.get("/bookmarks/{bookmark_id:int}")
def read_bookmark(bookmark_id: int) -> dict[str, Any]:
    bookmark = BOOKMARKS.get(bookmark_id)
    if bookmark is None:
        raise HTTPException(404, f"No bookmark {bookmark_id}")
    return bookmark


@api.get("/me")
def me(session: Session) -> dict[str, str | None]:
    return {"user": session.get("user")}


@app.exception_handler(404)
async def page_not_found(request: Request, error: HTTPException):
    if request.url.path.startswith("/api/"):
        return await http_exception_handler(request, error)  # the API keeps problem+json
    return templates.render(request, "404.html", status_code=404)


app.include_router(api)
