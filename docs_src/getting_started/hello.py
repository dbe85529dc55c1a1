from lanner import Lanner

app = Lanner()


@app.get("/")
async def hello(name: str = "world") -> dict[str, str]:
    return {"message": f"Hello, {name}"}
