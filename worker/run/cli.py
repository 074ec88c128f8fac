"""The ``pactkeeper`` command (docs/architecture.md §3).

Imports are lazy: ``validate`` must not pay for Celery, the web framework or
the calendar library. Errors meant for people are printed as one clear line
each; a Python traceback only appears with ``PACTKEEPER_DEBUG=1``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from worker.run import telegram_cli

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text

    from config.plan import Person, Plan
    from config.settings import Settings
    from worker.calendar.revisions import CalendarChanges
    from worker.engine import Engine

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="pactkeeper keeps the agreements of a volunteering partnership alive.",
)
app.add_typer(telegram_cli.telegram)


class UserError(Exception):
    """Something the user can fix; printed as one line, exit code 1."""

    code = 1


class UsageError(UserError):
    """A bad option value (a date that does not parse, a folder where a file goes): exit 2."""

    code = 2


def fail(message: str, code: int = 1) -> NoReturn:
    print(f"pactkeeper: {message}", file=sys.stderr)
    raise typer.Exit(code)


def read_plan(path: Path) -> Plan:
    from config.load import load_plan

    return load_plan(path)


def say(text: str) -> None:
    """Print text that quotes a plan or a person (names, titles), escaped for the terminal."""
    from config.load import printable

    print("\n".join(printable(line) for line in text.split("\n")))


def write_output(content: str | bytes, output: Path | None) -> None:
    """Write to ``output``, or to stdout.

    A regular file (or a new one) is replaced atomically, through any symlink to it;
    anything else (``/dev/stdout``, a pipe, a device) is written into where it is:
    replacing it would put a regular file where the device or the link was.
    """
    data = content.encode() if isinstance(content, str) else content
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    if output.is_dir():
        raise UsageError(f"-o: {output} is a folder; name a file")
    try:
        if _in_place(output):
            # Appended: /dev/stdout may be a file the shell opened with >>; "wb" would empty it.
            with output.open("ab") as handle:
                handle.write(data)
        else:
            _replace(Path(os.path.realpath(output)), data)
    except OSError as error:
        raise UserError(f"cannot write {output}: {error.strerror}") from None


def _in_place(path: Path) -> bool:
    """True for a target that must be written, not replaced: not a regular file, or
    reached through /dev or /proc (``/dev/stdout`` may be a file opened to append)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return False  # a new file, or a symlink to one: created by the replace
    return not stat.S_ISREG(mode) or any(
        str(hop).startswith(("/dev/", "/proc/")) for hop in _hops(path)
    )


def _hops(path: Path) -> Iterator[Path]:
    """The path and every symlink it leads through, as absolute paths."""
    hop = path.absolute()
    for _ in range(40):  # the kernel's own limit on a chain of links
        yield hop
        if not hop.is_symlink():
            return
        hop = (hop.parent / os.readlink(hop)).absolute()


