from lanner import Lanner, Request

app = Lanner()


@app.post("/echo")
async def echo(request: Request) -> dict[str, object]:
    raw = await request.body()  # bytes, read once and kept
    return {"length": len(raw), "content_type": request.headers.get("content-type")}


@app.post("/count")
async def count(request: Request) -> dict[str, int]:
    total = 0
    async for chunk in request.stream():  # each chunk as it arrives, nothing buffered
        total += len(chunk)
    return {"bytes": total}
