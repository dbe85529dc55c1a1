from lanner import Lanner

app = Lanner()


@app.get("/debug")
async def debug() -> dict:
    return {"debug": app.debug}


@app.get("/boom")
async def boom() -> dict:
    raise ValueError("secret internals")
