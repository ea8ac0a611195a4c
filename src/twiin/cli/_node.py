"""The node behind the node-backed commands: ``--config`` and :class:`twiin.node.Node` loading."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from twiin.node import Node

__all__ = ["config_option", "open_node"]

config_option = click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="TWIIN_CONFIG",
    help="The node's node.toml (env TWIIN_CONFIG).",
)


@contextmanager
def open_node(config_path: Path) -> Iterator[Node]:
    """Load the node of ``config_path`` and close it afterwards.

    A bad configuration raises :class:`~twiin.errors.ConfigurationError` (exit 2 through
    :func:`~twiin.cli._common.handle_errors`).
    """
    from twiin.node import Node  # imported on use: the light commands do not pay for the node stack

    node = Node.from_file(config_path)
    try:
        yield node
    finally:
        node.close()
