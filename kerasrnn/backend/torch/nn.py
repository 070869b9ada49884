"""PyTorch's fused kernels for kerasrnn's cells: layer normalization, the input projection.

``torch.nn.functional.layer_norm`` is one native op forward and one
backward; the same normalization written with ``keras.ops`` is about eight
element-wise and reduction ops each way, and in eager mode (the torch
backend) each op costs a dispatch per time step. The math is the cell's
``layer_norm`` exactly (biased variance, epsilon inside the square root,
low precision computed in float32).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from keras import ops

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
