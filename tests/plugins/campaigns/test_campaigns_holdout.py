"""The holdout draw: the SQL bucket equals its Python reference on both
databases, the share is what was asked for, a seed gives the same group."""

from __future__ import annotations

import sqlalchemy as sa

from plugins.campaigns.holdout import BUCKETS, bucket, bucket_sql


def test_the_sql_bucket_is_the_python_reference_on_this_database(gx):
    ids = [1, 2, 3, 17, 999, 65_535, 1_000_003, 2_147_483_647]
    with gx.system() as session:
        for seed in (0, 1, 42, 2_147_483_647):
            got = [session.execute(sa.select(bucket_sql(sa.literal(i, sa.Integer), seed))).scalar_one() for i in ids]
            assert got == [bucket(i, seed) for i in ids]


def test_a_share_of_customers_is_held_out_evenly_across_id_ranges_and_seeds_differ():
    ids = range(1, 200_001)
    for seed in (7, 8):
        held = [i for i in ids if bucket(i, seed) < 0.10 * BUCKETS]
        assert abs(len(held) / len(ids) - 0.10) < 0.004
        # no drift with creation order: each tenth of the ids has its tenth held out
        for start in range(0, 200_000, 20_000):
            part = sum(1 for i in held if start < i <= start + 20_000)
            assert abs(part / 20_000 - 0.10) < 0.012
        # even and odd ids alike (a plain multiplicative hash would alternate)
        assert abs(sum(1 for i in held if i % 2) / len(held) - 0.5) < 0.02
    a = {i for i in range(1, 20_001) if bucket(i, 7) < 1000}
    b = {i for i in range(1, 20_001) if bucket(i, 8) < 1000}
    assert len(a & b) < 0.2 * len(a)  # another seed, another group (independent: about 10% overlap)
