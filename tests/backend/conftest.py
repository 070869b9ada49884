"""Fixtures of the backend fast-path tests."""

import pytest


@pytest.fixture
def x64():
    """JAX with float64 enabled for one test (JAX computes float64 as float32 by default)."""
    import jax

    previous = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", previous)
