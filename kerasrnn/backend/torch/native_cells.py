"""Whole-sequence ``autograd.Function``s whose element-wise step work is one C++ call.

Same contract and math as :class:`~kerasrnn.backend.torch.sequence_cells.PeepholeLSTMSequence`
and :class:`~kerasrnn.backend.torch.sequence_cells.LayerNormLSTMSequence` (the
pure-PyTorch forms, used where these cannot run); per time step:

* forward: PyTorch's ``mm`` for the recurrence into a preallocated buffer,
  then one kernel of ``kerasrnn/backend/torch/native/`` that adds the step's
  projected input (read in place: ``addmm`` would first copy it into the
  buffer) and computes the gates, the normalizations, the new state and the
  output, which it writes straight into the ``(batch, time, units)`` outputs;
* backward: one kernel for the gate gradients (and the normalizations'
  backward), which also accumulates the peepholes' or the scales' and shifts'
  gradients, then ``mm`` for ``dh_{t-1}``; the recurrent kernel's gradient is
  one matmul over all steps at the end.

A step of the pure-PyTorch form costs about ten PyTorch calls forward and
fifteen backward, each a full pass over the step's tensors plus its
dispatch; here it is two calls each way. CPU only (the kernels take host
pointers), float32 and float64; :func:`supports` says whether a case runs here.
"""

from __future__ import annotations

import math

import torch

from kerasrnn.backend.torch.native_library import library

_SUFFIX = {torch.float32: "f32", torch.float64: "f64"}


def supports(*tensors: torch.Tensor) -> bool:
    """Whether the kernels are built and take these tensors (CPU, float32 or float64)."""
    return all(t.device.type == "cpu" and t.dtype in _SUFFIX for t in tensors) and library() is not None


def _kernel(name: str, dtype: torch.dtype):  # noqa: ANN202 (a ctypes function)
    return getattr(library(), f"{name}_{_SUFFIX[dtype]}")


def _by_input_step(outputs: torch.Tensor, h0: torch.Tensor, go_backwards: bool) -> torch.Tensor:
    """``h_{t-1}`` ``(batch, time, units)`` for each *input* step t (outputs are in processing order)."""
    earlier = outputs[:, :-1]
    if go_backwards:  # input step t is processed (time - 1 - t)-th
        return torch.cat([torch.flip(earlier, [1]), h0.unsqueeze(1)], 1)
    return torch.cat([h0.unsqueeze(1), earlier], 1)


def _input_step(k: int, steps: int, go_backwards: bool) -> int:
    return steps - 1 - k if go_backwards else k


class PeepholeLSTMNative(torch.autograd.Function):
    """The peephole LSTM recurrence; inputs and outputs as ``PeepholeLSTMSequence``."""

    @staticmethod
    def forward(ctx, projected, h0, c0, recurrent_kernel, peepholes, go_backwards):  # noqa: ANN001, ANN205
        step = _kernel("peephole_lstm_forward_step", projected.dtype)
        batch, steps, four_units = projected.shape
        units = four_units // 4
        size = projected.element_size()
        kernel = recurrent_kernel.contiguous()
        peepholes = peepholes.contiguous()
        gates = projected.new_empty(steps, batch, four_units)
        cells = projected.new_empty(steps + 1, batch, units)  # c_0 .. c_T in processing order
        cells[0] = c0
        tanh_c = projected.new_empty(steps, batch, units)
        outputs = projected.new_empty(batch, steps, units)
        projected = projected.contiguous()
        h = h0.contiguous()
        for k in range(steps):
            t = _input_step(k, steps, go_backwards)
            torch.mm(h, kernel, out=gates[k])
            step(
                batch,
                1,
                units,
                projected.data_ptr() + t * four_units * size,
                steps * four_units,
                gates[k].data_ptr(),
                cells.data_ptr() + k * batch * units * size,
                cells.data_ptr() + (k + 1) * batch * units * size,
                tanh_c.data_ptr() + k * batch * units * size,
                outputs.data_ptr() + k * units * size,
                steps * units,
                peepholes.data_ptr(),
            )
            h = outputs[:, k]
        ctx.go_backwards = go_backwards
        ctx.buffers = (gates, cells, tanh_c)
        ctx.save_for_backward(h0, kernel, peepholes, outputs)
        return outputs, cells[steps].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_outputs, grad_c_last):  # noqa: ANN001, ANN205
        h0, kernel, peepholes, outputs = ctx.saved_tensors
        gates, cells, tanh_c = ctx.buffers
        step = _kernel("peephole_lstm_backward_step", gates.dtype)
        steps, batch, four_units = gates.shape
        units = four_units // 4
        size = gates.element_size()
        grad_outputs = grad_outputs.contiguous()
        grad_c = grad_c_last.contiguous().clone()  # dL/dc, updated in place step by step
        grad_z = gates.new_empty(batch, steps, four_units)  # as `projected`: by input step
        grad_h = gates.new_zeros(batch, units)
        grad_peepholes = gates.new_zeros(3, units)
        kernel_t = kernel.t()
        for k in reversed(range(steps)):
            t = _input_step(k, steps, ctx.go_backwards)
            step(
                batch,
                1,
                units,
                gates[k].data_ptr(),
                cells.data_ptr() + k * batch * units * size,
                cells.data_ptr() + (k + 1) * batch * units * size,
                tanh_c.data_ptr() + k * batch * units * size,
                peepholes.data_ptr(),
                grad_outputs.data_ptr() + k * units * size,
                steps * units,
                None if k == steps - 1 else grad_h.data_ptr(),
                grad_c.data_ptr(),
                grad_z.data_ptr() + t * four_units * size,
                steps * four_units,
                grad_peepholes.data_ptr(),
            )
            torch.mm(grad_z[:, t], kernel_t, out=grad_h)
        h_prev = _by_input_step(outputs, h0, ctx.go_backwards)
        grad_kernel = torch.mm(h_prev.reshape(-1, units).t(), grad_z.view(-1, four_units))
        return grad_z, grad_h, grad_c, grad_kernel, grad_peepholes, None


