"""Flask's Jinja templates to lanner's: `convert_template` rewrites what only Flask's templates see.

Flask gives every template the globals ``g``, ``config``, ``request`` (Werkzeug's), ``session``,
``url_for`` and ``get_flashed_messages``. lanner's `lanner.templating.Templates` gives each render
``request`` (lanner's), ``url_for``, ``static_url``, ``get_flashed_messages``, ``session`` (read
only, when the app has sessions) and ``csrf_token``, as context values rather than globals. So:

- ``g`` becomes ``request.state``, where the Python codemod puts what Flask kept in ``g`` (it has
  ``g``'s ``get``, ``pop``, ``setdefault`` and ``in``);
- ``request.form`` (and ``request.values``) becomes ``form``, which lanner gives every render: the
  form the handler read, else an empty one;
- ``config`` becomes ``request.app.config`` (a note: the app's ``Lanner.config``);
- Werkzeug's ``request`` attributes become lanner's (``request.args`` to ``request.query_params``,
  ``request.view_args`` to ``request.path_params``, ``request.remote_addr`` to
  ``request.client.host``...);
- ``{% import %}`` and ``{% from ... import %}`` gain ``with context`` (a note): an imported macro
  file sees Flask's helpers as globals, but lanner's only through the importing template's context;
- ``url_for('static', filename=...)``, dotted endpoint names (``url_for('blog.index')``, a
  ``Router(name="blog")`` route), ``get_flashed_messages(...)`` and reading ``session`` stay as
  they are: lanner's template helpers accept them.

What templates cannot do in lanner is left in place and reported with its line: ``request.files``
and the other body readers (lanner reads bodies asynchronously, templates render synchronously),
``request.endpoint`` and other Werkzeug-only attributes, relative endpoints (``url_for('.index')``),
``url_for``'s ``_scheme`` and ``_method``, and changes to ``session``.

The source is scanned as Jinja's lexer scans it (text, comments and raw blocks skipped, string
literals kept whole, brackets balanced) and only names are replaced, so everything else is kept
byte for byte. Converting a converted template changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from lanner.migrate._report import Finding
from lanner.requests import Request

if TYPE_CHECKING:  # Jinja2 is optional (the templates extra): its names are only needed for type checks.
    from jinja2 import nodes

__all__ = ["convert_template"]

_MISSING_JINJA = "Converting templates needs Jinja2: pip install 'lanner[templates]'"
# Enabled while checking syntax so templates using Jinja's own extensions (Flask-Babel's
# {% trans %}, {% do %}, {% break %}) still parse; the converted template is not rendered here.
_EXTENSIONS = ("jinja2.ext.i18n", "jinja2.ext.do", "jinja2.ext.loopcontrols", "jinja2.ext.debug")

# Jinja's default delimiters, which Flask keeps. Whichever opener comes first wins, as in Jinja.
_TAG_START = re.compile(r"\{\{|\{%|\{#")
_RAW_BEGIN = re.compile(r"\{%[-+]?\s*raw\s*-?%\}")
_RAW_END = re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}")
# Inside a tag: Jinja's string literal, numbers (``items.0`` stays a name, a dot and a number),
# names, and operators; only names, dots and brackets matter to the rewrites.
_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<string>'[^'\\]*(?:\\.[^'\\]*)*'|\"[^\"\\]*(?:\\.[^\"\\]*)*\")"
    r"|(?P<number>\d\w*(?:\.\d\w*)?)"
    r"|(?P<name>[^\W\d]\w*)"
    r"|(?P<op>//|\*\*|==|!=|>=|<=|.)",
    re.S,
)

_REQUEST_RENAMES = {
    "args": "query_params",
    "view_args": "path_params",
    "remote_addr": "client.host",
    "host": "url.netloc",
    "scheme": "url.scheme",
    "is_secure": "url.is_secure",
    "script_root": "scope.root_path",
    "referrer": "headers.referer",
}


def _body_gap(key: str, read: str, use: str) -> str:
    """Why ``request.form`` and the other body readers stay: the manual change, for one reader."""
    return (
        "lanner reads the body asynchronously and templates render synchronously: read it in the "
        f"handler and pass it in (`templates.render(request, name, {{'{key}': await request.{read}()}})`), "
        f"then write `{use}` here"
    )


_REQUEST_GAPS = {
    "files": _body_gap("form", "form", "form[...]"),
    "json": _body_gap("data", "json", "data"),
    "get_json": _body_gap("data", "json", "data"),
    "data": _body_gap("body", "body", "body"),
    "get_data": _body_gap("body", "body", "body"),
    "body": _body_gap("body", "body", "body"),
    "stream": "a template cannot read a streamed body: read it in the handler and pass what it needs",
    "endpoint": "pass the route's name in from the handler (lanner's route names are Flask's endpoints)",
    "blueprint": "pass the router's name in from the handler",
    "url_rule": "pass the route's path in from the handler",
}
_REQUEST_GAP = "Werkzeug's request has it, lanner's does not: compute it in the handler and pass it in"
# What lanner's request offers under the same name as Werkzeug's (method, path, headers...).
_LANNER_REQUEST = frozenset(name for name in dir(Request) if not name.startswith("_"))
_SESSION_WRITES = frozenset(("pop", "popitem", "setdefault", "update", "clear"))
_URL_FOR_OPTIONS = {
    "_scheme": "lanner's url_for gives the path: prefix the scheme and `request.url.netloc`",
    "_method": "drop it: lanner's route names are unique whatever the method",
}
# The names each rule reads or writes: a template binding one of them ({% for g in ... %}) means
# its own variable, not Flask's, so that rule leaves the template's uses alone.
_OWN_NAMES = {
    "g": ("g", "request"),
    "config": ("config", "request"),
    "request": ("request",),
    "session": ("session",),
    "url_for": ("url_for",),
}


class _Token(NamedTuple):
    kind: str
    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)


def _jinja2() -> Any:
    """Import Jinja2, or explain which extra installs it.

    Raises:
        ImportError: Jinja2 is not installed.
    """
    try:
        import jinja2
    except ImportError as exc:
        raise ImportError(_MISSING_JINJA) from exc
    return jinja2


def convert_template(text: str, path: str) -> tuple[str, list[Finding]]:
    """Rewrite a Flask Jinja template's Flask-only names to lanner's.

    A template that is not valid Jinja is returned unchanged, with one finding saying so.

    Args:
        text: the template's source.
        path: the name findings are reported under.

    Returns:
        The converted source (`text` itself when nothing changed) and the findings, by line: what
        was left as is because lanner's templates cannot do it (with the manual change to make),
        and notes on rewrites worth a look.

    Raises:
        ImportError: Jinja2 is not installed.
    """
    jinja = _jinja2()
    env = jinja.Environment(extensions=_EXTENSIONS)
    try:
        tree = env.parse(text)
    except jinja.TemplateSyntaxError as exc:
        why = f"not valid Jinja ({exc.message}); left untouched: convert it by hand"
        return text, [Finding(path, exc.lineno or 1, "template", why)]
    converter = _Converter(text, path, _bound_names(tree))
    for kind, tokens in _tags(text):
        converter.convert_tag(kind, tokens)
    converted = converter.apply()
    if converted != text:
        try:
            env.parse(converted)
        except jinja.TemplateSyntaxError as exc:  # a scanning bug must not break a template
            why = f"the conversion would not parse ({exc.message}); left untouched: convert it by hand"
            return text, [Finding(path, exc.lineno or 1, "template", why)]
    return converted, sorted(converter.findings, key=lambda finding: finding.line)


def _bound_names(tree: nodes.Template) -> set[str]:
    """The names the template binds itself: loop targets, ``set``, ``with``, macros, imports."""
    from jinja2 import nodes

    bound: set[str] = set()
    for node in tree.find_all((nodes.Name, nodes.Macro, nodes.Import, nodes.FromImport)):
        if isinstance(node, nodes.Name):
            if node.ctx in ("store", "param"):
                bound.add(node.name)
        elif isinstance(node, nodes.Macro):
            bound.add(node.name)
        elif isinstance(node, nodes.Import):
            bound.add(node.target)
        elif isinstance(node, nodes.FromImport):
            bound.update(item[1] if isinstance(item, tuple) else item for item in node.names)
    return bound


def _tags(text: str) -> Iterator[tuple[str, list[_Token]]]:
    """Each ``{{ }}`` ("variable") and ``{% %}`` ("block") tag's tokens, without whitespace.

    Comments and raw blocks are skipped. The whitespace-control signs (``{%-``, ``-}}``) are not
    tokens, so a tag's first token is its keyword and its last the last of its expression.
    """
    pos = 0
    while (match := _TAG_START.search(text, pos)) is not None:
        opener = match.group()
        if opener == "{#":
            end = text.find("#}", match.end())
            pos = len(text) if end < 0 else end + 2
            continue
        if opener == "{%" and (raw := _RAW_BEGIN.match(text, match.start())) is not None:
            end_raw = _RAW_END.search(text, raw.end())
            pos = len(text) if end_raw is None else end_raw.end()
            continue
        pos = match.end()
        if text[pos : pos + 1] in ("-", "+"):
            pos += 1
        closer = "}}" if opener == "{{" else "%}"
        tokens, pos = _scan(text, pos, closer)
        yield ("variable" if opener == "{{" else "block"), tokens


def _scan(text: str, pos: int, closer: str) -> tuple[list[_Token], int]:
    """The tokens from `pos` to the tag's `closer` (outside brackets, as Jinja balances them)."""
    tokens: list[_Token] = []
    depth = 0
    while pos < len(text):
        if depth == 0:
            if text.startswith(closer, pos):
                return tokens, pos + len(closer)
            if text[pos] in "-+" and text.startswith(closer, pos + 1):
                return tokens, pos + 1 + len(closer)
        match = _TOKEN.match(text, pos)
        assert match is not None  # the last alternative takes any character
        kind, value = match.lastgroup or "op", match.group()
        if kind == "op" and value in "([{":
            depth += 1
        elif kind == "op" and value in ")]}":
            depth = max(depth - 1, 0)
        if kind != "space":
            tokens.append(_Token(kind, value, pos))
        pos = match.end()
    return tokens, pos


