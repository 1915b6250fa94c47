"""The release collection, exposed by fabfile.py."""

from invoke import Collection

from release.tasks import checking, databases, db, flags, infra, inspecting, lab, loadtesting, local, releasing

ns = Collection()
for task in (
    releasing.release,
    releasing.rollback,
    releasing.promote,
    inspecting.status,
    inspecting.history,
    inspecting.unlock,
    databases.backup,
    databases.restore,
    flags.flags,
    flags.rollout,
    loadtesting.loadtest,
    checking.check,
    checking.signoff,
):
    ns.add_task(task)
ns.add_collection(local.collection)
ns.add_collection(lab.collection)
ns.add_collection(infra.collection)
ns.add_collection(db.collection)
