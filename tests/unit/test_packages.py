"""Every directory of modules under orchestrator/ is a regular package.

A directory without `__init__.py` imports from a checkout, as a namespace package, but
`[tool.setuptools.packages.find]` looks for regular packages only: a built wheel would
leave it out.
"""

from pathlib import Path

import orchestrator

ROOT = Path(orchestrator.__file__).parent


def test_every_module_directory_has_an_init() -> None:
    directories = {path.parent for path in ROOT.rglob("*.py")}
    assert (
        sorted(
            str(directory.relative_to(ROOT))
            for directory in directories
            if not (directory / "__init__.py").is_file()
        )
        == []
    )
