"""The subcommand registry: each verb module registers its verbs here with :func:`command`, so a
feature in its own module adds a verb without touching the parser of the others."""

from __future__ import annotations

import argparse
from collections.abc import Callable

AddArgs = Callable[[argparse.ArgumentParser], None]
Handler = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, tuple[str, AddArgs, Handler]] = {}


def command(name: str, help_text: str) -> Callable[[AddArgs], Callable[[Handler], Handler]]:
    """Register a subcommand: ``@command("run", "...")(add_args)(handler)``."""
    def with_args(add_args: AddArgs) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            COMMANDS[name] = (help_text, add_args, handler)
            return handler
        return register
    return with_args
