"""claims_of builds Claims without the dataclass __init__ (for speed): the same objects."""

from __future__ import annotations

import dataclasses

import pytest

from worker.store.base import Claim, claims_of


def test_claims_of_gives_what_the_constructor_gives() -> None:
    built = claims_of(["a", "b", "c"], "t0", ["reminder", None, ""])
    assert built == [Claim("a", "t0", "reminder"), Claim("b", "t0", ""), Claim("c", "t0", "")]
    assert [hash(c) for c in built] == [
        hash(Claim("a", "t0", "reminder")),
        hash(Claim("b", "t0")),
        hash(Claim("c", "t0")),
    ]


def test_claims_of_fills_every_field_of_claim() -> None:
    # A field added to Claim must be filled by claims_of too: this fails until it is.
    (built,) = claims_of(["a"], "t0", ["reminder"])
    assert set(vars(built)) == {f.name for f in dataclasses.fields(Claim)}


def test_claims_of_stay_frozen() -> None:
    (built,) = claims_of(["a"], "t0", ["reminder"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.token = "other"  # type: ignore[misc]


def test_claims_of_needs_a_kind_per_key() -> None:
    with pytest.raises(ValueError):
        claims_of(["a", "b"], "t0", ["reminder"])
