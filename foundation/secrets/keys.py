"""The keys an environment's secret source holds: the one list (playbooks/README.md describes them). Every source
holds the same names, so whatever reads them (playbooks/group_vars/all/secrets.yml, release/tunnel.py,
foundation/backups/strategy.py) reads one name whichever source the environment declares."""

from __future__ import annotations

# Required of a source an operator fills in (vault, aws-*): preflight refuses a source without one.
REQUIRED = (
    "vault_postgresql_app_password",  # the service's database password (roles/postgresql, roles/app)
    "vault_daraja_consumer_key",  # the Daraja app's consumer key
    "vault_daraja_consumer_secret",  # … and its secret
    "vault_callback_secret",  # 32+ characters: the HMAC of Daraja's callback paths
    "vault_treasury_private_key",  # 0x + 64 hex digits: the key payouts are signed with
    "vault_daraja_passkey",  # the shortcode's passkey (production refuses the public sandbox one)
    "vault_chain_rpc_url",  # the chain's RPC URL (the provider's carries its API key)
)
# Held when the environment has them; one that is there may not be empty or a placeholder either.
OPTIONAL = (
    "vault_pagerduty_routing_key",  # alerting (roles/monitoring)
    "vault_smtp_auth_password",  # alerting by mail (roles/monitoring)
    "vault_backup_key",  # 32+ characters: backups are sealed with it (required where backups are shipped)
)