def _replace(target: Path, data: bytes) -> None:
    """Write aside, then rename over ``target``: a reader never sees half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    draft = target.with_name(f".{target.name}.part")
    draft.write_bytes(data)
    if target.exists():
        draft.chmod(stat.S_IMODE(target.stat().st_mode))
    draft.replace(target)


PlanArg = Annotated[Path, typer.Argument(help="the plan file (YAML, format v1)")]
OutputOpt = Annotated[Path | None, typer.Option("-o", "--output", help="write to this file")]


@app.command()
def validate(
    plans: Annotated[list[Path], typer.Argument(help="plan files to check")],
    strict: Annotated[
        bool, typer.Option("--strict", help="treat advice as errors: report it so and exit 1")
    ] = False,
) -> None:
    """Check plans; print every error as PATH:LINE:COL: field.path: message.

    A valid plan gets its ok line on stdout, then any advice below it as
    PATH:LINE:COL: advice: field.path: message; advice leaves the exit code 0.
    """
    from config.advice import advise
    from config.load import PlanError, load_plan

    failed = False
    for path in plans:
        try:
            plan = load_plan(path)
        except PlanError as error:
            print(error.report(), file=sys.stderr)
            failed = True
            continue
        advice = advise(plan, str(path))
        if strict and advice:
            print("\n".join(piece.as_error(str(path)) for piece in advice), file=sys.stderr)
            failed = True
            continue
        print(
            f"{path}: ok ({plan.id}: {len(plan.people)} people, {len(plan.milestones)} milestones)"
        )
        for piece in advice:
            print(piece.format(str(path)))
    raise typer.Exit(1 if failed else 0)


@app.command()
def schema() -> None:
    """Print the JSON Schema of plan format v1 (for editors)."""
    from config.schema import plan_schema

    print(json.dumps(plan_schema(), indent=2, ensure_ascii=False))


@app.command()
def timeline(
    plan: PlanArg,
    as_json: Annotated[bool, typer.Option("--json", help="a JSON list for tools")] = False,
) -> None:
    """Every occurrence the plan schedules: reminders, check-ins, kickoff, handover, close."""
    from worker import timeline as compiler

    items = compiler.compile(read_plan(plan))
    if as_json:
        print(json.dumps([item.as_json() for item in items], indent=1, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("when (UTC)", "local", "kind", "ref", "recipient", "channel", box=None)
    for item in items:
        table.add_row(
            item.at.strftime("%Y-%m-%d %H:%M"),
            item.local.strftime("%a %d %b %H:%M %Z"),
            item.kind,
            item.ref,
            item.recipient or "",
            item.channel or "",
        )
    Console(width=140).print(table)
    print(f"{len(items)} occurrences", file=sys.stderr)


@app.command()
def ics(
    plan: PlanArg,
    person: Annotated[
        str | None, typer.Option("--for", help="only what concerns this person")
    ] = None,
    output: OutputOpt = None,
) -> None:
    """The plan as a calendar (METHOD:PUBLISH), for everyone or for one person."""
    from worker.calendar.events import build_calendar

    loaded = read_plan(plan)
    if person is not None and person not in {p.id for p in loaded.people}:
        known = ", ".join(p.id for p in loaded.people)
        raise UserError(f"no person '{person}' in {plan} (people: {known})")
    write_output(build_calendar(loaded, person=person, settings=_settings()), output)


class RunbookFormat(StrEnum):
    md = "md"
    html = "html"


@app.command()
def runbook(
    plan: PlanArg,
    fmt: Annotated[RunbookFormat, typer.Option("--format", help="md or html")] = RunbookFormat.md,
    output: OutputOpt = None,
) -> None:
    """The runbook for all participants: contacts, channels, rhythm, milestones, ladder."""
    from worker.kickoff.runbook import render_runbook

    write_output(render_runbook(read_plan(plan), fmt.value), output)


@app.command()
def sync(
    plans: Annotated[list[Path], typer.Argument(help="plan files to register or update")],
) -> None:
    """Register or update plans: schedule what changed, cancel what vanished."""
    from config.load import PlanError, load_plan
    from worker import clock
    from worker.engine import IdTaken
    from worker.plans.register import register
    from worker.privacy.keeping import refusal

    loaded, failed = [], False
    for path in plans:
        try:
            loaded.append(load_plan(path))
        except PlanError as error:
            print(error.report(), file=sys.stderr)
            failed = True
    if failed:
        fail("nothing was changed: fix the errors above first")
    with _engine() as engine:
        for plan in loaded:
            purged_why = refusal(engine, plan.id)
            if purged_why is not None:
                fail(f"{purged_why} (nothing was changed)")
        for plan in loaded:
            try:
                registration = register(engine, plan, clock.now())
            except IdTaken:
                raise
            except PlanError as error:  # an erased person's entry that cannot be rewritten
                fail(f"{plan.id} was not registered: {error.report()}")
            result = registration.result
            print(
                f"{plan.id}: {len(result.added)} scheduled, {len(result.removed)} cancelled, "
                f"{result.kept} unchanged, {len(result.expired)} already past"
            )
            for person in registration.erased:
                print(
                    f"  {person} was erased (pactkeeper forget) and is registered without "
                    f"their data: take them out of {plan.path or 'the plan file'}"
                )
            _print_calendars(engine, registration.plan, registration.calendar)


def _print_calendars(engine: Engine, plan: Plan, changes: CalendarChanges | None) -> None:
    """What ``sync`` queued for the calendars, and the feed addresses (secret: share each
    with its person only)."""
    from worker.links import feed_url

    if changes is not None:
        caldav = "; CalDAV push queued" if changes.caldav else ""
        print(
            f"  calendar: {len(changes.invites)} invitations and {len(changes.cancels)} "
            f"cancellations queued{caldav}"
        )
        for departed in changes.departed:
            say(f"  no cancellation sent (not in the plan or not by e-mail): {departed}")
    print(f"  feed of the whole plan: {feed_url(engine.settings, plan.id)}")
    for person in plan.people:
        say(f"  feed of {person.name}: {feed_url(engine.settings, plan.id, person.id)}")


@app.command()
def run(
    plans_dir: Annotated[
        Path | None,
        typer.Argument(help="folder of plan files to keep in sync (edits are picked up)"),
    ] = None,
    concurrency: Annotated[int, typer.Option(help="worker processes")] = 2,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="rehearse: start the clock at this ISO 8601 moment "
            "(e.g. 2027-01-11T07:59:30Z); it then runs at normal speed",
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="Celery's and uvicorn's own log lines too")
    ] = False,
) -> None:
    """The main job on one machine: worker, beat and web, until Ctrl-C."""
    from worker.run.main import run_main

    start = _instant(as_of)
    # A rehearsal works in a folder of its own, made afresh by run_main: real time's store
    # is neither checked nor created for it.
    settings = _settings() if start is not None else _checked_store()
    # None, not False: PACTKEEPER_VERBOSE=1 in the environment still counts.
    raise typer.Exit(run_main(settings, plans_dir, concurrency, start, verbose or None))


def _checked_store() -> Settings:
    """Settings whose key and store work, checked here: a child process would only
    stop with a traceback. The key is made first, so that the children find it."""
    with _engine() as engine:
        engine.store.plan_ids()
    return engine.settings


def _instant(text: str | None) -> float | None:
    """An ISO 8601 moment (UTC when it names no offset) as POSIX seconds."""
    from datetime import UTC, datetime

    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--as-of: '{text}' is not an ISO 8601 moment like 2027-01-11T07:59:30Z"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


@app.command()
def simulate(
    plan: PlanArg,
    until: Annotated[str, typer.Option(help="simulate through the end of this date (YYYY-MM-DD)")],
    out: Annotated[Path, typer.Option("--out", help="folder for outbox/, log.jsonl, handover.zip")],
    checkins: Annotated[Path | None, typer.Option(help="CSV: person,at,status,note[,done]")] = None,
    replies: Annotated[
        Path | None,
        typer.Option(help="CSV: person,at,via,text (via: email, sms, whatsapp, telegram)"),
    ] = None,
) -> None:
    """Run the real engine on a virtual clock from the plan's start through --until."""
    from config.notation import parse_date
    from worker.run.simulate import SimulationError
    from worker.run.simulate import simulate as run_simulation

    try:
        last = parse_date(until)
    except ValueError as error:
        raise UsageError(f"--until: {error}") from None
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {out} is a file; name a folder (it is made when missing)")
    try:
        result = run_simulation(plan, last, out, checkins, replies)
    except SimulationError as error:
        fail(str(error))
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(result.by_kind.items()))
    print(f"{result.deliveries} deliveries ({kinds or 'none'}) -> {out / 'log.jsonl'}")
    print(f"outbox: {out / 'outbox'}")
    if result.skipped:
        from config.load import printable

        for skipped in result.skipped:
            print(f"pactkeeper: {checkins}, {printable(skipped)}; row skipped", file=sys.stderr)
    if result.bundle:
        print(f"handover bundle: {result.bundle}")