class LayerNormLSTMNative(torch.autograd.Function):
    """The layer-normalized LSTM recurrence; inputs and outputs as ``LayerNormLSTMSequence``."""

    @staticmethod
    def forward(ctx, projected, h0, c0, recurrent_kernel, gamma_h, beta_h, gamma_c, beta_c, epsilon, go_backwards):  # noqa: ANN001, ANN205
        step = _kernel("layer_norm_lstm_forward_step", projected.dtype)
        batch, steps, four_units = projected.shape
        units = four_units // 4
        size = projected.element_size()
        projected = projected.contiguous()
        kernel = recurrent_kernel.contiguous()
        gamma_h, beta_h, gamma_c, beta_c = (p.contiguous() for p in (gamma_h, beta_h, gamma_c, beta_c))
        recurrent = projected.new_empty(steps, batch, four_units)  # h U, then normalized in place
        rstd_r = projected.new_empty(steps, batch)
        gates = projected.new_empty(steps, batch, four_units)
        cells = projected.new_empty(steps + 1, batch, units)
        cells[0] = c0
        v_hat = projected.new_empty(steps, batch, units)
        rstd_c = projected.new_empty(steps, batch)
        tanh_c = projected.new_empty(steps, batch, units)
        outputs = projected.new_empty(batch, steps, units)
        h = h0.contiguous()
        for k in range(steps):
            t = _input_step(k, steps, go_backwards)
            torch.mm(h, kernel, out=recurrent[k])
            step(
                batch,
                units,
                recurrent[k].data_ptr(),
                rstd_r.data_ptr() + k * batch * size,
                projected.data_ptr() + t * four_units * size,
                steps * four_units,
                gamma_h.data_ptr(),
                beta_h.data_ptr(),
                gamma_c.data_ptr(),
                beta_c.data_ptr(),
                epsilon,
                gates.data_ptr() + k * batch * four_units * size,
                cells.data_ptr() + k * batch * units * size,
                v_hat.data_ptr() + k * batch * units * size,
                rstd_c.data_ptr() + k * batch * size,
                cells.data_ptr() + (k + 1) * batch * units * size,
                tanh_c.data_ptr() + k * batch * units * size,
                outputs.data_ptr() + k * units * size,
                steps * units,
            )
            h = outputs[:, k]
        ctx.go_backwards = go_backwards
        ctx.buffers = (recurrent, rstd_r, gates, cells, v_hat, rstd_c, tanh_c)
        ctx.save_for_backward(h0, kernel, gamma_h, gamma_c, outputs)
        return outputs, cells[steps].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_outputs, grad_c_last):  # noqa: ANN001, ANN205
        h0, kernel, gamma_h, gamma_c, outputs = ctx.saved_tensors
        recurrent, rstd_r, gates, cells, v_hat, rstd_c, tanh_c = ctx.buffers
        step = _kernel("layer_norm_lstm_backward_step", gates.dtype)
        steps, batch, four_units = gates.shape
        units = four_units // 4
        size = gates.element_size()
        grad_outputs = grad_outputs.contiguous()
        grad_c = grad_c_last.contiguous().clone()
        grad_z = gates.new_empty(batch, steps, four_units)  # dL/d projected, by input step
        grad_r = gates.new_empty(batch, steps, four_units)  # dL/d (h_{t-1} U), by input step
        grad_h = gates.new_zeros(batch, units)
        grad_gamma_h, grad_beta_h = gates.new_zeros(four_units), gates.new_zeros(four_units)
        grad_gamma_c, grad_beta_c = gates.new_zeros(units), gates.new_zeros(units)
        kernel_t = kernel.t()
        for k in reversed(range(steps)):
            t = _input_step(k, steps, ctx.go_backwards)
            step(
                batch,
                units,
                recurrent.data_ptr() + k * batch * four_units * size,
                rstd_r.data_ptr() + k * batch * size,
                gates.data_ptr() + k * batch * four_units * size,
                cells.data_ptr() + k * batch * units * size,
                v_hat.data_ptr() + k * batch * units * size,
                rstd_c.data_ptr() + k * batch * size,
                tanh_c.data_ptr() + k * batch * units * size,
                gamma_h.data_ptr(),
                gamma_c.data_ptr(),
                grad_outputs.data_ptr() + k * units * size,
                steps * units,
                None if k == steps - 1 else grad_h.data_ptr(),
                grad_c.data_ptr(),
                grad_z.data_ptr() + t * four_units * size,
                steps * four_units,
                grad_r.data_ptr() + t * four_units * size,
                steps * four_units,
                grad_gamma_h.data_ptr(),
                grad_beta_h.data_ptr(),
                grad_gamma_c.data_ptr(),
                grad_beta_c.data_ptr(),
            )
            torch.mm(grad_r[:, t], kernel_t, out=grad_h)
        h_prev = _by_input_step(outputs, h0, ctx.go_backwards)
        grad_kernel = torch.mm(h_prev.reshape(-1, units).t(), grad_r.view(-1, four_units))
        return (
            grad_z,
            grad_h,
            grad_c,
            grad_kernel,
            grad_gamma_h,
            grad_beta_h,
            grad_gamma_c,
            grad_beta_c,
            None,
            None,
        )


