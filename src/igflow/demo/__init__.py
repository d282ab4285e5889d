"""A deterministic synthetic network for demonstrations and load tests. No real people."""
