"""The worker's own sweeps; each module has one `async def sweep(ctx) -> int` (see app.worker.registry)."""
