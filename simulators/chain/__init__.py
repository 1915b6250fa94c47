"""An Ethereum JSON-RPC node for tests: eth-tester/py-evm behind a real HTTP server, with a txpool that
holds stuck transactions, a USDT-like token deployed on start, and a /__chain__ control API."""
