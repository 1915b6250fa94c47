"""The recovery worker (`python -m app.worker`): one leader across the fleet runs the sweeps in
app.worker.registry every tick; every other worker waits for the leader's lease to lapse."""
