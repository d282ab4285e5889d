"""Which rows each resource type serves (through :mod:`igflow.security.scope`), paged and audited."""
