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
    if mask is not None or unroll:
        raise NotImplementedError
    if activation not in _TANH or recurrent_activation not in _SIGMOID:
        raise NotImplementedError
    if sequences.dtype not in _DTYPES or sequences.shape[1] == 0:
        raise NotImplementedError
    if torch.jit.is_tracing() or torch.compiler.is_compiling():
        raise NotImplementedError  # keep traces, exports and compiled graphs on plain ops


def _as(tensor: Tensor, like: torch.Tensor) -> torch.Tensor:
    return ops.convert_to_tensor(tensor).to(device=like.device, dtype=like.dtype)


def _results(
    outputs: torch.Tensor, c_last: torch.Tensor, return_sequences: bool
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """``(last_output, outputs, [h, c])`` as Keras' loop returns them, from time-major outputs."""
    last = outputs[-1]
    sequence = outputs.transpose(0, 1) if return_sequences else last.unsqueeze(1)
    return last, sequence, [last, c_last]


class PeepholeLSTMSequence(torch.autograd.Function):
    """The peephole LSTM recurrence over a whole, time-major, projected sequence.

    Inputs: ``projected`` ``(time, batch, 4 units)`` = ``x_t W + b``,
    ``h0``, ``c0`` ``(batch, units)``, ``recurrent_kernel`` ``(units, 4 units)``,
    ``peepholes`` ``(3, units)`` = ``[p_i, p_f, p_o]``. Outputs: all ``h_t``
    ``(time, batch, units)`` and the last ``c``.
    """

    @staticmethod
    def forward(ctx, projected, h0, c0, recurrent_kernel, peepholes):  # noqa: ANN001, ANN205
        steps, batch, four_units = projected.shape
        units = four_units // 4
        h_all = projected.new_empty(steps + 1, batch, units)  # h_all[t] = h_{t-1}
        c_all = projected.new_empty(steps + 1, batch, units)
        gates = projected.new_empty(steps, batch, 4, units)  # i, f, tanh(z_c), o
        tanh_c = projected.new_empty(steps, batch, units)
        h_all[0] = h0
        c_all[0] = c0
        p_if = peepholes[:2]  # (2, units)
        p_o = peepholes[2]
        for t in range(steps):
            z = torch.addmm(projected[t], h_all[t], recurrent_kernel).view(batch, 4, units)
            c_prev = c_all[t]
            gate = gates[t]
            z[:, :2].addcmul_(c_prev.unsqueeze(1), p_if)
            torch.sigmoid(z[:, :2], out=gate[:, :2])
            torch.tanh(z[:, 2], out=gate[:, 2])
            c = torch.mul(gate[:, 1], c_prev, out=c_all[t + 1])
            c.addcmul_(gate[:, 0], gate[:, 2])
            z_o = z[:, 3].addcmul_(c, p_o)
            torch.sigmoid(z_o, out=gate[:, 3])
            torch.tanh(c, out=tanh_c[t])
            torch.mul(gate[:, 3], tanh_c[t], out=h_all[t + 1])
        ctx.save_for_backward(h_all, c_all, gates, tanh_c, recurrent_kernel, peepholes)
        return h_all[1:], c_all[-1].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_outputs, grad_c_last):  # noqa: ANN001, ANN205
        h_all, c_all, gates, tanh_c, recurrent_kernel, peepholes = ctx.saved_tensors
        steps, batch, _, units = gates.shape
        i, f, g, o = gates.unbind(2)
        c_prev_all = c_all[:-1]
        # Local derivatives of every step at once: dz_{i,f,c} = dc * local_ifc, dz_o = dh * local_o.
        local_ifc = torch.stack([g * i * (1 - i), c_prev_all * f * (1 - f), i * (1 - g * g)], dim=2)
        local_o = tanh_c * o * (1 - o)
        dc_from_dh = o * (1 - tanh_c * tanh_c)
        grad_z = gates.new_empty(steps, batch, 4, units)
        p_if = peepholes[:2]
        p_o = peepholes[2]
        recurrent_t = recurrent_kernel.t()
        dh_next = torch.zeros_like(h_all[0])
        dc_next = grad_c_last.clone()
        for t in range(steps - 1, -1, -1):
            dh = grad_outputs[t] + dh_next
            dz = grad_z[t]
            dz_o = torch.mul(dh, local_o[t], out=dz[:, 3])
            dc = dc_next.addcmul_(dh, dc_from_dh[t]).addcmul_(dz_o, p_o)
            torch.mul(dc.unsqueeze(1), local_ifc[t], out=dz[:, :3])
            dc_next = torch.mul(dc, f[t]).add_((dz[:, :2] * p_if).sum(1))
            dh_next = torch.mm(dz.view(batch, 4 * units), recurrent_t)
        flat_z = grad_z.view(steps * batch, 4 * units)
        grad_kernel = torch.mm(h_all[:-1].reshape(steps * batch, units).t(), flat_z)
        grad_p_if = (grad_z[:, :, :2] * c_prev_all.unsqueeze(2)).sum((0, 1))
        grad_p_o = (grad_z[:, :, 3] * c_all[1:]).sum((0, 1))
        grad_peepholes = torch.cat([grad_p_if, grad_p_o.unsqueeze(0)])
        return grad_z.view(steps, batch, 4 * units), dh_next, dc_next, grad_kernel, grad_peepholes


