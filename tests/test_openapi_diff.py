from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from lanner.openapi.diff import (
    Change,
    DocumentError,
    diff_documents,
    format_json,
    format_text,
    load_document,
    main,
)

JSON = "application/json"

# --- builders ---------------------------------------------------------------------------------


def api(
    paths: dict[str, Any] | None = None,
    *,
    schemas: dict[str, Any] | None = None,
    version: str = "3.1.0",
    **top: Any,
) -> dict[str, Any]:
    """A whole document; `top` adds root fields such as `security` or `components`."""
    document: dict[str, Any] = {"openapi": version, "info": {"title": "t", "version": "1"}}
    document["paths"] = paths if paths is not None else {}
    if schemas is not None:
        document.setdefault("components", {})["schemas"] = schemas
    document.update(top)
    return document


def operation(
    *,
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    responses: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    op: dict[str, Any] = {"responses": responses if responses is not None else {"200": ok()}}
    if parameters is not None:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = body
    op.update(fields)
    return op


def one(op: dict[str, Any], *, path: str = "/items", method: str = "get", **top: Any) -> dict[str, Any]:
    """A document holding a single operation."""
    return api({path: {method: op}}, **top)


def ok(schema: Any = None, media: str = JSON) -> dict[str, Any]:
    response: dict[str, Any] = {"description": "ok"}
    if schema is not None:
        response["content"] = {media: {"schema": schema}}
    return response


def param(name: str = "q", where: str = "query", *, required: bool = False, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": schema or {"type": "string"}}


def body(schema: Any, *, required: bool = True, media: str = JSON) -> dict[str, Any]:
    return {"required": required, "content": {media: {"schema": schema}}}


def obj(required: list[str] | None = None, **properties: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def request_schema(schema: Any, **top: Any) -> dict[str, Any]:
    return one(operation(body=body(schema)), method="post", **top)


def response_schema(schema: Any, **top: Any) -> dict[str, Any]:
    return one(operation(responses={"200": ok(schema)}), **top)


def query_schema(**schema: Any) -> dict[str, Any]:
    return one(operation(parameters=[{"name": "q", "in": "query", "schema": schema}]))


def kinds(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, bool]]:
    return [(change.kind, change.breaking) for change in diff_documents(old, new)]


STRING = {"type": "string"}
INTEGER = {"type": "integer"}


# --- paths and operations ---------------------------------------------------------------------


def test_identical_documents_have_no_changes() -> None:
    document = request_schema(obj(["name"], name=STRING, tags={"type": "array", "items": STRING}))
    assert diff_documents(document, copy.deepcopy(document)) == []


def test_path_removed_and_added() -> None:
    old = api({"/a": {"get": operation()}})
    new = api({"/b": {"get": operation()}})
    assert diff_documents(old, new) == [
        Change("path-removed", True, "/a", "path removed with all its operations"),
        Change("path-added", False, "/b", "path added"),
    ]


def test_operation_removed_and_added() -> None:
    old = api({"/items": {"get": operation(), "delete": operation()}})
    new = api({"/items": {"get": operation(), "post": operation()}})
    changes = diff_documents(old, new)
    assert [(c.kind, c.breaking, c.location) for c in changes] == [
        ("operation-removed", True, "DELETE /items"),
        ("operation-added", False, "POST /items"),
    ]


def test_renamed_path_parameter_is_the_same_path() -> None:
    old = one(operation(parameters=[param("id", "path", required=True)]), path="/items/{id}")
    new = one(operation(parameters=[param("item_id", "path", required=True)]), path="/items/{item_id}")
    assert diff_documents(old, new) == [
        Change(
            "path-parameter-renamed",
            False,
            "/items/{id}",
            "path parameter {id} renamed to {item_id} (same URLs)",
        )
    ]


def test_renamed_path_parameter_still_compares_its_schema() -> None:
    old = one(operation(parameters=[param("id", "path", type="number")]), path="/items/{id}")
    new = one(operation(parameters=[param("key", "path", type="integer")]), path="/items/{key}")
    changes = diff_documents(old, new)
    assert [(c.kind, c.breaking) for c in changes] == [
        ("parameter-type-narrowed", True),
        ("path-parameter-renamed", False),
    ]
    assert changes[0].location == "GET /items/{id} > path parameter id"


def test_operation_id_change_mentions_generators() -> None:
    old = one(operation(operationId="listItems"))
    new = one(operation(operationId="list_items"))
    [change] = diff_documents(old, new)
    assert (change.kind, change.breaking, change.location) == (
        "operation-id-changed",
        False,
        "GET /items",
    )
    assert "'listItems'" in change.message
    assert "'list_items'" in change.message
    assert "generated clients" in change.message


def test_operation_deprecated_is_not_breaking() -> None:
    assert kinds(one(operation()), one(operation(deprecated=True))) == [("operation-deprecated", False)]


def test_documentation_changes_are_not_reported() -> None:
    old = one(operation(summary="a", description="b", tags=["x"]))
    new = one(operation(summary="c", description="d", tags=["y"]))
    assert diff_documents(old, new) == []


def test_path_item_reference_is_followed() -> None:
    old = api({"/items": {"$ref": "#/components/pathItems/Items"}})
    old["components"] = {"pathItems": {"Items": {"get": operation(), "post": operation()}}}
    new = api({"/items": {"get": operation()}})
    assert kinds(old, new) == [("operation-removed", True)]


# --- parameters -------------------------------------------------------------------------------


def test_required_parameter_added_is_breaking() -> None:
    new = one(operation(parameters=[param("q", required=True)]))
    assert kinds(one(operation()), new) == [("parameter-required-added", True)]


def test_optional_parameter_added_is_not_breaking() -> None:
    new = one(operation(parameters=[param("q")]))
    assert kinds(one(operation()), new) == [("parameter-added", False)]


def test_parameter_made_required_and_optional() -> None:
    optional = one(operation(parameters=[param("q")]))
    required = one(operation(parameters=[param("q", required=True)]))
    assert kinds(optional, required) == [("parameter-made-required", True)]
    assert kinds(required, optional) == [("parameter-made-optional", False)]


@pytest.mark.parametrize("required", [False, True])
def test_parameter_removed_is_not_breaking(required: bool) -> None:
    old = one(operation(parameters=[param("q", required=required)]))
    assert kinds(old, one(operation())) == [("parameter-removed", False)]


def test_parameter_location_changed() -> None:
    old = one(operation(parameters=[param("token")]))
    new = one(operation(parameters=[param("token", "header")]))
    [change] = diff_documents(old, new)
    assert (change.kind, change.breaking) == ("parameter-location-changed", True)
    assert change.location == "GET /items > query parameter token"
    assert change.message == "moved from query to header"


def test_header_parameter_names_ignore_case() -> None:
    old = one(operation(parameters=[param("X-Token", "header")]))
    new = one(operation(parameters=[param("x-token", "header")]))
    assert diff_documents(old, new) == []


def test_operation_parameter_overrides_path_item_parameter() -> None:
    old = api({"/items": {"parameters": [param("q")], "get": operation()}})
    new = api(
        {"/items": {"parameters": [param("q")], "get": operation(parameters=[param("q", required=True)])}}
    )
    assert kinds(old, new) == [("parameter-made-required", True)]


def test_parameter_reference_is_followed() -> None:
    old = one(
        operation(parameters=[{"$ref": "#/components/parameters/Limit"}]),
        components={"parameters": {"Limit": param("limit", type="integer", maximum=100)}},
    )
    new = one(
        operation(parameters=[{"$ref": "#/components/parameters/Limit"}]),
        components={"parameters": {"Limit": param("limit", type="integer", maximum=50)}},
    )
    [change] = diff_documents(old, new)
    assert (change.kind, change.breaking) == ("parameter-constraint-tightened", True)
    assert change.location == "GET /items > query parameter limit"
    assert change.message == "maximum changed from 100 to 50"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ({"type": "string"}, {"type": "integer"}, ("parameter-type-changed", True)),
        ({"type": "number"}, {"type": "integer"}, ("parameter-type-narrowed", True)),
        ({"type": "integer"}, {"type": "number"}, ("parameter-type-widened", False)),
        (
            {"type": "integer", "format": "int64"},
            {"type": "integer", "format": "int32"},
            ("parameter-type-narrowed", True),
        ),
        (
            {"type": "integer", "format": "int32"},
            {"type": "integer", "format": "int64"},
            ("parameter-type-widened", False),
        ),
        ({"type": "string"}, {"type": "string", "format": "uuid"}, ("parameter-type-narrowed", True)),
        ({"type": "string", "format": "uuid"}, {"type": "string"}, ("parameter-type-widened", False)),
        (
            {"type": "string", "format": "date"},
            {"type": "string", "format": "date-time"},
            ("parameter-type-changed", True),
        ),
        ({}, {"type": "string"}, ("parameter-type-narrowed", True)),
    ],
)
def test_parameter_type_changes(old: dict[str, Any], new: dict[str, Any], expected: tuple[str, bool]) -> None:
    assert kinds(query_schema(**old), query_schema(**new)) == [expected]