def _is_variable(tokens: list[_Token], index: int, kind: str) -> bool:
    """Whether the name at `index` is read as a variable (not an attribute, filter, test, keyword...)."""
    before = tokens[index - 1].text if index else ""
    if before in (".", "|", "is") or (before == "not" and index >= 2 and tokens[index - 2].text == "is"):
        return False
    if _next_text(tokens, index) == "=":  # a keyword argument's name
        return False
    # {% block g %}, {% endblock g %} and {% filter g %} name a block or a filter.
    return not (kind == "block" and index == 1 and tokens[0].text in ("block", "endblock", "filter"))


def _next_text(tokens: list[_Token], index: int) -> str:
    """The text of the token after `index` ("" at the end of the tag)."""
    return tokens[index + 1].text if index + 1 < len(tokens) else ""


def _call_arguments(tokens: list[_Token], index: int) -> list[_Token]:
    """The tokens directly inside the call whose "(" is at `index` ([] when none is there).

    Tokens nested in brackets within the call are left out, so a keyword name found in the
    result belongs to this call.
    """
    if index >= len(tokens) or tokens[index].text != "(":
        return []
    found: list[_Token] = []
    depth = 0
    for token in tokens[index:]:
        if token.kind == "op" and token.text in "([{":
            depth += 1
        elif token.kind == "op" and token.text in ")]}":
            depth -= 1
            if depth == 0:
                break
        elif depth == 1:
            found.append(token)
    return found


