"""The gateway's HTTP surface (Starlette): OpenAI routes, account procedures, OpenAPI."""
