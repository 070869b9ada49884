"""kerasrnn's recurrent cells and layers.

Keras' own layers cover the classic cells; use them directly:

* vanilla RNN: ``keras.layers.SimpleRNN`` (``activation="tanh"`` or ``"relu"``)
* LSTM (Hochreiter & Schmidhuber 1997, with forget gate): ``keras.layers.LSTM``
* GRU, Cho et al. (2014) form, reset gate applied before the recurrent matmul:
  ``keras.layers.GRU(reset_after=False)``
* GRU, cuDNN / PyTorch form, reset gate applied after the recurrent matmul:
  ``keras.layers.GRU(reset_after=True)`` (Keras' default)

kerasrnn adds what Keras lacks: the cells below, and :class:`LSTM` /
:class:`GRU`, Keras' layers with the backends' fused kernels where Keras has
none (PyTorch's own LSTM/GRU kernel on CPU on the torch backend), and the
convolutional alternative to recurrence, :class:`TCN` (Bai et al. 2018).
"""

from kerasrnn.layers.attention_cell import AttentionCell
from kerasrnn.layers.bahdanau_attention import BahdanauAttention
from kerasrnn.layers.conv_lstm import ConvLSTMCell
from kerasrnn.layers.conv_lstm1d import ConvLSTM1D
from kerasrnn.layers.conv_lstm2d import ConvLSTM2D
from kerasrnn.layers.esn import ESN, ESNCell
from kerasrnn.layers.fused_rnn import GRU, LSTM
from kerasrnn.layers.ind_rnn import IndRNN, IndRNNCell
from kerasrnn.layers.layer_norm_gru import LayerNormGRU, LayerNormGRUCell
from kerasrnn.layers.layer_norm_lstm import LayerNormLSTM, LayerNormLSTMCell
from kerasrnn.layers.layer_norm_simple_rnn import LayerNormSimpleRNN, LayerNormSimpleRNNCell
from kerasrnn.layers.luong_attention import LuongAttention
from kerasrnn.layers.mgu import MGU, MGUCell
from kerasrnn.layers.min_gru import MinGRU, MinGRUCell
from kerasrnn.layers.min_lstm import MinLSTM, MinLSTMCell
from kerasrnn.layers.mut1 import MUT1, MUT1Cell
from kerasrnn.layers.mut2 import MUT2, MUT2Cell
from kerasrnn.layers.mut3 import MUT3, MUT3Cell
from kerasrnn.layers.nas import NAS, NASCell
from kerasrnn.layers.peephole_lstm import PeepholeLSTM, PeepholeLSTMCell
from kerasrnn.layers.projected_lstm_cell import ProjectedLSTMCell
from kerasrnn.layers.recurrent import Recurrent
from kerasrnn.layers.tcn import TCN, CausalConv1D, TemporalBlock

__all__ = [
    "AttentionCell",
    "BahdanauAttention",
    "CausalConv1D",
    "ConvLSTM1D",
    "ConvLSTM2D",
    "ConvLSTMCell",
    "ESN",
    "ESNCell",
    "GRU",
    "IndRNN",
    "IndRNNCell",
    "LSTM",
    "LayerNormGRU",
    "LayerNormGRUCell",
    "LayerNormLSTM",
    "LayerNormLSTMCell",
    "LayerNormSimpleRNN",
    "LayerNormSimpleRNNCell",
    "LuongAttention",
    "MGU",
    "MGUCell",
    "MinGRU",
    "MinGRUCell",
    "MinLSTM",
    "MinLSTMCell",
    "MUT1",
    "MUT1Cell",
    "MUT2",
    "MUT2Cell",
    "MUT3",
    "MUT3Cell",
    "NAS",
    "NASCell",
    "PeepholeLSTM",
    "PeepholeLSTMCell",
    "ProjectedLSTMCell",
    "Recurrent",
    "TCN",
    "TemporalBlock",
]
