"""``pactkeeper telegram ...``: the Telegram bot's side of the inbound replies.

``pactkeeper telegram webhook PLAN`` points the plan's bot at this deployment
(``{PACTKEEPER_BASE_URL}/inbound/telegram/<bot id>``, with the secret token derived from
the signing key: ``worker.inbound.telegram``). Exit 0 when Telegram took it, 1 with one
line saying why not. Without a webhook the embedded default polls (``getUpdates``);
with one, Telegram refuses polling, so registering is a choice made here, never behind
the operator's back. Imports are lazy, as in ``worker.run.cli``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

telegram = typer.Typer(
    name="telegram",
    no_args_is_help=True,
    help="Telegram: register the bot's webhook for replies and button presses.",
)


@telegram.command()
def webhook(
    plan: Annotated[Path, typer.Argument(help="the plan file whose bot is registered")],
) -> None:
    """Register the plan's bot webhook at PACTKEEPER_BASE_URL/inbound/telegram/<bot id>."""
    from config.load import load_plan
    from config.settings import Settings
    from worker.engine import Engine
    from worker.inbound.telegram import WebhookError, register_webhook

    loaded = load_plan(plan)
    settings = Settings()
    engine = Engine(settings)
    try:
        url = register_webhook(engine, loaded)
    except WebhookError as error:
        print(f"pactkeeper: telegram webhook: {error}", file=sys.stderr)
        raise typer.Exit(1) from None
    finally:
        engine.close()
    print(f"{loaded.id}: Telegram sends replies to {url}")
