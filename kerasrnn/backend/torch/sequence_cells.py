"""Whole-sequence ``torch.autograd.Function``s for kerasrnn's own LSTM cells.

The generic loop runs a cell's step with ``keras.ops``: a dozen element-wise
ops per step forward, each recorded by autograd, and twice as many in the
backward pass, each with its dispatch cost (on a CPU the ops are tiny: a
``(128, 512)`` sigmoid takes microseconds, its bookkeeping as long). Here
one ``autograd.Function`` runs the whole time loop:

* forward: one ``addmm`` per step for the recurrence, the gates with a few
  in-place ops, everything the backward pass needs kept in preallocated
  ``(time, batch, ...)`` buffers; no autograd graph inside;
* backward: the per-step local derivatives computed once for all steps
  (vectorized over time), then a reverse loop of about ten ops per step
  giving the gate gradients ``dz_t`` and ``dh_{t-1} = dz_t U^T``; the
  gradients of the recurrent kernel, the peepholes and the normalizations'
  scale and shift are one matmul or reduction over all steps at the end.

The input projection (``x W + b``, and for the layer-norm cell its input
normalization) is applied to the whole sequence *outside* the Function, by
the cell's own ``project_inputs`` under autograd, so input dropout, the
kernel's and the bias' gradients are ordinary autograd.

The math is the cells' (``kerasrnn.layers.peephole_lstm``,
``kerasrnn.layers.layer_norm_lstm``), gate order i, f, c, o; the tests
(``tests/backend/test_torch_sequence_cells.py``) compare outputs, states and
every gradient with the cells' generic loop. Cases not handled here (a mask,
recurrent dropout in training, a projection, other activations, unrolling,
half precision, tracing or ``torch.compile``) raise ``NotImplementedError``
and the layer runs its generic loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
import torch.compiler
from keras import activations, ops

from kerasrnn.backend.torch import native_cells

if TYPE_CHECKING:
    from kerasrnn.layers.tensor_types import Tensor

_TANH = (activations.tanh, ops.tanh, torch.tanh)
_SIGMOID = (activations.sigmoid, ops.sigmoid, torch.sigmoid)
_DTYPES = (torch.float32, torch.float64)


def _check_supported(
    sequences: torch.Tensor,
    mask: Tensor | None,
    activation: Callable[..., Any],
    recurrent_activation: Callable[..., Any],
    unroll: bool,
) -> None:
    if activation not in _TANH or recurrent_activation not in _SIGMOID:
        raise NotImplementedError
    _check_case(sequences, mask, unroll)


def _check_case(sequences: torch.Tensor, mask: Tensor | None, unroll: bool) -> None:
    if mask is not None or unroll:
        raise NotImplementedError
    if sequences.dtype not in _DTYPES or sequences.shape[1] == 0:
        raise NotImplementedError
    if torch.jit.is_tracing() or torch.compiler.is_compiling():
        raise NotImplementedError  # keep traces, exports and compiled graphs on plain ops


def _as(tensor: Tensor, like: torch.Tensor) -> torch.Tensor:
    return ops.convert_to_tensor(tensor).to(device=like.device, dtype=like.dtype)


def _results(
    outputs: torch.Tensor, return_sequences: bool, *states: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """``(last_output, outputs, [h, *states])`` as Keras' loop returns them (``h`` the last output)."""
    last = outputs[:, -1]
    return last, outputs if return_sequences else last.unsqueeze(1), [last, *states]


def _order(steps: int, go_backwards: bool) -> list[tuple[int, int]]:
    """``(k, t)``: the k-th step processed reads input step t (Keras' ``go_backwards`` reads them reversed)."""
    return [(k, steps - 1 - k if go_backwards else k) for k in range(steps)]