#: Per cell of the reset-before GRU family: where each gate's recurrent sum comes from, and which way z interpolates.
#: Each cell's ``recurrent_kernel`` columns, in order: "gru" and "mut2" [U_z, U_r, U_h] (z and r from h in one
#: matmul), "mut1" [U_r, U_h] (z from the input alone), "mut3" [U_z, U_r, U_h] with z from tanh(h).
RESET_BEFORE_CELLS = ("gru", "mut1", "mut2", "mut3")


class ResetBeforeNative(torch.autograd.Function):
    """The recurrence of a GRU-family cell with the reset gate before the candidate's matmul.

    Inputs: ``projected`` ``(batch, time, 3 units)`` = the cell's input sums
    ``[p_z, p_r, p_h]``, ``h0`` ``(batch, units)``, ``recurrent_kernel``,
    ``cell`` (one of :data:`RESET_BEFORE_CELLS`), ``go_backwards``. Per step
    (``native/reset_before_cells.cc`` has the element-wise part)::

        gru, mut2:  z = sigmoid(p_z + h U_z)         r = sigmoid(p_r + h U_r)
        mut1:       z = sigmoid(p_z)                 r = sigmoid(p_r + h U_r)
        mut3:       z = sigmoid(p_z + tanh(h) U_z)   r = sigmoid(p_r + h U_r)
        n = tanh(p_h + (r h) U_h)
        h' = z h + (1 - z) n  (gru, Keras' convention)   or   z n + (1 - z) h  (MUT1-3)

    Output: every ``h`` ``(batch, time, units)`` in processing order.
    """

    @staticmethod
    def forward(ctx, projected, h0, recurrent_kernel, cell, go_backwards):  # noqa: ANN001, ANN205
        dtype = projected.dtype
        gates_step = _kernel("reset_before_gates_forward", dtype)
        update_step = _kernel("reset_before_update_forward", dtype)
        batch, steps, three_units = projected.shape
        units = three_units // 3
        size = projected.element_size()
        projected = projected.contiguous()
        u_gates, u_z, u_r, u_h = _split_reset_before(recurrent_kernel, cell, units)
        z, r, rh, candidate = (projected.new_empty(steps, batch, units) for _ in range(4))
        tanh_h = projected.new_empty(steps, batch, units) if cell == "mut3" else None
        sums = projected.new_empty(batch, 2 * units)  # z's and r's recurrent sums, in one matmul (gru, mut2)
        z_sums, r_sums = projected.new_empty(batch, units), projected.new_empty(batch, units)  # or apart
        no_sum = projected.new_zeros(units)  # mut1's z has no recurrent sum (read with stride 0)
        outputs = projected.new_empty(batch, steps, units)
        h = h0.contiguous()
        h_pointer, h_stride = h.data_ptr(), units
        row = steps * three_units
        for k in range(steps):
            t = _input_step(k, steps, go_backwards)
            p_z = projected.data_ptr() + t * three_units * size  # p_z, p_r, p_h: the row's thirds
            p_r, p_h = p_z + units * size, p_z + 2 * units * size
            if u_gates is not None:  # gru, mut2: z and r sums in one matmul
                torch.mm(h, u_gates, out=sums)
                s_z, s_z_stride, s_r, s_r_stride = sums.data_ptr(), 2 * units, sums.data_ptr() + units * size, 2 * units
            else:
                torch.mm(h, u_r, out=r_sums)
                s_r, s_r_stride = r_sums.data_ptr(), units
                if cell == "mut3":
                    torch.tanh(h, out=tanh_h[k])
                    torch.mm(tanh_h[k], u_z, out=z_sums)
                    s_z, s_z_stride = z_sums.data_ptr(), units
                else:  # mut1: z from the input alone
                    s_z, s_z_stride = no_sum.data_ptr(), 0
            gates_step(
                batch, units, s_z, s_z_stride, p_z, s_r, s_r_stride, p_r, row, h_pointer, h_stride,
                z[k].data_ptr(), r[k].data_ptr(), rh[k].data_ptr(),
            )  # fmt: skip
            torch.mm(rh[k], u_h, out=candidate[k])
            out_pointer = outputs.data_ptr() + k * units * size
            update_step(
                batch, units, candidate[k].data_ptr(), p_h, row, z[k].data_ptr(), h_pointer, h_stride,
                out_pointer, steps * units, cell == "gru",
            )  # fmt: skip
            h = outputs[:, k]
            h_pointer, h_stride = out_pointer, steps * units
        ctx.cell, ctx.go_backwards = cell, go_backwards
        ctx.buffers = (z, r, rh, candidate, tanh_h)
        ctx.save_for_backward(h0, recurrent_kernel, outputs)
        return outputs

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_outputs):  # noqa: ANN001, ANN205
        h0, recurrent_kernel, outputs = ctx.saved_tensors
        z, r, rh, candidate, tanh_h = ctx.buffers
        cell, go_backwards = ctx.cell, ctx.go_backwards
        update_step = _kernel("reset_before_update_backward", z.dtype)
        gates_step = _kernel("reset_before_gates_backward", z.dtype)
        steps, batch, units = z.shape
        three_units = 3 * units
        size = z.element_size()
        u_gates, u_z, u_r, u_h = _split_reset_before(recurrent_kernel, cell, units)
        grad_outputs = grad_outputs.contiguous()
        h0 = h0.contiguous()
        grad_p = z.new_empty(batch, steps, three_units)  # as `projected`: by input step
        grad_h = z.new_zeros(batch, units)  # dL/dh_{k-1} from step k
        grad_direct, grad_z, grad_rh = (z.new_empty(batch, units) for _ in range(3))
        row = steps * three_units
        for k in reversed(range(steps)):
            t = _input_step(k, steps, go_backwards)
            if k:
                h_pointer, h_stride = outputs.data_ptr() + (k - 1) * units * size, steps * units
            else:
                h_pointer, h_stride = h0.data_ptr(), units
            g_pointer = grad_p.data_ptr() + t * three_units * size
            update_step(
                batch, units, candidate[k].data_ptr(), z[k].data_ptr(), h_pointer, h_stride,
                grad_outputs.data_ptr() + k * units * size, steps * units,
                None if k == steps - 1 else grad_h.data_ptr(), cell == "gru",
                g_pointer + 2 * units * size, row, grad_z.data_ptr(), grad_direct.data_ptr(),
            )  # fmt: skip
            g = grad_p[:, t]
            torch.mm(g[:, 2 * units :], u_h.t(), out=grad_rh)
            gates_step(
                batch, units, z[k].data_ptr(), r[k].data_ptr(), h_pointer, h_stride, grad_rh.data_ptr(),
                grad_z.data_ptr(), grad_direct.data_ptr(), g_pointer, g_pointer + units * size, row,
            )  # fmt: skip
            if u_gates is not None:
                torch.addmm(grad_direct, g[:, : 2 * units], u_gates.t(), out=grad_h)
            else:
                torch.addmm(grad_direct, g[:, units : 2 * units], u_r.t(), out=grad_h)
                if cell == "mut3":  # z's sum saw tanh(h)
                    through_tanh = torch.mm(g[:, :units], u_z.t())
                    grad_h.addcmul_(through_tanh, 1 - tanh_h[k] * tanh_h[k])
        # Weight gradients over all steps at once, rows (input step, batch entry).
        by_input = (lambda x: torch.flip(x, [0])) if go_backwards else (lambda x: x)
        h_prev = _by_input_step(outputs, h0, go_backwards).transpose(0, 1).reshape(-1, units)
        grad_rows = grad_p.transpose(0, 1).reshape(-1, three_units)
        grad_u_h = torch.mm(by_input(rh).reshape(-1, units).t(), grad_rows[:, 2 * units :])
        if cell in ("gru", "mut2"):
            parts = [torch.mm(h_prev.t(), grad_rows[:, : 2 * units])]
        elif cell == "mut1":
            parts = [torch.mm(h_prev.t(), grad_rows[:, units : 2 * units])]
        else:
            parts = [
                torch.mm(by_input(tanh_h).reshape(-1, units).t(), grad_rows[:, :units]),
                torch.mm(h_prev.t(), grad_rows[:, units : 2 * units]),
            ]
        return grad_p, grad_h, torch.cat([*parts, grad_u_h], 1), None, None


