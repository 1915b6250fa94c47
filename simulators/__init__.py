"""Stand-ins for the external systems the service talks to (run in the lab and in tests)."""
