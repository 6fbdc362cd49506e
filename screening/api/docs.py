"""The API's documentation page, ``/api/v1/docs``: the OpenAPI document
rendered on the server as plain HTML (no script, so the page keeps the
app's Content-Security-Policy and works in any browser or screen reader)."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app, render_template
from flask.typing import ResponseReturnValue

from ..web.ruleset import get_rulebook
from .blueprint import bp
from .openapi import openapi_document

METHODS = ("get", "post", "put", "patch", "delete")
SCHEMA_PREFIX = "#/components/schemas/"
RESPONSE_PREFIX = "#/components/responses/"


def schema_type(schema: dict[str, Any]) -> str:
    """A schema's type in a few words: "string (date)", "array of Reason", "one of: a, b"."""
    if "$ref" in schema:
        return str(schema["$ref"]).removeprefix(SCHEMA_PREFIX)
    if "const" in schema:
        return f"always {json.dumps(schema['const'])}"
    if "anyOf" in schema:
        # A part without a type of its own narrows the schema's ({"type": "string", "anyOf": [{"format": ...}]}).
        outer = {key: value for key, value in schema.items() if key != "anyOf"}
        parts = [part if "type" in part or "$ref" in part else {**outer, **part} for part in schema["anyOf"]]
        return " or ".join(schema_type(part) for part in parts)
    kind = schema.get("type", "any")
    kinds = [kind] if isinstance(kind, str) else list(kind)
    words = []
    for one in kinds:
        if one == "array":
            words.append("array of " + schema_type(schema.get("items", {})))
        elif one == "string" and "format" in schema:
            words.append(f"string ({schema['format']})")
        else:
            words.append(str(one))
    text = " or ".join(words)
    if "enum" in schema:
        text += ": one of " + ", ".join(str(v) for v in schema["enum"])
    return text


def schema_rows(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """An object schema's properties as table rows: name, type, required, description."""
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "type": schema_type(prop),
            "link": prop.get("$ref", prop.get("items", {}).get("$ref", "")).removeprefix(SCHEMA_PREFIX),
            "required": name in required,
            "description": prop.get("description", ""),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation in document order, its responses resolved to their descriptions."""
    shared = document["components"]["responses"]
    found = []
    for path, item in document["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            responses = []
            for status, response in operation.get("responses", {}).items():
                if "$ref" in response:
                    response = shared[response["$ref"].removeprefix(RESPONSE_PREFIX)]
                content = response.get("content", {})
                first: tuple[str, dict[str, Any]] = next(iter(content.items()), ("", {}))
                media, described = first
                responses.append(
                    {
                        "status": status,
                        "description": response.get("description", ""),
                        "media": media,
                        "type": schema_type(described.get("schema", {})) if described else "",
                    }
                )
            body: dict[str, Any] = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            found.append(
                {
                    "id": operation.get("operationId", f"{method}-{path}"),
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "secured": bool(operation.get("security")),
                    "parameters": [
                        {**p, "type": schema_type(p.get("schema", {}))} for p in operation.get("parameters", [])
                    ],
                    "body_type": schema_type(body["schema"]) if body else "",
                    "example": json.dumps(body["example"], indent=2, ensure_ascii=False) if "example" in body else "",
                    "responses": responses,
                }
            )
    return found


@bp.get("/docs")
def docs() -> ResponseReturnValue:
    """The API's documentation, rendered from its OpenAPI document."""
    document = openapi_document(get_rulebook(current_app))
    schemas = document["components"]["schemas"]
    return render_template(
        "api/docs.html",
        info=document["info"],
        operations=operations(document),
        schemas=[(name, schema, schema_rows(schema)) for name, schema in schemas.items()],
        schema_names=set(schemas),
        schema_type=schema_type,
    )
