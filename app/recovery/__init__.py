"""Recovery: finding stuck payments, settling them by STK query, recording every case and every manual
resolution, and the statistics over them. The worker (app.worker) and the admin API (app.api.recovery) share it."""