def _split_reset_before(
    recurrent_kernel: torch.Tensor, cell: str, units: int
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, torch.Tensor]:
    """``(U_gates, U_z, U_r, U_h)`` of a reset-before cell's recurrent kernel (None where the cell has none)."""
    if cell == "mut1":
        return None, None, recurrent_kernel[:, :units], recurrent_kernel[:, units:]
    if cell == "mut3":
        u_z, u_r, u_h = recurrent_kernel.split(units, 1)
        return None, u_z, u_r, u_h
    if cell in ("gru", "mut2"):
        return recurrent_kernel[:, : 2 * units], None, None, recurrent_kernel[:, 2 * units :]
    raise ValueError(f"unknown reset-before cell {cell!r}; expected one of {RESET_BEFORE_CELLS}")


#: IndRNN activations the kernel has, by the code it takes (derivatives read off the output).
IND_RNN_ACTIVATIONS = {"linear": 0, "relu": 1, "tanh": 2, "sigmoid": 3}


class IndRNNNative(torch.autograd.Function):
    """The whole IndRNN recurrence ``h_t = act(p_t + u h_{t-1})`` in one C++ call each way.

    Inputs: ``projected`` ``(batch, time, units)`` = ``x_t W + b``, ``h0``,
    ``recurrent_kernel`` ``(units,)`` (the vector ``u``), ``activation``
    (a key of :data:`IND_RNN_ACTIVATIONS`), ``go_backwards``. Output: every
    ``h`` ``(batch, time, units)`` in processing order.
    """

    @staticmethod
    def forward(ctx, projected, h0, recurrent_kernel, activation, go_backwards):  # noqa: ANN001, ANN205
        batch, steps, units = projected.shape
        projected = projected.contiguous()
        h0 = h0.contiguous()
        recurrent_kernel = recurrent_kernel.contiguous()
        outputs = projected.new_empty(batch, steps, units)
        code = IND_RNN_ACTIVATIONS[activation]
        _kernel("ind_rnn_forward", projected.dtype)(
            batch, steps, units, projected.data_ptr(), h0.data_ptr(), recurrent_kernel.data_ptr(),
            outputs.data_ptr(), go_backwards, code,
        )  # fmt: skip
        ctx.code, ctx.go_backwards = code, go_backwards
        ctx.save_for_backward(h0, recurrent_kernel, outputs)
        return outputs

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_outputs):  # noqa: ANN001, ANN205
        h0, recurrent_kernel, outputs = ctx.saved_tensors
        batch, steps, units = outputs.shape
        grad_outputs = grad_outputs.contiguous()
        grad_projected = outputs.new_empty(batch, steps, units)
        grad_h0 = outputs.new_empty(batch, units)
        grad_recurrent = outputs.new_zeros(units)
        _kernel("ind_rnn_backward", outputs.dtype)(
            batch, steps, units, h0.data_ptr(), recurrent_kernel.data_ptr(), outputs.data_ptr(),
            grad_outputs.data_ptr(), grad_projected.data_ptr(), grad_h0.data_ptr(), grad_recurrent.data_ptr(),
            ctx.go_backwards, ctx.code,
        )  # fmt: skip
        return grad_projected, grad_h0, grad_recurrent, None, None


