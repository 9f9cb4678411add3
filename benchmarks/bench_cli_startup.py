"""Time `srarena --help` and `srarena plugins --json` and list heavy modules they import.

Usage: python benchmarks/bench_cli_startup.py [repeats]
Prints the median wall time of each command and of a bare `python -c pass` (the floor),
and whether torch, pandas, pyiqa or matplotlib were imported (they must not be).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

HEAVY = ("torch", "pandas", "pyiqa", "matplotlib", "scipy", "numba")


def timed(args: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(args, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def imported(command: str) -> list[str]:
    code = (f"import sys; sys.argv = ['srarena'] + {command.split()!r}\n"
            "from srarena.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return eval(out.stderr.strip().splitlines()[-1])  # noqa: S307 - our own printed list


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    floor = timed([sys.executable, "-c", "pass"], repeats)
    print(f"python -c pass          {floor:.3f} s (floor)")
    for command in ("--help", "plugins --json"):
        seconds = timed([sys.executable, "-m", "srarena", *command.split()], repeats)
        print(f"srarena {command:<15} {seconds:.3f} s  ({seconds / floor:.1f}x the floor); "
              f"heavy modules imported: {imported(command) or 'none'}")


if __name__ == "__main__":
    main()
