"""Failover under a steady stream: lost and duplicated deliveries, with and without WAIT.

Each run starts a Redis primary, a replica and three Sentinels on loopback, a local
webhook sink, a Celery beat and two Celery workers (two pool processes each) that
reach Redis through the Sentinels. Reminders fall due 50 a second for 25 seconds;
8 seconds in, the primary is SIGKILLed, the Sentinels promote the replica, and the
killed node is started again to rejoin as a replica. Counted per item key at the
sink: lost (never arrived), duplicated (arrived more than once), and of those, the
ones the ledger re-sent after an unknown outcome (same Idempotency-Key, attempts > 0)
and the ones sent blind (no attempt recorded). ``--wait 0,1`` compares
PACTKEEPER_REDIS_WAIT_REPLICAS=0 with =1 in the same session (docs/redis-ha.md).

Prints one JSON line per run and a summary; asserts nothing.
``python bench/bench_failover.py --runs 5 [--wait 1] [--seconds 25]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.redis_ha import FailoverReport, failover_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--wait", default="1", help="WAIT replicas to compare, e.g. 0,1")
    parser.add_argument("--seconds", type=float, default=25.0)
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args()
    waits = [int(w) for w in args.wait.split(",")]
    reports: dict[int, list[FailoverReport]] = {w: [] for w in waits}
    with tempfile.TemporaryDirectory(prefix="bench-failover-") as folder:
        for run in range(args.runs):
            for wait in waits:  # interleaved: both see the same machine load
                report = failover_run(
                    Path(folder) / f"run{run}-wait{wait}", wait, args.seconds, args.rate
                )
                reports[wait].append(report)
                print(f"run {run + 1} wait={wait}: {report.line()}", flush=True)
    for wait, runs in reports.items():
        print(
            f"WAIT {wait}: lost {[r.lost for r in runs]}, duplicated "
            f"{[r.duplicated for r in runs]} (re-sent after unknown "
            f"{[r.resent_after_unknown for r in runs]}, blind "
            f"{[r.blind_duplicates for r in runs]}), promotion median "
            f"{statistics.median(r.promotion_seconds for r in runs):.2f} s, longest pause "
            f"median {statistics.median(r.longest_gap_seconds for r in runs):.1f} s"
        )


if __name__ == "__main__":
    main()
