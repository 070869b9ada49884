"""The package surface: registry, SequenceData, splits, lazy imports."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from kerasrnn.data import DATASETS, PAD_VALUE, DataError, SequenceData, load_dataset
from kerasrnn.data.splits import indices_digest, split_indices, stable_permutation

pytestmark = pytest.mark.backend_independent

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEAVY = ("tensorflow", "tensorflow_datasets", "statsmodels", "sklearn", "keras", "pandas")


def test_import_is_light():
    """``import kerasrnn``, its registries, options and data sets import none of the heavy packages."""
    code = textwrap.dedent(
        """
        import json, sys
        before = set(sys.modules)
        import kerasrnn, kerasrnn.data, kerasrnn.registry, kerasrnn.training
        from kerasrnn.training.run_config import RunConfig
        for name in kerasrnn.registry.DATASETS:
            kerasrnn.registry.dataset_class(name)
        kerasrnn.registry.presets()
        RunConfig().resolve()
        added = sorted({m.split('.')[0] for m in set(sys.modules) - before})
        print(json.dumps({"added": added, "tensorflow": "tensorflow" in sys.modules}))
        """
    )
    env = {**os.environ, "PYTHONPATH": REPO_ROOT}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert not set(report["added"]) & set(HEAVY), report["added"]
    assert report["tensorflow"] is False


def test_registry_and_errors():
    assert set(DATASETS) == {
        *("mnist", "sunspots", "shakespeare", "adding", "copy", "arithmetic", "xml", "file"),
        *("fra-eng", "sentiment", "pairs", "texts"),
    }
    assert all(isinstance(entry.description, str) and "\n" not in entry.description for entry in DATASETS.values())
    with pytest.raises(
        DataError,
        match="expected one of adding, arithmetic, copy, fra-eng, mnist, pairs, sentiment, shakespeare, sunspots, texts, xml",
    ):
        load_dataset("cifar10")
    with pytest.raises(DataError, match="does not accept option.*windw.*accepted: .*window"):
        load_dataset("sunspots", windw=3)


def test_load_dataset_builtins():
    mnist = load_dataset("mnist", source="bundled", layout="pixel")
    assert mnist.x_train.shape[1:] == (784, 1)
    text = load_dataset("shakespeare", seq_len=64, max_chars=50_000)
    assert text.task == "language_model" and text.x_train.shape[1] == 64
    pytest.importorskip("statsmodels")
    sun = load_dataset("sunspots", window=6)
    assert sun.x_train.shape[1:] == (6, 1)
    for data in (mnist, text, sun):
        json.dumps(data.describe())
        assert data.summary().startswith(data.source)


def test_sequence_data_validation():
    x = np.zeros((4, 3, 1), np.float32)
    y = np.zeros(4, np.int32)
    with pytest.raises(DataError, match="task must be one of"):
        SequenceData(x, y, x, y, x, y, task="clustering", num_outputs=2, source="s")
    with pytest.raises(DataError, match="x_val and y_val"):
        SequenceData(x, y, x, y[:2], x, y, task="classification", num_outputs=2, source="s")
    data = SequenceData(x, y, x, y, x, y, task="classification", num_outputs=2, source="s")
    assert data.input_shape == (3, 1) and not data.variable_length


def test_pad_value():
    assert PAD_VALUE != 0 and np.isfinite(np.float16(PAD_VALUE))
    assert float(np.float32(PAD_VALUE)) == PAD_VALUE


def test_stable_permutation_is_pinned():
    # Pure integer hashing: the same on every machine and NumPy version.
    assert stable_permutation(10, 0).tolist() == [5, 7, 1, 4, 2, 8, 0, 6, 3, 9]
    perm = stable_permutation(1000, 7)
    assert sorted(perm.tolist()) == list(range(1000))
    assert not np.array_equal(perm, stable_permutation(1000, 8))


def test_split_indices():
    labels = np.repeat(np.arange(3), [5, 10, 15])
    kept, held = split_indices(30, 0.2, 0, labels)
    assert len(held) == 6 and np.bincount(labels[held]).tolist() == [1, 2, 3]
    assert sorted(np.concatenate([kept, held]).tolist()) == list(range(30))
    kept, held = split_indices(30, 0.0, 0)
    assert len(held) == 0 and len(kept) == 30
    assert indices_digest(held) == indices_digest(np.array([], dtype=np.int64))
    with pytest.raises(DataError, match="fraction"):
        split_indices(30, 1.0, 0)
    with pytest.raises(DataError, match="seed"):
        split_indices(30, 0.5, -1)
    with pytest.raises(DataError, match="at least 2 samples"):
        split_indices(1, 0.5, 0)
