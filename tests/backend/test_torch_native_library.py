"""Building, caching and falling back from the C++ step kernels (``kerasrnn.backend.torch.native_library``).

The kernels' math is checked against the cells in
``test_torch_sequence_cells.py``; here: the build goes to the cache
directory and is reused, a machine without a compiler (or with the kernels
disabled) warns once and still trains on the pure-PyTorch path, and the
float32 activations (Cephes-style ``exp`` and ``tanh``, not libm's) agree
with PyTorch's over the whole range, saturation, infinities and NaN
included, and that loading the library and calling its kernels leave the
process' floating-point state alone (denormals are not flushed outside a
kernel call, though each float32 call flushes them inside).
"""

import numpy as np
import pytest

from tests.helpers.torch_kernels import REQUIRES_KERNELS

pytestmark = REQUIRES_KERNELS


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """``native_library`` with an empty cache directory and no library loaded yet (restored afterwards)."""
    from kerasrnn.backend.torch import native_library

    monkeypatch.setenv("KERASRNN_CACHE_DIR", str(tmp_path))
    native_library.library.cache_clear()
    yield native_library
    native_library.library.cache_clear()


def test_builds_into_the_cache_once(fresh, tmp_path, monkeypatch):
    path = fresh.build()
    assert path.is_file() and tmp_path in path.parents
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left beside it

    def no_compiling(*args):
        raise AssertionError("compiled again although the cache holds the library")

    monkeypatch.setattr(fresh, "_compile", no_compiling)
    assert fresh.build() == path
    assert fresh.library() is not None


def test_without_a_compiler_warns_and_the_layer_still_trains(fresh, monkeypatch):
    import torch

    from kerasrnn import layers
    from kerasrnn.backend.torch import native_cells

    monkeypatch.setenv("CXX", "/nonexistent/c++")
    with pytest.warns(RuntimeWarning, match="could not be built.*no C\\+\\+ compiler found"):
        assert fresh.library() is None
    assert not native_cells.supports(torch.zeros(2))
    layer = layers.PeepholeLSTM(4)
    x = torch.randn(2, 3, 5, requires_grad=True)
    layer(x).sum().backward()  # the pure-PyTorch Function
    assert x.grad.shape == (2, 3, 5) and bool(torch.isfinite(x.grad).all())


def test_loading_keeps_the_process_floating_point_state():
    # Linked with -ffast-math, the library would turn on flush-to-zero for every thread at load time.
    import torch

    from kerasrnn.backend.torch.native_library import library

    assert library() is not None
    assert np.float32(1e-39) * np.float32(1.0) != 0  # a denormal survives in NumPy
    assert float(torch.tensor([1e-39]) * 1.0) != 0  # and in PyTorch


def test_a_float32_kernel_flushes_denormals_inside_the_call_only():
    """Each float32 call runs with denormals as zero (their slow path) and restores the caller's setting."""
    import torch

    from kerasrnn.backend.torch.native_cells import _kernel

    forward = _kernel("linear_recurrence_forward", torch.float32)  # h_t = a_t h_{t-1} + b_t
    a, b, h0 = torch.ones(1, 1, 1), torch.full((1, 1, 1), 1e-39), torch.zeros(1, 1)
    outputs = torch.empty(1, 1, 1)
    forward(1, 1, 1, a.data_ptr(), b.data_ptr(), h0.data_ptr(), outputs.data_ptr())
    assert float(outputs) == 0  # 1e-39 read as zero inside the kernel
    assert np.float32(1e-39) * np.float32(1.0) != 0  # and a denormal again after it
    assert float(torch.tensor([1e-39]) * 1.0) != 0
    forward64 = _kernel("linear_recurrence_forward", torch.float64)
    a, h0, outputs = a.double(), h0.double(), outputs.double()
    b = torch.full((1, 1, 1), 1e-310, dtype=torch.float64)  # a float64 denormal
    forward64(1, 1, 1, a.data_ptr(), b.data_ptr(), h0.data_ptr(), outputs.data_ptr())
    assert float(outputs) == 1e-310  # float64, the checking precision, keeps its denormals


@pytest.mark.parametrize("value", ["0", "off"])
def test_disabled_by_the_environment(fresh, monkeypatch, value):
    monkeypatch.setenv("KERASRNN_NATIVE_KERNELS", value)
    monkeypatch.setattr(fresh, "build", lambda: pytest.fail("built although disabled"))
    assert fresh.library() is None


def test_float32_activations_match_torch():
    """Gates of one peephole step with zero peepholes and c_prev = 0 are sigmoid(z_i), sigmoid(z_f), tanh(z_c)."""
    import torch

    from kerasrnn.backend.torch.native_library import library

    values = torch.cat(
        [
            torch.linspace(-100, 100, 20001),
            torch.linspace(-1, 1, 20001),
            torch.tensor([0.0, -0.0, 1e-30, -1e-30, 87.0, 88.5, -88.5, 1e4, -1e4]),
            torch.tensor([float("inf"), float("-inf"), float("nan")]),
        ]
    )
    units = values.numel()
    gates = torch.stack([values, values, values, torch.zeros(units)]).reshape(1, 4 * units)
    c_prev, c, tanh_c, h = (torch.zeros(1, units) for _ in range(4))
    projected = torch.zeros(1, 4 * units)  # z = projected + gates
    library().peephole_lstm_forward_step_f32(
        1,
        1,
        units,
        projected.data_ptr(),
        4 * units,
        gates.data_ptr(),
        c_prev.data_ptr(),
        c.data_ptr(),
        tanh_c.data_ptr(),
        h.data_ptr(),
        units,
        torch.zeros(3, units).data_ptr(),
    )
    i, f, g, _ = gates.view(4, units)
    for got, want in ((i, torch.sigmoid(values)), (g, torch.tanh(values))):
        np.testing.assert_allclose(got[:-1], want[:-1], rtol=2e-6, atol=1e-7)  # infinities saturate
        assert torch.isnan(got[-1])  # NaN in, NaN out
    torch.testing.assert_close(i, f, rtol=0, atol=0, equal_nan=True)
