"""Cold start: `saima say --user mayor /帮助` on a database at head, against importing SQLAlchemy's
asyncio layer and aiosqlite (the least any start of this bot costs). Target: ≤ 1.5×.

    .venv/bin/python benchmarks/startup.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def seconds(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=HERE.parent, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory(dir=HERE) as folder:
        env = {**os.environ, "SAIMA_DATABASE_URL": f"sqlite+aiosqlite:///{folder}/saima.db"}
        # Bytecode as an installed bot has it (pip compiles at install; an editable checkout
        # writes __pycache__ at its first start): without it, PYTHONDONTWRITEBYTECODE would make
        # every start compile this project's ~90 modules again, a cost no deployment pays.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = f"{folder}/pycache"
        say = [sys.executable, "-m", "bot", "say", "--user", "mayor", "/帮助"]
        imports = [sys.executable, "-c", "import sqlalchemy.ext.asyncio, aiosqlite"]
        seconds(say, env)  # creates and migrates the database: later starts find it at head
        seconds(imports, env)  # both commands' bytecode is cached from here on
        figures: dict[str, list[float]] = {"saima say /帮助": [], "import baseline": []}
        for _ in range(rounds):  # interleaved, so both see the same machine
            figures["saima say /帮助"].append(seconds(say, env))
            figures["import baseline"].append(seconds(imports, env))
    print(f"cold start, s (min / median / max of {rounds} rounds)")
    for name, values in figures.items():
        print(
            f"  {name:16s} {min(values):6.2f} {statistics.median(values):6.2f} {max(values):6.2f}"
        )
    ratio = statistics.median(figures["saima say /帮助"]) / statistics.median(
        figures["import baseline"]
    )
    print(f"  ratio {ratio:.2f}× (target ≤ 1.5×)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    main(parser.parse_args().rounds)