class PeepholeLSTMSequence(torch.autograd.Function):
    """The peephole LSTM recurrence over a whole projected sequence.

    Inputs: ``projected`` ``(batch, time, 4 units)`` = ``x_t W + b``,
    ``h0``, ``c0`` ``(batch, units)``, ``recurrent_kernel`` ``(units, 4 units)``,
    ``peepholes`` ``(3, units)`` = ``[p_i, p_f, p_o]``, ``go_backwards``.
    Outputs: every ``h`` ``(batch, time, units)`` in processing order, and
    the last ``c``.

    Measured on a 2-core CPU: plain per-step tensors (kept in lists, stacked
    once) and each step's local derivatives computed inside the backward
    loop are 1.5x faster than preallocated ``(time, ...)`` buffers written
    with ``out=`` and derivatives vectorized over all steps: the small
    tensors stay in cache.
    """

    @staticmethod
    def forward(ctx, projected, h0, c0, recurrent_kernel, peepholes, go_backwards):  # noqa: ANN001, ANN205
        p_i, p_f, p_o = peepholes.unbind(0)
        h, c = h0, c0
        h_prev, c_all, gates, tanh_c, outputs = [], [c0], [], [], []
        for _, t in _order(projected.shape[1], go_backwards):
            h_prev.append(h)
            z_i, z_f, z_c, z_o = torch.addmm(projected[:, t], h, recurrent_kernel).chunk(4, 1)
            i = torch.sigmoid(torch.addcmul(z_i, p_i, c))
            f = torch.sigmoid(torch.addcmul(z_f, p_f, c))
            g = torch.tanh(z_c)
            c = torch.addcmul(f * c, i, g)
            o = torch.sigmoid(torch.addcmul(z_o, p_o, c))
            tc = torch.tanh(c)
            h = o * tc
            c_all.append(c)
            gates.append((i, f, g, o))
            tanh_c.append(tc)
            outputs.append(h)
        ctx.go_backwards = go_backwards
        ctx.steps = (h_prev, c_all, gates, tanh_c)
        ctx.save_for_backward(recurrent_kernel, peepholes)
        return torch.stack(outputs, 1), c.clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_outputs, grad_c_last):  # noqa: ANN001, ANN205
        recurrent_kernel, peepholes = ctx.saved_tensors
        h_prev, c_all, gates, tanh_c = ctx.steps
        p_i, p_f, p_o = peepholes.unbind(0)
        recurrent_t = recurrent_kernel.t()
        dh_next = torch.zeros_like(c_all[0])
        dc = grad_c_last
        steps = len(gates)
        order = _order(steps, ctx.go_backwards)
        batch, units = c_all[0].shape
        grad_z = c_all[0].new_empty(batch, steps, 4, units)  # as `projected`; step t written in place
        for k, t in reversed(order):
            i, f, g, o = gates[k]
            tc, c_prev = tanh_c[k], c_all[k]
            dh = grad_outputs[:, k] + dh_next
            dz = grad_z[:, t]
            dz_o = torch.mul(dh * tc, o * (1 - o), out=dz[:, 3])
            dc = dc + dh * o * (1 - tc * tc) + dz_o * p_o
            dz_i = torch.mul(dc * g, i * (1 - i), out=dz[:, 0])
            dz_f = torch.mul(dc * c_prev, f * (1 - f), out=dz[:, 1])
            torch.mul(dc * i, 1 - g * g, out=dz[:, 2])
            dc = dc * f + dz_i * p_i + dz_f * p_f
            dh_next = torch.mm(dz.view(batch, 4 * units), recurrent_t)
        rows = steps * batch
        grad_z = grad_z.view(batch, steps, 4 * units)
        by_input = [k for k, _ in sorted(order, key=lambda kt: kt[1])]  # processing index of each input step
        h_prev = torch.stack([h_prev[k] for k in by_input], 1)
        c_prev = torch.stack([c_all[k] for k in by_input], 1)
        c_new = torch.stack([c_all[k + 1] for k in by_input], 1)
        grad_kernel = torch.mm(h_prev.view(rows, units).t(), grad_z.view(rows, 4 * units))
        z_i, z_f, _, z_o = grad_z.chunk(4, 2)
        grad_peepholes = torch.stack(
            [(z_i * c_prev).sum((0, 1)), (z_f * c_prev).sum((0, 1)), (z_o * c_new).sum((0, 1))]
        )
        return grad_z, dh_next, dc, grad_kernel, grad_peepholes, None


