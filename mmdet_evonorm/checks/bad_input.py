"""The one bad-input error of the package, and how the tools report it.

Every check raises :class:`BadInputError` with one line that names the file,
option or config field and says what to do. A tool prints it as ``error: <line>``
on stderr and exits with :data:`EXIT_BAD_INPUT` before it writes anything::

    @exits_on_bad_input
    def main(argv=None) -> int:
        args = ArgumentParser(description=...).parse_args(argv)  # usage errors: same form
        ...
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from typing import NoReturn

#: Exit status of every tool for bad input.
EXIT_BAD_INPUT = 2


class BadInputError(ValueError):
    """Bad input from the command line, the config or a file (the message is one line)."""


def print_error(message: str, status: int = EXIT_BAD_INPUT) -> int:
    """Print ``error: message`` on stderr; return ``status`` (the tool's exit status)."""
    print(f"error: {message}", file=sys.stderr)
    return status


def exits_on_bad_input(main: Callable[..., int]) -> Callable[..., int]:
    """Decorate a tool's ``main``: a :class:`BadInputError` becomes one line and status 2."""

    @functools.wraps(main)
    def checked_main(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except BadInputError as exc:
            return print_error(str(exc))

    return checked_main


class ArgumentParser(argparse.ArgumentParser):
    """``argparse`` whose usage errors take the same form: one ``error:`` line, status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see {self.prog} --help)\n")
