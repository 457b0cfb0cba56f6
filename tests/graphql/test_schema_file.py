"""docs/schema.graphql is the schema the code serves: integrators diff it (CI fails when they differ).

Regenerate with `python -m app.graphql.schema > docs/schema.graphql`.
"""

from __future__ import annotations

from pathlib import Path


def test_docs_schema_graphql_matches_the_code():
    from app.graphql.schema import print_schema

    printed = (Path(__file__).resolve().parents[2] / "docs" / "schema.graphql").read_text()
    assert printed == print_schema(), (
        "docs/schema.graphql is stale: python -m app.graphql.schema > docs/schema.graphql"
    )
