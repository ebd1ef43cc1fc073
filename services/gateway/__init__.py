"""The gateway: the OpenAI-compatible HTTP API, API keys and accounts, and Envoy's ext_authz."""
