from lanner import Lanner, Router

users = Router(prefix="/users", tags=["users"])


@users.get("/{user_id:int}", name="user")
async def get_user(user_id: int) -> dict[str, int]:
    return {"id": user_id}


api = Router(prefix="/api")
api.include_router(users)  # routers nest

app = Lanner()
app.include_router(api)  # declare a router's routes before including it


@app.get("/")
async def home() -> dict[str, str]:
    return {"first_user": app.url_path_for("user", user_id=1)}
