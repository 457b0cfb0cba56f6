"""Search backends: PostgreSQL (default) and Meilisearch (when MEILI_URL is set)."""
