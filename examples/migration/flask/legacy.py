"""The Flask app before the migration: a small bookmarks site.

Pages with a login form, a session, flashed messages and a 404 page of its own, plus a JSON API
on a blueprint. docs/migrating-from-flask.md moves it to lanner in four steps; each step is a file
beside this one. step3_converted/ holds what ``lanner migrate`` makes of this file and its templates.
"""

import functools

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

app = Flask(__name__)
app.config.from_mapping(SECRET_KEY="dev: change me")

# A database would live here; a dict keeps the example self-contained.
BOOKMARKS = {1: {"id": 1, "title": "Python", "url": "https://www.python.org"}}

api = Blueprint("api", __name__, url_prefix="/api")


def login_required(view):
    @functools.wraps(view)
    def wrapped_view(**kwargs):
        if g.user is None:
            flash("Log in first.")
            return redirect(url_for("login"))
        return view(**kwargs)

    return wrapped_view


@app.before_request
def load_user():
    g.user = session.get("user")


@app.route("/")
def index():
    return render_template("index.html", bookmarks=list(BOOKMARKS.values()))


@app.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        name = request.form["name"]
        if name:
            session["user"] = name
            flash(f"Hello, {name}.")
            return redirect(url_for("index"))
        flash("A name is required.")
    return render_template("login.html")


@app.route("/logout")
def logout():
    session.clear()
    return redirect(url_for("index"))


@app.route("/bookmarks/new", methods=["GET", "POST"])
@login_required
def new_bookmark():
    if request.method == "POST":
        bookmark_id = max(BOOKMARKS) + 1
        BOOKMARKS[bookmark_id] = {
            "id": bookmark_id,
            "title": request.form["title"],
            "url": request.form["url"],
        }
        flash("Saved.")
        return redirect(url_for("show_bookmark", bookmark_id=bookmark_id))
    return render_template("new.html")


@app.route("/bookmarks/<int:bookmark_id>")
def show_bookmark(bookmark_id):
    bookmark = BOOKMARKS.get(bookmark_id)
    if bookmark is None:
        abort(404)
    return render_template("bookmark.html", bookmark=bookmark)


@api.route("/bookmarks")
def list_bookmarks():
    limit = request.args.get("limit", 10, type=int)
    return jsonify(list(BOOKMARKS.values())[:limit])


@api.route("/bookmarks/<int:bookmark_id>")
def read_bookmark(bookmark_id):
    bookmark = BOOKMARKS.get(bookmark_id)
    if bookmark is None:
        abort(404)
    return jsonify(bookmark)


@api.route("/me")
def me():
    return jsonify(user=g.user)


@app.errorhandler(404)
def page_not_found(error):
    return render_template("404.html"), 404


app.register_blueprint(api)

if __name__ == "__main__":
    app.run(debug=True)
