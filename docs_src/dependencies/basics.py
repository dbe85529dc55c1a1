from typing import Annotated

from lanner import Depends, Header, HTTPException, Lanner, Query

app = Lanner()


class Page:
    """A class works as a dependency: its __init__ parameters are read from the request."""

    def __init__(
        self,
        offset: Annotated[int, Query(ge=0)] = 0,
        size: Annotated[int, Query(ge=1, le=50)] = 10,
    ) -> None:
        self.offset, self.size = offset, size


def current_user(x_user: Annotated[str | None, Header()] = None) -> str:
    return x_user or "guest"  # a real app checks a token here


def require_admin(
    user: Annotated[str, Depends(current_user)],
) -> str:  # a dependency of a dependency
    if user != "admin":
        raise HTTPException(403, "Admins only")
    return user


@app.get("/books")
async def list_books(page: Annotated[Page, Depends(Page)]) -> dict[str, int]:
    return {"offset": page.offset, "size": page.size}


@app.get("/me")
async def me(user: Annotated[str, Depends(current_user)]) -> dict[str, str]:
    return {"user": user}


@app.delete("/books", dependencies=[Depends(require_admin)])  # run for its effect only
async def clear_books() -> dict[str, str]:
    return {"status": "cleared"}
