from lanner import Lanner

app = Lanner()


@app.get("/books")
async def list_books() -> list[str]:
    return ["Dune", "Emma"]


@app.post("/books", status_code=201, tags=["books"], summary="Add a book")
async def add_book() -> dict[str, str]:
    return {"status": "added"}


@app.route("/ping", methods=["GET", "POST"])  # Flask's spelling
def ping() -> str:  # a plain def runs in the thread pool
    return "pong"
