"""1-D convolutional LSTM layer, with or without peepholes."""

import keras

from kerasrnn.layers.conv_lstm import ConvLSTM


@keras.saving.register_keras_serializable(package="kerasrnn")
class ConvLSTM1D(ConvLSTM):
    """1-D convolutional LSTM (Shi et al., 2015) over inputs ``(batch, time, steps, channels)``.

    The equations, weights and arguments are those of
    :class:`~kerasrnn.layers.ConvLSTMCell` (rank 1). ``peephole=False``
    gives exactly the math of ``keras.layers.ConvLSTM1D``; ``peephole=True``
    (the default) adds the paper's Hadamard peepholes. Also takes the
    ``keras.layers.RNN`` arguments ``return_sequences``, ``return_state``,
    ``go_backwards``, ``stateful`` and ``unroll``.

    Example::

        layer = kerasrnn.layers.ConvLSTM1D(16, 3, peephole=True)
        y = layer(keras.random.normal((8, 10, 32, 3)))  # (8, 30, 16)
    """

    rank = 1
