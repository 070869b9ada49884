"""Keras' private API that kerasrnn uses, in one place.

This is the only module of the package that imports from ``keras.src``.
``tests/test_keras_private.py`` pins every name (it exists, with the
signature and attributes kerasrnn relies on), so a Keras upgrade that moves
one fails there, by name. Each was checked with Keras 3.10.0 (the lowest
version ``pyproject.toml`` allows) and 3.15.1 (the one installed and tested).

``backend_rnn``
    ``keras.src.backend.rnn``: the time loop ``keras.layers.RNN`` runs, for
    the active backend (``lax.scan`` on JAX, ``tf.while_loop`` on TensorFlow,
    a Python loop on torch): ``rnn(step_function, inputs, initial_states,
    go_backwards=False, mask=None, constants=None, unroll=False,
    input_length=None, time_major=False, zero_output_for_mask=False,
    return_all_outputs=True) -> (last_output, outputs, new_states)``.
    Why private: ``keras.ops`` has no masked, ``go_backwards`` time loop, and
    ``keras.layers.RNN`` runs this one only around the cell's
    ``Layer.__call__``, which ``CellRNN`` skips. Used by
    ``kerasrnn.layers.cell_rnn``.

``DropoutRNNCell``
    ``keras.src.layers.rnn.dropout_rnn_cell.DropoutRNNCell``: Keras'
    dropout-mask mixin for cells, with ``get_dropout_mask(step_input)``,
    ``get_recurrent_dropout_mask(step_input)`` and their ``reset_*``;
    ``keras.layers.RNN`` draws the masks of cells that are instances of it
    once per sequence, before the time loop
    (``RNN._maybe_config_dropout_masks``). Why private: no ``keras.layers``
    name exports it, and a look-alike class fails that ``isinstance`` check,
    so masks would be drawn inside the loop (the same noise at every step on
    JAX, which breaks ``fit`` there). Base of
    ``kerasrnn.layers.recurrent_cell.RecurrentCell``.

:func:`patch_tf2onnx`
    Runs ``keras.src.export.tf2onnx_lib.patch_tf2onnx``; see its docstring.

:func:`patch_tf_trainer_for_multi_worker`
    Fixes ``keras.src.backend.tensorflow.trainer`` under
    ``MultiWorkerMirroredStrategy`` (its ``reduce_per_replica`` and
    ``TensorFlowTrainer._maybe_symbolic_build``); see its docstring.

Other Keras internals kerasrnn relies on that no import can hold, pinned in
the same test file: ``keras.layers.RNN.inner_loop(sequences, initial_state,
mask, training=False)``, an undocumented hook that ``CellRNN`` and
``FusedKernelLoop`` override to run their own loop, and the ``use_cudnn``
attribute of ``keras.layers.LSTM``/``GRU``, which ``FusedKernelLoop`` reads.

Test-only uses stay in the tests, as this module would otherwise carry test
machinery (absl's test case) or Keras' dtype tables for a test workaround:
``keras.src.testing`` (``TestCase.run_layer_test``) in
``tests/layers/test_layers.py`` and ``keras.src.backend.common.dtypes`` in
``tests/layers/test_gradients.py``.

Every name is imported on first access (PEP 562), not at import time:
``import kerasrnn`` registers the layers right after Keras is imported, and
the layers import these names, so importing Keras from the top of this module
would ask for them while it is half-initialized. Importing this module imports
neither Keras nor TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and IDEs; at run time see __getattr__
    from keras.src.backend import rnn as backend_rnn
    from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

__all__ = ["DropoutRNNCell", "backend_rnn", "patch_tf2onnx", "patch_tf_trainer_for_multi_worker"]

# Name -> (Keras module, attribute); see the module docstring.
_PRIVATE = {
    "backend_rnn": ("keras.src.backend", "rnn"),
    "DropoutRNNCell": ("keras.src.layers.rnn.dropout_rnn_cell", "DropoutRNNCell"),
}


def __getattr__(name: str) -> Any:
    if name not in _PRIVATE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module_name, attribute = _PRIVATE[name]
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PRIVATE])


def patch_tf2onnx() -> None:
    """Runs ``keras.src.export.tf2onnx_lib.patch_tf2onnx``: Keras' NumPy 2 patch of tf2onnx.

    Replaces tf2onnx's constant-folding rewrite and ``Node.get_value_attr``,
    which use NumPy names that NumPy 2 removed; Keras' own ONNX export applies
    it before converting, once (it is cached). Why private: ``keras.export``
    offers only whole-model export, while kerasrnn's exporter converts its own
    traced function with tf2onnx. Imports Keras' module, which needs ``onnx``
    and ``tf2onnx`` (hence TensorFlow), only when called. For
    ``kerasrnn.export.tf_export``. Checked with Keras 3.10.0 and 3.15.1.
    """
    from keras.src.export.tf2onnx_lib import patch_tf2onnx as keras_patch_tf2onnx

    keras_patch_tf2onnx()


def patch_tf_trainer_for_multi_worker() -> None:
    """Make Keras 3's TensorFlow trainer work under ``MultiWorkerMirroredStrategy`` (tensorflow#72388).

    Keras reduces the first input batch (for building shapes only) and each
    scalar metric with ``strategy.reduce(..., axis=0)``, which fails across
    workers.  The first batch is taken from the local replica instead; scalar
    metrics are averaged with ``axis=None``.  Why private: the trainer offers
    no hook for either.  Replaces ``keras.src.backend.tensorflow.trainer``'s
    ``reduce_per_replica`` (it calls ``_collective_all_reduce_multi_worker``)
    and ``TensorFlowTrainer._maybe_symbolic_build``, once.  For
    ``kerasrnn.training.distribution``; checked with Keras 3.15.1.
    """
    import tensorflow as tf
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    if getattr(tf_trainer, "_kerasrnn_patched", False):
        return
    original_reduce = tf_trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and tf_trainer._collective_all_reduce_multi_worker(strategy):

            def mean(value):
                if isinstance(value, tf.distribute.DistributedValues):
                    return strategy.reduce("MEAN", value, axis=None)
                return value

            return tree.map_structure(mean, values)
        return original_reduce(values, strategy, reduction)

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None:
            return
        if iterator is not None:
            for _, _, batches in iterator:
                batch = next(batches)

                def local(value, strategy=self.distribute_strategy):
                    if isinstance(value, tf.distribute.DistributedValues):
                        return strategy.experimental_local_results(value)[0]
                    return value

                data_batch = tree.map_structure(local, batch)
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    tf_trainer.reduce_per_replica = reduce_per_replica
    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    tf_trainer._kerasrnn_patched = True
