"""The release collection, exposed by fabfile.py."""

from invoke import Collection

from release.tasks import databases, flags, inspecting, lab, local, releasing

ns = Collection()
for task in (
    releasing.release,
    releasing.rollback,
    inspecting.status,
    inspecting.history,
    inspecting.unlock,
    databases.backup,
    databases.restore,
    flags.flags,
    flags.rollout,
):
    ns.add_task(task)
ns.add_collection(local.collection)
ns.add_collection(lab.collection)
