"""Users, roles, permissions, sessions, API tokens and the hash-chained audit log."""
