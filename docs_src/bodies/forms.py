from typing import Annotated

from pydantic import BaseModel

from lanner import File, Form, Lanner, UploadFile

app = Lanner()


class Login(BaseModel):
    username: str
    password: str


@app.post("/login")
async def login(form: Annotated[Login, Form()]) -> dict[str, str]:  # one field per form key
    return {"user": form.username}


@app.post("/comments")
async def comment(text: Annotated[str, Form(max_length=200)]) -> dict[str, str]:
    return {"text": text}


@app.post("/covers")
async def upload(cover: UploadFile, caption: Annotated[str, Form()] = "") -> dict[str, object]:
    data = await cover.read()
    return {
        "name": cover.filename,
        "type": cover.content_type,
        "size": len(data),
        "caption": caption,
    }


@app.post("/attachments")
async def attachments(files: list[UploadFile]) -> list[str | None]:
    return [f.filename for f in files]


@app.post("/small")
async def small(data: Annotated[bytes, File()]) -> dict[str, int]:  # the whole file, in memory
    return {"size": len(data)}
