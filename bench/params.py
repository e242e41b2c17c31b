"""The data set's parameters (no Django import: the command line reads them first)."""

from __future__ import annotations

from dataclasses import dataclass

#: Bump when the generator's output changes, so an older data set is generated again.
GENERATOR_VERSION = 1


@dataclass(frozen=True)
class Params:
    partners: int = 20_000
    deals: int = 1_000_000
    small_tenants: int = 20
    small_partners: int = 50
    small_deals: int = 2_000
    years: int = 3
    seed: int = 2026