def _previous_h(outputs: torch.Tensor, h0: torch.Tensor, k: int) -> tuple[int, int]:
    """``(pointer, row stride)`` of ``h_{k-1}``: ``h0`` (contiguous) before the first step, else an output row."""
    if k == 0:
        return h0.data_ptr(), h0.shape[1]
    _, steps, units = outputs.shape
    return outputs.data_ptr() + (k - 1) * units * outputs.element_size(), steps * units


class LayerNormGRUNative(torch.autograd.Function):
    """The layer-normalized GRU recurrence (``native/layer_norm_gru.cc``).

    Inputs: ``projected`` ``(batch, time, 3 units)`` = ``LN_x(x W) + b`` per
    group, ``h0``, ``recurrent_kernel`` ``(units, 3 units)``, the recurrent
    normalization's ``gamma``, ``beta`` ``(3 units,)`` (gates' 2 units and
    the candidate's units normalized apart), ``epsilon``, ``go_backwards``.
    Output: every ``h`` ``(batch, time, units)`` in processing order.
    """

    @staticmethod
    def forward(ctx, projected, h0, recurrent_kernel, gamma, beta, epsilon, go_backwards):  # noqa: ANN001, ANN205
        step = _kernel("layer_norm_gru_forward_step", projected.dtype)
        batch, steps, three_units = projected.shape
        units = three_units // 3
        size = projected.element_size()
        projected = projected.contiguous()
        h0, kernel, gamma, beta = (t.contiguous() for t in (h0, recurrent_kernel, gamma, beta))
        recurrent = projected.new_empty(steps, batch, three_units)  # h U, then normalized in place
        rstd = projected.new_empty(steps, batch, 2)
        gates = projected.new_empty(steps, batch, three_units)  # z, r, n
        outputs = projected.new_empty(batch, steps, units)
        h = h0
        for k in range(steps):
            t = _input_step(k, steps, go_backwards)
            torch.mm(h, kernel, out=recurrent[k])
            step(
                batch, units, recurrent[k].data_ptr(), rstd[k].data_ptr(),
                projected.data_ptr() + t * three_units * size, steps * three_units,
                gamma.data_ptr(), beta.data_ptr(), epsilon, gates[k].data_ptr(),
                *_previous_h(outputs, h0, k), outputs.data_ptr() + k * units * size, steps * units,
            )  # fmt: skip
            h = outputs[:, k]
        ctx.go_backwards = go_backwards
        ctx.buffers = (recurrent, rstd, gates)
        ctx.save_for_backward(h0, kernel, gamma, beta, outputs)
        return outputs

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_outputs):  # noqa: ANN001, ANN205
        h0, kernel, gamma, beta, outputs = ctx.saved_tensors
        recurrent, rstd, gates = ctx.buffers
        step = _kernel("layer_norm_gru_backward_step", gates.dtype)
        steps, batch, three_units = gates.shape
        units = three_units // 3
        size = gates.element_size()
        grad_outputs = grad_outputs.contiguous()
        grad_p = gates.new_empty(batch, steps, three_units)  # by input step
        grad_r = gates.new_empty(batch, steps, three_units)  # dL/d(h_{t-1} U), by input step
        grad_h, direct = gates.new_zeros(batch, units), gates.new_empty(batch, units)
        grad_gamma, grad_beta = gates.new_zeros(three_units), gates.new_zeros(three_units)
        kernel_t = kernel.t()
        for k in reversed(range(steps)):
            t = _input_step(k, steps, ctx.go_backwards)
            step(
                batch, units, recurrent[k].data_ptr(), rstd[k].data_ptr(), gates[k].data_ptr(),
                *_previous_h(outputs, h0, k), gamma.data_ptr(), beta.data_ptr(),
                grad_outputs.data_ptr() + k * units * size, steps * units,
                None if k == steps - 1 else grad_h.data_ptr(), direct.data_ptr(),
                grad_p.data_ptr() + t * three_units * size, steps * three_units,
                grad_r.data_ptr() + t * three_units * size, steps * three_units,
                grad_gamma.data_ptr(), grad_beta.data_ptr(),
            )  # fmt: skip
            torch.addmm(direct, grad_r[:, t], kernel_t, out=grad_h)
        h_prev = _by_input_step(outputs, h0, ctx.go_backwards)
        grad_kernel = torch.mm(h_prev.reshape(-1, units).t(), grad_r.view(-1, three_units))
        return grad_p, grad_h, grad_kernel, grad_gamma, grad_beta, None, None


