from pathlib import Path

from lanner import Lanner
from lanner.responses import FileResponse
from lanner.staticfiles import StaticFiles

HERE = Path(__file__).parent
app = Lanner()

# /static/app.css, cached for a year: pages link to it with static_url(), whose hash changes
# with the file.
app.static("/static", "static", cache_control="public, max-age=31536000, immutable")

# A whole static site: /site/ serves index.html, and a miss gets the folder's 404.html.
app.mount("/site", StaticFiles(directory=HERE / "site", html=True))


@app.get("/downloads/{name:path}")
async def download(name: str) -> FileResponse:
    # root= keeps the client inside the folder: /downloads/../app.py is a 404.
    return FileResponse(name, root=HERE / "public")
