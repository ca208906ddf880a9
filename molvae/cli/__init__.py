"""The ``molvae`` command line: click commands that parse options, build a config and call the library.

``main`` is the group; importing the command modules registers their commands on it."""

from molvae.cli import judge, molecules, sample, train  # noqa: F401  (registers the commands)
from molvae.cli.group import main

__all__ = ["main"]
