"""How fast the ``guanxi`` command answers: ``guanxi --help`` and a typical read command.

Run with ``.venv/bin/python -m bench.cli``; prints one JSON line.

Each measured command runs as a child process (wall clock, interpreter start
and imports included: what an operator waits for), interleaved with the
anchor, ``python -c pass``, so both see the same load on a shared host:

- ``help_s``: median of ``guanxi --help`` (goal: at most 0.5 s);
  ``help_ratio_vs_python``: that median over the anchor's median;
- ``read_s``: median of ``guanxi tenant list --json`` against a SQLite
  database prepared once with ``guanxi db upgrade`` and one tenant (a read
  command loads the engine, so it costs more than ``--help``);
- ``*_p10_s`` / ``*_p90_s``: the spread of each.

``--runs`` sets the number of runs of each (default 21).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HELP_GOAL_S = 0.5


def guanxi_command() -> list[str]:
    """The installed ``guanxi`` script next to this interpreter, else the module."""
    script = Path(sys.executable).with_name("guanxi")
    return [str(script)] if script.exists() else [sys.executable, "-m", "engine.cli"]


def wall(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def spread(name: str, times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {f"{name}_s": round(statistics.median(ordered), 4), f"{name}_p10_s": round(pick(0.1), 4),
            f"{name}_p90_s": round(pick(0.9), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()

    guanxi = guanxi_command()
    workdir = Path(tempfile.mkdtemp(prefix="guanxi-bench-cli-"))
    env = {**os.environ, "GUANXI_DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    try:
        subprocess.run([*guanxi, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
        subprocess.run([*guanxi, "tenant", "create", "bench", "--name", "Bench"], env=env, cwd=ROOT, check=True,
                       capture_output=True)
        for command in ([*guanxi, "--help"], [*guanxi, "tenant", "list", "--json"]):  # warm the OS file cache
            wall(command, env)
        anchor, helps, reads = [], [], []
        for _ in range(args.runs):
            anchor.append(wall([sys.executable, "-c", "pass"], env))
            helps.append(wall([*guanxi, "--help"], env))
            reads.append(wall([*guanxi, "tenant", "list", "--json"], env))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    out = {"bench": "cli", "runs": args.runs, **spread("help", helps), **spread("python", anchor)}
    out["help_ratio_vs_python"] = round(out["help_s"] / out["python_s"], 2)
    out.update(spread("read", reads))
    out["read_ratio_vs_python"] = round(out["read_s"] / out["python_s"], 2)
    out["help_goal_s"] = HELP_GOAL_S
    out["help_goal_met"] = out["help_s"] <= HELP_GOAL_S
    print(json.dumps(out))


if __name__ == "__main__":
    main()
