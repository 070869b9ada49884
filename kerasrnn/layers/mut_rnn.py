"""``MUTRNN``: the layer base of MUT1-3, with the backend's whole-sequence recurrence tried first."""

from __future__ import annotations

from collections.abc import Sequence

from kerasrnn import backend as fast_paths
from kerasrnn.layers.cell_rnn import CellRNN
from kerasrnn.layers.tensor_types import Tensor


class MUTRNN(CellRNN):
    """A :class:`~kerasrnn.layers.cell_rnn.CellRNN` whose cell is a MUT cell (``cell.fused_form``: "mut1" ...).

    On the torch backend with the C++ step kernels built, the whole time
    loop runs in ``kerasrnn.backend.torch.native_cells.ResetBeforeNative``
    (same math, same weights; :meth:`whole_sequence`); a mask, recurrent
    dropout in training, other activations or another backend run
    :class:`CellRNN`'s loop over the cell's step.
    """

    def whole_sequence(
        self, sequences: Tensor, initial_state: Sequence[Tensor], mask: Tensor | None, training: bool
    ) -> tuple[Tensor, Tensor, Sequence[Tensor]]:
        cell = self.cell
        return fast_paths.reset_before_rnn(
            sequences,
            initial_state[0],
            mask,
            recurrent_kernel=cell.recurrent_kernel,
            cell=cell.fused_form,
            activation=cell.activation,
            recurrent_activation=cell.recurrent_activation,
            **self.sequence_options(training),
        )
