"""Step 1: serve the Flask app from lanner, unchanged.

Mounted at ``"/"``, it answers every path lanner does not serve yet, which for now is all of them:
its pages, its session cookie, its flashed messages and its 404 page are Flask's own.
"""

from legacy import app as flask_app

from lanner import Lanner

app = Lanner()
app.mount_wsgi("/", flask_app)
