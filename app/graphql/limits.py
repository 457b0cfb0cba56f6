"""What a GraphQL request may cost, checked before anything runs, and how errors reach the client.

- Depth: at most MAX_DEPTH nested fields (`query_too_deep`).
- Complexity: every field costs 1 for each object it may be resolved on; a list argument `first`
  multiplies what is under it (a variable counts as the maximum page), so 100 listings with 40 fields
  each cost ~4,000 and a 10,000-field query is refused (`query_too_complex`).
- Persisted queries (optional): with an allowlist only the documents in it run, named by their
  SHA-256 (`extensions.persistedQuery.sha256Hash`, Apollo's wire format) or sent in full
  (`persisted_query_not_allowed` otherwise).
- Errors: a service's AppError becomes `message` = its detail and `extensions` = {code, status, …}
  exactly as REST's problem+json carries them; anything unexpected is logged and masked
  (`internal_error`), an outage is `service_unavailable`. Never a stack trace.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
)
from strawberry.extensions import SchemaExtension

from app.core.errors import AppError, outage_of
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT

log = logging.getLogger("atp.graphql")

MAX_DEPTH = 10
MAX_COMPLEXITY = 5_000


def _page_size(field: FieldNode) -> int:
    """How many objects a field may return: its `first` (or `pagination: {first}`); 1 for others."""
    for argument in field.arguments or ():
        value = argument.value
        if argument.name.value == "pagination" and isinstance(value, ObjectValueNode):
            for item in value.fields:
                if item.name.value == "first":
                    value = item.value
                    break
            else:
                continue
        elif argument.name.value != "first":
            continue
        if isinstance(value, IntValueNode):
            return max(1, min(int(value.value), MAX_LIMIT))
        if isinstance(value, VariableNode):
            return MAX_LIMIT
    if field.selection_set is not None and field.name.value in _LISTS:
        return DEFAULT_LIMIT
    return 1


# Fields whose page defaults to DEFAULT_LIMIT when no `first` is given.
_LISTS = frozenset({"aircraftListings", "listings", "searchAircraft", "offers", "myOffers"})


class OperationLimits(ValidationRule):
    """Refuses over-deep and over-wide operations during validation, i.e. before execution."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
        try:
            depth, cost = self._measure(node.selection_set, 1, 0, set())
        except _TooDeep:
            depth, cost = MAX_DEPTH + 1, 0
        if depth > MAX_DEPTH:
            self.report_error(
                GraphQLError(
                    f"the operation nests deeper than {MAX_DEPTH} levels",
                    node,
                    extensions={"code": "query_too_deep", "status": 400, "maxDepth": MAX_DEPTH},
                )
            )
        elif cost > MAX_COMPLEXITY:
            self.report_error(
                GraphQLError(
                    f"the operation may resolve {cost} fields; at most {MAX_COMPLEXITY} are allowed",
                    node,
                    extensions={
                        "code": "query_too_complex",
                        "status": 400,
                        "complexity": cost,
                        "maxComplexity": MAX_COMPLEXITY,
                    },
                )
            )

    def _measure(
        self, selections: SelectionSetNode, multiplier: int, depth: int, fragments: set[str]
    ) -> tuple[int, int]:
        """(deepest field level, cost) of a selection set reached `depth` levels down."""
        if depth > MAX_DEPTH * 4:
            raise _TooDeep
        deepest, cost = depth, 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                cost += multiplier
                if selection.selection_set is not None:
                    inner = multiplier * _page_size(selection)
                    d, c = self._measure(selection.selection_set, inner, depth + 1, fragments)
                    deepest, cost = max(deepest, d), cost + c
                else:
                    deepest = max(deepest, depth + 1)
            elif isinstance(selection, InlineFragmentNode):
                d, c = self._measure(selection.selection_set, multiplier, depth, fragments)
                deepest, cost = max(deepest, d), cost + c
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.context.get_fragment(name)
                if fragment is None or name in fragments:
                    continue  # unknown or cyclic: other rules report it
                d, c = self._measure(fragment.selection_set, multiplier, depth, fragments | {name})
                deepest, cost = max(deepest, d), cost + c
            if cost > MAX_COMPLEXITY * 10:
                break  # refused anyway: stop counting
        return deepest, cost


class _TooDeep(Exception):
    pass


def load_allowlist(path: str) -> dict[str, str]:
    """`{sha256 hex: document}` from a JSON file: an object of that shape, or a list of documents."""
    raw = msgspec.json.decode(Path(path).read_bytes())
    documents = raw.values() if isinstance(raw, dict) else raw
    return {hashlib.sha256(doc.encode()).hexdigest(): doc for doc in documents}


class PersistedQueries(SchemaExtension):
    """Only documents of the allowlist run; a hash alone names one."""

    allowlist: dict[str, str] = {}

    def on_operation(self) -> Iterator[None]:
        ctx = self.execution_context
        persisted = (ctx.operation_extensions or {}).get("persistedQuery") or {}
        wanted = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        if ctx.query is None and isinstance(wanted, str) and wanted in self.allowlist:
            ctx.query = self.allowlist[wanted]
        elif ctx.query is None or hashlib.sha256(ctx.query.encode()).hexdigest() not in self.allowlist:
            raise GraphQLError(
                "only persisted queries may run here; send a known extensions.persistedQuery.sha256Hash",
                extensions={"code": "persisted_query_not_allowed", "status": 400},
            )
        yield


def problem_error(exc: AppError, error: GraphQLError | None = None) -> GraphQLError:
    """A service error as GraphQL carries it: REST's problem fields under `extensions`."""
    extensions = msgspec.to_builtins({"code": exc.code, "status": exc.status, **exc.extra})
    return GraphQLError(
        exc.detail,
        nodes=error.nodes if error else None,
        source=error.source if error else None,
        positions=error.positions if error else None,
        path=error.path if error else None,
        extensions=extensions,
    )


def client_error(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if original is None:
        if "code" not in (error.extensions or {}):
            # graphql-core's own syntax and validation errors are the client's
            code = "query_too_complex" if "more than" in error.message and "tokens" in error.message else None
            error.extensions = {**(error.extensions or {}), "code": code or "graphql_validation_failed"}
        return error
    if isinstance(original, AppError):
        return problem_error(original, error)
    if isinstance(original, GraphQLError):
        return client_error(original)
    if isinstance(original, ValueError | TypeError) and error.path is None:
        return GraphQLError(str(original), extensions={"code": "bad_request", "status": 400})
    outage = outage_of(original)
    code, status, message = (
        ("service_unavailable", 503, "A service this request needs is not answering; retry shortly.")
        if outage
        else ("internal_error", 500, "Something went wrong on our side.")
    )
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": code, "status": status},
    )


def log_unexpected(errors: list[GraphQLError]) -> None:
    for error in errors:
        original = error.original_error
        while isinstance(original, GraphQLError) and original.original_error is not None:
            original = original.original_error
        if original is None or isinstance(original, AppError | GraphQLError):
            continue
        if outage_of(original):
            log.warning("graphql: dependency unavailable: %s: %s", type(original).__name__, original)
        else:
            log.error("graphql: unhandled error at %s", error.path, exc_info=original)


class ProblemCodes(SchemaExtension):
    """Rewrites every error of a result into the client shape (see the module docstring)."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [client_error(e) for e in result.errors]
