from pydantic import BaseModel

from lanner import FormLimits, Lanner, UploadFile

# Form bodies, for the whole app: at most 20 fields and 2 files, 5 MiB in all.
# JSON bodies: at most 256 KiB.
app = Lanner(
    form_limits=FormLimits(max_fields=20, max_files=2, max_size=5 * 1024 * 1024),
    max_body_size=256 * 1024,
)


class Report(BaseModel):
    lines: list[str]


@app.post("/notes")
async def add_note(report: Report) -> dict[str, int]:  # the app's limits apply
    return {"lines": len(report.lines)}


@app.post("/reports", max_body_size=4 * 1024 * 1024)  # a bigger JSON body for one route
async def upload_report(report: Report) -> dict[str, int]:
    return {"lines": len(report.lines)}


@app.post("/videos", form_limits=FormLimits(max_files=1, max_size=50 * 1024 * 1024))  # one route
async def upload_video(video: UploadFile) -> dict[str, int | None]:
    return {"size": video.size}
