"""Customer data in and out: refunds, imports, export and search, each against its anchor
measured in the same run.

    .venv/bin/python -m bench.data [--only refunds,imports,export,search] [--quick]

Each part lives in its own module (bench/data_<part>.py) with a
``run(args) -> dict`` function; this driver prints one JSON line per part.
PostgreSQL is used when GUANXI_BENCH_POSTGRES_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test) is reachable.
"""

from __future__ import annotations

import argparse
import importlib
import json

PARTS = ("refunds", "imports", "export", "search")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts to run")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the bench itself runs")
    args = parser.parse_args()
    for part in args.only.split(","):
        module = importlib.import_module(f"bench.data_{part.strip()}")
        print(json.dumps({"bench": f"data.{part.strip()}", **module.run(args)}), flush=True)


if __name__ == "__main__":
    main()
