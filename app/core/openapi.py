"""OpenAPI additions: every operation documents its problem+json error answers (RFC 9457)."""

from __future__ import annotations

from litestar import Litestar
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Reference, Schema

PROBLEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["status", "title", "detail", "code"],
    properties={
        "type": Schema(type=OpenAPIType.STRING),
        "status": Schema(type=OpenAPIType.INTEGER),
        "title": Schema(type=OpenAPIType.STRING),
        "detail": Schema(type=OpenAPIType.STRING),
        "code": Schema(type=OpenAPIType.STRING, description="stable machine-readable error code"),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            items=Schema(
                type=OpenAPIType.OBJECT,
                properties={
                    "field": Schema(type=OpenAPIType.STRING),
                    "message": Schema(type=OpenAPIType.STRING),
                },
            ),
        ),
    },
)

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _component_name(schema: object) -> str | None:
    ref = getattr(schema, "ref", None)
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _close_request_schemas(document) -> None:
    """Request bodies reject unknown fields (msgspec `forbid_unknown_fields`): say so in the schema."""
    components = document.components.schemas or {}
    pending = []
    for path_item in (document.paths or {}).values():
        for method in _METHODS:
            operation = getattr(path_item, method, None)
            body = getattr(operation, "request_body", None)
            for media in (getattr(body, "content", None) or {}).values():
                for candidate in [media.schema, *(getattr(media.schema, "one_of", None) or [])]:
                    name = _component_name(candidate)
                    if name:
                        pending.append(name)
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen or name not in components:
            continue
        seen.add(name)
        schema = components[name]
        if schema.properties is not None:
            schema.additional_properties = False
        for prop in (schema.properties or {}).values():
            for candidate in [
                prop,
                *(getattr(prop, "one_of", None) or []),
                *(getattr(prop, "any_of", None) or []),
            ]:
                nested = _component_name(candidate)
                if nested:
                    pending.append(nested)


def _optional_request_bodies(document) -> None:
    """A body typed `X | None` may be left out entirely; Litestar still documents it as required."""
    for path_item in (document.paths or {}).values():
        for method in _METHODS:
            body = getattr(getattr(path_item, method, None), "request_body", None)
            for media in (getattr(body, "content", None) or {}).values():
                variants = getattr(media.schema, "one_of", None) or []
                if any(getattr(v, "type", None) == OpenAPIType.NULL for v in variants):
                    body.required = False


def fix_options_allow_headers(app: Litestar) -> None:
    """Litestar builds each path's OPTIONS handler before it merges the path's other handlers, so
    `Allow` lists only some methods; point every OPTIONS handler at its final route."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if handler.handler_name == "options_handler" and handler.fn.__closure__:
                handler.fn.__closure__[0].cell_contents = route


def document_problem_responses(app: Litestar, refinements: dict[tuple[str, str], dict] | None = None) -> None:
    """Add a `4XX` problem+json response to every operation of the generated document."""
    document = app.openapi_schema
    _close_request_schemas(document)
    _optional_request_bodies(document)
    for (component, prop), keywords in (refinements or {}).items():
        target = (document.components.schemas or {})[component].properties[prop]  # type: ignore[index]
        if "not" in keywords:
            target.schema_not = Schema(enum=keywords["not"]["enum"])
    if document.components.schemas is None:
        document.components.schemas = {}
    document.components.schemas["Problem"] = PROBLEM_SCHEMA
    problem = OpenAPIResponse(
        description="Client error (RFC 9457 problem details with a stable `code`)",
        content={
            "application/problem+json": OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))
        },
    )
    for path_item in (document.paths or {}).values():
        for method in _METHODS:
            operation = getattr(path_item, method, None)
            if operation is None:
                continue
            responses = operation.responses or {}
            for status in list(responses):
                if str(status).startswith("4"):
                    del responses[
                        status
                    ]  # Litestar's generic 400 says application/json; ours is problem+json
            responses["4XX"] = problem
            operation.responses = responses
