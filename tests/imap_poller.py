"""One IMAP poll in a process of its own, for the test that kills a poller mid-batch.

    python -m tests.imap_poller STORE NOW [STALL_AFTER]

Settings come from the environment (``PACTKEEPER_IMAP_URL`` and the rest); the store is
the SQLite file STORE, the one the test reads. With STALL_AFTER, the poller stops for a
minute once ``take_mail`` (the real one) has handled that many messages, so the test
kills it between handling messages and moving them, wherever the machine's speed would
have put it. Prints the ``PollResult`` as JSON.
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
    stall_after = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    if stall_after:
        handled = imap.take_mail
        count = 0

        def stalling(engine: Engine, raw: bytes, at: float) -> Outcome:
            nonlocal count
            outcome = handled(engine, raw, at)
            count += 1
            if count == stall_after:
                time.sleep(60)
            return outcome

        imap.take_mail = stalling
    result = imap.poll(Engine(Settings(), SqliteStore(store)), now)
    print(json.dumps({"outcomes": result.outcomes, "busy": result.busy, "problem": result.problem}))


if __name__ == "__main__":
    main()
