"""PyTorch's fused LSTM and GRU kernels behind Keras-format weights.

``torch._VF.lstm`` / ``torch._VF.gru`` are what ``torch.nn.LSTM`` and
``torch.nn.GRU`` run: oneDNN-backed on CPU, cuDNN on CUDA, with the whole
sequence (and its backward pass) in one native call. Keras 3 uses them only
on CUDA; on CPU its torch backend runs a Python loop that is 2-2.5x slower.
The math is identical to Keras' cells where these functions accept a case:

* LSTM, gate order i, f, c, o in both: PyTorch's ``weight_ih`` is Keras'
  ``kernel`` transposed, ``weight_hh`` the ``recurrent_kernel`` transposed,
  ``bias_ih`` the ``bias`` and ``bias_hh`` zero; with a projection
  (``proj_size``) its ``weight_hr`` is the ``projection_kernel`` transposed.
* GRU with ``reset_after=True`` (the only form PyTorch has): Keras' gates
  z, r, h become PyTorch's r, z, n; Keras' bias rows (input, recurrent) are
  ``bias_ih`` and ``bias_hh``.
* GRU with ``reset_after=False`` (Cho et al.'s form) has no PyTorch kernel:
  it runs kerasrnn's C++ step kernels
  (``kerasrnn.backend.torch.native_cells.ResetBeforeNative``) where they
  are built.

Anything else (a mask, custom activations, ``unroll``, a dtype the CPU
kernel lacks) raises ``NotImplementedError`` so the layer falls
back to its generic loop.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.compiler
from keras import activations, ops, tree

if TYPE_CHECKING:
    from kerasrnn.layers.tensor_types import Tensor

_TANH = (activations.tanh, ops.tanh, torch.tanh)
_SIGMOID = (activations.sigmoid, ops.sigmoid, torch.sigmoid)
# Floating dtypes torch's CPU RNN kernels implement (CUDA takes the half types too).
_CPU_DTYPES = (torch.float32, torch.float64)


def _check_supported(
    inputs: torch.Tensor,
    mask: Tensor | None,
    activation: Callable[..., Any],
    recurrent_activation: Callable[..., Any],
    unroll: bool,
) -> None:
    if mask is not None or unroll:
        raise NotImplementedError
    if activation not in _TANH or recurrent_activation not in _SIGMOID:
        raise NotImplementedError
    if inputs.device.type == "cpu" and inputs.dtype not in _CPU_DTYPES:
        raise NotImplementedError
    if torch.jit.is_tracing() or torch.compiler.is_compiling():
        raise NotImplementedError  # keep traces and exports on plain ops


def _as(tensor: Tensor, like: torch.Tensor) -> torch.Tensor:
    return ops.convert_to_tensor(tensor).to(device=like.device, dtype=like.dtype)


# The native call itself is never compiled: inductor cannot lower
# mkldnn_rnn_layer (it fails at run time). A caller being traced raises
# NotImplementedError in _check_supported first; this covers a caller that
# torch.compile left running eagerly (past its recompile limit).
@torch.compiler.disable
def _run(
    function: Callable[..., tuple[torch.Tensor, ...]],
    inputs: torch.Tensor,
    hx: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
    weights: list[torch.Tensor],
    go_backwards: bool,
    return_sequences: bool,
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    if go_backwards:  # as Keras' loop: process reversed, outputs in processing order
        inputs = torch.flip(inputs, dims=[1])
    if inputs.is_cuda:  # cuDNN views its weights as one flat buffer: no transposed views
        inputs = inputs.contiguous()
        weights = [weight.contiguous() for weight in weights]
    with warnings.catch_warnings():
        # A projected LSTM runs PyTorch's native kernel rather than oneDNN's, and says so.
        warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")
        result = function(
            inputs,
            hx,
            weights,
            True,  # has_biases (zeros stand in where the layer has none)
            1,  # num_layers
            0.0,  # dropout
            torch.is_grad_enabled(),  # train: cuDNN keeps its backward workspace only then (no dropout here)
            False,  # bidirectional
            True,  # batch_first
        )
    outputs, states = result[0], [state.squeeze(0) for state in result[1:]]
    last_output = outputs[:, -1]
    if not return_sequences:
        outputs = last_output.unsqueeze(1)
    return last_output, outputs, states


def lstm(
    inputs: Tensor,
    initial_state_h: Tensor,
    initial_state_c: Tensor,
    mask: Tensor | None,
    kernel: Tensor,
    recurrent_kernel: Tensor,
    bias: Tensor | None,
    activation: Callable[..., Any],
    recurrent_activation: Callable[..., Any],
    return_sequences: bool = False,
    go_backwards: bool = False,
    unroll: bool = False,
    projection_kernel: Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """Keras' ``backend.lstm`` contract on ``torch._VF.lstm``.

    ``projection_kernel`` ``(units, proj_size)``: ``torch.nn.LSTM``'s
    ``proj_size`` (``h`` projected, then ``initial_state_h`` has ``proj_size``
    entries). Returns ``(last_output, outputs, [h, c])`` as Keras' generic
    loop does.
    """
    inputs = ops.convert_to_tensor(inputs)
    _check_supported(inputs, mask, activation, recurrent_activation, unroll)
    kernel = _as(kernel, inputs)
    recurrent_kernel = _as(recurrent_kernel, inputs)
    gates = recurrent_kernel.shape[1]  # 4 * units (the rows are units, or proj_size)
    bias_ih = _as(bias, inputs) if bias is not None else inputs.new_zeros(gates)
    weights = [kernel.T, recurrent_kernel.T, bias_ih, inputs.new_zeros(gates)]
    if projection_kernel is not None:
        weights.append(_as(projection_kernel, inputs).T)  # weight_hr; torch sees it from h's width
    hx = (_as(initial_state_h, inputs).unsqueeze(0), _as(initial_state_c, inputs).unsqueeze(0))
    return _run(torch._VF.lstm, inputs, hx, weights, go_backwards, return_sequences)


def _keras_to_torch_gates(weight: torch.Tensor) -> torch.Tensor:
    """Columns (or entries) in Keras' GRU gate order z, r, h -> PyTorch's r, z, n."""
    z, r, h = torch.chunk(weight, 3, dim=-1)
    return torch.cat([r, z, h], dim=-1)


def gru(
    inputs: Tensor,
    initial_state: Tensor,
    mask: Tensor | None,
    kernel: Tensor,
    recurrent_kernel: Tensor,
    bias: Tensor | None,
    activation: Callable[..., Any],
    recurrent_activation: Callable[..., Any],
    return_sequences: bool = False,
    go_backwards: bool = False,
    unroll: bool = False,
    reset_after: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """Keras' ``backend.gru`` contract on ``torch._VF.gru``; the Cho form (``reset_after=False``) on
    ``kerasrnn.backend.torch.sequence_cells.reset_before_rnn`` (the C++ step kernels).

    Returns ``(last_output, outputs, [h])`` as Keras' generic loop does.
    """
    inputs = ops.convert_to_tensor(inputs)
    if not reset_after:  # the Cho form has no PyTorch kernel: kerasrnn's C++ step kernels where built
        from kerasrnn.backend.torch.sequence_cells import reset_before_rnn

        def project_inputs(sequences: torch.Tensor) -> torch.Tensor:
            projected = torch.matmul(sequences, _as(kernel, inputs))
            return projected + _as(bias, inputs) if bias is not None else projected

        return reset_before_rnn(
            inputs,
            initial_state,
            mask,
            project_inputs,
            recurrent_kernel,
            "gru",
            activation,
            recurrent_activation,
            return_sequences=return_sequences,
            go_backwards=go_backwards,
            unroll=unroll,
        )
    _check_supported(inputs, mask, activation, recurrent_activation, unroll)
    units = _as(recurrent_kernel, inputs).shape[0]
    if bias is not None:
        bias = _keras_to_torch_gates(_as(bias, inputs))  # (2, 3 * units): input, recurrent
        bias_ih, bias_hh = bias[0], bias[1]
    else:
        bias_ih = bias_hh = inputs.new_zeros(3 * units)
    weights = [
        _keras_to_torch_gates(_as(kernel, inputs)).T,
        _keras_to_torch_gates(_as(recurrent_kernel, inputs)).T,
        bias_ih,
        bias_hh,
    ]
    hx = _as(initial_state, inputs).unsqueeze(0)
    return _run(torch._VF.gru, inputs, hx, weights, go_backwards, return_sequences)


def rnn(
    step_function: Callable[[torch.Tensor, tuple[torch.Tensor, ...]], tuple[torch.Tensor, Sequence[torch.Tensor]]],
    inputs: Tensor,
    initial_states: Sequence[torch.Tensor],
    go_backwards: bool = False,
    mask: Tensor | None = None,
    constants: Sequence[Tensor] | None = None,
    unroll: bool = False,
    input_length: int | None = None,
    time_major: bool = False,
    zero_output_for_mask: bool = False,
    return_all_outputs: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
    """Keras' ``backend.rnn`` contract as a plain Python loop over the time steps.

    Keras' torch ``rnn`` (3.15) runs one extra step before the loop only to
    learn the output's shape, unbinds that output along the batch, and keeps
    the time index in a (CPU) tensor that is compared, indexed with and
    incremented at every step: a few tensor ops per step. This loop
    calls ``step_function`` once per step with a Python index and stacks the
    outputs once. Masks, constants, time-major or nested inputs and a
    shorter ``input_length`` raise ``NotImplementedError`` (Keras' loop then).

    Returns ``(last_output, outputs, new_states)`` as Keras does: outputs
    ``(batch, time, ...)``, or ``(batch, 1, ...)`` without
    ``return_all_outputs``; states a tuple in the structure of
    ``initial_states``.
    """
    if mask is not None or constants or time_major or unroll or not isinstance(inputs, torch.Tensor):
        raise NotImplementedError
    if input_length is not None and input_length != inputs.shape[1]:
        raise NotImplementedError
    steps = torch.unbind(inputs, dim=1)
    if go_backwards:
        steps = steps[::-1]
    states = tuple(initial_states)
    outputs = []
    output = None
    for step_input in steps:
        output, new_states = step_function(step_input, states)
        states = tuple(tree.flatten(new_states))
        if return_all_outputs:
            outputs.append(output)
    if output is None:
        raise NotImplementedError  # no time steps: Keras' loop has the error for it
    stacked = torch.stack(outputs, dim=1) if return_all_outputs else output.unsqueeze(1)
    return output, stacked, tree.pack_sequence_as(tuple(initial_states), states)