def test_parameter_type_change_message() -> None:
    [change] = diff_documents(query_schema(type="number"), query_schema(type="integer"))
    assert change.message == "type narrowed from number to integer"


def test_parameter_enum_value_removed_and_added() -> None:
    ab = query_schema(type="string", enum=["a", "b"])
    ac = query_schema(type="string", enum=["a", "b", "c"])
    assert kinds(ac, ab) == [("parameter-enum-value-removed", True)]
    assert kinds(ab, ac) == [("parameter-enum-value-added", False)]
    assert kinds(query_schema(type="string"), ab) == [("parameter-enum-added", True)]
    assert kinds(ab, query_schema(type="string")) == [("parameter-enum-removed", False)]


@pytest.mark.parametrize(
    ("loose", "tight"),
    [
        ({"type": "string", "maxLength": 20}, {"type": "string", "maxLength": 10}),
        ({"type": "string"}, {"type": "string", "maxLength": 10}),
        ({"type": "string", "minLength": 1}, {"type": "string", "minLength": 2}),
        ({"type": "integer", "maximum": 10}, {"type": "integer", "maximum": 5}),
        ({"type": "integer", "minimum": 1}, {"type": "integer", "minimum": 2}),
        ({"type": "integer", "maximum": 10}, {"type": "integer", "exclusiveMaximum": 10}),
        (
            {"type": "integer", "minimum": 0},
            {"type": "integer", "minimum": 0, "exclusiveMinimum": True},
        ),
        ({"type": "string"}, {"type": "string", "pattern": "^a"}),
        ({"type": "array", "maxItems": 5}, {"type": "array", "maxItems": 3}),
        ({"type": "array", "minItems": 0}, {"type": "array", "minItems": 1}),
        ({"type": "array"}, {"type": "array", "uniqueItems": True}),
        ({"type": "number", "multipleOf": 5}, {"type": "number", "multipleOf": 10}),
    ],
)
def test_parameter_constraints(loose: dict[str, Any], tight: dict[str, Any]) -> None:
    assert kinds(query_schema(**loose), query_schema(**tight)) == [("parameter-constraint-tightened", True)]
    assert kinds(query_schema(**tight), query_schema(**loose)) == [("parameter-constraint-loosened", False)]


