"""Search: PostgreSQL full-text + trigram by default, Meilisearch when configured, saved searches."""
