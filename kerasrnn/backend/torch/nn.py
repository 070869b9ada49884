"""PyTorch's fused normalization kernels for kerasrnn's cells.

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
