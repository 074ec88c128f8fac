"""Replies: what people send back, by e-mail, SMS, WhatsApp, Telegram and their calendars
(docs/architecture.md §16)."""
