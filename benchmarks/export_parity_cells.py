"""Export parity (SavedModel and ONNX, max abs error) of the cells and options added with the cell zoo, on the current backend.

Usage: ``KERAS_BACKEND=jax python benchmarks/export_parity_cells.py`` (one line per model and artifact).
"""

import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras

import kerasrnn
from kerasrnn.export import export_models
from kerasrnn.layers import LSTM, PeepholeLSTM, Recurrent


def model_of(layer, shape=(8, 3)):
    inputs = keras.Input(shape)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(layer(inputs)))


keras.utils.set_random_seed(0)
models = {
    "min-gru": kerasrnn.build_model("min-gru", "classification", (8, 3), 3, units=4),
    "bimin-lstm": kerasrnn.build_model("bimin-lstm", "classification", (8, 3), 3, units=4),
    "min-lstm": kerasrnn.build_model("min-lstm", "labelling", (8, 3), 3, units=4),
    "tcn": kerasrnn.build_model("tcn", "classification", (8, 3), 3, units=4, layers=2),
    "lstm proj_size": model_of(LSTM(6, proj_size=3)),
    "peephole-lstm proj_size": model_of(PeepholeLSTM(6, proj_size=3)),
    "Recurrent lstm proj_size residual": model_of(Recurrent("lstm", 6, num_layers=3, proj_size=3, residual=True)),
}
root = Path(tempfile.mkdtemp())
jobs = [
    {"model": m, "path": root / name.replace(" ", "_"), "streaming": name in ("min-gru", "min-lstm", "lstm proj_size")}
    for name, m in models.items()
]
reports = export_models(jobs, format="all", raise_errors=False, check_trained_backend=False)
for name, report in zip(models, reports):
    path = root / name.replace(" ", "_")
    if not report.get("passed"):
        print(f"{keras.backend.backend():10s} {name:36s} FAILED {report.get('error')}")
        continue
    stored = json.loads((path / "parity.json").read_text())
    figures = {k: v["max_abs_error"] for k, v in stored["artifacts"].items()}
    print(f"{keras.backend.backend():10s} {name:36s} " + "  ".join(f"{k} {v:.1e}" for k, v in figures.items()))
