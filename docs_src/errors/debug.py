from lanner import Lanner

app = Lanner(debug=True)  # or set LANNER_DEBUG=1; never in production


@app.get("/divide")
async def divide(a: int, b: int) -> float:
    return a / b
