"""PyTorch's fused kernels for kerasrnn's cells: layer normalization, the input projection and convolution.

``torch.nn.functional.layer_norm`` is one native op forward and one
backward; the same normalization written with ``keras.ops`` is about eight
element-wise and reduction ops each way, and in eager mode (the torch
backend) each op costs a dispatch per time step. The math is the cell's
``layer_norm`` exactly (biased variance, epsilon inside the square root,
low precision computed in float32).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from keras import ops

from kerasrnn.backend import per_axis

if TYPE_CHECKING:
    from kerasrnn.layers.tensor_types import Tensor

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def layer_norm(x: Tensor, gamma: Tensor, beta: Tensor, epsilon: float) -> torch.Tensor:
    """Layer normalization over the last axis; see ``kerasrnn.layers.layer_norm_lstm.layer_norm``."""
    x = ops.convert_to_tensor(x)
    dtype = x.dtype
    compute = torch.float32 if dtype in _LOW_PRECISION else dtype
    gamma = ops.convert_to_tensor(gamma).to(compute)
    beta = ops.convert_to_tensor(beta).to(compute)
    normed = F.layer_norm(x.to(compute), (x.shape[-1],), gamma, beta, epsilon)
    return normed.to(dtype)


def affine(x: Tensor, kernel: Tensor, bias: Tensor) -> torch.Tensor:
    """``x @ kernel + bias`` as one ``addmm`` over the flattened leading axes; see ``kerasrnn.backend.affine``."""
    x, kernel, bias = (ops.convert_to_tensor(t) for t in (x, kernel, bias))
    if x.dim() < 2 or kernel.dim() != 2 or bias.dim() != 1 or not (x.dtype == kernel.dtype == bias.dtype):
        raise NotImplementedError
    rows = x.reshape(-1, x.shape[-1])
    return torch.addmm(bias, rows, kernel).view(*x.shape[:-1], kernel.shape[-1])


def convolution(
    frames: Tensor,
    kernel: Tensor,
    bias: Tensor | None,
    strides: Sequence[int],
    padding: str,
    data_format: str,
    dilation_rate: Sequence[int],
) -> torch.Tensor:
    """Keras' ``conv`` + bias on channels-last frames; see ``kerasrnn.backend.convolution``.

    The frames ``(n, *spatial, channels)`` are handed to PyTorch as a
    channels-last view (``torch.channels_last`` strides, no copy; a 1-D
    frame as a 2-D one of height 1), so oneDNN reads them as they lie and
    writes a channels-last result: ``(n, *spatial, out)``, contiguous.
    """
    if data_format != "channels_last" or padding not in ("valid", "same"):
        raise NotImplementedError
    frames, kernel = ops.convert_to_tensor(frames), ops.convert_to_tensor(kernel)
    bias = None if bias is None else ops.convert_to_tensor(bias)
    rank = frames.dim() - 2
    if rank not in (1, 2, 3) or kernel.dim() != rank + 2 or frames.dtype != kernel.dtype:
        raise NotImplementedError
    if bias is not None and bias.dtype != frames.dtype:
        raise NotImplementedError
    strides, dilation = per_axis(strides, rank), per_axis(dilation_rate, rank)
    if padding == "same" and any(s != 1 for s in strides):
        raise NotImplementedError  # Keras' own "same" arithmetic for strided convolutions
    weight = kernel.permute(rank + 1, rank, *range(rank))  # (out, in, *kernel)
    x = frames
    if rank == 1:
        x, weight = x.unsqueeze(1), weight.unsqueeze(2)
        strides, dilation = (1, *strides), (1, *dilation)
    layout = torch.channels_last_3d if rank == 3 else torch.channels_last
    convolve = F.conv3d if rank == 3 else F.conv2d
    z = convolve(
        x.movedim(-1, 1),
        weight.contiguous(memory_format=layout),
        bias,
        stride=strides,
        padding=padding if padding == "same" else 0,
        dilation=dilation,
    ).movedim(1, -1)
    return z.squeeze(1) if rank == 1 else z