def test_changed_pattern_is_tightened_both_ways() -> None:
    a, b = query_schema(pattern="^a"), query_schema(pattern="^b")
    assert kinds(a, b) == [("parameter-constraint-tightened", True)]
    assert kinds(b, a) == [("parameter-constraint-tightened", True)]


def test_parameter_nullable_removed_and_added() -> None:
    nullable = query_schema(type=["string", "null"])
    assert kinds(nullable, query_schema(type="string")) == [("parameter-nullable-removed", True)]
    assert kinds(query_schema(type="string"), nullable) == [("parameter-nullable-added", False)]


def test_parameter_style_changed() -> None:
    old = one(operation(parameters=[param("ids", type="array", items=STRING)]))
    new = one(operation(parameters=[{**param("ids", type="array", items=STRING), "explode": False}]))
    assert kinds(old, new) == [("parameter-style-changed", True)]


def test_parameter_deprecated() -> None:
    new = one(operation(parameters=[{**param("q"), "deprecated": True}]))
    assert kinds(one(operation(parameters=[param("q")])), new) == [("parameter-deprecated", False)]


def test_parameter_with_content_compares_its_schema() -> None:
    def doc(kind: str) -> dict[str, Any]:
        content = {JSON: {"schema": {"type": kind}}}
        return one(operation(parameters=[{"name": "f", "in": "query", "content": content}]))

    assert kinds(doc("number"), doc("integer")) == [("parameter-type-narrowed", True)]


# --- request bodies ---------------------------------------------------------------------------


def test_request_body_added() -> None:
    old = one(operation(), method="post")
    required = one(operation(body=body(STRING)), method="post")
    optional = one(operation(body=body(STRING, required=False)), method="post")
    assert kinds(old, required) == [("request-body-required-added", True)]
    assert kinds(old, optional) == [("request-body-added", False)]
    assert kinds(required, old) == [("request-body-removed", False)]


def test_request_body_made_required_and_optional() -> None:
    required = one(operation(body=body(STRING)), method="post")
    optional = one(operation(body=body(STRING, required=False)), method="post")
    assert kinds(optional, required) == [("request-body-made-required", True)]
    assert kinds(required, optional) == [("request-body-made-optional", False)]


def test_request_media_type_removed_and_added() -> None:
    json_only = one(operation(body=body(STRING)), method="post")
    both = copy.deepcopy(json_only)
    both["paths"]["/items"]["post"]["requestBody"]["content"]["text/plain"] = {"schema": STRING}
    assert kinds(both, json_only) == [("request-media-type-removed", True)]
    assert kinds(json_only, both) == [("request-media-type-added", False)]
    [change] = diff_documents(both, json_only)
    assert change.location == "POST /items > request body [text/plain]"


def test_request_body_reference_is_followed() -> None:
    def doc(required: bool) -> dict[str, Any]:
        return one(
            operation(body={"$ref": "#/components/requestBodies/Item"}),
            method="post",
            components={"requestBodies": {"Item": body(STRING, required=required)}},
        )

    assert kinds(doc(False), doc(True)) == [("request-body-made-required", True)]


def test_request_new_required_property_is_breaking() -> None:
    old = request_schema(obj(name=STRING))
    new = request_schema(obj(["age"], name=STRING, age=INTEGER))
    [change] = diff_documents(old, new)
    assert (change.kind, change.breaking) == ("request-required-property-added", True)
    assert change.location == "POST /items > request body > $.age"


def test_request_new_optional_property_is_not_breaking() -> None:
    old = request_schema(obj(name=STRING))
    new = request_schema(obj(name=STRING, age=INTEGER))
    assert kinds(old, new) == [("request-property-added", False)]


