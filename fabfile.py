from release.tasks import ns  # noqa: F401  (fab's collection: release, rollback, status, history, …)
