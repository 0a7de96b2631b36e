"""The values of a seed-004 customer row: clean ones derived from the customer's id, then spoilt.

Clean values are hashed from `(seed, id)` (and, for the address, the move number), so a
customer looks the same in every export; `spoil` then dirties a share of them at random.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopflow.demo.generators import customers_vocab as v
from shopflow.demo.generators.core import (
    US,
    hashed_index,
    hashed_uniform,
    hashed_weighted,
    int_text,
    join,
    padded,
    pick,
    text,
)

if TYPE_CHECKING:
    from shopflow.demo.generators.core import Ints

_CODES = list(v.COUNTRIES)
_CITY = text([c[0] for c in v.CITIES])
_CITY_COUNTRY = np.array([_CODES.index(c[1]) for c in v.CITIES], dtype=np.int64)
_CITY_PREFIX = text([c[2] for c in v.CITIES])
_CITY_WEIGHT = np.array([v.COUNTRIES[c[1]][0] / sum(1 for x in v.CITIES if x[1] == c[1]) for c in v.CITIES])
_CANONICAL = text([v.COUNTRIES[c][1] for c in _CODES])
_FIRST = text(list(v.FIRST_NAMES))
_LAST = text(list(v.LAST_NAMES))
_STREET = text(list(v.STREETS))
_SUFFIX = text(list(v.STREET_SUFFIXES))
_DOMAIN = text(list(v.EMAIL_DOMAINS))
_LETTERS = text(list("ABCDEFGHJKLMNPRSTUVWXY"))


def clean_values(seed: int, ids: Ints, version: Ints, signup_us: Ints) -> dict[str, pa.Array]:
    """Each customer's values as the CRM should hold them; `version` picks the address (a move)."""
    first = pick(_FIRST, hashed_index(seed, ids, 10, len(_FIRST)))
    last = pick(_LAST, hashed_index(seed, ids, 11, len(_LAST)))
    local = join(_ascii(first), ".", _ascii(last))
    number = hashed_uniform(seed, ids, 12) < 0.4
    local = pc.if_else(pa.array(number), join(local, int_text(hashed_index(seed, ids, 13, 99) + 1)), local)
    email = join(local, "@", pick(_DOMAIN, hashed_weighted(seed, ids, 14, list(v.EMAIL_DOMAIN_WEIGHTS))))

    salt = 100 + version * 10  # a move draws a new city, street and postcode
    city = hashed_weighted(seed, ids, 0, _CITY_WEIGHT)
    moved = version > 0
    city = np.where(moved & (hashed_uniform(seed, ids * 7 + version, 3) < 0.3),
                    _pick_hashed_city(seed, ids, version), city)
    country = _CITY_COUNTRY[city]
    house = int_text(1 + _hash_each(seed, ids, salt + 1, 180))
    street = join(house, pick(_STREET, _hash_each(seed, ids, salt + 2, len(_STREET))),
                  pick(_SUFFIX, _hash_each(seed, ids, salt + 3, len(_SUFFIX))), sep=" ")
    postcode = _postcode(seed, ids, salt + 4, city, country)
    phone = _phone(seed, ids, country)
    signup_day = pa.array((signup_us // (86_400 * US)).astype(np.int32), type=pa.date32()).cast(pa.string())
    return {
        "first_name": first, "last_name": last, "email": email, "phone": phone, "address": street,
        "city": pick(_CITY, city), "postcode": postcode, "country": pick(_CANONICAL, country),
        "signup_date": signup_day, "_country_code": pa.array(country),
    }


def _pick_hashed_city(seed: int, ids: Ints, version: Ints) -> Ints:
    return hashed_weighted(seed, ids * 7 + version, 4, _CITY_WEIGHT)


def _hash_each(seed: int, ids: Ints, salt: Ints | int, size: int) -> Ints:
    """Like `hashed_index`, with a salt per row."""
    mixed = ids * 1_000_003 + np.asarray(salt, dtype=np.int64)
    return hashed_index(seed, mixed, 0, size)


def _ascii(names: pa.Array) -> pa.Array:
    """Lowercase ASCII letters of a name, for an email's local part (`O'Brien` -> `obrien`, `Chloé` -> `chloe`)."""
    for accented, plain in (("é", "e"), ("è", "e"), ("ë", "e"), ("á", "a"), ("à", "a"), ("ã", "a"), ("í", "i"),
                            ("ó", "o"), ("ö", "o"), ("ú", "u"), ("ü", "u"), ("ç", "c"), ("ñ", "n"), ("ê", "e"),
                            ("Ö", "o"), ("Ü", "u")):
        names = pc.replace_substring(names, accented, plain)
    return pc.replace_substring_regex(pc.utf8_lower(names), "[^a-z]", "")


def _postcode(seed: int, ids: Ints, salt: Ints, city: Ints, country: Ints) -> pa.Array:
    prefix = pick(_CITY_PREFIX, city)
    digit = int_text(_hash_each(seed, ids, salt, 10))
    number = int_text(1 + _hash_each(seed, ids, salt + 5, 20))
    letters = join(pick(_LETTERS, _hash_each(seed, ids, salt + 6, 22)), pick(_LETTERS, _hash_each(seed, ids, salt + 7,
                                                                                                     22)))
    five = join(prefix, padded(_hash_each(seed, ids, salt + 8, 10 ** 3), 3))
    kinds = np.array([v.COUNTRIES[c][6] for c in _CODES])[country]
    shapes = {
        "uk": join(prefix, number, " ", digit, letters),
        "ie": join(prefix, padded(_hash_each(seed, ids, salt + 9, 24), 2), " ", letters, padded(
            _hash_each(seed, ids, salt + 8, 100), 2)),
        "5": five,
        "nl": join(prefix, padded(_hash_each(seed, ids, salt + 8, 100), 2), " ", letters),
        "pt": join(prefix, padded(_hash_each(seed, ids, salt + 8, 100), 2), "-", padded(
            _hash_each(seed, ids, salt + 9, 1000), 3)),
        "us": join(prefix, padded(_hash_each(seed, ids, salt + 8, 100), 2)),
    }
    result = shapes["uk"]
    for kind, values in shapes.items():
        result = pc.if_else(pa.array(kinds == kind), values, result)
    return result


def _phone(seed: int, ids: Ints, country: Ints) -> pa.Array:
    result: pa.Array = pa.nulls(len(ids), pa.string())
    for index, code in enumerate(_CODES):
        prefix, digits = v.COUNTRIES[code][4], v.COUNTRIES[code][5]
        number = join(prefix, padded(hashed_index(seed, ids, 30, 10**digits), digits))
        result = pc.if_else(pa.array(country == index), number, result)
    return result


def spoil(rng: np.random.Generator, columns: dict[str, pa.Array], dirty: float) -> dict[str, pa.Array]:
    """Spoil a share `dirty` of the values the ways hand-kept CRM data is spoiled."""
    n = len(columns["email"])

    def some(share: float) -> pa.Array:
        return pa.array(rng.random(n) < share)

    def pad(values: pa.Array) -> pa.Array:
        return join(pick(text([" ", "  ", ""]), rng.integers(0, 3, n)), values, pick(text([" ", "", " "]),
                                                                                    rng.integers(0, 3, n)))

    out = dict(columns)
    for name in ("first_name", "last_name", "address", "city"):
        out[name] = pc.if_else(some(dirty / 2), pad(out[name]), out[name])
    email = out["email"]
    email = pc.if_else(some(dirty / 2), pc.utf8_title(email), email)
    email = pc.if_else(some(dirty / 4), pc.utf8_upper(email), email)
    email = pc.if_else(some(dirty / 10), pc.replace_substring(email, "@", "(at)"), email)
    out["email"] = pc.if_else(some(dirty / 4), pad(email), email)
    out["postcode"] = pc.if_else(some(dirty / 2), pc.utf8_lower(out["postcode"]), out["postcode"])

    code = columns["_country_code"].to_numpy()
    spelled = out["country"]
    for index, country in enumerate(_CODES):
        variants, typos = v.COUNTRIES[country][2], v.COUNTRIES[country][3]
        here = code == index
        spelled = pc.if_else(pa.array(here & (rng.random(n) < dirty * 3)),
                             pick(text(list(variants)), rng.integers(0, len(variants), n)), spelled)
        spelled = pc.if_else(pa.array(here & (rng.random(n) < dirty / 10)),
                             pick(text(list(typos)), rng.integers(0, len(typos), n)), spelled)
    out["country"] = spelled

    iso = out["signup_date"]
    uk = join(pc.utf8_slice_codeunits(iso, 8, 10), "/", pc.utf8_slice_codeunits(iso, 5, 7), "/",
              pc.utf8_slice_codeunits(iso, 0, 4))
    impossible = join("31/02/", pc.utf8_slice_codeunits(iso, 0, 4))
    out["signup_date"] = pc.if_else(some(dirty / 10), impossible, pc.if_else(some(dirty), uk, iso))
    del out["_country_code"]
    return out
