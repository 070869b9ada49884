"""The torch backend's input projections (``kerasrnn.backend.torch.nn``) against ``keras.ops``.

``affine`` (one ``addmm``) and ``convolution`` (channels-last oneDNN with the
bias inside) replace ``ops.matmul(x, W) + b`` and ``ops.conv(...) + b`` in
the cells' ``project_inputs``; values and gradients (input, kernel, bias)
must match the ``keras.ops`` forms in float64 (PyTorch's own ``@`` for the
product: ``keras.ops.matmul`` computes float64 in float32 on torch), for the cases they take, and
the dispatcher (``kerasrnn.backend``) must fall back to ``keras.ops`` for
the ones they refuse.
"""

import keras
import numpy as np
import pytest

from kerasrnn import backend as fast_paths
from tests.helpers.convolution_cases import CONVOLUTIONS as SHARED_CONVOLUTIONS
from tests.helpers.convolution_cases import keras_conv

pytestmark = pytest.mark.skipif(keras.backend.backend() != "torch", reason="torch-only fast path")

CONVOLUTIONS = {
    **SHARED_CONVOLUTIONS,
    # Refused by the torch path (the dispatcher falls back to keras.ops):
    "2d-same-strided": ((2, 7, 8, 2), (3, 3, 2, 4), {"strides": 2, "padding": "same", "dilation_rate": 1}),
}


def _tensors(*shapes):
    import torch

    rng = np.random.default_rng(0)
    return [torch.tensor(rng.normal(size=shape), requires_grad=True) for shape in shapes]


def _value_and_grads(function, tensors):
    import torch

    value = function(*tensors)
    weights = torch.tensor(np.random.default_rng(1).normal(size=tuple(value.shape)))
    grads = torch.autograd.grad((value * weights).sum(), tensors)
    return [value.detach().numpy()] + [g.numpy() for g in grads]


def _compare(fast, reference):
    for got, expected in zip(fast, reference, strict=True):
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("leading", [(6,), (2, 3)], ids=["2d", "3d"])
def test_affine_matches_matmul_plus_bias(leading):
    from kerasrnn.backend.torch import nn

    tensors = _tensors((*leading, 5), (5, 8), (8,))
    _compare(
        _value_and_grads(nn.affine, tensors),
        _value_and_grads(lambda x, w, b: x @ w + b, tensors),  # (keras.ops.matmul returns float32 here)
    )


def test_affine_without_bias_is_the_product():
    x, w = _tensors((4, 5), (5, 3))
    np.testing.assert_allclose(fast_paths.affine(x, w, None).detach().numpy(), (x @ w).detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("case", list(CONVOLUTIONS))
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no-bias"])
def test_convolution_matches_keras_conv(case, with_bias):
    frames_shape, kernel_shape, options = CONVOLUTIONS[case]
    tensors = _tensors(frames_shape, kernel_shape, (kernel_shape[-1],))
    if not with_bias:
        tensors = tensors[:2]

    def fast(x, kernel, bias=None):
        return fast_paths.convolution(x, kernel, bias, data_format="channels_last", **options)

    reference = keras_conv(options)

    _compare(_value_and_grads(fast, tensors), _value_and_grads(reference, tensors))


def test_convolution_result_is_contiguous_channels_last():
    from kerasrnn.backend.torch import nn

    x, kernel, bias = _tensors((3, 10, 4), (3, 4, 8), (8,))
    z = nn.convolution(x, kernel, bias, 1, "same", "channels_last", 1)
    assert tuple(z.shape) == (3, 10, 8) and z.is_contiguous()


@pytest.mark.parametrize(
    "arguments",
    [
        {"padding": "same", "data_format": "channels_first", "strides": 1, "dilation_rate": 1},
        {"padding": "same", "data_format": "channels_last", "strides": 2, "dilation_rate": 1},
    ],
    ids=["channels-first", "same-strided"],
)
def test_convolution_refuses_what_it_does_not_cover(arguments):
    from kerasrnn.backend.torch import nn

    x, kernel, bias = _tensors((2, 9, 3), (3, 3, 5), (5,))
    with pytest.raises(NotImplementedError):
        nn.convolution(x, kernel, bias, **arguments)
