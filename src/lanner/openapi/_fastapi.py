"""FastAPI's conventions for ``compat="fastapi"``: its parameters, request bodies and declared responses."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from lanner import status
from lanner._validation import SourceValidator

from ._model import (
    LOCATIONS,
    Operation,
    Schemas,
    Signature,
    named_definition,
    problem_content,
    source_entries,
    whole_body,
)
from .naming import deep_update, fastapi_title

# FastAPI's descriptions of the status ranges a declared response may use.
_RANGE_DESCRIPTIONS = {
    "1XX": "Information",
    "2XX": "Success",
    "3XX": "Redirection",
    "4XX": "Client Error",
    "5XX": "Server Error",
    "DEFAULT": "Default Response",
}


FASTAPI_BINARY = {"type": "string", "contentMediaType": "application/octet-stream"}


class FastAPISchemaGenerator(GenerateJsonSchema):
    """pydantic's generator as FastAPI configures it: bytes are documented as binary content."""

    def bytes_schema(self, schema: Any) -> dict[str, Any]:
        json_schema: dict[str, Any] = dict(FASTAPI_BINARY)
        config = self._config
        mode = config.ser_json_bytes if self.mode == "serialization" else config.val_json_bytes
        if mode == "base64":
            json_schema["contentEncoding"] = "base64"
        self.update_with_validations(json_schema, schema, self.ValidationsMapping.bytes)
        return json_schema


