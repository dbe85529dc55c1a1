"""Step 2: move routes one at a time; a lanner route wins over the mount.

Two API routes now run on lanner. Every other path, and these paths with anything lanner's
``{bookmark_id:int}`` does not accept, still reaches the Flask app. Until the login page moves
too, ``/api/me`` reads the user from Flask's session cookie, read only: Flask keeps writing it.
"""

from typing import Annotated, Any

from itsdangerous import BadSignature
from legacy import BOOKMARKS
from legacy import app as flask_app

from lanner import Depends, HTTPException, Lanner, Request

app = Lanner()


def flask_session(request: Request) -> dict[str, Any]:
    """What Flask keeps in its session cookie, checked with Flask's own key and serializer."""
    serializer = flask_app.session_interface.get_signing_serializer(flask_app)
    cookie = request.cookies.get(flask_app.config["SESSION_COOKIE_NAME"])
    if serializer is None or cookie is None:
        return {}
    max_age = int(flask_app.permanent_session_lifetime.total_seconds())
    try:
        return dict(serializer.loads(cookie, max_age=max_age))
    except BadSignature:  # tampered with, or expired
        return {}


@app.get("/api/bookmarks/{bookmark_id:int}")
def read_bookmark(bookmark_id: int) -> dict[str, Any]:
    bookmark = BOOKMARKS.get(bookmark_id)
    if bookmark is None:
        raise HTTPException(404, f"No bookmark {bookmark_id}")
    return bookmark


@app.get("/api/me")
def me(session: Annotated[dict[str, Any], Depends(flask_session)]) -> dict[str, str | None]:
    return {"user": session.get("user")}


app.mount_wsgi("/", flask_app)  # everything lanner does not serve yet