class LayerNormSimpleRNNNative(torch.autograd.Function):
    """The layer-normalized simple RNN ``h = tanh(LN(p + h_prev U; gamma, beta))`` (``native/layer_norm_simple_rnn.cc``).

    Inputs: ``projected`` ``(batch, time, units)`` = ``x W``, ``h0``,
    ``recurrent_kernel`` ``(units, units)``, ``gamma``, ``beta`` (the bias,
    zeros without one), ``epsilon``, ``go_backwards``. Output: every ``h`` in
    processing order.
    """

    @staticmethod
    def forward(ctx, projected, h0, recurrent_kernel, gamma, beta, epsilon, go_backwards):  # noqa: ANN001, ANN205
        step = _kernel("layer_norm_simple_rnn_forward_step", projected.dtype)
        batch, steps, units = projected.shape
        size = projected.element_size()
        projected = projected.contiguous()
        h0, kernel, gamma, beta = (t.contiguous() for t in (h0, recurrent_kernel, gamma, beta))
        recurrent = projected.new_empty(steps, batch, units)  # h U, then the normalized sum in place
        rstd = projected.new_empty(steps, batch)
        outputs = projected.new_empty(batch, steps, units)
        h = h0
        for k in range(steps):
            t = _input_step(k, steps, go_backwards)
            torch.mm(h, kernel, out=recurrent[k])
            step(
                batch, units, recurrent[k].data_ptr(), rstd[k].data_ptr(),
                projected.data_ptr() + t * units * size, steps * units, gamma.data_ptr(), beta.data_ptr(),
                epsilon, outputs.data_ptr() + k * units * size, steps * units,
            )  # fmt: skip
            h = outputs[:, k]
        ctx.go_backwards = go_backwards
        ctx.buffers = (recurrent, rstd)
        ctx.save_for_backward(h0, kernel, gamma, outputs)
        return outputs

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_outputs):  # noqa: ANN001, ANN205
        h0, kernel, gamma, outputs = ctx.saved_tensors
        recurrent, rstd = ctx.buffers
        step = _kernel("layer_norm_simple_rnn_backward_step", outputs.dtype)
        batch, steps, units = outputs.shape
        size = outputs.element_size()
        grad_outputs = grad_outputs.contiguous()
        grad_a = outputs.new_empty(batch, steps, units)  # = dL/dp = dL/d(h_{t-1} U), by input step
        grad_h = outputs.new_zeros(batch, units)
        grad_gamma, grad_beta = outputs.new_zeros(units), outputs.new_zeros(units)
        kernel_t = kernel.t()
        for k in reversed(range(steps)):
            t = _input_step(k, steps, ctx.go_backwards)
            step(
                batch, units, recurrent[k].data_ptr(), rstd[k].data_ptr(),
                outputs.data_ptr() + k * units * size, steps * units, gamma.data_ptr(),
                grad_outputs.data_ptr() + k * units * size, steps * units,
                None if k == steps - 1 else grad_h.data_ptr(),
                grad_a.data_ptr() + t * units * size, steps * units,
                grad_gamma.data_ptr(), grad_beta.data_ptr(),
            )  # fmt: skip
            torch.mm(grad_a[:, t], kernel_t, out=grad_h)
        h_prev = _by_input_step(outputs, h0, ctx.go_backwards)
        grad_kernel = torch.mm(h_prev.reshape(-1, units).t(), grad_a.view(-1, units))
        return grad_a, grad_h, grad_kernel, grad_gamma, grad_beta, None, None


