"""The names the CLI lists and checks -- architectures, data sets, presets -- without Keras.

``import kerasrnn`` imports Keras and its backend (5-15 s on a small CPU), and
the backend must be chosen (``--backend``) before that happens.  So ``kerasrnn
--help``, ``archs``, ``datasets``, ``presets`` and the checks of ``--arch`` /
``--dataset`` / ``--preset`` read the registries from the package's source
files instead: the top-level statements of each file are executed, except
imports (function and class definitions are only defined, never called), in a
fresh namespace.  If that fails -- a registry built from something imported --
the real modules are imported instead, so the answer is always right, only
slower.  ``tests/test_cli.py`` checks that both ways agree.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import sys
from pathlib import Path

_SOURCES = {
    "ARCHITECTURES": ("models/architectures.py", "kerasrnn.models.architectures"),
    "DATASETS": ("data/__init__.py", "kerasrnn.data"),
    "PRESETS": ("training/presets.py", "kerasrnn.training.presets"),
}


def package_dir() -> Path:
    """The directory of the kerasrnn package, found without importing it."""
    module = sys.modules.get("kerasrnn")
    if module is not None and getattr(module, "__path__", None):
        return Path(list(module.__path__)[0])
    spec = importlib.util.find_spec("kerasrnn")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the kerasrnn package is not installed")
    return Path(list(spec.submodule_search_locations)[0])


def _static_value(relative_path: str, name: str):
    source = (package_dir() / relative_path).read_text(encoding="utf-8")
    tree = ast.parse(source)
    namespace: dict = {"__name__": f"_kerasrnn_static_{name.lower()}"}
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and node.decorator_list:
            continue  # a decorator may need an import
        module = ast.Module(body=[node], type_ignores=[])
        try:
            exec(compile(module, relative_path, "exec"), namespace)  # noqa: S102 -- our own source
        except NameError:
            continue  # uses an import; not needed for the registries
    if name not in namespace:
        raise LookupError(f"{name} not found statically in {relative_path}")
    return namespace[name]


@functools.lru_cache(maxsize=None)
def registry(name: str) -> dict:
    """``ARCHITECTURES``, ``DATASETS`` or ``PRESETS`` (a dict), preferably without Keras."""
    relative_path, module_name = _SOURCES[name]
    loaded = sys.modules.get(module_name)
    if loaded is not None and hasattr(loaded, name):
        return dict(getattr(loaded, name))
    try:
        value = _static_value(relative_path, name)
        if isinstance(value, dict) and value:
            return dict(value)
    except Exception:  # noqa: BLE001 -- fall back to the real import below
        pass
    return dict(getattr(importlib.import_module(module_name), name))


def architectures() -> dict[str, str]:
    return registry("ARCHITECTURES")


def datasets() -> dict[str, str]:
    return registry("DATASETS")


def presets() -> dict[str, dict]:
    return registry("PRESETS")
