"""The Keras backend of a command, chosen before Keras is imported.

Keras reads ``KERAS_BACKEND`` once, when it is imported, so every command
that uses Keras calls :func:`use_backend` before its first heavy import.
Without ``--backend`` and ``$KERAS_BACKEND``, Keras uses the backend of its
``keras.json`` (``tensorflow`` unless changed) and fails at import when that
is not installed -- on a machine with only JAX or PyTorch, say;
:func:`default_to_an_installed_backend` then picks JAX, else torch, and says
so on the ``kerasrnn`` logger.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys

from kerasrnn.errors import ConfigError

logger = logging.getLogger("kerasrnn")

#: Tried in this order when Keras' configured backend is not installed.
FALLBACK_BACKENDS = ("jax", "torch")


def keras_json_backend() -> str:
    """The backend in Keras' ``keras.json`` (Keras writes ``tensorflow`` there by default)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json"), encoding="utf-8") as handle:
            return json.load(handle).get("backend") or "tensorflow"
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def quiet_tensorflow() -> None:
    """Hide TensorFlow's C++ INFO and WARNING lines, unless ``TF_CPP_MIN_LOG_LEVEL`` is set."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def default_to_an_installed_backend() -> str | None:
    """Where no backend is chosen and Keras' would-be one is missing, use JAX or torch.

    ``KERAS_BACKEND`` is always kept, and nothing changes once Keras is
    imported.

    Returns:
        The backend set in ``KERAS_BACKEND``, or ``None`` if none was set.
    """
    if "keras" in sys.modules or os.environ.get("KERAS_BACKEND"):
        return None
    configured = keras_json_backend()
    if importlib.util.find_spec(configured):
        return None
    for name in FALLBACK_BACKENDS:
        if importlib.util.find_spec(name):
            os.environ["KERAS_BACKEND"] = name
            logger.warning("%s (Keras' configured backend) is not installed; using %s", configured, name)
            return name
    return None


def use_backend(backend: str | None) -> str:
    """Set ``KERAS_BACKEND`` to ``backend`` (before Keras is imported); return the backend in use.

    Raises:
        ConfigError: ``backend`` differs from the one of an already imported
            Keras (only in a process that runs several commands, e.g. tests).
    """
    quiet_tensorflow()
    keras_module = sys.modules.get("keras")
    if keras_module is not None:
        current = keras_module.backend.backend()
        if backend and backend != current:
            raise ConfigError(
                f"--backend {backend}: Keras is already imported with the {current} backend in this process"
            )
        return current
    if backend:
        os.environ["KERAS_BACKEND"] = backend
    else:
        default_to_an_installed_backend()
    return os.environ.get("KERAS_BACKEND") or keras_json_backend()
