"""Redis backend: redis-py over the upstream relay's exact key layout (spec/redis-layout.md)."""
