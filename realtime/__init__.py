"""Realtime: channels, frames, the outbox relay, the Redis log and the per-process fan-out (no app imports)."""
