"""``cli/`` is installed as ``kerasrnn.cli``: the package list, the entry point, and the imports.

pyproject.toml lists the packages (setuptools cannot "find" a package under
another name than its folder's), so a new subpackage of kerasrnn must be
added there: :func:`test_pyproject_lists_every_package` says which.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
pytestmark = pytest.mark.backend_independent


def _package_dirs() -> dict[str, Path]:
    """Package name -> folder, as pyproject.toml installs them."""
    mapping = SETUPTOOLS.get("package-dir", {})
    return {name: ROOT / mapping.get(name, name.replace(".", "/")) for name in SETUPTOOLS["packages"]}


def test_pyproject_lists_every_package():
    folders = {
        ".".join(path.relative_to(ROOT).parts)
        for path in (ROOT / "kerasrnn").rglob("*")
        if path.is_dir() and "__pycache__" not in path.parts and any(path.glob("*.py"))
    } | {"kerasrnn"}
    listed = set(SETUPTOOLS["packages"])
    assert folders - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - folders == {"kerasrnn.cli"}
    assert SETUPTOOLS["package-dir"] == {"kerasrnn.cli": "cli"}
    for name, folder in _package_dirs().items():
        assert folder.is_dir() and any(folder.glob("*.py")), name


def test_the_entry_point_is_kerasrnn_cli_main():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"kerasrnn": "kerasrnn.cli.main:main"}


def test_kerasrnn_cli_is_the_cli_folder_from_the_repository_root():
    # pytest and `python -m` put the repository root first on sys.path, where
    # ./kerasrnn has no cli folder: the editable install's finder maps it.
    code = (
        "import sys, kerasrnn, kerasrnn.cli.main as m; "
        "print(kerasrnn.__file__); print(m.__file__); print(sys.modules['kerasrnn.cli'].__path__[0])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    package, main, cli = map(Path, result.stdout.split())
    assert package == ROOT / "kerasrnn" / "__init__.py"
    assert main == ROOT / "cli" / "main.py" and cli == ROOT / "cli"


@pytest.mark.parametrize("module", ["kerasrnn.cli.main", "kerasrnn.cli"])
def test_python_dash_m(module):
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"], check=False, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "Usage: " in result.stdout and "fit" in result.stdout
