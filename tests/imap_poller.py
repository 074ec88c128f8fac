"""One IMAP poll in a process of its own, for the test that kills a poller mid-batch.

    python -m tests.imap_poller STORE NOW [SLOW]

Settings come from the environment (``PACTKEEPER_IMAP_URL`` and the rest); the store is
the SQLite file STORE, the one the test reads. With SLOW, every message takes SLOW
seconds longer after ``take_mail`` handled it (the real one), so the test can kill the
process between handling messages and moving them. Prints the ``PollResult`` as JSON.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from config.settings import Settings
from worker.engine import Engine
from worker.inbound import imap
from worker.inbound.replies import Outcome
from worker.store.sqlite import SqliteStore


def main() -> None:
    store, now = Path(sys.argv[1]), float(sys.argv[2])
    slow = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    if slow:
        handled = imap.take_mail

        def slowed(engine: Engine, raw: bytes, at: float) -> Outcome:
            outcome = handled(engine, raw, at)
            time.sleep(slow)
            return outcome

        imap.take_mail = slowed
    result = imap.poll(Engine(Settings(), SqliteStore(store)), now)
    print(json.dumps({"outcomes": result.outcomes, "busy": result.busy, "problem": result.problem}))


if __name__ == "__main__":
    main()
