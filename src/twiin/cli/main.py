"""Entry point and command group of the ``twiin`` command."""

from __future__ import annotations

import click

from twiin._version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="twiin")
def cli() -> None:
    """twiin: Twiin exchanges from the command line (sandbox, diagnostics, validation)."""


def main() -> None:
    """Run the ``twiin`` command."""
    cli(prog_name="twiin")
