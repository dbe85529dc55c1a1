from lanner import Lanner, Session, flash, get_flashed_messages
from lanner.responses import RedirectResponse

app = Lanner(secret_key="change me")


@app.post("/save")
async def save(session: Session) -> RedirectResponse:
    flash(session, "Saved", category="success")
    return RedirectResponse("/", status_code=303)


@app.get("/")
async def home(session: Session) -> dict[str, object]:
    # Templates call get_flashed_messages() themselves; here, the same for a JSON page.
    return {"messages": get_flashed_messages(session, with_categories=True)}
