"""The exchange: the co-op's ledger and settlement authority (gRPC `cocore.exchange.v1`)."""
