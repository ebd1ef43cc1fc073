"""cocore: the shared protocol library (syntax, canonical JSON, crypto, lexicons, verification,
ATProto client, gRPC runtime, storage) used by every service."""

__version__ = "0.1.0"
