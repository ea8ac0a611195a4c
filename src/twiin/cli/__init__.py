"""The ``twiin`` command line."""

from twiin.cli.main import main

__all__ = ["main"]