def fastapi_parameters(operation: Operation, schemas: Schemas) -> list[dict[str, Any]]:
    """FastAPI's parameters: grouped by location, titled schemas, descriptions copied out."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    required: dict[tuple[str, str], dict[str, Any]] = {}
    for location in LOCATIONS:
        entries = [
            (sort_key, name, prop, is_required)
            for source in operation.sources
            if source.location == location
            for sort_key, name, prop, is_required in source_entries(source, schemas)
        ]
        for _, name, prop, is_required in sorted(entries, key=lambda entry: entry[0]):
            parameter: dict[str, Any] = {
                "name": name,
                "in": location,
                "required": location == "path" or is_required,
                "schema": prop,
            }
            if prop.get("description"):
                parameter["description"] = prop["description"]
            if prop.get("deprecated"):
                parameter["deprecated"] = True
            # Like FastAPI: a later declaration of the same parameter replaces an earlier one, in
            # the earlier one's place, and a required declaration wins over optional ones.
            found[(location, name)] = parameter
            if parameter["required"]:
                required[(location, name)] = parameter
    found.update(required)
    return list(found.values())


def fastapi_title_unless_ref(schema: dict[str, Any], title: str) -> dict[str, Any]:
    if "$ref" in schema:
        return schema
    return {**schema, "title": schema.get("title") or title}


def binary_as_fastapi(schema: Any) -> Any:
    """Uploads as FastAPI documents them (binary content), not as lanner does (``format: binary``)."""
    if isinstance(schema, dict):
        if schema.get("type") == "string" and schema.get("format") == "binary":
            rest = {k: v for k, v in schema.items() if k not in ("type", "format")}
            return {**FASTAPI_BINARY, **{k: binary_as_fastapi(v) for k, v in rest.items()}}
        return {k: binary_as_fastapi(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [binary_as_fastapi(item) for item in schema]
    return schema


def ordered_object(
    parts: Iterable[tuple[tuple[int, int], SourceValidator | None, Signature, dict[str, Any]]],
) -> dict[str, Any]:
    """The properties of several parts in the order of the parameters that declare them."""
    entries = []
    for (step, position), validator, signature, schema in parts:
        specs = {spec.key: spec for spec in validator.fields} if validator is not None else {}
        required = set(schema.get("required", ()))
        for index, (name, prop) in enumerate(schema.get("properties", {}).items()):
            spec = specs.get(name)
            if spec is not None and spec.name in signature.hidden:
                continue
            where = signature.positions.get(spec.name, 0) if spec is not None else position
            entries.append(((step, where, index), name, prop, name in required))
    properties: dict[str, Any] = {}
    required_names: list[str] = []
    for _, name, prop, is_required in sorted(entries, key=lambda entry: entry[0]):
        properties.setdefault(name, prop)
        if is_required and name not in required_names:
            required_names.append(name)
    merged: dict[str, Any] = {"properties": properties, "type": "object"}
    if required_names:
        merged["required"] = required_names
    return merged


def fastapi_request_body(operation: Operation, schemas: Schemas) -> dict[str, Any] | None:
    """FastAPI's request body: one value as it is, several keys (or a form) as ``Body_<id>``."""
    name = "Body_" + operation.slot.unique_id
    if operation.body_keys:
        parts = [part for part in operation.bodies if part.plan.form is None]
        media_types = {part.plan.media_type for part in parts}
        media_type = media_types.pop() if len(media_types) == 1 else "application/json"
        whole = whole_body(operation)
        if whole is not None:
            plan = whole[0].plan
            title = fastapi_title(plan.whole_key or plan.whole_name)
            schema = fastapi_title_unless_ref(schemas.results[whole[1]], title)
        else:
            inline = ordered_object(
                ((part.step, 0), part.plan.embedded, part.signature, schemas.results[key])
                for part, key in zip(parts, operation.body_keys, strict=True)
            )
            schema = named_definition(schemas, name, inline)
        required = any(part.plan.required for part in parts)
    elif operation.form_parts:
        media_type = operation.form_media_type
        if operation.form_model is not None:
            # One model read from the form: FastAPI documents the model itself.
            schema = schemas.results[operation.form_model]
        else:
            # The fields (and files) are properties; each model read from the form is one of the
            # schemas the body must also match (``allOf``), in the order of the parameters.
            fields = []
            models = []
            for part, kind, key in operation.form_parts:
                form = part.plan.form
                assert form is not None
                if kind == "fields":
                    fields.append(((part.step, 0), form.fields, part.signature, schemas.results[key]))
                elif kind == "files":
                    fields.append(((part.step, 0), form.files, part.signature, schemas.results[key]))
                else:
                    position = part.signature.positions.get(kind.removeprefix("model:"), 0)
                    models.append(((part.step, position), schemas.results[key]))
            merged = binary_as_fastapi(ordered_object(fields))
            if not merged["properties"]:
                del merged["properties"]
            if models:
                merged["allOf"] = [schema for _, schema in sorted(models, key=lambda model: model[0])]
            schema = named_definition(schemas, name, merged)
        required = any(part.plan.required for part in operation.bodies)
    else:
        return None
    body: dict[str, Any] = {"content": {media_type: {"schema": schema}}}
    if required:
        body["required"] = True
    return body


def fastapi_declared_responses(operation: Operation, schemas: Schemas, responses: dict[str, Any]) -> None:
    """FastAPI's merge of ``responses=``, with lanner's problem content for undescribed errors."""
    slot = operation.slot
    media = getattr(slot.endpoint.response_class, "media_type", None) or "application/json"
    for code, spec in slot.route.options.responses.items():
        declared = copy.deepcopy(dict(spec))
        declared.pop("model", None)
        key = str(code).upper()
        if key == "DEFAULT":
            key = "default"
        entry = responses.setdefault(key, {})
        extra = operation.extra_responses.get(str(code))
        if extra is not None:
            title = fastapi_title(f"Response_{code}_{slot.unique_id}")
            model_schema = fastapi_title_unless_ref(schemas.results[extra], title)
            target = declared.setdefault("content", {}).setdefault(media, {}).setdefault("schema", {})
            deep_update(target, model_schema)
        phrase = status.phrase(int(code)) if str(code).isdigit() else ""
        description = (
            declared.get("description")
            or entry.get("description")
            or _RANGE_DESCRIPTIONS.get(str(code).upper())
            or phrase
            or "Additional Response"
        )
        deep_update(entry, declared)
        entry["description"] = description
        if "content" not in entry and key.isdigit() and int(key) >= 400:
            entry["content"] = problem_content()
