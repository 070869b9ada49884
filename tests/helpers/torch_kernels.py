"""The skip conditions shared by the tests of the torch backend's C++ step kernels (``tests/backend``)."""

import shutil

import keras
import pytest

#: ``pytestmark`` of a kernel test module: the torch backend, and a C++ compiler to build the kernels with.
REQUIRES_KERNELS = [
    pytest.mark.skipif(keras.backend.backend() != "torch", reason="torch-only fast path"),
    pytest.mark.skipif(
        not any(shutil.which(name) for name in ("c++", "g++", "clang++")), reason="no C++ compiler here"
    ),
]
