from lanner import Lanner

app = Lanner()
DATABASE = {"up": True}


async def database() -> bool:
    return DATABASE["up"]  # or raise: either way the check fails


app.health("/healthz")  # 200 while the process answers at all
app.ready("/readyz", checks=[database])  # 200, or 503 with each check's outcome