class ConvLSTMNative(torch.autograd.Function):
    """The convolutional LSTM recurrence (with or without Shi et al.'s peepholes), channels last.

    Inputs: ``projected`` ``(batch, time, *spatial, 4 filters)`` = ``W_x * X_t + b``,
    ``h0``, ``c0`` ``(batch, *spatial, filters)``, ``weight``
    ``(4 filters, filters, *kernel)`` (PyTorch's layout of the recurrent
    kernel, 2-D or 3-D: a 1-D frame is a 2-D one of height 1; odd sizes,
    stride 1, "same" padding), ``peepholes`` ``(3, prod(spatial) * filters)``
    (zeros without peepholes), ``go_backwards``. Outputs: every ``H``
    ``(batch, time, *spatial, filters)`` in processing order, and the last ``C``.

    Channels last throughout, the layout Keras' ConvLSTM layers use: each
    pixel's gates are a row ``[i, f, c, o]`` of ``filters`` each, the peephole
    LSTM's step kernel with ``prod(spatial)`` positions of ``filters`` units
    (no copy of the whole sequence into channels first and back), and
    PyTorch's oneDNN convolution takes channels-last states without reordering
    them (about 2x faster per step than channels first at 16 filters).
    Inside, the outputs and the gradients of ``projected`` are time-major
    (returned as transposed views), so each step's state and gradient are
    contiguous for the convolution. Per step PyTorch runs the recurrent
    convolution (forward) or its input gradient (backward); the kernel's
    gradient is one ``convolution_backward`` over all steps at the end.
    """

    @staticmethod
    def forward(ctx, projected, h0, c0, weight, peepholes, go_backwards):  # noqa: ANN001, ANN205
        step = _kernel("peephole_lstm_forward_step", projected.dtype)
        batch, steps, *spatial, four_filters = projected.shape
        filters, positions = four_filters // 4, math.prod(spatial)
        frame = positions * four_filters
        size = projected.element_size()
        projected, peepholes = projected.contiguous(), peepholes.contiguous()
        convolution = _recurrent_convolution(weight)
        gates = []  # each step's h * U (channels last), made the gate activations in place by the kernel
        cells = projected.new_empty(steps + 1, batch, *spatial, filters)
        cells[0] = c0
        tanh_c = torch.empty_like(cells[1:])
        outputs = projected.new_empty(steps, batch, *spatial, filters)  # time-major
        h = h0.contiguous()
        for k in range(steps):
            t = _input_step(k, steps, go_backwards)
            gates.append(convolution(h))
            step(
                batch, positions, filters, projected.data_ptr() + t * frame * size, steps * frame,
                gates[k].data_ptr(), cells[k].data_ptr(), cells[k + 1].data_ptr(), tanh_c[k].data_ptr(),
                outputs[k].data_ptr(), positions * filters, peepholes.data_ptr(),
            )  # fmt: skip
            h = outputs[k]
        ctx.go_backwards = go_backwards
        ctx.buffers = (gates, cells, tanh_c, outputs)
        ctx.save_for_backward(h0, weight, peepholes)
        return outputs.transpose(0, 1), cells[steps].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_outputs, grad_c_last):  # noqa: ANN001, ANN205
        h0, weight, peepholes = ctx.saved_tensors
        gates, cells, tanh_c, outputs = ctx.buffers  # outputs time-major
        step = _kernel("peephole_lstm_backward_step", h0.dtype)
        steps, (batch, *spatial, filters) = len(gates), h0.shape
        positions = math.prod(spatial)
        grad_outputs = grad_outputs.transpose(0, 1).contiguous()  # time-major
        grad_c = grad_c_last.contiguous().clone()
        grad_z = h0.new_empty(steps, batch, *spatial, 4 * filters)  # by input step, time-major
        grad_h = None
        grad_peepholes = torch.zeros_like(peepholes)
        for k in reversed(range(steps)):
            t = _input_step(k, steps, ctx.go_backwards)
            step(
                batch, positions, filters, gates[k].data_ptr(), cells[k].data_ptr(), cells[k + 1].data_ptr(),
                tanh_c[k].data_ptr(), peepholes.data_ptr(), grad_outputs[k].data_ptr(), positions * filters,
                None if grad_h is None else grad_h.data_ptr(), grad_c.data_ptr(), grad_z[t].data_ptr(),
                positions * 4 * filters, grad_peepholes.data_ptr(),
            )  # fmt: skip
            grad_h = _recurrent_convolution_gradient(weight, grad_z[t], outputs[k - 1] if k else h0, of="input")
        # h_{t-1} of each input step t, time-major (outputs are in processing order).
        earlier = outputs[:-1]
        if ctx.go_backwards:
            h_prev = torch.cat([torch.flip(earlier, [0]), h0.unsqueeze(0)])
        else:
            h_prev = torch.cat([h0.unsqueeze(0), earlier])
        grad_weight = _recurrent_convolution_gradient(weight, grad_z.flatten(0, 1), h_prev.flatten(0, 1), of="weight")
        grad_h = grad_h if grad_h is not None else torch.zeros_like(h0)
        return grad_z.transpose(0, 1), grad_h, grad_c, grad_weight, grad_peepholes, None


def _channels_first_view(frames: torch.Tensor, rank: int) -> torch.Tensor:
    """``(n, *spatial, channels)`` as PyTorch's ``(n, channels, *spatial)`` of ``rank`` spatial axes, no copy.

    The memory stays channels last (``torch.channels_last`` / ``channels_last_3d``
    strides), which oneDNN's convolution reads without reordering; a 1-D frame
    gets a height of 1.
    """
    while frames.dim() < rank + 2:
        frames = frames.unsqueeze(1)
    return frames.movedim(-1, 1)


def _channels_last(frames: torch.Tensor) -> torch.Tensor:
    """A convolution's ``(n, channels, *spatial)`` result as contiguous ``(n, *spatial, channels)``."""
    return frames.movedim(1, -1).contiguous()


