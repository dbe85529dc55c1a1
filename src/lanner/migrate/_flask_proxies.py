"""Flask's request globals on lanner's request: ``request.X``, ``g``, ``session`` and ``current_app``.

In a view, ``request`` and ``session`` become parameters (and reads of the query, form, files and
JSON body typed parameters, `_flask_params`); in a hook or helper, the session is
``request.session``. ``g`` is ``request.state`` (which has ``g``'s ``get``, ``pop``,
``setdefault`` and ``in``) and ``current_app`` is ``request.app``.
"""

from __future__ import annotations

import libcst as cst

from lanner.migrate._flask_base import code
from lanner.migrate._flask_names import suggestion
from lanner.migrate._flask_params import ParamsMixin, Plan

#: ``request.X`` spellings lanner's Request shares.
_SAME = frozenset(["method", "path", "headers", "cookies", "scope", "state"])
#: ``request.X`` → its lanner expression (``{}`` is the request).
_REQUEST_EXPRESSIONS = {
    "view_args": "{}.path_params",
    "remote_addr": "{}.client.host",
    "scheme": "{}.url.scheme",
    "host": "{}.url.netloc",
    "url": "str({}.url)",
    "referrer": '{}.headers.get("referer")',
    "user_agent": '{}.headers.get("user-agent", "")',
    "content_type": '{}.headers.get("content-type")',
    "mimetype": '{}.headers.get("content-type", "").partition(";")[0]',
    "is_json": '{}.headers.get("content-type", "").partition(";")[0].strip().endswith(("/json", "+json"))',
    "is_secure": "{}.url.is_secure",
    "query_string": "{}.url.query.encode()",
}
#: ``request.X`` reads of the raw body: lanner reads it asynchronously.
_BODY_READS = frozenset(("data", "get_data", "stream"))
_CURRENT_APP = frozenset(
    ["config", "debug", "testing", "instance_path", "state", "open_resource", "app_context", "url_path_for"]
)
_NO_REQUEST_ATTRIBUTE = "lanner's Request has no {}: read it from request.scope or request.headers"


class ProxiesMixin(ParamsMixin):
    """Convert the uses of ``request``, ``g``, ``session`` and ``current_app`` in a planned function."""

    def _request_name(self, plan: Plan, ref: cst.CSTNode | None = None) -> str:
        """Mark the request as needed; `ref` (a use of Flask's) now names the lanner one."""
        plan.needs_request = True
        if ref is not None:
            self.ctx.converted.add(ref)
            if code(ref) != plan.request:
                self.ctx.edits.replace(ref, plan.request)
        return plan.request

    def _request(self, plan: Plan, ref: cst.CSTNode) -> None:
        parent = self.parent(ref)
        if not (isinstance(parent, cst.Attribute) and parent.value is ref):
            self._request_name(plan, ref)
            self.report(ref, "request", "lanner's Request is passed where Flask's was", note=True)
            return
        attribute = parent.attr.value
        grand = self.parent(parent)
        if attribute in ("args", "form", "files"):
            self._request_data(plan, ref, parent, attribute, grand)
        elif attribute in ("get_json", "json"):
            call = grand if isinstance(grand, cst.Call) and grand.func is parent else None
            node = call if call is not None else parent
            if (attribute == "json") == (call is None) and self.json_body(plan, node, call):
                self.ctx.converted.add(ref)
            else:
                self._request_name(plan, ref)
                self.report(
                    parent,
                    "request." + attribute,
                    "lanner reads the body asynchronously: make "
                    "the handler async and use await request.json()",
                )
        elif attribute in _SAME:
            self._request_name(plan, ref)
        elif attribute in _REQUEST_EXPRESSIONS:
            self.ctx.edits.replace(
                parent, _REQUEST_EXPRESSIONS[attribute].format(self._request_name(plan, ref))
            )
        else:
            self._request_name(plan, ref)
            self.report(
                parent,
                f"request.{attribute}",
                suggestion("data") if attribute in _BODY_READS else _NO_REQUEST_ATTRIBUTE.format(attribute),
            )

    def _request_data(
        self, plan: Plan, ref: cst.CSTNode, parent: cst.Attribute, attribute: str, grand: cst.CSTNode | None
    ) -> None:
        source = {"args": "query", "form": "form", "files": "file"}[attribute]
        target: cst.Call | cst.Subscript | None = None
        if isinstance(grand, cst.Subscript) and grand.value is parent:
            target = grand
        elif isinstance(grand, cst.Attribute) and grand.value is parent and grand.attr.value == "get":
            call = self.parent(grand)
            target = call if isinstance(call, cst.Call) and call.func is grand else None
        if target is not None and self.typed(plan, source, target):  # type: ignore[arg-type]
            self.ctx.converted.add(ref)
            return
        request = self._request_name(plan, ref)
        if source == "query":
            self.ctx.edits.replace(parent, f"{request}.query_params")
            if isinstance(target, cst.Call) and any(
                a.keyword and a.keyword.value == "type" for a in target.args
            ):
                self.report(
                    target,
                    code(target),
                    "QueryParams.get() takes no type=: declare a typed query parameter instead",
                )
        else:
            self.report(parent, f"request.{attribute}", suggestion(attribute))

    def _g(self, plan: Plan, ref: cst.CSTNode) -> None:
        # lanner's State has g's methods (get, pop, setdefault, `in`): only the name changes.
        request = self._request_name(plan)
        self.ctx.converted.add(ref)
        self.ctx.edits.replace(ref, f"{request}.state")

    def _session(self, plan: Plan, ref: cst.CSTNode) -> None:
        parent = self.parent(ref)
        if (
            isinstance(parent, cst.Attribute)
            and parent.value is ref
            and parent.attr.value in ("permanent", "modified")
        ):
            self.report(
                parent,
                f"session.{parent.attr.value}",
                "lanner saves a changed session itself and sets "
                "its lifetime with Lanner(session_max_age=...)",
            )
            return
        self.ctx.converted.add(ref)
        session = self._session_name(plan)
        if code(ref) != session:
            self.ctx.edits.replace(ref, session)

    def _session_name(self, plan: Plan) -> str:
        if plan.view:
            plan.needs_session = True
            return plan.session
        return f"{self._request_name(plan)}.session"

    def _current_app(self, plan: Plan, ref: cst.CSTNode) -> None:
        parent = self.parent(ref)
        attribute = parent.attr.value if isinstance(parent, cst.Attribute) and parent.value is ref else ""
        if parent is None:
            return
        if attribute and attribute not in _CURRENT_APP:
            self.report(
                parent,
                f"current_app.{attribute}",
                "lanner's app has no such attribute: pass what the code needs",
            )
            return
        self.ctx.edits.replace(ref, f"{self._request_name(plan)}.app")
        self.ctx.converted.add(ref)
        if attribute == "config":
            self.report(
                parent,
                "current_app.config",
                "became request.app.config: check that lanner's app.config provides what this reads",
                note=True,
            )
