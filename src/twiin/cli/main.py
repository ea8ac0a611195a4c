"""Entry point and command group of the ``twiin`` command."""

from __future__ import annotations

import importlib
import pkgutil

import click

from twiin._version import __version__


def _command_modules() -> list[str]:
    """The public modules of :mod:`twiin.cli` besides this one; each defines ``register(cli)``
    for the command of the same name."""
    package = importlib.import_module("twiin.cli")
    return sorted(
        info.name
        for info in pkgutil.iter_modules(package.__path__)
        if not info.name.startswith("_") and info.name != "main"
    )


class _LazyGroup(click.Group):
    """Imports a command's module only when the command is used (or listed by ``--help``), so
    ``twiin validate`` does not load the sandbox."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_command_modules()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in _command_modules():
            importlib.import_module(f"twiin.cli.{cmd_name}").register(self)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="twiin")
def cli() -> None:
    """twiin: Twiin exchanges from the command line (sandbox, diagnostics, validation)."""


def main() -> None:
    """Run the ``twiin`` command."""
    cli(prog_name="twiin")