_native_layer_norm_backward = torch.ops.aten.native_layer_norm_backward


class LayerNormLSTMSequence(torch.autograd.Function):
    """The layer-normalized LSTM recurrence over a whole, time-major, projected sequence.

    Inputs: ``projected`` ``(time, batch, 4 units)`` = ``LN_x(x_t W) + b``,
    ``h0``, ``c0``, ``recurrent_kernel`` ``(units, 4 units)``, the recurrent
    normalization's ``gamma_h``, ``beta_h`` ``(4 units,)``, the state
    normalization's ``gamma_c``, ``beta_c`` ``(units,)``; ``epsilon`` a float.
    Each normalization is ``torch.native_layer_norm`` (what the cell's
    ``layer_norm`` runs on torch) and its ``native_layer_norm_backward``:
    one op each per step.
    """

    @staticmethod
    def forward(ctx, projected, h0, c0, recurrent_kernel, gamma_h, beta_h, gamma_c, beta_c, epsilon):  # noqa: ANN001, ANN205
        steps, batch, four_units = projected.shape
        units = four_units // 4
        h_all = projected.new_empty(steps + 1, batch, units)
        c_all = projected.new_empty(steps + 1, batch, units)
        recurrent = projected.new_empty(steps, batch, four_units)  # h_{t-1} U, before its normalization
        stats_h = projected.new_empty(2, steps, batch, 1)  # mean, 1/std
        gates = projected.new_empty(steps, batch, 4, units)  # i, f, tanh(z_c), o
        cell = projected.new_empty(steps, batch, units)  # f c_{t-1} + i tanh(z_c), before normalization
        stats_c = projected.new_empty(2, steps, batch, 1)
        tanh_c = projected.new_empty(steps, batch, units)
        h_all[0] = h0
        c_all[0] = c0
        for t in range(steps):
            r = torch.mm(h_all[t], recurrent_kernel, out=recurrent[t])
            r_normed, stats_h[0, t], stats_h[1, t] = torch.native_layer_norm(r, (four_units,), gamma_h, beta_h, epsilon)
            gate = gates[t]
            z = r_normed.add_(projected[t]).view(batch, 4, units)
            torch.sigmoid(z, out=gate)
            torch.tanh(z[:, 2], out=gate[:, 2])
            v = torch.mul(gate[:, 1], c_all[t], out=cell[t])
            v.addcmul_(gate[:, 0], gate[:, 2])
            c, stats_c[0, t], stats_c[1, t] = torch.native_layer_norm(v, (units,), gamma_c, beta_c, epsilon)
            c_all[t + 1] = c
            torch.tanh(c, out=tanh_c[t])
            torch.mul(gate[:, 3], tanh_c[t], out=h_all[t + 1])
        ctx.save_for_backward(
            h_all,
            c_all,
            recurrent,
            stats_h,
            gates,
            cell,
            stats_c,
            tanh_c,
            recurrent_kernel,
            gamma_h,
            beta_h,
            gamma_c,
            beta_c,
        )
        return h_all[1:], c_all[-1].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_outputs, grad_c_last):  # noqa: ANN001, ANN205
        (
            h_all,
            c_all,
            recurrent,
            stats_h,
            gates,
            cell,
            stats_c,
            tanh_c,
            recurrent_kernel,
            gamma_h,
            beta_h,
            gamma_c,
            beta_c,
        ) = ctx.saved_tensors
        steps, batch, _, units = gates.shape
        four_units = 4 * units
        i, f, g, o = gates.unbind(2)
        local_ifc = torch.stack([g * i * (1 - i), c_all[:-1] * f * (1 - f), i * (1 - g * g)], dim=2)
        local_o = tanh_c * o * (1 - o)
        dc_from_dh = o * (1 - tanh_c * tanh_c)
        grad_z = gates.new_empty(steps, batch, 4, units)  # = the gradient of the projected input
        grad_c = gates.new_empty(steps, batch, units)  # of the normalized state c_t
        grad_r = gates.new_empty(steps, batch, four_units)  # of h_{t-1} U
        recurrent_t = recurrent_kernel.t()
        no_weights = [True, False, False]
        shape_h, shape_c = (four_units,), (units,)
        dh_next = torch.zeros_like(h_all[0])
        dc_next = grad_c_last
        for t in range(steps - 1, -1, -1):
            dh = grad_outputs[t] + dh_next
            dz = grad_z[t]
            torch.mul(dh, local_o[t], out=dz[:, 3])
            dc = torch.addcmul(dc_next, dh, dc_from_dh[t], out=grad_c[t])
            dv = _native_layer_norm_backward(
                dc, cell[t], shape_c, stats_c[0, t], stats_c[1, t], gamma_c, beta_c, no_weights
            )[0]
            torch.mul(dv.unsqueeze(1), local_ifc[t], out=dz[:, :3])
            dc_next = dv.mul_(f[t])
            flat_dz = dz.view(batch, four_units)
            dr = _native_layer_norm_backward(
                flat_dz, recurrent[t], shape_h, stats_h[0, t], stats_h[1, t], gamma_h, beta_h, no_weights
            )[0]
            grad_r[t] = dr
            dh_next = torch.mm(dr, recurrent_t)
        flat_z = grad_z.view(steps * batch, four_units)
        only_weights = [False, True, True]
        _, grad_gamma_h, grad_beta_h = _native_layer_norm_backward(
            flat_z,
            recurrent.view(steps * batch, four_units),
            shape_h,
            stats_h[0].reshape(steps * batch, 1),
            stats_h[1].reshape(steps * batch, 1),
            gamma_h,
            beta_h,
            only_weights,
        )
        _, grad_gamma_c, grad_beta_c = _native_layer_norm_backward(
            grad_c.view(steps * batch, units),
            cell.view(steps * batch, units),
            shape_c,
            stats_c[0].reshape(steps * batch, 1),
            stats_c[1].reshape(steps * batch, 1),
            gamma_c,
            beta_c,
            only_weights,
        )
        grad_kernel = torch.mm(h_all[:-1].reshape(steps * batch, units).t(), grad_r.view(steps * batch, four_units))
        return (
            grad_z.view(steps, batch, four_units),
            dh_next,
            dc_next,
            grad_kernel,
            grad_gamma_h,
            grad_beta_h,
            grad_gamma_c,
            grad_beta_c,
            None,
        )


def _time_major(projected: torch.Tensor, go_backwards: bool) -> torch.Tensor:
    if go_backwards:  # as Keras' loop: process reversed, outputs in processing order
        projected = torch.flip(projected, dims=[1])
    return projected.transpose(0, 1).contiguous()


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
    outputs, c_last = PeepholeLSTMSequence.apply(
        _time_major(projected, go_backwards),
        _as(initial_state_h, sequences),
        _as(initial_state_c, sequences),
        _as(recurrent_kernel, sequences),
        peepholes,
    )
    return _results(outputs, c_last, return_sequences)


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
    outputs, c_last = LayerNormLSTMSequence.apply(
        _time_major(projected, go_backwards),
        _as(initial_state_h, sequences),
        _as(initial_state_c, sequences),
        _as(recurrent_kernel, sequences),
        _as(recurrent_norm_gamma, sequences),
        _as(recurrent_norm_beta, sequences),
        _as(state_norm_gamma, sequences),
        _as(state_norm_beta, sequences),
        float(epsilon),
    )
    return _results(outputs, c_last, return_sequences)
