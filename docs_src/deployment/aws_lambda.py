from mangum import Mangum

from lanner import Lanner

app = Lanner()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"message": "Hello from Lambda"}


handler = Mangum(app)  # API Gateway HTTP API and Function URL events