def test_request_property_made_required_and_optional() -> None:
    optional = request_schema(obj(name=STRING))
    required = request_schema(obj(["name"], name=STRING))
    assert kinds(optional, required) == [("request-property-made-required", True)]
    assert kinds(required, optional) == [("request-property-made-optional", False)]


def test_request_property_type_narrowed_and_widened() -> None:
    number = request_schema(obj(n={"type": "number"}))
    integer = request_schema(obj(n=INTEGER))
    assert kinds(number, integer) == [("request-type-narrowed", True)]
    assert kinds(integer, number) == [("request-type-widened", False)]
    assert kinds(integer, request_schema(obj(n=STRING))) == [("request-type-changed", True)]


def test_request_enum_and_constraint_changes() -> None:
    old = request_schema(obj(kind={"type": "string", "enum": ["a", "b"], "maxLength": 5}))
    new = request_schema(obj(kind={"type": "string", "enum": ["a", "c"], "maxLength": 3}))
    assert sorted(kinds(old, new)) == [
        ("request-constraint-tightened", True),
        ("request-enum-value-added", False),
        ("request-enum-value-removed", True),
    ]


def test_request_additional_properties_restricted_and_allowed() -> None:
    open_schema = request_schema(obj(name=STRING))
    closed = request_schema({**obj(name=STRING), "additionalProperties": False})
    assert kinds(open_schema, closed) == [("request-additional-properties-restricted", True)]
    assert kinds(closed, open_schema) == [("request-additional-properties-allowed", False)]


def test_request_property_removed_depends_on_additional_properties() -> None:
    old = request_schema(obj(name=STRING, age=INTEGER))
    assert kinds(old, request_schema(obj(name=STRING))) == [("request-property-removed", False)]
    closed_old = request_schema({**obj(name=STRING, age=INTEGER), "additionalProperties": False})
    closed_new = request_schema({**obj(name=STRING), "additionalProperties": False})
    [change] = diff_documents(closed_old, closed_new)
    assert (change.kind, change.breaking) == ("request-property-removed", True)
    assert "refused" in change.message


def test_request_changes_are_found_through_items_and_compositions() -> None:
    def doc(item: str) -> dict[str, Any]:
        tags = {"type": "array", "items": {"type": item}}
        return request_schema(
            {"allOf": [{"$ref": "#/components/schemas/Base"}, obj(tags=tags)]},
            schemas={"Base": obj(id=INTEGER)},
        )

    [change] = diff_documents(doc("number"), doc("integer"))
    assert change.kind == "request-type-narrowed"
    assert change.location == "POST /items > request body > $.tags[]"


def test_request_allof_member_change_is_found() -> None:
    def doc(required: list[str]) -> dict[str, Any]:
        return request_schema(
            {"allOf": [{"$ref": "#/components/schemas/Base"}, obj(name=STRING)]},
            schemas={"Base": obj(required, id=INTEGER)},
        )

    assert kinds(doc([]), doc(["id"])) == [("request-property-made-required", True)]


def test_request_variants() -> None:
    two = request_schema({"oneOf": [STRING, INTEGER]})
    three = request_schema({"oneOf": [STRING, INTEGER, {"type": "boolean"}]})
    assert kinds(two, three) == [("request-variant-added", False)]
    assert kinds(three, two) == [("request-variant-removed", True)]


