"""The common base of the MUT1-3 cells of Jozefowicz, Zaremba & Sutskever (2015).

"An Empirical Exploration of Recurrent Network Architectures" (ICML 2015)
evolved three GRU-like cells, MUT1, MUT2 and MUT3. All three share the GRU's
update :math:`h_t = \\tanh(\\cdot) \\odot z + h_{t-1} \\odot (1 - z)` and differ
in what feeds the gates. Two of them use the input without a weight matrix
(MUT1's ``tanh(x)``, MUT2's reset gate ``x + ...``), which only makes sense when
the input width equals ``units``; :class:`ProjectedMUTCell` handles that.
"""

from __future__ import annotations

from typing import Any

from keras import ops

from kerasrnn.layers.recurrent_cell import RecurrentCell
from kerasrnn.layers.tensor_types import Tensor


class MUTCell(RecurrentCell):
    """A single-state GRU-like cell; the output is the state ``h``."""

    def interpolate(self, candidate: Tensor, z: Tensor, h_tm1: Tensor) -> Tensor:
        """The MUT (and Cho GRU) update ``candidate * z + h * (1 - z)``."""
        return candidate * z + h_tm1 * (1.0 - z)


class ProjectedMUTCell(MUTCell):
    """A MUT cell whose paper form uses the bare input ``x`` in a ``units``-wide sum.

    Args:
        input_projection: ``None`` (default): use the paper's exact form when
            the input width equals ``units`` and a learned projection
            ``input_projection`` of shape ``(input_dim, units)`` otherwise.
            ``True``: always use the projection. ``False``: always use the
            exact form (a ``ValueError`` when the widths differ).
    """

    def __init__(self, units: int, input_projection: bool | None = None, **kwargs: Any) -> None:
        if input_projection not in (None, True, False):
            raise ValueError(
                f"{type(self).__name__}: `input_projection` must be None "
                f"(automatic), True or False; received {input_projection!r}."
            )
        super().__init__(units, **kwargs)
        self.input_projection = input_projection
        self.projection = None

    def build_input_projection(self, input_dim: int) -> None:
        """Creates the projection weight when this input width needs it."""
        project = self.input_projection
        if project is None:
            project = input_dim != self.units
        elif project is False and input_dim != self.units:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' with input_projection=False "
                f"uses the paper's exact form, which adds the input to a "
                f"{self.units}-wide vector: it needs input width == units "
                f"= {self.units}, but received input width {input_dim}. Use "
                f"input_projection=None or True to learn a projection."
            )
        if project:
            self.projection = self.add_kernel(input_dim, self.units, name="input_projection")

    def project(self, x: Tensor) -> Tensor:
        """``x`` itself in the exact form, ``x @ input_projection`` otherwise."""
        if self.projection is None:
            return x
        return ops.matmul(x, self.projection)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "input_projection": self.input_projection}
