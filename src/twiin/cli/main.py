"""Entry point and command group of the ``twiin`` command."""

from __future__ import annotations

import importlib
import pkgutil

import click

from twiin._version import __version__


def _command_modules() -> list[str]:
    """The public modules of :mod:`twiin.cli` besides this one; each defines ``register(cli)``."""
    package = importlib.import_module("twiin.cli")
    return sorted(
        info.name
        for info in pkgutil.iter_modules(package.__path__)
        if not info.name.startswith("_") and info.name != "main"
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="twiin")
def cli() -> None:
    """twiin: Twiin exchanges from the command line (sandbox, diagnostics, validation)."""


for _name in _command_modules():
    importlib.import_module(f"twiin.cli.{_name}").register(cli)


def main() -> None:
    """Run the ``twiin`` command."""
    cli(prog_name="twiin")
