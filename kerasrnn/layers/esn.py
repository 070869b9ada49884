"""Echo state network (Jaeger, 2001), as tensorflow-addons had it."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from kerasrnn import backend as fast_paths
from kerasrnn.layers.cell_rnn import CellRNN
from kerasrnn.layers.recurrent_cell import RecurrentCell
from kerasrnn.layers.tensor_types import Identifier, Shape, Tensor

# RecurrentCell arguments that would act on trained weights only.
_TRAINING_ONLY = (
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
)


def reservoir_initializer(
    initializer: Callable[..., Tensor],
    connectivity: float,
    spectral_radius: float,
    use_norm2: bool,
    seed: int,
) -> Callable[..., Tensor]:
    """The initializer of an ESN's recurrent kernel (tensorflow-addons' ``_esn_recurrent_initializer``).

    Draws ``initializer``, keeps each entry where a uniform draw in [0, 1)
    (seeded with ``seed``) is ``<= connectivity``, then scales the matrix to
    ``spectral_radius``: divided by its largest eigenvalue modulus, or with
    ``use_norm2`` by its Frobenius norm (the 2-norm of the flattened matrix,
    an upper bound of the spectral radius that needs no eigenvalues). A zero
    matrix stays zero. The eigenvalues are computed once, at build time,
    with NumPy in float64 (every backend and device alike; JAX has no
    general eigensolver on GPU).
    """

    def initialize(shape: Shape, dtype: str | None = None) -> Tensor:
        weights = np.asarray(ops.convert_to_numpy(initializer(shape, dtype="float32")), np.float64)
        draws = np.asarray(ops.convert_to_numpy(keras.random.uniform(shape, seed=seed)))
        weights = weights * (draws <= connectivity)
        if use_norm2:
            norm = float(np.sqrt(np.sum(np.square(weights))))
            scale = spectral_radius / (norm + (1.0 if norm == 0.0 else 0.0))
        else:
            radius = float(np.max(np.abs(np.linalg.eigvals(weights))))
            scale = spectral_radius / radius if radius > 0.0 else 0.0
        return ops.convert_to_tensor(weights * scale, dtype=dtype)

    return initialize


@keras.saving.register_keras_serializable(package="kerasrnn")
class ESNCell(RecurrentCell):
    r"""Echo state network cell: a fixed random leaky reservoir.

    Jaeger, "The 'echo state' approach to analysing and training recurrent
    neural networks", GMD Report 148 (2001), in the form of
    tensorflow-addons' ``ESNCell``:

    .. math::

        h_t = (1 - \alpha)\, h_{t-1} + \alpha\, f(W_{in} x_t + W h_{t-1} + b)

    with :math:`\alpha` the leaking rate ``leaky`` and :math:`f` the
    ``activation``. :math:`W` is sparse (each entry kept with probability
    ``connectivity``) and scaled to the spectral radius ``spectral_radius``
    (largest eigenvalue modulus; with ``use_norm2`` its Frobenius norm, an
    upper bound, is scaled instead), so that the echo state property's
    necessary condition :math:`\rho(W) < 1` holds for radii below 1.

    **Nothing in the cell trains**: all three weights are created with
    ``trainable=False``; only a readout on top of the states (e.g. a
    ``Dense`` layer) learns. Randomness is drawn once, at build time (the
    initializers and the connectivity mask, seeded with ``seed``); ``call``
    draws nothing but the optional dropout masks.

    Weights (tensorflow-addons' names, all non-trainable):

    * ``kernel``: ``(input_dim, units)`` = :math:`W_{in}`
    * ``recurrent_kernel``: ``(units, units)`` = :math:`W`
    * ``bias``: ``(units,)`` = :math:`b`

    States: ``[h]``; the output is ``h``.

    Args:
        units: Size of the reservoir.
        connectivity: Probability in [0, 1] that a reservoir connection
            exists (default 0.1).
        leaky: Leaking rate :math:`\alpha` in (0, 1]; 1 (the default) is no
            leaky integration.
        spectral_radius: The spectral radius :math:`W` is scaled to (default
            0.9; below 1 for the echo state property).
        use_norm2: Scale the Frobenius norm of :math:`W` (a bound of the
            spectral radius) instead of computing eigenvalues.
        use_bias: Whether the reservoir has a bias.
        activation: :math:`f` (default ``tanh``).
        kernel_initializer, recurrent_initializer, bias_initializer: Draw
            :math:`W_{in}`, :math:`W` (before masking and scaling) and
            :math:`b`; defaults ``glorot_uniform``, ``glorot_uniform``,
            ``zeros`` as tensorflow-addons.
        seed: Seeds the connectivity mask (and the dropout masks); ``None``
            draws one from Python's ``random`` at build time (so
            ``keras.utils.set_random_seed`` makes it reproducible).
        dropout, recurrent_dropout: Optional noise during training: dropout
            of the input and of the state where it enters :math:`W`
            (one mask per sequence); not in tensorflow-addons.

    The regularizers and constraints of
    :class:`~kerasrnn.layers.recurrent_cell.RecurrentCell` act on trained
    weights only and are refused; ``recurrent_activation`` is accepted (every
    kerasrnn cell takes it) and unused.

    Example::

        reservoir = kerasrnn.layers.ESN(200, return_sequences=True, seed=1)
        model = keras.Sequential([keras.Input((None, 1)), reservoir, keras.layers.Dense(1)])
    """

    def __init__(
        self,
        units: int,
        connectivity: float = 0.1,
        leaky: float = 1.0,
        spectral_radius: float = 0.9,
        use_norm2: bool = False,
        use_bias: bool = True,
        activation: Identifier = "tanh",
        kernel_initializer: Identifier = "glorot_uniform",
        recurrent_initializer: Identifier = "glorot_uniform",
        bias_initializer: Identifier = "zeros",
        **kwargs: Any,
    ) -> None:
        for name in _TRAINING_ONLY:
            if kwargs.get(name) is not None:
                raise ValueError(
                    f"{type(self).__name__}: `{name}` does not apply: the reservoir's "
                    f"weights are fixed (not trained); received {name}={kwargs[name]!r}."
                )
        if not 0.0 <= connectivity <= 1.0:
            raise ValueError(
                f"{type(self).__name__}: `connectivity` must be in [0, 1], received connectivity={connectivity!r}."
            )
        if not 0.0 < leaky <= 1.0:
            raise ValueError(f"{type(self).__name__}: `leaky` must be in (0, 1], received leaky={leaky!r}.")
        if not spectral_radius >= 0.0:
            raise ValueError(
                f"{type(self).__name__}: `spectral_radius` must be >= 0, received spectral_radius={spectral_radius!r}."
            )
        super().__init__(
            units,
            use_bias=use_bias,
            activation=activation,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            **kwargs,
        )
        self.connectivity = float(connectivity)
        self.leaky = float(leaky)
        self.spectral_radius = float(spectral_radius)
        self.use_norm2 = bool(use_norm2)

    def build(self, input_shape: Shape) -> None:
        input_dim = self.input_dim_of(input_shape)
        units = self.units
        seed = self.seed if self.seed is not None else random.randint(1, int(1e9))
        self.recurrent_kernel = self.add_weight(
            shape=(units, units),
            name="recurrent_kernel",
            initializer=reservoir_initializer(
                self.recurrent_initializer, self.connectivity, self.spectral_radius, self.use_norm2, seed
            ),
            trainable=False,
        )
        self.kernel = self.add_weight(
            shape=(input_dim, units), name="kernel", initializer=self.kernel_initializer, trainable=False
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=(units,), name="bias", initializer=self.bias_initializer, trainable=False)

    def project_inputs(self, inputs: Tensor) -> Tensor:
        return fast_paths.affine(inputs, self.kernel, self.bias if self.use_bias else None)

    def recurrent_step(
        self, projected: Tensor, states: Sequence[Tensor], training: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        (h_tm1,) = states
        h = self.dropped_state(h_tm1, training)
        update = self.activation(projected + ops.matmul(h, self.recurrent_kernel))
        h = (1.0 - self.leaky) * h_tm1 + self.leaky * update
        return h, [h]

    def get_config(self) -> dict[str, Any]:
        config = {
            "connectivity": self.connectivity,
            "leaky": self.leaky,
            "spectral_radius": self.spectral_radius,
            "use_norm2": self.use_norm2,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="kerasrnn")
class ESN(CellRNN):
    """Echo state network layer: ``keras.layers.RNN(ESNCell(...))``.

    Takes every :class:`ESNCell` argument and the ``keras.layers.RNN``
    arguments (``return_sequences``, ``return_state``, ``go_backwards``,
    ``stateful``, ``unroll``). Its weights are all non-trainable.

    Example::

        layer = kerasrnn.layers.ESN(100, spectral_radius=0.95, leaky=0.3, seed=0)
        y = layer(keras.random.normal((8, 20, 3)))  # (8, 100)
    """

    cell_class = ESNCell
