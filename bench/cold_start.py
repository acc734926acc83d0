"""Cold start: how long each handler module takes to import, beyond a bare interpreter.

Each sample is a fresh interpreter that imports one handler by its real module path (as Lambda
does) with the environment Lambda gives it; the bare interpreter's start is subtracted.

    .venv/bin/python -m bench.cold_start [--runs 5]

Prints a table and writes bench/results/cold_start.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from aicore.topology import TOPOLOGY, resource_environment

RESULTS = Path(__file__).parent / "results" / "cold_start.json"
IMPORT = (
    "import importlib.util, sys; spec = importlib.util.spec_from_file_location('h', sys.argv[1]); "
    "importlib.util.module_from_spec(spec).__loader__.exec_module(importlib.util.module_from_spec(spec))"
)


def _seconds(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, env=env, capture_output=True)
    return time.perf_counter() - started


def run_bench(runs: int) -> dict[str, object]:
    env = os.environ | resource_environment("bench") | {"AWS_DEFAULT_REGION": "us-east-1"}
    bare = statistics.median(_seconds(["-c", "pass"], env) for _ in range(runs)) * 1000
    results = {}
    for fn in (TOPOLOGY.authorizer, *TOPOLOGY.functions):
        samples = [_seconds(["-c", IMPORT, fn.module_path], env) * 1000 - bare for _ in range(runs)]
        results[fn.name] = round(statistics.median(samples), 1)
    return {
        "bench": "cold_start",
        "runs": runs,
        "bare_interpreter_ms": round(bare, 1),
        "import_ms_median": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    report = run_bench(parser.parse_args().runs)
    print(f"handler import time beyond a bare interpreter ({report['bare_interpreter_ms']} ms), median")
    imports = report["import_ms_median"]
    assert isinstance(imports, dict)
    for name, ms in imports.items():
        print(f"  {name:<20} {ms:>7.1f} ms")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
