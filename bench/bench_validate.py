"""What `pactkeeper validate` costs, as a whole process and in-process (issue 2).

Prints, all measured in this run:

- the median wall time of ``python -m worker.run.cli validate PLAN...`` as a new
  process, next to two baselines: ``python -c pass`` (interpreter start-up) and
  a process that only imports what validate needs (pydantic, ruamel.yaml, typer);
  the ratio to start-up (target: validate under 0.5 s including start-up);
- what the imports cost: the largest top-level imports of one validate run,
  from ``python -X importtime``;
- which heavy packages validate loads: it must load none of celery, fastapi,
  uvicorn, icalendar, rich or requests (the command line imports lazily);
- the in-process median of ``load_plan`` (read, YAML, models, rules) per plan.

    python bench/bench_validate.py [--runs 15] [PLAN ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.load import load_plan

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("celery", "kombu", "fastapi", "starlette", "uvicorn", "icalendar", "rich", "requests")
NEEDED = "import pydantic, ruamel.yaml, typer"
# Runs the real command in this process, then reports the top-level packages it loaded.
LOADED = """
import json, runpy, sys
sys.argv = ["pactkeeper", "validate", *{plans!r}]
try:
    runpy.run_module("worker.run.cli", run_name="__main__")
except SystemExit:
    pass
print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}})), file=sys.stderr)
"""


def wall(command: list[str], runs: int) -> list[float]:
    """Wall time of ``command`` as a new process, ``runs`` times (after one warm-up)."""
    subprocess.run(command, cwd=ROOT, capture_output=True, check=False)
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(command, cwd=ROOT, capture_output=True, check=False)
        times.append(time.perf_counter() - began)
    return times


def import_costs(plans: list[str]) -> list[tuple[int, int, int, str]]:
    """(self µs, cumulative µs, depth, module) of every import of one validate process."""
    command = [sys.executable, "-X", "importtime", "-m", "worker.run.cli", "validate", *plans]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    costs = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|")
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2  # nested imports are indented
        costs.append((int(own), int(cumulative), depth, name.strip()))
    return costs


def loaded_packages(plans: list[str]) -> list[str]:
    code = LOADED.format(plans=plans)
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    names: list[str] = json.loads(result.stderr.strip().splitlines()[-1])
    return names


def in_process(path: Path, runs: int) -> float:
    load_plan(path)  # the first load builds pydantic's validators
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        load_plan(path)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("plans", nargs="*", default=sorted(map(str, ROOT.glob("examples/*.yaml"))))
    args = parser.parse_args()
    plans = [str(Path(plan).resolve()) for plan in args.plans]
    validate = [sys.executable, "-m", "worker.run.cli", "validate", *plans]
    check = subprocess.run(validate, cwd=ROOT, capture_output=True, text=True, check=False)
    print(f"validate {len(plans)} plans: exit {check.returncode}, {args.runs} runs each")
    medians = {}
    for label, command in (
        ("python -c pass", [sys.executable, "-c", "pass"]),
        (f"python -c '{NEEDED}'", [sys.executable, "-c", NEEDED]),
        ("pactkeeper validate", validate),
    ):
        times = wall(command, args.runs)
        medians[label] = statistics.median(times)
        spread = f"min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}"
        print(f"  {label:<46} median {ms(medians[label])}  ({spread})")
    ratio = medians["pactkeeper validate"] / medians["python -c pass"]
    print(f"  ratio validate / interpreter start-up: {ratio:.1f}")
    print(f"  target under 0.5 s: {'met' if medians['pactkeeper validate'] < 0.5 else 'MISSED'}")

    costs = import_costs(plans)
    print("largest top-level imports of one validate process (cumulative):")
    for _, cumulative, _, name in sorted((c for c in costs if c[2] == 0), key=lambda c: -c[1])[:5]:
        print(f"  {name:<30} {cumulative / 1000:7.1f} ms")
    print("largest single modules (own time, without what they import):")
    for own, _, _, name in sorted(costs, reverse=True)[:6]:
        print(f"  {name:<30} {own / 1000:7.1f} ms")
    heavy = sorted(set(loaded_packages(plans)) & set(HEAVY))
    print(f"heavy packages loaded by validate ({', '.join(HEAVY)}): {', '.join(heavy) or 'none'}")

    print("in-process load_plan (read, YAML, models, rules), median:")
    for plan in plans:
        print(f"  {Path(plan).name:<30} {ms(in_process(Path(plan), args.runs))}")
    if heavy:
        sys.exit(1)


if __name__ == "__main__":
    main()
