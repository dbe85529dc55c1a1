from lanner import Lanner

app = Lanner()


@app.get("/")
def home() -> dict[str, str]:
    return {"served_by": "a WSGI server"}


# gunicorn -w 4 'wsgi:application' (gunicorn's loader takes a name, not app.wsgi)
application = app.wsgi
