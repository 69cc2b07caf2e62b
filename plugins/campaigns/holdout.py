"""The holdout control group: a seeded hash of the customer id, in SQL.

A customer is held out when ``bucket(id, seed) < share * 10,000``. The bucket
mixes the id with the campaign's seed (a multiply, an xor-shift, a second
multiply, all modulo 2^32), so it is uniform over any range of ids, changes
with the seed, and the same seed gives the same group on both databases.
Computed inside the INSERT ... SELECT that copies the segment: no Python
loop over the members. ``bucket`` below is the reference the tests check
the SQL against.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.sql.elements import Grouping

BUCKETS = 10_000
_M32 = 1 << 32
_A, _B = 2_654_435_761, 73_244_475  # Knuth's multiplicative constant; the murmur-style finaliser's
MAX_SEED = (1 << 31) - 1


def bucket(customer_id: int, seed: int) -> int:
    h = (customer_id * _A + seed) % _M32
    h ^= h >> 15
    h = (h * _B) % _M32
    return (h >> 8) % BUCKETS


def _p(expr):
    return Grouping(expr)  # explicit parentheses: operator precedence differs between the databases


def _shift(expr, bits: int):
    return _p(_p(expr).op(">>")(sa.literal_column(str(bits))))  # PostgreSQL shifts a bigint by an int


def _xor(a, b):
    return _p((a + b) - 2 * _p(_p(a).op("&")(_p(b))))  # SQLite has no xor operator


def bucket_sql(customer_id, seed: int):
    """``bucket`` as a SQL expression on an integer column (64-bit arithmetic, no overflow)."""
    h = _p(_p(sa.cast(customer_id, sa.BigInteger) * sa.literal(_A, sa.BigInteger) + sa.literal(seed, sa.BigInteger)) % _M32)
    h = _xor(h, _shift(h, 15))
    h = _p(_p(h * _B) % _M32)
    return _p(_shift(h, 8) % BUCKETS)


def held_out_sql(customer_id, seed: int, share: float):
    threshold = round(share * BUCKETS)
    return sa.case((bucket_sql(customer_id, seed) < threshold, sa.true()), else_=sa.false())
