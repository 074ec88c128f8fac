"""``deliveries.csv`` in the handover bundle carries ids and outcomes, never an address or a
phone number, redacted or not (issue 16); a failure's detail is kept with what it quoted
masked. On both stores."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pytest

from config.load import load_plan
from tests.engine import make_engine, moment, run_until
from tests.support import DUTCH
from worker.handover.close import build_bundle
from worker.plans.register import register
from worker.store.base import Store

HEADER = [
    "key",
    "kind",
    "about",
    "person",
    "channel",
    "due",
    "sent_at",
    "state",
    "attempts",
    "detail",
]


def deliveries(bundle: bytes) -> tuple[str, list[dict[str, str]]]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith("/data/deliveries.csv")]
        text = archive.read(name).decode("utf-8-sig")
    return text, list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("redact", [False, True])
def test_deliveries_csv_holds_ids_and_outcomes_only(
    store: Store, tmp_path: Path, redact: bool
) -> None:
    plan = load_plan(DUTCH)
    engine = make_engine(tmp_path, store)
    register(engine, plan, moment("2027-01-01 00:00"))
    run_until(engine, moment("2027-01-11 08:00"))  # the invitations, into the outbox
    now = moment("2027-01-11 09:00")
    (claim,) = engine.store.claim(now, 1, 60)
    item = engine.store.begin(claim, now, 60)
    assert item is not None and item.recipient is not None
    person = plan.person(item.recipient)
    assert person.email is not None
    # What the SMTP connector stores when the server refuses the address.
    engine.store.finish(claim, "failed", now, detail=f"permanent: SMTP refused {person.email} 550")

    text, rows = deliveries(build_bundle(engine, plan, now, redact=redact))

    assert text.splitlines()[0].split(",") == HEADER
    personal = {v for p in plan.people for v in (p.email, p.phone) if v}
    assert [v for v in personal if v in text or v.lstrip("+") in text] == []
    assert not re.search(r"[\w.+-]+@[\w-]+\.\w+", text)  # no address of anyone at all
    ids = {p.id for p in plan.people}
    assert rows and all(row["person"] in ids for row in rows)
    failed = next(row for row in rows if row["key"] == item.key)
    assert (failed["state"], failed["person"]) == ("failed", person.id)
    assert failed["detail"] == "permanent: SMTP refused <address> 550"
    sent = [row for row in rows if row["state"] == "sent"]
    assert sent and all(row["sent_at"] and row["due"] and row["channel"] for row in sent)
    assert {row["kind"] for row in sent} >= {"invite"}
    # The ledger itself keeps the detail whole: the store is what retention handles.
    stored = engine.store.get(item.key)
    assert stored is not None and person.email in stored.detail
