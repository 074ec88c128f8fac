"""Errors a person can act on, importable without the settings machinery.

The command line catches these for every command, so they live apart from
``config.settings`` (which loads pydantic-settings): ``pactkeeper validate`` stays
quick.
"""

from __future__ import annotations


class SettingsError(ValueError):
    """A setting that cannot be used; the message is one line naming it and what is expected."""
