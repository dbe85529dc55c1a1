from pydantic import BaseModel

from lanner import Lanner

app = Lanner()


class UserIn(BaseModel):
    name: str
    password: str


class UserOut(BaseModel):
    name: str
    nickname: str | None = None


@app.get("/numbers")
async def numbers() -> list[int]:
    return [1, 2, 3]


@app.post("/users", status_code=201, response_model=UserOut)
async def create_user(user: UserIn) -> UserIn:
    return user  # sent as a UserOut: the password never leaves


@app.get("/users/{name}", response_model=UserOut, response_model_exclude_none=True)
async def get_user(name: str) -> dict[str, object]:
    return {"name": name, "nickname": None, "password": "hunter2"}