_native_layer_norm_backward = torch.ops.aten.native_layer_norm_backward


class LayerNormLSTMSequence(torch.autograd.Function):
    """The layer-normalized LSTM recurrence over a whole projected sequence.

    Inputs: ``projected`` ``(batch, time, 4 units)`` = ``LN_x(x_t W) + b``,
    ``h0``, ``c0``, ``recurrent_kernel`` ``(units, 4 units)``, the recurrent
    normalization's ``gamma_h``, ``beta_h`` ``(4 units,)``, the state
    normalization's ``gamma_c``, ``beta_c`` ``(units,)``, ``epsilon``,
    ``go_backwards``; outputs as :class:`PeepholeLSTMSequence`. Each
    normalization is ``torch.native_layer_norm`` (what the cell's
    ``layer_norm`` runs on torch) and its ``native_layer_norm_backward``:
    one op each per step; the scales' and shifts' gradients are one
    ``native_layer_norm_backward`` over all steps.
    """

    @staticmethod
    def forward(ctx, projected, h0, c0, recurrent_kernel, gamma_h, beta_h, gamma_c, beta_c, epsilon, go_backwards):  # noqa: ANN001, ANN205
        four_units = recurrent_kernel.shape[1]
        units = four_units // 4
        h, c = h0, c0
        h_prev, c_all, recurrent, stats_h, gates, cell, stats_c, tanh_c, outputs = [], [c0], [], [], [], [], [], [], []
        for _, t in _order(projected.shape[1], go_backwards):
            h_prev.append(h)
            r = torch.mm(h, recurrent_kernel)
            r_normed, mean_r, rstd_r = torch.native_layer_norm(r, (four_units,), gamma_h, beta_h, epsilon)
            i, f, _, o = torch.sigmoid(r_normed.add_(projected[:, t])).chunk(4, 1)
            g = torch.tanh(r_normed[:, 2 * units : 3 * units])
            v = torch.addcmul(f * c, i, g)
            c, mean_c, rstd_c = torch.native_layer_norm(v, (units,), gamma_c, beta_c, epsilon)
            tc = torch.tanh(c)
            h = o * tc
            c_all.append(c)
            recurrent.append(r)
            stats_h.append((mean_r, rstd_r))
            gates.append((i, f, g, o))
            cell.append(v)
            stats_c.append((mean_c, rstd_c))
            tanh_c.append(tc)
            outputs.append(h)
        ctx.go_backwards = go_backwards
        ctx.steps = (h_prev, c_all, recurrent, stats_h, gates, cell, stats_c, tanh_c)
        ctx.save_for_backward(recurrent_kernel, gamma_h, beta_h, gamma_c, beta_c)
        return torch.stack(outputs, 1), c.clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_outputs, grad_c_last):  # noqa: ANN001, ANN205
        recurrent_kernel, gamma_h, beta_h, gamma_c, beta_c = ctx.saved_tensors
        h_prev, c_all, recurrent, stats_h, gates, cell, stats_c, tanh_c = ctx.steps
        four_units = recurrent_kernel.shape[1]
        units = four_units // 4
        recurrent_t = recurrent_kernel.t()
        input_only = [True, False, False]
        dh_next = torch.zeros_like(c_all[0])
        dc_prev = grad_c_last
        steps = len(gates)
        order = _order(steps, ctx.go_backwards)
        grad_c, grad_r = [None] * steps, [None] * steps  # at input step t
        grad_z = c_all[0].new_empty(c_all[0].shape[0], steps, 4, units)  # as `projected`; step t written in place
        for k, t in reversed(order):
            i, f, g, o = gates[k]
            tc, c_prev = tanh_c[k], c_all[k]
            dh = grad_outputs[:, k] + dh_next
            dz = grad_z[:, t]
            torch.mul(dh * tc, o * (1 - o), out=dz[:, 3])
            dc = dc_prev + dh * o * (1 - tc * tc)
            dv = _native_layer_norm_backward(dc, cell[k], (units,), *stats_c[k], gamma_c, beta_c, input_only)[0]
            torch.mul(dv * g, i * (1 - i), out=dz[:, 0])
            torch.mul(dv * c_prev, f * (1 - f), out=dz[:, 1])
            torch.mul(dv * i, 1 - g * g, out=dz[:, 2])
            dz = dz.view(dz.shape[0], four_units)
            dc_prev = dv * f
            dr = _native_layer_norm_backward(dz, recurrent[k], (four_units,), *stats_h[k], gamma_h, beta_h, input_only)[
                0
            ]
            grad_c[t], grad_r[t] = dc, dr
            dh_next = torch.mm(dr, recurrent_t)
        batch = c_all[0].shape[0]
        rows = steps * batch
        by_input = [k for k, _ in sorted(order, key=lambda kt: kt[1])]  # processing index of each input step

        def stacked(per_step: list[torch.Tensor], width: int) -> torch.Tensor:
            return torch.stack([per_step[k] for k in by_input], 1).view(rows, width)

        grad_z = grad_z.view(batch, steps, four_units)
        weights_only = [False, True, True]
        _, grad_gamma_h, grad_beta_h = _native_layer_norm_backward(
            grad_z.view(rows, four_units),
            stacked(recurrent, four_units),
            (four_units,),
            stacked([mean for mean, _ in stats_h], 1),
            stacked([rstd for _, rstd in stats_h], 1),
            gamma_h,
            beta_h,
            weights_only,
        )
        _, grad_gamma_c, grad_beta_c = _native_layer_norm_backward(
            torch.stack(grad_c, 1).view(rows, units),
            stacked(cell, units),
            (units,),
            stacked([mean for mean, _ in stats_c], 1),
            stacked([rstd for _, rstd in stats_c], 1),
            gamma_c,
            beta_c,
            weights_only,
        )
        grad_kernel = torch.mm(stacked(h_prev, units).t(), torch.stack(grad_r, 1).view(rows, four_units))
        return (
            grad_z,
            dh_next,
            dc_prev,
            grad_kernel,
            grad_gamma_h,
            grad_beta_h,
            grad_gamma_c,
            grad_beta_c,
            None,
            None,
        )


