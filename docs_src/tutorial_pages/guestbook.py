from pathlib import Path
from typing import Annotated

from lanner import Form, Lanner, Request, Session, flash
from lanner.responses import RedirectResponse, Response
from lanner.templating import Templates

HERE = Path(__file__).parent

app = Lanner(secret_key="change me: read it from the environment", csrf=True)
templates = Templates(HERE / "templates")
app.static("/static", HERE / "static")

ENTRIES: list[dict[str, str]] = []


@app.get("/")
async def index(request: Request, session: Session) -> Response:
    return templates.render(
        request, "index.html", {"entries": ENTRIES, "name": session.get("name", "")}
    )


@app.post("/sign")
async def sign(
    name: Annotated[str, Form(min_length=1, max_length=40)],
    message: Annotated[str, Form(min_length=1, max_length=500)],
    session: Session,
) -> Response:
    ENTRIES.append({"name": name, "message": message})
    session["name"] = name  # remembered for the next visit
    flash(session, f"Thank you, {name}!", category="success")
    return RedirectResponse(app.url_path_for("index"), status_code=303)
