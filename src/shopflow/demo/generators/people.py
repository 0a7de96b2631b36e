"""People columns (names, emails, postal addresses) built from the vocabularies by index arrays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopflow.demo.generators import vocab
from shopflow.demo.generators.core import int_text, join, padded, pick, text, weighted

if TYPE_CHECKING:
    from shopflow.demo.generators.core import Ints

_FIRST = text(list(vocab.FIRST_NAMES))
_LAST = text(list(vocab.LAST_NAMES))
_STREET = text(list(vocab.STREETS))
_SUFFIX = text(list(vocab.STREET_SUFFIXES))
_CITY = text([c[0] for c in vocab.CITIES])
_STATE = text([c[1] for c in vocab.CITIES])
_ZIP3 = text([c[2] for c in vocab.CITIES])
_DOMAIN = text(list(vocab.EMAIL_DOMAINS))
_DOMAIN_TITLE = text([d.capitalize() for d in vocab.EMAIL_DOMAINS])


@dataclass(frozen=True)
class People:
    """Columns describing `n` people; all arrays have the same length."""

    first: pa.Array
    last: pa.Array
    email: pa.Array
    street: pa.Array
    city: pa.Array
    state: pa.Array
    postal_code: pa.Array

    @property
    def name(self) -> pa.Array:
        """`First Last`."""
        return join(self.first, self.last, sep=" ")

    @property
    def address(self) -> pa.Array:
        """One line: `12 Maple Street, Springfield, IL 62704`."""
        return join(self.street, ", ", self.city, ", ", self.state, " ", self.postal_code)


def people(rng: np.random.Generator, ids: Ints, *, mixed_case_emails: float = 0.0) -> People:
    """Random people, one per id; the id makes each email unique.

    Args:
        rng: The random stream.
        ids: One id per person, used in the email's local part.
        mixed_case_emails: Share of emails written with capitals (`Mary.Smith12@Gmail.com`).
    """
    n = len(ids)
    first = pick(_FIRST, rng.integers(0, len(_FIRST), n))
    last = pick(_LAST, rng.integers(0, len(_LAST), n))
    domain_index = weighted(rng, list(vocab.EMAIL_DOMAIN_WEIGHTS), n)
    separator = pick(text([".", "_", ""]), rng.integers(0, 3, n))
    number = int_text(ids)
    lower = join(pc.utf8_lower(first), separator, pc.utf8_lower(last), number, "@", pick(_DOMAIN, domain_index))
    email = lower
    if mixed_case_emails > 0:
        cased = join(first, separator, last, number, "@", pick(_DOMAIN_TITLE, domain_index))
        email = pc.if_else(pa.array(rng.random(n) < mixed_case_emails), cased, lower)
    house = int_text(np.where(rng.random(n) < 0.7, rng.integers(1, 999, n), rng.integers(1000, 19999, n)))
    street = join(house, pick(_STREET, rng.integers(0, len(_STREET), n)),
                  pick(_SUFFIX, rng.integers(0, len(_SUFFIX), n)), sep=" ")
    city_index = rng.integers(0, len(_CITY), n)
    postal = join(pick(_ZIP3, city_index), padded(rng.integers(0, 100, n), 2))
    return People(first=first, last=last, email=email, street=street, city=pick(_CITY, city_index),
                  state=pick(_STATE, city_index), postal_code=postal)
