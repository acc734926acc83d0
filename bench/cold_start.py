"""Cold start: how long each handler module takes to import, against a bare `import boto3` in the
same run, in the environment Lambda gives a function (its resource variables and Lambda's own:
`LAMBDA_TASK_ROOT` makes the X-Ray SDK take its Lambda path, as it does in the cloud).

Each sample is a fresh interpreter that imports one handler by its real module path; the budget is
`import boto3` + 100 ms. The modules each handler imports beyond boto3 are counted too:
`tests/unit/test_cold_start.py` holds them to a budget, which does not depend on a noisy clock.

    .venv/bin/python -m bench.cold_start [--runs 5]

Prints a table and writes bench/results/cold_start.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from aicore.topology import TOPOLOGY, Function, resource_environment
from bench.common import machine, write_report

BUDGET_OVER_BOTO3_MS = 100
IMPORT_HANDLER = (
    "import importlib.util, sys; spec = importlib.util.spec_from_file_location('h', sys.argv[1]); "
    "spec.loader.exec_module(importlib.util.module_from_spec(spec))"
)
MODULES_BEYOND_BOTO3 = (
    "import sys; import boto3; before = set(sys.modules); " + IMPORT_HANDLER + "; "
    "print(len(set(sys.modules) - before))"
)


def lambda_environment(fn: Function | None = None) -> dict[str, str]:
    """What Lambda's Python runtime sets, and the variables every function gets from the topology."""
    name = fn.name if fn else "bench"
    return (
        os.environ
        | resource_environment("bench")
        | {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "LAMBDA_TASK_ROOT": "/var/task",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb if fn else 512),
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        }
    )


def _seconds(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, env=env, capture_output=True)
    return time.perf_counter() - started


def modules_beyond_boto3(fn: Function) -> int:
    """How many modules importing the handler adds to a process that has imported boto3."""
    done = subprocess.run(
        [sys.executable, "-c", MODULES_BEYOND_BOTO3, fn.module_path],
        check=True,
        env=lambda_environment(fn),
        capture_output=True,
        text=True,
    )
    return int(done.stdout.strip())


def run_bench(runs: int) -> dict[str, object]:
    env = lambda_environment()
    bare = statistics.median(_seconds(["-c", "pass"], env) for _ in range(runs)) * 1000
    boto3_ms = statistics.median(_seconds(["-c", "import boto3"], env) for _ in range(runs)) * 1000 - bare
    handlers = {}
    for fn in TOPOLOGY.all_functions:
        fn_env = lambda_environment(fn)
        samples = [
            _seconds(["-c", IMPORT_HANDLER, fn.module_path], fn_env) * 1000 - bare for _ in range(runs)
        ]
        import_ms = statistics.median(samples)
        handlers[fn.name] = {
            "import_ms": round(import_ms, 1),
            "over_boto3_ms": round(import_ms - boto3_ms, 1),
            "modules_beyond_boto3": modules_beyond_boto3(fn),
        }
    return {
        "bench": "cold_start",
        "runs": runs,
        "machine": machine(),
        "bare_interpreter_ms": round(bare, 1),
        "boto3_import_ms": round(boto3_ms, 1),
        "budget_over_boto3_ms": BUDGET_OVER_BOTO3_MS,
        "handlers": handlers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    report = run_bench(parser.parse_args().runs)
    print(f"import boto3: {report['boto3_import_ms']} ms (budget: +{BUDGET_OVER_BOTO3_MS} ms), medians")
    handlers = report["handlers"]
    assert isinstance(handlers, dict)
    print(f"  {'function':<22} {'import':>9} {'over boto3':>11} {'modules':>8}")
    for name, row in handlers.items():
        mark = "" if row["over_boto3_ms"] <= BUDGET_OVER_BOTO3_MS else "  over budget"
        print(
            f"  {name:<22} {row['import_ms']:>7.1f}ms {row['over_boto3_ms']:>9.1f}ms "
            f"{row['modules_beyond_boto3']:>8}{mark}"
        )
    write_report("cold_start", report)


if __name__ == "__main__":
    main()
