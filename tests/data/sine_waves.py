"""Sine waves of two frequencies: the worked example of docs/contributing.md.

A data set is one module like this one plus one line in
``kerasrnn/data/registry.py``; ``tests/data/test_dataset_interface.py``
registers it for the length of a test and trains on it end to end.
"""

from __future__ import annotations

import numpy as np

from kerasrnn.data.dataset import Dataset
from kerasrnn.data.sequence_data import SequenceData


def load_sine_waves(length: int = 50, samples: int = 600, seed: int = 0) -> SequenceData:
    """Noisy sines, slow (label 0) or fast (label 1), random phase; a 60/20/20 split."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, samples)
    frequency = np.where(labels == 0, 1.0, 3.0)[:, None]
    t = np.linspace(0.0, 2 * np.pi, length)[None, :]
    phase = rng.uniform(0, 2 * np.pi, (samples, 1))
    x = np.sin(frequency * t + phase) + 0.1 * rng.normal(size=(samples, length))
    x = x[..., None].astype(np.float32)
    y = labels.astype(np.int32)
    train, val = int(0.6 * samples), int(0.8 * samples)
    return SequenceData(
        x_train=x[:train],
        y_train=y[:train],
        x_val=x[train:val],
        y_val=y[train:val],
        x_test=x[val:],
        y_test=y[val:],
        task="classification",
        num_outputs=2,
        source=f"generated sine waves ({samples} x {length} steps, seed {seed})",
        class_names=["slow", "fast"],
        info={"length": length, "samples": samples, "seed": seed},
    )


class SineWavesDataset(Dataset):
    """``--dataset sine-waves``: is the wave slow or fast?"""

    name = "sine-waves"
    defaults = dict(
        arch="gru",
        units=16,
        batch_size=32,
        epochs=5,
        lr=1e-2,
        lr_schedule="constant",
        patience=0,
        time_budget=60.0,
    )
    options = ("seq_len",)
    loader = staticmethod(load_sine_waves)

    def load(self) -> SequenceData:
        return load_sine_waves(length=self.config.seq_len, seed=self.config.seed)