@app.command()
def status(
    plan: Annotated[str | None, typer.Argument(help="a plan id or plan file")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for tools")] = False,
    link: Annotated[
        bool, typer.Option("--link", help="print the plan's secret status page link")
    ] = False,
) -> None:
    """Risk with reasons, check-ins, overdue milestones, deliveries, failures."""
    from worker.links import status_link
    from worker.status import plan_status
    from worker.store import records

    with _engine() as engine:
        erased = sorted(engine.store.records(records.PURGED))
        plan_ids = [_plan_id(plan)] if plan else sorted({*engine.store.plan_ids(), *erased})
        known = {*engine.store.plan_ids(), *erased}
        for plan_id in plan_ids:
            if plan_id not in known:
                raise UserError(
                    f"the plan '{plan_id}' is not registered; run 'pactkeeper sync PLAN' first"
                )
        if link:
            for plan_id in plan_ids:
                if plan_id in erased:
                    raise UserError(f"the plan '{plan_id}' was purged: it has no status page")
                print(status_link(engine.settings, engine.plan(plan_id)))
            return
        reports = [plan_status(engine, plan_id) for plan_id in plan_ids]
    if as_json:
        print(json.dumps(reports if plan is None else reports[0], indent=1, ensure_ascii=False))
    else:
        print_status(reports)


TimeOpt = Annotated[
    str | None, typer.Option("--at", help="YYYY-MM-DD HH:MM in the plan's zone (default: now)")
]


def _moment(plan: Plan, text: str | None) -> float:
    """``--at`` in the plan's zone as POSIX seconds, or now."""
    from config.notation import parse_datetime
    from worker import clock

    if text is None:
        return clock.now()
    try:
        local = parse_datetime(text)
    except ValueError as error:
        raise UsageError(f"--at: {error}") from None
    return local.replace(tzinfo=plan.zone).timestamp()


@contextmanager
def _registered(plan: Plan) -> Iterator[Engine]:
    with _engine() as engine:
        if engine.store.plan(plan.id) is None:
            raise UserError(f"the plan '{plan.id}' is not registered; run 'pactkeeper sync' first")
        yield engine


@app.command()
def checkin(
    plan: PlanArg,
    person: Annotated[str, typer.Argument(help="the person checking in (id)")],
    status_: Annotated[
        str, typer.Option("--status", help="on_track, need_help, blocked or stopping")
    ] = "on_track",
    note: Annotated[str, typer.Option(help="a short note")] = "",
    at: TimeOpt = None,
) -> None:
    """Record a check-in for a person (into their window open at that time)."""
    from worker import clock
    from worker.checkins.answers import CheckinError, record_checkin

    loaded = read_plan(plan)
    if person not in {p.id for p in loaded.people}:
        raise UserError(f"no person '{person}' in {plan}")
    with _registered(loaded) as engine:
        try:
            # recorded=: the real moment, so an --at in the future answers nothing ahead.
            moment = _moment(loaded, at)
            result = record_checkin(
                engine, loaded, person, moment, status_, note, source="cli", recorded=clock.now()
            )
        except CheckinError as error:
            raise UserError(str(error)) from None
    print(result.summary())


@app.command()
def done(
    plan: PlanArg,
    milestone: Annotated[str, typer.Argument(help="the milestone id")],
    at: TimeOpt = None,
) -> None:
    """Mark a milestone done."""
    from worker.checkins.answers import mark_done

    loaded = read_plan(plan)
    if milestone not in {m.id for m in loaded.milestones}:
        raise UserError(f"no milestone '{milestone}' in {plan}")
    with _registered(loaded) as engine:
        changed = mark_done(engine, loaded, milestone, _moment(loaded, at))
    print(f"{milestone}: done" if changed else f"{milestone} was already done")


@app.command("mail-in")
def mail_in(
    file: Annotated[
        Path | None, typer.Argument(help="the message (RFC 5322); standard input without it")
    ] = None,
) -> None:
    """Read one e-mail reply (from an MTA pipe, .forward or a mail service's hook).

    Exit 0 when it was taken (an answer, a notice to the lead, a duplicate), 1 when it was
    refused, with the reason on stderr.
    """
    from worker import clock
    from worker.inbound.mail import MAX_BYTES
    from worker.inbound.mailin import take_mail

    raw = _read_message(file, MAX_BYTES + 1)
    with _engine() as engine:
        outcome = take_mail(engine, raw, clock.now())
    if outcome.result == "refused":
        fail(f"the message was refused ({outcome.reason})")
    print(outcome.summary())


def _read_message(file: Path | None, limit: int) -> bytes:
    """At most ``limit`` bytes of the file or standard input (a bigger message is refused
    by its size, without being read whole)."""
    try:
        if file is None:
            return sys.stdin.buffer.read(limit)
        if not file.is_file():
            raise UsageError(f"{file} is not a file")
        with file.open("rb") as handle:
            return handle.read(limit)
    except OSError as error:
        raise UserError(f"cannot read {file or 'standard input'}: {error.strerror}") from None


@app.command()
def close(plan: PlanArg) -> None:
    """Close the plan now: build the handover bundle and deliver it (once)."""
    from worker import clock
    from worker.handover.close import close_plan

    loaded = read_plan(plan)
    with _registered(loaded) as engine:
        say(close_plan(engine, loaded, clock.now()).summary())


@app.command()
def handover(
    plan: PlanArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="the bundle (.zip)")],
    redact: Annotated[
        bool, typer.Option(help="leave e-mail addresses and phone numbers out")
    ] = False,
) -> None:
    """Only build the handover bundle (a BagIt zip); nothing is sent."""
    from worker import clock
    from worker.handover.close import build_bundle

    loaded = read_plan(plan)
    with _engine() as engine:
        data = build_bundle(engine, loaded, clock.now(), redact=redact)
    write_output(data, output)
    print(f"{output}: {len(data):,} bytes", file=sys.stderr)


