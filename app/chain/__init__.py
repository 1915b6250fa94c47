"""The EVM chain as the service sees it: a JSON-RPC client, the USDT token's calls and events."""