def peephole_lstm(
    sequences: Tensor,
    initial_state_h: Tensor,
    initial_state_c: Tensor,
    mask: Tensor | None,
    project_inputs: Callable[[Tensor], Tensor],
    recurrent_kernel: Tensor,
    input_gate_peephole: Tensor,
    forget_gate_peephole: Tensor,
    output_gate_peephole: Tensor,
    activation: Callable[..., Any],
    recurrent_activation: Callable[..., Any],
    return_sequences: bool = False,
    go_backwards: bool = False,
    unroll: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """The peephole LSTM over ``sequences`` ``(batch, time, features)``; Keras' ``backend.lstm`` contract.

    ``project_inputs`` maps the whole sequence to ``x_t W + b`` (the cell's
    own, with input dropout); it is called only once the case is known to be
    supported. Returns ``(last_output, outputs, [h, c])``.
    """
    sequences = ops.convert_to_tensor(sequences)
    _check_supported(sequences, mask, activation, recurrent_activation, unroll)
    projected = _as(project_inputs(sequences), sequences)
    peepholes = torch.stack(
        [_as(p, sequences) for p in (input_gate_peephole, forget_gate_peephole, output_gate_peephole)]
    )
    function = native_cells.PeepholeLSTMNative if native_cells.supports(projected) else PeepholeLSTMSequence
    outputs, c_last = function.apply(
        projected,
        _as(initial_state_h, sequences),
        _as(initial_state_c, sequences),
        _as(recurrent_kernel, sequences),
        peepholes,
        bool(go_backwards),
    )
    return _results(outputs, return_sequences, c_last)


def layer_norm_lstm(
    sequences: Tensor,
    initial_state_h: Tensor,
    initial_state_c: Tensor,
    mask: Tensor | None,
    project_inputs: Callable[[Tensor], Tensor],
    recurrent_kernel: Tensor,
    recurrent_norm_gamma: Tensor,
    recurrent_norm_beta: Tensor,
    state_norm_gamma: Tensor,
    state_norm_beta: Tensor,
    epsilon: float,
    activation: Callable[..., Any],
    recurrent_activation: Callable[..., Any],
    return_sequences: bool = False,
    go_backwards: bool = False,
    unroll: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """The layer-normalized LSTM over ``sequences``; see :func:`peephole_lstm`.

    ``project_inputs`` maps the sequence to ``LN_x(x_t W) + b``.
    """
    sequences = ops.convert_to_tensor(sequences)
    _check_supported(sequences, mask, activation, recurrent_activation, unroll)
    projected = _as(project_inputs(sequences), sequences)
    function = native_cells.LayerNormLSTMNative if native_cells.supports(projected) else LayerNormLSTMSequence
    outputs, c_last = function.apply(
        projected,
        _as(initial_state_h, sequences),
        _as(initial_state_c, sequences),
        _as(recurrent_kernel, sequences),
        _as(recurrent_norm_gamma, sequences),
        _as(recurrent_norm_beta, sequences),
        _as(state_norm_gamma, sequences),
        _as(state_norm_beta, sequences),
        float(epsilon),
        bool(go_backwards),
    )
    return _results(outputs, return_sequences, c_last)


def reset_before_rnn(
    sequences: Tensor,
    initial_state: Tensor,
    mask: Tensor | None,
    project_inputs: Callable[[Tensor], Tensor],
    recurrent_kernel: Tensor,
    cell: str,
    activation: Callable[..., Any],
    recurrent_activation: Callable[..., Any],
    return_sequences: bool = False,
    go_backwards: bool = False,
    unroll: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """A GRU-family cell with the reset gate before its candidate's matmul (Cho's GRU, MUT1-3) over ``sequences``.

    ``cell``: one of ``native_cells.RESET_BEFORE_CELLS``; ``project_inputs``
    maps the sequence to the cell's input sums ``[p_z, p_r, p_h]``. Only the
    C++ step kernels run it (:class:`~kerasrnn.backend.torch.native_cells.ResetBeforeNative`):
    without them, on CUDA, or in a case above, ``NotImplementedError``.
    Returns ``(last_output, outputs, [h])``.
    """
    sequences = ops.convert_to_tensor(sequences)
    _check_supported(sequences, mask, activation, recurrent_activation, unroll)
    if not native_cells.supports(sequences):
        raise NotImplementedError
    projected = _as(project_inputs(sequences), sequences)
    outputs = native_cells.ResetBeforeNative.apply(
        projected,
        _as(initial_state, sequences),
        _as(recurrent_kernel, sequences),
        cell,
        bool(go_backwards),
    )
    return _results(outputs, return_sequences)


def _ind_rnn_activation(activation: Callable[..., Any]) -> str:
    """The kernel's name for ``activation``; ``NotImplementedError`` for one it lacks."""
    known = {
        "linear": (activations.linear, None),
        "relu": (activations.relu, ops.relu, torch.relu),
        "tanh": _TANH,
        "sigmoid": _SIGMOID,
    }
    for name, functions in known.items():
        if activation in functions:
            return name
    raise NotImplementedError


def ind_rnn(
    sequences: Tensor,
    initial_state: Tensor,
    mask: Tensor | None,
    project_inputs: Callable[[Tensor], Tensor],
    recurrent_kernel: Tensor,
    activation: Callable[..., Any],
    return_sequences: bool = False,
    go_backwards: bool = False,
    unroll: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """IndRNN over ``sequences`` (linear, relu, tanh or sigmoid activation); see :func:`reset_before_rnn`.

    Only the C++ kernels run it (:class:`~kerasrnn.backend.torch.native_cells.IndRNNNative`).
    Returns ``(last_output, outputs, [h])``.
    """
    sequences = ops.convert_to_tensor(sequences)
    _check_case(sequences, mask, unroll)
    name = _ind_rnn_activation(activation)
    if not native_cells.supports(sequences):
        raise NotImplementedError
    projected = _as(project_inputs(sequences), sequences)
    outputs = native_cells.IndRNNNative.apply(
        projected,
        _as(initial_state, sequences),
        _as(recurrent_kernel, sequences),
        name,
        bool(go_backwards),
    )
    return _results(outputs, return_sequences)


def layer_norm_gru(
    sequences: Tensor,
    initial_state: Tensor,
    mask: Tensor | None,
    project_inputs: Callable[[Tensor], Tensor],
    recurrent_kernel: Tensor,
    recurrent_norm_gamma: Tensor,
    recurrent_norm_beta: Tensor,
    epsilon: float,
    activation: Callable[..., Any],
    recurrent_activation: Callable[..., Any],
    return_sequences: bool = False,
    go_backwards: bool = False,
    unroll: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """The layer-normalized GRU over ``sequences``; ``project_inputs`` maps them to ``LN_x(x W) + b``.

    Only the C++ kernels run it (:class:`~kerasrnn.backend.torch.native_cells.LayerNormGRUNative`).
    Returns ``(last_output, outputs, [h])``.
    """
    sequences = ops.convert_to_tensor(sequences)
    _check_supported(sequences, mask, activation, recurrent_activation, unroll)
    if not native_cells.supports(sequences):
        raise NotImplementedError
    outputs = native_cells.LayerNormGRUNative.apply(
        _as(project_inputs(sequences), sequences),
        _as(initial_state, sequences),
        _as(recurrent_kernel, sequences),
        _as(recurrent_norm_gamma, sequences),
        _as(recurrent_norm_beta, sequences),
        float(epsilon),
        bool(go_backwards),
    )
    return _results(outputs, return_sequences)


def layer_norm_simple_rnn(
    sequences: Tensor,
    initial_state: Tensor,
    mask: Tensor | None,
    project_inputs: Callable[[Tensor], Tensor],
    recurrent_kernel: Tensor,
    gamma: Tensor,
    bias: Tensor | None,
    epsilon: float,
    activation: Callable[..., Any],
    return_sequences: bool = False,
    go_backwards: bool = False,
    unroll: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """The layer-normalized simple RNN (tanh) over ``sequences``; ``project_inputs`` maps them to ``x W``.

    Only the C++ kernels run it (:class:`~kerasrnn.backend.torch.native_cells.LayerNormSimpleRNNNative`).
    Returns ``(last_output, outputs, [h])``.
    """
    sequences = ops.convert_to_tensor(sequences)
    if activation not in _TANH:
        raise NotImplementedError
    _check_case(sequences, mask, unroll)
    if not native_cells.supports(sequences):
        raise NotImplementedError
    gamma = _as(gamma, sequences)
    outputs = native_cells.LayerNormSimpleRNNNative.apply(
        _as(project_inputs(sequences), sequences),
        _as(initial_state, sequences),
        _as(recurrent_kernel, sequences),
        gamma,
        _as(bias, sequences) if bias is not None else torch.zeros_like(gamma),
        float(epsilon),
        bool(go_backwards),
    )
    return _results(outputs, return_sequences)


def conv_lstm(
    sequences: Tensor,
    initial_state_h: Tensor,
    initial_state_c: Tensor,
    mask: Tensor | None,
    project_inputs: Callable[[Tensor], Tensor],
    recurrent_kernel: Tensor,
    peepholes: tuple[Tensor, Tensor, Tensor] | None,
    data_format: str,
    activation: Callable[..., Any],
    recurrent_activation: Callable[..., Any],
    return_sequences: bool = False,
    go_backwards: bool = False,
    unroll: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """The convolutional LSTM over frame sequences ``(batch, time, *frame)``; Keras' ``backend.lstm`` contract.

    ``project_inputs`` maps the frames to the input convolution plus bias;
    ``recurrent_kernel`` is Keras' ``kernel_size + (filters, 4 filters)``
    (odd sizes only here); ``peepholes``: the cell's three, or ``None``.
    Only the C++ kernels run it (:class:`~kerasrnn.backend.torch.native_cells.ConvLSTMNative`,
    channels last inside). Returns ``(last_output, outputs, [h, c])``.
    """
    sequences = ops.convert_to_tensor(sequences)
    _check_supported(sequences, mask, activation, recurrent_activation, unroll)
    kernel = _as(recurrent_kernel, sequences)
    rank = kernel.dim() - 2
    if not native_cells.supports(sequences) or any(n % 2 == 0 for n in kernel.shape[:rank]):
        raise NotImplementedError
    first_channels = data_format == "channels_first"

    def channels_last(x: torch.Tensor, axis: int) -> torch.Tensor:
        return x.movedim(axis, -1) if first_channels else x

    projected = channels_last(_as(project_inputs(sequences), sequences), 2).contiguous()
    h0 = channels_last(_as(initial_state_h, sequences), 1).contiguous()
    c0 = channels_last(_as(initial_state_c, sequences), 1).contiguous()
    weight = kernel.permute(rank + 1, rank, *range(rank))  # PyTorch's (out, in, *kernel)
    if rank == 1:  # a 1-D frame is a 2-D one of height 1
        weight = weight.unsqueeze(2)
    weight = weight.contiguous(memory_format=torch.channels_last_3d if rank == 3 else torch.channels_last)
    if peepholes is None:
        peepholes = sequences.new_zeros(3, h0[0].numel())
    else:
        peepholes = torch.stack([channels_last(_as(p, sequences), 0).flatten() for p in peepholes])
    outputs, c_last = native_cells.ConvLSTMNative.apply(projected, h0, c0, weight, peepholes, bool(go_backwards))
    if first_channels:
        outputs, c_last = outputs.movedim(-1, 2), c_last.movedim(-1, 1)
    return _results(outputs, return_sequences, c_last)


def nas(
    sequences: Tensor,
    initial_state_h: Tensor,
    initial_state_c: Tensor,
    mask: Tensor | None,
    project_inputs: Callable[[Tensor], Tensor],
    recurrent_kernel: Tensor,
    bias: Tensor | None,
    activation: Callable[..., Any],
    recurrent_activation: Callable[..., Any],
    return_sequences: bool = False,
    go_backwards: bool = False,
    unroll: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """The NAS cell (no projection) over ``sequences``; ``project_inputs`` maps them to ``x W``.

    Only the C++ kernels run it (:class:`~kerasrnn.backend.torch.native_cells.NASNative`).
    Returns ``(last_output, outputs, [h, c])``.
    """
    sequences = ops.convert_to_tensor(sequences)
    _check_supported(sequences, mask, activation, recurrent_activation, unroll)
    if not native_cells.supports(sequences):
        raise NotImplementedError
    kernel = _as(recurrent_kernel, sequences)
    outputs, c_last = native_cells.NASNative.apply(
        _as(project_inputs(sequences), sequences),
        _as(initial_state_h, sequences),
        _as(initial_state_c, sequences),
        kernel,
        _as(bias, sequences) if bias is not None else kernel.new_zeros(kernel.shape[1]),
        bool(go_backwards),
    )
    return _results(outputs, return_sequences, c_last)


def linear_recurrence(
    projected: Tensor, initial_state: Tensor, coefficients: Callable[[Tensor], tuple[Tensor, Tensor]]
) -> torch.Tensor:
    """Every state of ``h_t = a_t h_{t-1} + b_t`` over axis 1 (``(batch, time, units)``), in one C++ pass each way.

    ``coefficients`` maps ``projected`` to ``(a, b)``; it is called only once
    the case is known to run here. The sequential form of
    ``kerasrnn.layers.linear_recurrence.scan_linear_recurrence`` (same
    function). Only the C++ kernels run it
    (:class:`~kerasrnn.backend.torch.native_cells.LinearRecurrenceNative`);
    ``NotImplementedError`` without them, on CUDA, for half precision, while tracing.
    """
    projected = ops.convert_to_tensor(projected)
    _check_case(projected, None, False)
    if not native_cells.supports(projected):
        raise NotImplementedError
    a, b = coefficients(projected)
    a = _as(a, projected)
    return native_cells.LinearRecurrenceNative.apply(a, _as(b, a), _as(initial_state, a))
