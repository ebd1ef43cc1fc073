"""The provider pool: entries, indexes, pick with filters and scores, leases, failure ledger."""

from .entry import Identity, ModelInfo, ProBono, ProviderEntry, ProviderKey, StrongRef
from .filters import PickFilter
from .leases import LeaseClaims, LeaseSigner
from .pool import Pick, Pool
from .versions import parse_version

__all__ = [
    "Identity",
    "LeaseClaims",
    "LeaseSigner",
    "ModelInfo",
    "Pick",
    "PickFilter",
    "Pool",
    "ProBono",
    "ProviderEntry",
    "ProviderKey",
    "StrongRef",
    "parse_version",
]
