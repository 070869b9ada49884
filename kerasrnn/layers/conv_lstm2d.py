"""2-D convolutional LSTM layer, with or without peepholes."""

import keras

from kerasrnn.layers.conv_lstm import ConvLSTM


@keras.saving.register_keras_serializable(package="kerasrnn")
class ConvLSTM2D(ConvLSTM):
    """2-D convolutional LSTM (Shi et al., 2015) over inputs ``(batch, time, rows, cols, channels)``.

    The equations, weights and arguments are those of
    :class:`~kerasrnn.layers.ConvLSTMCell` (rank 2). ``peephole=False``
    gives exactly the math of ``keras.layers.ConvLSTM2D``; ``peephole=True``
    (the default) adds the paper's Hadamard peepholes. Also takes the
    ``keras.layers.RNN`` arguments ``return_sequences``, ``return_state``,
    ``go_backwards``, ``stateful`` and ``unroll``.

    Example::

        layer = kerasrnn.layers.ConvLSTM2D(16, (3, 3), peephole=True)
        y = layer(keras.random.normal((8, 10, 16, 16, 3)))  # (8, 14, 14, 16)
    """

    rank = 2