def _attribute(tokens: list[_Token], index: int) -> _Token | None:
    """The attribute name read from the name at `index` (``x`` of ``g.x``), if any."""
    if index + 2 < len(tokens) and tokens[index + 1].text == "." and tokens[index + 2].kind == "name":
        return tokens[index + 2]
    return None


class _Converter:
    """The edits and findings for one template, gathered tag by tag, then applied at once."""

    def __init__(self, text: str, path: str, bound: set[str]) -> None:
        self.text = text
        self.path = path
        self.bound = bound
        self.edits: list[tuple[int, int, str]] = []
        self.findings: list[Finding] = []
        self._shadowed: set[str] = set()
        self._clash: tuple[_Token, str] | None = None
        self._handlers: dict[str, Callable[[list[_Token], int], None]] = {
            "g": self._g,
            "config": self._config,
            "request": self._request,
            "session": self._session,
            "url_for": self._url_for,
        }

    def report(self, token: _Token, what: str, why: str, *, note: bool = False) -> None:
        if self._clash is not None:
            self._report_shadowed(*self._clash)
            return
        line = self.text.count("\n", 0, token.start) + 1
        self.findings.append(Finding(self.path, line, what, why, note))

    def replace(self, token: _Token, new: str) -> None:
        if self._clash is not None:
            self._report_shadowed(*self._clash)
            return
        self.edits.append((token.start, token.end, new))

    def apply(self) -> str:
        out, pos = [], 0
        for start, end, new in sorted(self.edits):
            out.append(self.text[pos:start])
            out.append(new)
            pos = end
        out.append(self.text[pos:])
        return "".join(out)

    def convert_tag(self, kind: str, tokens: list[_Token]) -> None:
        if kind == "block" and tokens and tokens[0].text in ("import", "from"):
            self._import(tokens)
        for index, token in enumerate(tokens):
            handler = self._handlers.get(token.text) if token.kind == "name" else None
            if handler is None or not _is_variable(tokens, index, kind):
                continue
            clash = next((name for name in _OWN_NAMES[token.text] if name in self.bound), None)
            # A use the rule would change or report is then only noted, once per name.
            self._clash = None if clash is None else (token, clash)
            try:
                handler(tokens, index)
            finally:
                self._clash = None

    def _report_shadowed(self, token: _Token, bound: str) -> None:
        if token.text in self._shadowed:
            return
        self._shadowed.add(token.text)
        why = (
            f"this template binds its own `{bound}` (a loop, set, with, macro or import), so "
            f"`{token.text}` was left as it is; if Flask's `{token.text}` is meant, rename the "
            "template variable and convert again"
        )
        line = self.text.count("\n", 0, token.start) + 1
        self.findings.append(Finding(self.path, line, token.text, why, note=True))

    def _g(self, tokens: list[_Token], index: int) -> None:
        # lanner's State has g's get, pop, setdefault and `in`: only the name changes.
        self.replace(tokens[index], "request.state")

    def _config(self, tokens: list[_Token], index: int) -> None:
        self.replace(tokens[index], "request.app.config")
        why = "rewritten to `request.app.config`: lanner's templates see the app's config through the request"
        self.report(tokens[index], "config", why, note=True)

    def _request(self, tokens: list[_Token], index: int) -> None:
        attribute = _attribute(tokens, index)
        if attribute is None:
            return
        name = attribute.text
        if name in ("args", "query_params"):  # checked converted too, so the report stays the same
            self._query_method(tokens, index + 2, name)
        if name in _REQUEST_RENAMES:
            self.replace(attribute, _REQUEST_RENAMES[name])
        elif name in ("form", "values"):
            # lanner gives every render `form`: the form the handler read, else an empty one.
            self.replace(
                _Token("span", self.text[tokens[index].start : attribute.end], tokens[index].start), "form"
            )
        elif name in _REQUEST_GAPS:
            self.report(attribute, f"request.{name}", _REQUEST_GAPS[name])
        elif name not in _LANNER_REQUEST:
            self.report(attribute, f"request.{name}", _REQUEST_GAP)

    def _query_method(self, tokens: list[_Token], index: int, spelled: str) -> None:
        """Report what lanner's query parameters lack: ``get(..., type=int)``, ``to_dict()``."""
        method = _attribute(tokens, index)
        if method is None:
            return
        if method.text not in ("get", "getlist"):
            if method.text not in ("keys", "values", "items", "multi_items"):
                why = (
                    "lanner's query parameters have get, getlist, keys, values and items (`dict(...)` copies)"
                )
                self.report(method, f"request.{spelled}.{method.text}", why)
            return
        arguments = _call_arguments(tokens, index + 3)
        for position, token in enumerate(arguments):
            if token.text == "type" and _next_text(arguments, position) == "=":
                why = "lanner's query parameters have no type=: convert with a filter, `(... )|int`"
                self.report(token, f"request.{spelled}.{method.text}(type=...)", why)

    def _session(self, tokens: list[_Token], index: int) -> None:
        attribute = _attribute(tokens, index)
        if attribute is not None and attribute.text in _SESSION_WRITES:
            why = (
                "lanner's templates see the session read-only: change it in the handler (`session: Session`)"
            )
            self.report(attribute, f"session.{attribute.text}", why)

    def _url_for(self, tokens: list[_Token], index: int) -> None:
        arguments = _call_arguments(tokens, index + 1)
        if arguments and arguments[0].kind == "string" and arguments[0].text[1:2] == ".":
            why = (
                "lanner has no relative endpoints: name the route in full "
                "(`url_for('blog.index')` for the `index` route of `Router(name='blog')`)"
            )
            self.report(arguments[0], f"url_for({arguments[0].text})", why)
        for position, token in enumerate(arguments):
            if token.text in _URL_FOR_OPTIONS and _next_text(arguments, position) == "=":
                self.report(token, f"url_for({token.text}=...)", _URL_FOR_OPTIONS[token.text])

    def _import(self, tokens: list[_Token]) -> None:
        if len(tokens) >= 2 and tokens[-1].text == "context" and tokens[-2].text in ("with", "without"):
            return
        self.edits.append((tokens[-1].end, tokens[-1].end, " with context"))
        why = (
            "imported `with context`: lanner's url_for, request, session and get_flashed_messages "
            "are values of each render, which an imported macro file sees only with the context"
        )
        what = "{% import %}" if tokens[0].text == "import" else "{% from ... import %}"
        self.report(tokens[0], what, why, note=True)
