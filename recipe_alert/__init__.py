"""Shared code for the three calorie-alert scripts (see the README's architecture table)."""

import dataclasses

__version__ = "0.1.0"


def tuning(default):
    """A settings field no flag sets: a tuned constant, kept beside the settings it bounds.

    ``cli.settings_from`` refuses any other field that no flag fills.
    """
    return dataclasses.field(default=default, metadata={"flag": False})