def test_variant_change_is_found_inside_a_matched_variant() -> None:
    def doc(maximum: int) -> dict[str, Any]:
        cat = obj(lives={"type": "integer", "maximum": maximum})
        return request_schema(
            {"anyOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}]},
            schemas={"Cat": cat, "Dog": obj(bark=STRING)},
        )

    [change] = diff_documents(doc(9), doc(7))
    assert change.kind == "request-constraint-tightened"
    assert change.location == "POST /items > request body > $.anyOf[0].lives"


def test_single_schema_compared_with_its_variants() -> None:
    old = request_schema({"$ref": "#/components/schemas/Cat"}, schemas={"Cat": obj(a=STRING)})
    new = request_schema(
        {"oneOf": [{"$ref": "#/components/schemas/Cat"}, INTEGER]}, schemas={"Cat": obj(a=STRING)}
    )
    assert kinds(old, new) == [("request-variant-added", False)]
    assert kinds(new, old) == [("request-variant-removed", True)]


def test_read_only_properties_are_not_part_of_requests() -> None:
    old = request_schema(obj(name=STRING))
    new = request_schema(obj(["id"], name=STRING, id={"type": "integer", "readOnly": True}))
    assert diff_documents(old, new) == []


def test_request_nullable_removed() -> None:
    old = request_schema(obj(note={"type": "string", "nullable": True}))
    new = request_schema(obj(note=STRING))
    assert kinds(old, new) == [("request-nullable-removed", True)]


# --- responses --------------------------------------------------------------------------------


def test_response_status_removed_and_added() -> None:
    old = one(operation(responses={"200": ok(), "404": ok()}))
    new = one(operation(responses={"200": ok(), "409": ok()}))
    changes = diff_documents(old, new)
    assert [(c.kind, c.breaking, c.location) for c in changes] == [
        ("response-status-removed", True, "GET /items > response 404"),
        ("response-status-added", False, "GET /items > response 409"),
    ]


def test_response_status_covered_by_a_range_is_kept() -> None:
    old = one(operation(responses={"200": ok(STRING)}))
    new = one(operation(responses={"2XX": ok(STRING)}))
    assert kinds(old, new) == [("response-status-added", False)]


def test_response_media_type_removed_and_added() -> None:
    json_only = one(operation(responses={"200": ok(STRING)}))
    csv_only = one(operation(responses={"200": ok(STRING, "text/csv")}))
    assert sorted(kinds(json_only, csv_only)) == [
        ("response-media-type-added", False),
        ("response-media-type-removed", True),
    ]


def test_response_reference_is_followed() -> None:
    def doc(schema: dict[str, Any]) -> dict[str, Any]:
        return one(
            operation(responses={"200": {"$ref": "#/components/responses/Item"}}),
            components={"responses": {"Item": ok(schema)}},
        )

    assert kinds(doc(obj(name=STRING)), doc(obj())) == [("response-property-removed", True)]


def test_response_property_removed_is_breaking() -> None:
    old = response_schema(obj(name=STRING, age=INTEGER))
    [change] = diff_documents(old, response_schema(obj(name=STRING)))
    assert (change.kind, change.breaking) == ("response-property-removed", True)
    assert change.location == "GET /items > response 200 > $.age"


def test_response_property_made_optional_is_breaking() -> None:
    required = response_schema(obj(["name"], name=STRING))
    optional = response_schema(obj(name=STRING))
    assert kinds(required, optional) == [("response-property-made-optional", True)]
    assert kinds(optional, required) == [("response-property-made-required", False)]


def test_response_property_made_nullable_is_breaking() -> None:
    old = response_schema(obj(name=STRING))
    new = response_schema(obj(name={"anyOf": [STRING, {"type": "null"}]}))
    assert kinds(old, new) == [("response-nullable-added", True)]
    assert kinds(new, old) == [("response-nullable-removed", False)]


def test_response_type_changes() -> None:
    integer, number = response_schema(INTEGER), response_schema({"type": "number"})
    assert kinds(integer, number) == [("response-type-widened", True)]
    assert kinds(number, integer) == [("response-type-narrowed", False)]
    assert kinds(integer, response_schema(STRING)) == [("response-type-changed", True)]


def test_response_enum_value_added_is_breaking() -> None:
    ab = response_schema({"type": "string", "enum": ["a", "b"]})
    abc = response_schema({"type": "string", "enum": ["a", "b", "c"]})
    assert kinds(ab, abc) == [("response-enum-value-added", True)]
    assert kinds(abc, ab) == [("response-enum-value-removed", False)]


def test_response_new_property_is_not_breaking() -> None:
    old = response_schema(obj(name=STRING))
    new = response_schema(obj(["id"], name=STRING, id=INTEGER))
    assert kinds(old, new) == [("response-required-property-added", False)]


def test_response_constraints_are_not_reported() -> None:
    old = response_schema({"type": "string", "maxLength": 5, "pattern": "^a"})
    new = response_schema({"type": "string", "maxLength": 50})
    assert diff_documents(old, new) == []


def test_response_variant_added_is_breaking() -> None:
    old = response_schema({"oneOf": [STRING, INTEGER]})
    new = response_schema({"oneOf": [STRING, INTEGER, {"type": "boolean"}]})
    assert kinds(old, new) == [("response-variant-added", True)]


def test_write_only_properties_are_not_part_of_responses() -> None:
    old = response_schema(obj(name=STRING, password={"type": "string", "writeOnly": True}))
    assert diff_documents(old, response_schema(obj(name=STRING))) == []


# --- security ---------------------------------------------------------------------------------

SCHEMES = {"securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "K"}}}


def test_security_added_to_an_operation_is_breaking() -> None:
    old = one(operation(), components=SCHEMES)
    new = one(operation(security=[{"key": []}]), components=SCHEMES)
    assert kinds(old, new) == [("security-added", True)]
    assert kinds(new, old) == [("security-removed", False)]


def test_security_added_at_the_document_level_is_breaking() -> None:
    old = one(operation(), components=SCHEMES)
    new = one(operation(), components=SCHEMES, security=[{"key": []}])
    assert kinds(old, new) == [("security-added", True)]


def test_optional_security_is_no_security() -> None:
    old = one(operation(), components=SCHEMES)
    new = one(operation(security=[{}, {"key": []}]), components=SCHEMES)
    assert diff_documents(old, new) == []


def test_security_changed() -> None:
    key = one(operation(security=[{"key": []}]))
    oauth = one(operation(security=[{"oauth": ["read"]}]))
    either = one(operation(security=[{"oauth": ["read"]}, {"key": []}]))
    assert kinds(key, oauth) == [("security-changed", True)]
    assert kinds(key, either) == [("security-changed", False)]
    more_scopes = one(operation(security=[{"oauth": ["read", "write"]}]))
    assert kinds(oauth, more_scopes) == [("security-changed", True)]
    assert kinds(more_scopes, oauth) == [("security-changed", False)]


# --- references, recursion, nullable spellings ------------------------------------------------


def test_change_inside_a_component_is_located_at_the_operation() -> None:
    def doc(name_type: str) -> dict[str, Any]:
        return response_schema(
            {"$ref": "#/components/schemas/Item"}, schemas={"Item": obj(name={"type": name_type})}
        )

    [change] = diff_documents(doc("string"), doc("integer"))
    assert change == Change(
        "response-type-changed",
        True,
        "GET /items > response 200 > $.name",
        "type changed from string to integer",
    )


def test_recursive_schema_does_not_loop() -> None:
    def doc(required: list[str]) -> dict[str, Any]:
        node = obj(
            required,
            name=STRING,
            children={"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
            parent={"anyOf": [{"$ref": "#/components/schemas/Node"}, {"type": "null"}]},
        )
        return request_schema({"$ref": "#/components/schemas/Node"}, schemas={"Node": node})

    assert diff_documents(doc([]), doc([])) == []
    changes = diff_documents(doc([]), doc(["name"]))
    assert [(c.kind, c.location) for c in changes] == [
        ("request-property-made-required", "POST /items > request body > $.name")
    ]


def test_shared_components_are_reported_once_per_schema_but_in_every_operation() -> None:
    def doc(zip_type: str) -> dict[str, Any]:
        address = {"$ref": "#/components/schemas/Address"}
        order = {"$ref": "#/components/schemas/Order"}
        paths = {
            "/orders": {"post": operation(body=body(order))},
            "/addresses": {"post": operation(body=body(address))},
        }
        schemas = {
            "Address": obj(zip={"type": zip_type}),
            "Order": obj(billing=address, shipping=address),
        }
        return api(paths, schemas=schemas)

    changes = diff_documents(doc("number"), doc("integer"))
    assert [c.location for c in changes] == [
        "POST /addresses > request body > $.zip",
        "POST /orders > request body > $.billing.zip",
    ]


def test_deeply_shared_components_do_not_explode() -> None:
    def doc(leaf: str) -> dict[str, Any]:
        schemas: dict[str, Any] = {
            f"S{i}": obj(
                a={"$ref": f"#/components/schemas/S{i + 1}"},
                b={"type": "array", "items": {"$ref": f"#/components/schemas/S{i + 1}"}},
            )
            for i in range(40)
        }
        schemas["S40"] = {"type": leaf}
        return request_schema({"$ref": "#/components/schemas/S0"}, schemas=schemas)

    [change] = diff_documents(doc("number"), doc("integer"))
    assert change.location == "POST /items > request body > $" + ".a" * 40


def test_mutually_recursive_references_do_not_loop() -> None:
    schemas = {"A": {"$ref": "#/components/schemas/B"}, "B": {"$ref": "#/components/schemas/A"}}
    document = response_schema({"$ref": "#/components/schemas/A"}, schemas=schemas)
    assert diff_documents(document, copy.deepcopy(document)) == []


@pytest.mark.parametrize(
    ("old_schema", "new_schema"),
    [
        ({"type": "string", "nullable": True}, {"type": ["string", "null"]}),
        ({"type": "string", "nullable": True}, {"anyOf": [STRING, {"type": "null"}]}),
        ({"type": "string", "nullable": True}, {"oneOf": [{"type": "null"}, STRING]}),
        (
            {"type": "string", "nullable": True, "enum": ["a"]},
            {"type": ["string", "null"], "enum": ["a", None]},
        ),
    ],
)
def test_nullable_spellings_compare_equal(old_schema: dict[str, Any], new_schema: dict[str, Any]) -> None:
    old = response_schema(obj(note=old_schema), version="3.0.3")
    new = response_schema(obj(note=new_schema), version="3.1.0")
    assert diff_documents(old, new) == []
    assert diff_documents(new, old) == []


def test_nullable_reference_spellings_compare_equal() -> None:
    schemas = {"Tag": obj(name=STRING)}
    old = response_schema(
        obj(tag={"allOf": [{"$ref": "#/components/schemas/Tag"}], "nullable": True}),
        schemas=schemas,
    )
    new = response_schema(
        obj(tag={"anyOf": [{"$ref": "#/components/schemas/Tag"}, {"type": "null"}]}),
        schemas=schemas,
    )
    assert diff_documents(old, new) == []


def test_missing_and_external_references_do_not_crash() -> None:
    old = response_schema({"$ref": "#/components/schemas/Missing"})
    new = response_schema({"$ref": "other.json#/Item"})
    assert diff_documents(old, new) == []


def test_malformed_parts_are_ignored() -> None:
    old = api({"/a": "nonsense", "/b": {"get": {"parameters": [{"in": "query"}, 3], "responses": 1}}})
    new = api({"/a": {"get": "x"}, "/b": {"get": {"parameters": "x", "requestBody": 1}}})
    assert diff_documents(old, new) == []


def test_breaking_changes_come_first_then_by_location() -> None:
    old = api({"/b": {"get": operation(), "post": operation()}, "/c": {"get": operation()}})
    new = api({"/a": {"get": operation()}, "/b": {"get": operation(deprecated=True)}})
    assert [(c.breaking, c.location) for c in diff_documents(old, new)] == [
        (True, "/c"),
        (True, "POST /b"),
        (False, "/a"),
        (False, "GET /b"),
    ]


# --- formatting -------------------------------------------------------------------------------

CHANGES = [
    Change("operation-removed", True, "DELETE /items", "operation removed"),
    Change("path-added", False, "/new", "path added"),
]


def test_format_text() -> None:
    assert format_text(CHANGES) == (
        "BREAKING  DELETE /items: operation removed\n"
        "ok        /new: path added\n"
        "1 breaking, 1 non-breaking change(s)"
    )
    assert format_text([]) == "0 breaking, 0 non-breaking change(s)"


def test_format_json() -> None:
    assert json.loads(format_json(CHANGES)) == {
        "breaking": 1,
        "non_breaking": 1,
        "changes": [
            {
                "kind": "operation-removed",
                "breaking": True,
                "location": "DELETE /items",
                "message": "operation removed",
            },
            {"kind": "path-added", "breaking": False, "location": "/new", "message": "path added"},
        ],
    }


def test_change_is_frozen() -> None:
    with pytest.raises(AttributeError):
        CHANGES[0].breaking = False  # type: ignore[misc]


# --- reading schemas: untyped, boolean and unusual spellings ------------------------------------


def test_a_schema_without_type_reads_its_type_from_its_keywords() -> None:
    [change] = diff_documents(request_schema({"properties": {"a": STRING}}), request_schema(STRING))
    assert (change.kind, change.message) == ("request-type-changed", "type changed from object to string")
    [change] = diff_documents(request_schema({"items": STRING}), request_schema(STRING))
    assert (change.kind, change.message) == ("request-type-changed", "type changed from array to string")


def test_a_false_schema_accepts_nothing() -> None:
    [change] = diff_documents(request_schema(obj(a=STRING)), request_schema(obj(a=False)))
    assert (change.kind, change.breaking, change.location) == (
        "request-type-narrowed",
        True,
        "POST /items > request body > $.a",
    )
    assert change.message == "type narrowed from string to nothing"


def test_const_reads_as_a_one_value_enum() -> None:
    const = {"type": "string", "const": "a"}
    enum = {"type": "string", "enum": ["a", "b"]}
    assert kinds(request_schema(const), request_schema(enum)) == [("request-enum-value-added", False)]
    assert kinds(response_schema(const), response_schema(enum)) == [("response-enum-value-added", True)]
    assert diff_documents(request_schema(const), request_schema({"type": "string", "enum": ["a"]})) == []


def test_the_tighter_of_two_bounds_is_the_one_compared() -> None:
    maximum = query_schema(type="integer", maximum=10)
    # exclusiveMaximum 12 allows more than maximum 10: the pair means "at most 10".
    assert diff_documents(maximum, query_schema(type="integer", maximum=10, exclusiveMaximum=12)) == []
    assert kinds(maximum, query_schema(type="integer", maximum=12, exclusiveMaximum=10)) == [
        ("parameter-constraint-tightened", True)
    ]


def test_unevaluated_properties_false_refuses_unknown_properties() -> None:
    closed = request_schema({**obj(name=STRING), "unevaluatedProperties": False})
    assert kinds(request_schema(obj(name=STRING)), closed) == [
        ("request-additional-properties-restricted", True)
    ]


def test_a_map_compares_its_value_schema() -> None:
    def doc(value: dict[str, Any]) -> dict[str, Any]:
        return request_schema({"type": "object", "additionalProperties": value})

    [change] = diff_documents(doc({"type": "number"}), doc(INTEGER))
    assert (change.kind, change.location) == ("request-type-narrowed", "POST /items > request body > $.*")


def test_a_reference_into_a_list_is_followed() -> None:
    def doc(kind: str) -> dict[str, Any]:
        shared = {"$ref": "#/paths/~1items/get/parameters/0"}
        return api(
            {
                "/items": {"get": operation(parameters=[param("q", type=kind)])},
                "/other": {"get": operation(parameters=[shared])},
            }
        )

    changes = diff_documents(doc("number"), doc("integer"))
    assert [(c.kind, c.location) for c in changes] == [
        ("parameter-type-narrowed", "GET /items > query parameter q"),
        ("parameter-type-narrowed", "GET /other > query parameter q"),
    ]


def test_cyclic_and_dangling_parameter_references_read_as_nothing() -> None:
    cycle = {
        "parameters": {"A": {"$ref": "#/components/parameters/B"}, "B": {"$ref": "#/components/parameters/A"}}
    }
    looping = one(operation(parameters=[{"$ref": "#/components/parameters/A"}]), components=cycle)
    assert diff_documents(looping, one(operation(parameters=[]), components=cycle)) == []
    dangling = one(operation(parameters=[{"$ref": "#/components/parameters/Nope"}]))
    assert kinds(dangling, one(operation(parameters=[param("q", required=True)]))) == [
        ("parameter-required-added", True)
    ]


# --- loading ----------------------------------------------------------------------------------


def write(tmp_path: Path, name: str, document: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def test_load_json_document(tmp_path: Path) -> None:
    document = api({"/a": {"get": operation()}})
    assert load_document(write(tmp_path, "a.json", document)) == document
    assert load_document(str(tmp_path / "a.json")) == document


def test_load_yaml_document(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    path = write(tmp_path, "a.yaml", "openapi: 3.1.0\npaths:\n  /a:\n    get:\n      responses: {}\n")
    assert load_document(path) == {"openapi": "3.1.0", "paths": {"/a": {"get": {"responses": {}}}}}
    with pytest.raises(DocumentError, match="not valid YAML"):
        load_document(write(tmp_path, "b.yml", "openapi: [unclosed\n"))


def test_yaml_status_codes_read_as_numbers_match_json_ones(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    yaml_text = "openapi: 3.1.0\npaths:\n  /a:\n    get:\n      responses:\n        200: {description: ok}\n"
    from_yaml = load_document(write(tmp_path, "a.yaml", yaml_text))
    from_json = api({"/a": {"get": {"responses": {"200": {"description": "ok"}}}}})
    assert diff_documents(from_json, from_yaml) == []


def test_load_yaml_without_pyyaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(DocumentError, match="PyYAML"):
        load_document(write(tmp_path, "a.yml", "openapi: 3.1.0\n"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"not valid JSON: .*\(line 1, column 2\)"),
        ('["openapi"]', "no 'openapi' version"),
        ('{"paths": {}}', "no 'openapi' version"),
        ('{"openapi": "3.1.0"}', "no 'paths' object"),
        ('{"openapi": "3.1.0", "paths": []}', "no 'paths' object"),
        ('{"swagger": "2.0", "paths": {}}', "Swagger 2"),
    ],
)
def test_load_invalid_documents(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(DocumentError, match=message):
        load_document(write(tmp_path, "doc.json", content))


def test_load_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=r"cannot read .*missing\.json"):
        load_document(tmp_path / "missing.json")
    with pytest.raises(DocumentError, match="cannot read"):
        load_document(tmp_path)
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DocumentError, match="not UTF-8"):
        load_document(binary)


# --- command line -----------------------------------------------------------------------------


@pytest.fixture
def documents(tmp_path: Path) -> dict[str, Path]:
    base = api({"/items": {"get": operation(), "post": operation()}})
    additive = api({"/items": {"get": operation(), "post": operation()}, "/new": {"get": operation()}})
    breaking = api({"/items": {"get": operation()}})
    return {
        "base": write(tmp_path, "base.json", base),
        "additive": write(tmp_path, "additive.json", additive),
        "breaking": write(tmp_path, "breaking.json", breaking),
        "not-openapi": write(tmp_path, "other.json", {"name": "package"}),
    }


def test_main_without_breaking_changes(
    documents: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diff", str(documents["base"]), str(documents["additive"])]) == 0
    out = capsys.readouterr().out
    assert out == "ok        /new: path added\n0 breaking, 1 non-breaking change(s)\n"


def test_main_with_breaking_changes(documents: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(documents["base"]), str(documents["breaking"])]) == 1
    out = capsys.readouterr().out
    assert out.startswith("BREAKING  POST /items: operation removed\n")


@pytest.mark.parametrize(("new", "status"), [("base", 0), ("additive", 0), ("breaking", 1)])
def test_main_json_format(
    documents: dict[str, Path], capsys: pytest.CaptureFixture[str], new: str, status: int
) -> None:
    argv = ["diff", str(documents["base"]), str(documents[new]), "--format", "json"]
    assert main(argv) == status
    report = json.loads(capsys.readouterr().out)
    assert report["breaking"] == status
    assert len(report["changes"]) == report["breaking"] + report["non_breaking"]


@pytest.mark.parametrize(
    "argv",
    [[], ["diff"], ["diff", "a.json"], ["merge", "a", "b"], ["diff", "a", "b", "--format", "xml"]],
)
def test_main_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_main_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "--help"]) == 0
    assert "OLD" in capsys.readouterr().out


def test_main_unreadable_file(
    documents: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diff", str(documents["base"]), str(tmp_path / "nope.json")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "error: cannot read" in captured.err
    assert "nope.json" in captured.err


def test_main_not_openapi(documents: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(documents["not-openapi"]), str(documents["base"])]) == 2
    assert "is not an OpenAPI document" in capsys.readouterr().err


def test_the_module_runs_as_a_script(
    documents: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import runpy

    # A fresh copy runs as __main__; the imported module stays as it was.
    monkeypatch.delitem(sys.modules, "lanner.openapi.diff")
    monkeypatch.setattr(sys, "argv", ["diff", "diff", str(documents["base"]), str(documents["breaking"])])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("lanner.openapi.diff", run_name="__main__")
    assert exited.value.code == 1
    assert capsys.readouterr().out.endswith("1 breaking, 0 non-breaking change(s)\n")
