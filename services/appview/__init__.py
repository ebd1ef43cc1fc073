"""The AppView: indexes `dev.cocore.*` records from firehoses and serves them over XRPC and gRPC."""
