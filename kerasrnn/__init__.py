"""kerasrnn: recurrent networks for Keras 3 on TensorFlow, JAX and PyTorch.

``import kerasrnn`` is quick and imports no Keras: the command line
(:mod:`kerasrnn.cli`) and the registry (:mod:`kerasrnn.registry`) must run
before a Keras backend is chosen.  ``kerasrnn.layers``, ``kerasrnn.build_model``
and ``kerasrnn.ARCHITECTURES`` are imported on first use.

kerasrnn's layers are registered with Keras' serialization as soon as Keras is
imported -- at once if it already is, else right after ``import keras`` -- so a
``.keras`` file holding them loads with plain ``keras.saving.load_model`` once
``kerasrnn`` is imported, in either order.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from typing import Any

__version__ = "0.1.0"
__all__ = ["ARCHITECTURES", "build_model", "layers"]

# Public name -> (module, attribute or None for the module itself).
_LAZY = {
    "layers": ("kerasrnn.layers", None),
    "build_model": ("kerasrnn.models.architectures", "build_model"),
    "ARCHITECTURES": ("kerasrnn.registry", "ARCHITECTURE_DESCRIPTIONS"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'kerasrnn' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


class _RegisterLayersAfterKeras(importlib.abc.MetaPathFinder):
    """Imports :mod:`kerasrnn.layers` (which registers them) right after ``keras`` is imported.

    It finds nothing itself: it asks the other finders for ``keras``, and wraps
    the loader so that the layers module is imported once ``keras`` has run.
    It removes itself on first use.
    """

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001,ANN201 -- importlib's protocol
        if fullname != "keras":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec("keras")
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run_keras = loader.exec_module

        def exec_module(module):  # noqa: ANN001,ANN202
            run_keras(module)
            importlib.import_module("kerasrnn.layers")

        loader.exec_module = exec_module
        return spec


if "keras" in sys.modules:
    importlib.import_module("kerasrnn.layers")
elif not any(isinstance(finder, _RegisterLayersAfterKeras) for finder in sys.meta_path):
    sys.meta_path.insert(0, _RegisterLayersAfterKeras())
