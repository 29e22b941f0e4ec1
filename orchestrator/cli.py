"""The `netmatrix` console script: invoke's Program over the same collection as tasks.py.

One difference from `invoke`: a command line invoke cannot parse (an unknown flag or task, a
missing value) is bad input like any other, so it ends with one `error:` line and exit code 2
rather than invoke's exit code 1.
"""

from invoke import Exit, Program
from invoke.exceptions import ParseError

from orchestrator import __version__
from orchestrator.tasks import ns


class NetmatrixProgram(Program):
    """invoke's Program, with parse errors reported as netmatrix reports bad input."""

    def parse_core(self, argv: list[str] | None) -> None:
        try:
            super().parse_core(argv)
        except ParseError as error:
            raise Exit(f"error: {error}", code=2) from None

    def parse_tasks(self) -> None:
        try:
            super().parse_tasks()
        except ParseError as error:
            raise Exit(f"error: {error}", code=2) from None


program = NetmatrixProgram(namespace=ns, version=__version__, name="netmatrix", binary="netmatrix")


def main() -> None:
    """Entry point of the console script."""
    program.run()
