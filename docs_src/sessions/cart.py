from lanner import Lanner, Session

app = Lanner(secret_key="change me: read it from the environment")  # or LANNER_SECRET_KEY


@app.post("/cart/{item}")
async def add_to_cart(item: str, session: Session) -> list[str]:
    session["cart"] = [*session.get("cart", []), item]  # assign: the session sees the change
    return session["cart"]


@app.get("/cart")
async def show_cart(session: Session) -> list[str]:
    return session.get("cart", [])


@app.delete("/cart")
async def empty_cart(session: Session) -> None:
    session.clear()
