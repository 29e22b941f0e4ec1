"""The `netmatrix` console script: invoke's Program over the same collection as tasks.py."""

from invoke import Program

from orchestrator import __version__
from orchestrator.tasks import ns

program = Program(namespace=ns, version=__version__, name="netmatrix", binary="netmatrix")


def main() -> None:
    """Entry point of the console script."""
    program.run()
