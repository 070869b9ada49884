"""Versions, backend and devices: recorded in ``config.json`` and shown by ``kerasrnn env``."""

from __future__ import annotations

import os
import platform
import sys
from typing import Any


def backend_module_version(backend: str) -> str | None:
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy"}.get(backend)
    if module is None:
        return None
    try:
        return __import__(module).__version__
    except Exception:  # noqa: BLE001 -- a version is informative only
        return None


def devices(backend: str) -> list[str]:
    """The devices the backend sees (CPU included)."""
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            return [f"{d.device_type}:{d.name}" for d in tf.config.list_physical_devices()]
        if backend == "jax":
            import jax

            return [f"{d.platform}:{d.id} ({d.device_kind})" for d in jax.devices()]
        if backend == "torch":
            import torch

            found = ["cpu"]
            if torch.cuda.is_available():
                found += [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
            return found
    except Exception as error:  # noqa: BLE001
        return [f"unknown ({type(error).__name__}: {error})"]
    return ["cpu"]


def environment(with_devices: bool = True) -> dict[str, Any]:
    import keras
    import numpy

    import kerasrnn

    backend = keras.backend.backend()
    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "kerasrnn": getattr(kerasrnn, "__version__", None),
        "keras": keras.__version__,
        "backend": backend,
        "backend_version": backend_module_version(backend),
        "numpy": numpy.__version__,
    }
    if with_devices:
        info["devices"] = devices(backend)
    return info
