from lanner import HTTPException, Lanner

app = Lanner()
BOOKS = {1: "Dune"}


@app.get("/books/{book_id:int}")
async def get_book(book_id: int) -> dict[str, str]:
    if book_id not in BOOKS:
        raise HTTPException(404, f"No book {book_id}")
    return {"title": BOOKS[book_id]}


@app.delete("/books/{book_id:int}")
async def delete_book(book_id: int) -> None:
    raise HTTPException(401, "Sign in first", headers={"WWW-Authenticate": "Bearer"})