@app.command()
def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="only say what would be erased; change nothing")
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="the moment to reckon purge dates from (ISO 8601; now)"),
    ] = None,
) -> None:
    """Erase the personal data of closed plans whose keep_days have passed (AVG/GDPR)."""
    from worker import clock
    from worker.privacy import retention

    try:
        moment = _instant(as_of)
    except UsageError as error:
        raise UserError(str(error)) from None
    now = clock.now() if moment is None else moment
    with _engine() as engine:
        try:
            retention.real_time_only(engine)
            due = retention.due_for_purge(engine, now)
            if not dry_run:
                retention.housekeeping(engine, now)
            if not due:
                print("nothing to purge: no closed plan is past its keep_days")
            for done in retention.purge_plans(engine, [p for p, _ in due], now, dry_run):
                print(done.summary())
        except retention.RetentionError as error:
            raise UserError(str(error)) from None


@app.command()
def export(
    plan: Annotated[str, typer.Argument(help="the plan file or its id", metavar="PLAN")],
    person: Annotated[str, typer.Argument(help="the person (id)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="the JSON file")],
) -> None:
    """Write everything held about a person (with their messages) as JSON."""
    from worker import clock
    from worker.privacy.export import export as exported

    with _engine() as engine:
        loaded, found = _person_of(engine, plan, person)
        document = exported(engine, loaded, found, clock.now())
    write_output(json.dumps(document, indent=2, ensure_ascii=False) + "\n", output)
    print(f"{output}: {document['rows']} rows about {person} of {loaded.id}", file=sys.stderr)


@app.command()
def forget(
    plan: Annotated[str, typer.Argument(help="the plan file or its id", metavar="PLAN")],
    person: Annotated[str, typer.Argument(help="the person (id)")],
    all_plans: Annotated[
        bool,
        typer.Option(
            "--all-plans", help="also in every other plan (same e-mail address or phone number)"
        ),
    ] = False,
) -> None:
    """Erase a person: cancel what is still to come, delete their messages and notes,
    pseudonymise every record of them."""
    from worker import clock
    from worker.privacy.erase import forget as erase
    from worker.privacy.erase import same_person

    with _engine() as engine:
        loaded, found = _person_of(engine, plan, person)
        targets = [(loaded, found)]
        if all_plans:
            for other_id in engine.store.plan_ids():
                if other_id == loaded.id:
                    continue
                other = _stored_plan(engine, other_id)
                if other is None:
                    continue
                targets += [(other, p) for p in other.present() if same_person(p, found)]
        for target_plan, target in targets:
            done = erase(engine, target_plan, target, clock.now())
            print(done.summary())
            where = f" ({target_plan.path})" if target_plan.path else ""
            print(
                f"take {target.id} out of the plan file of {target_plan.id}{where}: until then "
                "every sync registers them under their pseudonym, without their data"
            )


def _person_of(engine: Engine, plan: str, person_id: str) -> tuple[Plan, Person]:
    """The plan (as registered, else from its file) and the person named ``person_id``."""
    path = Path(plan)
    from_file = None
    if path.suffix in (".yaml", ".yml") or path.exists():
        from_file = read_plan(path)
    plan_id = from_file.id if from_file else plan
    loaded = _stored_plan(engine, plan_id)
    if loaded is None and from_file is None:
        raise UserError(f"no plan '{plan}' is registered here, and there is no such plan file")
    chosen = loaded or from_file
    assert chosen is not None
    try:
        return chosen, chosen.person(person_id)
    except KeyError:
        if from_file is not None and loaded is not None:
            try:  # erased already, or not in the stored version: the file's entry
                return loaded, from_file.person(person_id)
            except KeyError:
                pass
        raise UserError(f"no person '{person_id}' in the plan '{chosen.id}'") from None


def _stored_plan(engine: Engine, plan_id: str) -> Plan | None:
    from config.load import PlanError
    from worker.engine import PlanGone

    try:
        return engine.plan(plan_id)
    except PlanGone:
        return None
    except PlanError as error:
        raise UserError(f"the stored plan '{plan_id}' cannot be read: {error}") from None


def _plan_id(text: str) -> str:
    """A plan id, or the id inside a plan file."""
    path = Path(text)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return read_plan(path).id
    return text


def _settings() -> Settings:
    from config.settings import Settings
    from worker import clock

    settings = Settings()
    # The same clock as the worker and the web app of this deployment (run --as-of).
    clock.from_settings(settings.clock_offset)
    return settings


@contextmanager
def _engine() -> Iterator[Engine]:
    """The engine on the deployment's store, closed after; a store that cannot be read
    or reached is one clear line that names it."""
    from worker.engine import Engine

    settings = _settings()
    settings.signing_key  # noqa: B018 - made before the store, which then never lacks it
    unreachable = _unreachable(settings)
    engine: Engine | None = None
    try:
        engine = Engine(settings)
        yield engine
    except unreachable as error:
        raise UserError(f"cannot reach the Redis store (PACTKEEPER_REDIS_URL): {error}") from None
    except sqlite3.OperationalError as error:
        raise UserError(f"cannot use the store {_sqlite_file(settings)}: {error}") from None
    except sqlite3.DatabaseError as error:
        raise UserError(
            f"the store {_sqlite_file(settings)} is damaged ({error}): restore it from a "
            "backup, or move it away to start with an empty store"
        ) from None
    finally:
        if engine is not None:
            engine.close()


def _unreachable(settings: Settings) -> tuple[type[Exception], ...]:
    if settings.embedded:
        return ()
    from redis.exceptions import ConnectionError, TimeoutError

    return (ConnectionError, TimeoutError)


def _sqlite_file(settings: Settings) -> Path:
    from config.settings import SQLITE_STORE

    return settings.data_dir / SQLITE_STORE


# -- status for a terminal ------------------------------------------------------------


def print_status(reports: list[dict[str, Any]]) -> None:
    """The reports for a terminal. Every text is shown through ``_shown``: notes, names and
    delivery errors come from people and servers, and must not steer the terminal."""
    from rich.console import Console

    console = Console(width=140)
    if not reports:
        console.print("No plans registered yet: run 'pactkeeper sync PLAN'.")
    for report in reports:
        counts = ", ".join(f"{n} {state}" for state, n in report["counts"].items()) or "nothing"
        closed = "  (closed)" if report["closed"] else ""
        console.print(_shown(report["plan"], "bold") + _shown(f"  {counts}{closed}"))
        if report.get("purged"):
            console.print(_shown(f"  personal data erased on {report['purged'][:10]}"))
            continue
        if report.get("data_kept_until"):
            console.print(_shown(f"  personal data kept until {report['data_kept_until']}"))
        _print_progress(console, report)
        for title, rows in (
            ("next", report["next"]),
            ("failed", report["failed"]),
            ("unknown outcome", report["unknown"]),
        ):
            if rows:
                console.print(_deliveries(title, rows))
        for target in report["disabled_channels"]:
            console.print(
                _shown(
                    f"  channel off: {target['person']} on {target['channel']} ({target['reason']})"
                )
            )
        for target in report.get("opted_out", []):
            console.print(
                _shown(f"  channel off: {target['person']} on {target['channel']} (sent STOP)")
            )
        for target in report.get("no_consent", []):
            console.print(
                _shown(
                    f"  channel off: {target['person']} on {target['channel']} ({target['reason']})"
                )
            )


def _shown(text: str, style: str = "") -> Text:
    """Text for the terminal: control characters written as escapes, never markup."""
    from rich.text import Text

    from config.load import printable

    return Text(printable(text), style=style)


def _deliveries(title: str, rows: list[dict[str, Any]]) -> Table:
    from rich.table import Table

    table = Table(
        "due (UTC)",
        "kind",
        "ref",
        "recipient",
        "channel",
        "detail",
        title=title,
        title_justify="left",
        box=None,
    )
    for row in rows:
        cells = (row["due"], row["kind"], row["ref"], row["recipient"], row["channel"])
        table.add_row(*(_shown(str(cell or "")) for cell in (*cells, row["detail"])))
    return table


def _print_progress(console: Any, report: dict[str, Any]) -> None:
    """Risk with its reasons, each person's last windows, overdue milestones."""
    if "error" in report:
        console.print(_shown(f"  {report['error']}"))
    if "risk" not in report:
        return
    risk = report["risk"]
    console.print(_shown(f"  risk: {risk['level']}"))
    for reason in risk["reasons"]:
        console.print(_shown(f"    - {reason['text']}"))
    for person, windows in report["checkins"].items():
        marks = (
            " ".join(f"{w['window'][5:]} {w['state']}" for w in windows[-6:]) or "no windows yet"
        )
        level = risk["people"][person]["level"]
        console.print(_shown(f"  {person} ({level}): {marks}"))
    for milestone in report["milestones"]:
        if milestone["overdue_days"] is not None:
            console.print(
                _shown(f"  overdue: {milestone['id']} ({milestone['overdue_days']} days)")
            )
    for meeting in report.get("meetings", []):
        console.print(_shown(f"  meeting {meeting['milestone']}: {_answers(meeting)}"))


def _answers(meeting: dict[str, Any]) -> str:
    """``accepted: ana, bram; declined: dirk`` for a meeting's invitees."""
    by_answer: dict[str, list[str]] = {}
    for attendee in meeting["attendees"]:
        by_answer.setdefault(attendee["answer"], []).append(attendee["person"])
    return "; ".join(f"{answer}: {', '.join(people)}" for answer, people in by_answer.items())


def main() -> None:
    """Entry point: runs the app and turns every failure into a clear message."""
    from config.errors import SettingsError
    from config.load import PlanError, printable
    from worker import logfilter
    from worker.datafolder import WrongClock

    logfilter.install()  # what any command logs names no address or phone number
    try:
        app()
    except PlanError as error:
        print(error.report(), file=sys.stderr)
        sys.exit(1)
    except UserError as error:
        print(f"pactkeeper: {printable(str(error))}", file=sys.stderr)
        sys.exit(error.code)
    except (SettingsError, WrongClock) as error:
        print(f"pactkeeper: {printable(str(error))}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:
        if os.environ.get("PACTKEEPER_DEBUG"):
            raise
        print(
            f"pactkeeper: internal error ({type(error).__name__}: {error}); "
            "set PACTKEEPER_DEBUG=1 to see the details",
            file=sys.stderr,
        )
        sys.exit(70)


if __name__ == "__main__":
    main()
