"""Next-token accuracy over real tokens: padding labels (id 0) are not counted."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="kerasrnn")
class TokenAccuracy(keras.metrics.Mean):
    """The fraction of non-padding positions whose arg-max prediction is the label.

    ``keras.metrics.SparseCategoricalAccuracy`` counts padding positions too,
    which would make short sentences look better than they are.

    Args:
        pad_id: The label id that marks padding (not counted).
    """

    def __init__(self, name: str = "accuracy", pad_id: int = 0, dtype=None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.pad_id = int(pad_id)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = keras.ops.cast(y_true, "int32")
        predicted = keras.ops.cast(keras.ops.argmax(y_pred, axis=-1), "int32")
        weights = keras.ops.cast(keras.ops.not_equal(y_true, self.pad_id), self.dtype)
        if sample_weight is not None:
            weights = weights * keras.ops.cast(sample_weight, self.dtype)
        matches = keras.ops.cast(keras.ops.equal(predicted, y_true), self.dtype)
        return super().update_state(matches, sample_weight=weights)

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}
