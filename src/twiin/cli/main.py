"""Entry point and command group of the ``twiin`` command."""

from __future__ import annotations

import importlib

import click

from twiin._version import __version__

# command modules; each defines ``register(cli)``
_COMMANDS: tuple[str, ...] = ()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="twiin")
def cli() -> None:
    """twiin: Twiin exchanges from the command line (sandbox, diagnostics, validation)."""


for _name in _COMMANDS:
    importlib.import_module(f"twiin.cli.{_name}").register(cli)


def main() -> None:
    """Run the ``twiin`` command."""
    cli(prog_name="twiin")