def _convolution_arguments(weight: torch.Tensor) -> tuple[list[int], list[int], list[int]]:
    rank = weight.dim() - 2
    return [(n - 1) // 2 for n in weight.shape[2:]], [1] * rank, [0] * rank


def _recurrent_convolution(weight: torch.Tensor):  # noqa: ANN202
    """``h -> weight * h`` on channels-last states ``(batch, *spatial, filters)``: stride 1, "same" padding."""
    padding, ones, zeros = _convolution_arguments(weight)
    rank = weight.dim() - 2

    def convolve(h: torch.Tensor) -> torch.Tensor:
        z = torch.convolution(_channels_first_view(h, rank), weight, None, ones, padding, ones, False, zeros, 1)
        return _channels_last(z).view(*h.shape[:-1], weight.shape[0])

    return convolve


def _recurrent_convolution_gradient(
    weight: torch.Tensor, grad_z: torch.Tensor, h: torch.Tensor, of: str
) -> torch.Tensor:
    """dL/dh (``of="input"``, channels last like ``h``) or dL/dweight (``of="weight"``) of the recurrent convolution."""
    padding, ones, zeros = _convolution_arguments(weight)
    rank = weight.dim() - 2
    wanted = [of == "input", of == "weight", False]
    grads = torch.ops.aten.convolution_backward(
        _channels_first_view(grad_z, rank), _channels_first_view(h, rank), weight, None, ones, padding, ones,
        False, zeros, 1, wanted,
    )  # fmt: skip
    return _channels_last(grads[0]).view(h.shape) if of == "input" else grads[1]


class NASNative(torch.autograd.Function):
    """The NAS cell's recurrence (``native/nas.cc``; no projection).

    Inputs: ``projected`` ``(batch, time, 8 units)`` = ``x W``, ``h0``, ``c0``,
    ``recurrent_kernel`` ``(units, 8 units)``, ``bias`` ``(8 units,)`` (zeros
    without one: the cell adds it to the recurrent sum), ``go_backwards``.
    Outputs: every ``h`` ``(batch, time, units)`` in processing order, and the
    last ``c``. The backward kernel recomputes each step's branches from the
    kept input and recurrent sums.
    """

    @staticmethod
    def forward(ctx, projected, h0, c0, recurrent_kernel, bias, go_backwards):  # noqa: ANN001, ANN205
        step = _kernel("nas_forward_step", projected.dtype)
        batch, steps, eight_units = projected.shape
        units = eight_units // 8
        size = projected.element_size()
        projected = projected.contiguous()
        h0, kernel, bias = h0.contiguous(), recurrent_kernel.contiguous(), bias.contiguous()
        recurrent = projected.new_empty(steps, batch, eight_units)  # h U + b of each step
        cells = projected.new_empty(steps + 1, batch, units)
        cells[0] = c0
        outputs = projected.new_empty(batch, steps, units)
        h = h0
        for k in range(steps):
            t = _input_step(k, steps, go_backwards)
            torch.addmm(bias, h, kernel, out=recurrent[k])
            step(
                batch, units, projected.data_ptr() + t * eight_units * size, steps * eight_units,
                recurrent[k].data_ptr(), cells[k].data_ptr(), cells[k + 1].data_ptr(),
                outputs.data_ptr() + k * units * size, steps * units,
            )  # fmt: skip
            h = outputs[:, k]
        ctx.go_backwards = go_backwards
        ctx.buffers = (recurrent, cells)
        ctx.save_for_backward(projected, h0, kernel, outputs)
        return outputs, cells[steps].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_outputs, grad_c_last):  # noqa: ANN001, ANN205
        projected, h0, kernel, outputs = ctx.saved_tensors
        recurrent, cells = ctx.buffers
        step = _kernel("nas_backward_step", projected.dtype)
        batch, steps, eight_units = projected.shape
        units = eight_units // 8
        size = projected.element_size()
        grad_outputs = grad_outputs.contiguous()
        grad_c = grad_c_last.contiguous().clone()
        grad_a = projected.new_empty(batch, steps, eight_units)  # by input step
        grad_m = projected.new_empty(batch, steps, eight_units)  # dL/d(h U + b), by input step
        grad_h = projected.new_zeros(batch, units)
        kernel_t = kernel.t()
        for k in reversed(range(steps)):
            t = _input_step(k, steps, ctx.go_backwards)
            step(
                batch, units, projected.data_ptr() + t * eight_units * size, steps * eight_units,
                recurrent[k].data_ptr(), cells[k].data_ptr(), grad_outputs.data_ptr() + k * units * size,
                steps * units, grad_h.data_ptr(), grad_c.data_ptr(),
                grad_a.data_ptr() + t * eight_units * size, steps * eight_units,
                grad_m.data_ptr() + t * eight_units * size, steps * eight_units,
            )  # fmt: skip
            torch.mm(grad_m[:, t], kernel_t, out=grad_h)
        h_prev = _by_input_step(outputs, h0, ctx.go_backwards)
        grad_rows = grad_m.view(-1, eight_units)
        grad_kernel = torch.mm(h_prev.reshape(-1, units).t(), grad_rows)
        return grad_a, grad_h, grad_c, grad_kernel, grad_rows.sum(0), None


class LinearRecurrenceNative(torch.autograd.Function):
    """Every state of ``h_t = a_t h_{t-1} + b_t`` (``native/linear_recurrence.cc``), one call each way.

    Inputs: ``a``, ``b`` ``(batch, time, units)`` in processing order, ``h0``
    ``(batch, units)``. Output: ``h_1 .. h_T`` ``(batch, time, units)``.
    """

    @staticmethod
    def forward(ctx, a, b, h0):  # noqa: ANN001, ANN205
        a, b, h0 = a.contiguous(), b.contiguous(), h0.contiguous()
        batch, steps, units = a.shape
        outputs = torch.empty_like(a)
        _kernel("linear_recurrence_forward", a.dtype)(
            batch, steps, units, a.data_ptr(), b.data_ptr(), h0.data_ptr(), outputs.data_ptr()
        )
        ctx.save_for_backward(a, h0, outputs)
        return outputs

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_outputs):  # noqa: ANN001, ANN205
        a, h0, outputs = ctx.saved_tensors
        batch, steps, units = a.shape
        grad_outputs = grad_outputs.contiguous()
        grad_a, grad_b, grad_h0 = torch.empty_like(a), torch.empty_like(a), torch.empty_like(h0)
        _kernel("linear_recurrence_backward", a.dtype)(
            batch, steps, units, a.data_ptr(), h0.data_ptr(), outputs.data_ptr(), grad_outputs.data_ptr(),
            grad_a.data_ptr(), grad_b.data_ptr(), grad_h0.data_ptr(),
        )  # fmt: skip
        return grad_a, grad_b, grad_h0
