"""Cardinality guard for breakdowns by project or API key.

A team with 500 keys must not create 500 series per family: keep the top N
by value and sum the rest into one `other` row, so totals are unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

OTHER = "other"


def top_n(values: Mapping[str, Decimal], n: int) -> dict[str, Decimal]:
    """The `n` largest entries, plus `other` holding the sum of the rest (if any)."""
    ranked = sorted(values.items(), key=lambda item: (-item[1], item[0]))
    kept = dict(ranked[:n])
    rest = ranked[n:]
    if rest:
        kept[OTHER] = kept.get(OTHER, Decimal(0)) + sum((v for _, v in rest), Decimal(0))
    return kept
