"""Every file reader, fed any bytes: data, or a DataError (RunDirError for run directories) -- nothing else.

Property-based (hypothesis).  The byte strings are arbitrary, mutations of a
valid file (so the parsers get past their first check), or valid files cut
short.  Each reader must also answer within a time limit (hypothesis'
``deadline``).  ``KERASRNN_FUZZ_EXAMPLES`` raises the number of examples
(default 400 per reader) for a longer run.
"""

from __future__ import annotations

import gzip
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kerasrnn.data.formats.delimited import read_delimited
from kerasrnn.data.formats.idx import read_idx
from kerasrnn.data.formats.npz import read_input_array, read_training_arrays
from kerasrnn.data.sequence_file import load_sequence_file
from kerasrnn.data.text import CharVocabulary, load_char_corpus, read_text_file
from kerasrnn.errors import DataError, RunDirError
from kerasrnn.training.checkpoint import Checkpoint
from kerasrnn.training.run_dir import RunDir

pytestmark = pytest.mark.backend_independent

EXAMPLES = int(os.environ.get("KERASRNN_FUZZ_EXAMPLES", "400"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=2000,  # ms per example: a reader that hangs or crawls fails
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples on every run (CI is reproducible)
)


def _npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _idx_bytes() -> bytes:
    data = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    return b"\x00\x00\x08\x03" + np.array(data.shape, ">u4").tobytes() + data.tobytes()


VALID = {
    "csv": b"label,a,b,c\n0,0.1,0.2,0.3\n1,1.5,,\n0,2,3,4\n1,5,6,7\n0,1,1,1\n1,2,2,2\n",
    "tsv": b"A\t0.5\t1\t2\nB\t3\t4\nA\t1\t1\nB\t2\t2\nA\t3\t3\t3\n",
    "npz": _npz_bytes(x=np.random.default_rng(0).normal(size=(8, 4, 2)), y=np.arange(8) % 2),
    "idx": _idx_bytes(),
    "idx.gz": gzip.compress(_idx_bytes()),
    "text": ("First Citizen:\nBefore we proceed any further, hear me speak.\n" * 20).encode(),
}


def _mutated(valid: bytes) -> st.SearchStrategy[bytes]:
    """``valid`` with some bytes replaced, cut short, or with bytes inserted."""

    @st.composite
    def mutate(draw):
        data = bytearray(valid)
        for _ in range(draw(st.integers(0, 4))):
            if not data:
                break
            position = draw(st.integers(0, len(data) - 1))
            kind = draw(st.sampled_from(["replace", "insert", "truncate"]))
            if kind == "replace":
                data[position] = draw(st.integers(0, 255))
            elif kind == "insert":
                data[position:position] = draw(st.binary(min_size=1, max_size=8))
            else:
                del data[position:]
        return bytes(data)

    return mutate()


def inputs(kind: str) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, text-like bytes, and mutations of a valid file of ``kind``."""
    text = st.text(alphabet=st.sampled_from(list("0123456789.,-+eE\tnaNIf \n\"'ABC\x00é")), max_size=300)
    return st.one_of(
        st.binary(max_size=400),
        text.map(lambda s: s.encode("utf-8")),
        _mutated(VALID[kind]),
    )


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("label_col", [0, -1, None])
@FUZZ
@given(data=st.one_of(inputs("csv"), inputs("tsv")))
def test_delimited_text(tmp_path, label_col, data):
    try:
        table = read_delimited(_write(tmp_path, "f.csv", data), label_col)
    except DataError:
        event("DataError")
        return
    event("data")
    assert len(table.sequences) > 0
    assert all(np.isfinite(row).all() for row in table.sequences)


@FUZZ
@given(data=inputs("npz"))
def test_npz_archives(tmp_path, data):
    path = _write(tmp_path, "f.npz", data)
    for reader in (read_training_arrays, read_input_array):
        try:
            reader(path)
            event(f"{reader.__name__}: data")
        except DataError:
            event(f"{reader.__name__}: DataError")


@FUZZ
@given(data=st.one_of(inputs("npz"), inputs("csv")))
def test_sequence_files_end_to_end(tmp_path, data):
    name = "f.npz" if data[:2] == b"PK" else "f.csv"
    try:
        loaded = load_sequence_file(_write(tmp_path, name, data), validation_fraction=0.2, test_fraction=0.2)
    except DataError:
        event("DataError")
        return
    event("data")
    assert len(loaded.x_train) > 0 and np.isfinite(loaded.x_train).all()


@FUZZ
@given(data=st.one_of(inputs("idx"), inputs("idx.gz")))
def test_idx_files(tmp_path, data):
    try:
        array = read_idx(_write(tmp_path, "f-idx3-ubyte", data))
    except DataError:
        event("DataError")
        return
    event("data")
    assert isinstance(array, np.ndarray)


@FUZZ
@given(data=inputs("text"))
def test_text_corpora(tmp_path, data):
    path = _write(tmp_path, "corpus.txt", data)
    try:
        read_text_file(path)
        corpus = load_char_corpus(path, seq_len=4, validation_fraction=0.2, test_fraction=0.2)
    except DataError:
        event("DataError")
        return
    event("data")
    assert corpus.x_train.shape[1] == 4


@FUZZ
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=5),
        max_leaves=20,
    )
    | st.fixed_dictionaries({"chars": st.lists(st.text(max_size=3), max_size=8)})
)
def test_vocabularies(value):
    try:
        vocabulary = CharVocabulary.from_config(value)
    except DataError:
        event("DataError")
        return
    event("data")
    text = "".join(vocabulary.chars)
    assert vocabulary.decode(vocabulary.encode(text)) == text


@FUZZ
@given(
    config=st.binary(max_size=200) | st.just(b'{"config": {"arch": "gru"}, "status": "running"}'),
    history=st.binary(max_size=200) | st.just(b"epoch,loss\n1,0.5\n2,nan\n"),
    metrics=st.binary(max_size=100),
    state=st.binary(max_size=200) | st.just(b'{"format": 1, "state": {"epochs_done": 1}}'),
)
def test_run_directories(tmp_path, config, history, metrics, state):
    run_path = tmp_path / "run"
    (run_path / "checkpoint").mkdir(parents=True, exist_ok=True)
    (run_path / "config.json").write_bytes(config)
    (run_path / "history.csv").write_bytes(history)
    (run_path / "metrics.json").write_bytes(metrics)
    (run_path / "checkpoint" / "state.json").write_bytes(state)
    run = RunDir.open(run_path)
    for read in (
        run.read_record,
        run.read_config,
        run.read_history,
        run.read_metrics,
        Checkpoint(run.checkpoint_dir).state,
    ):
        try:
            read()
            event(f"{read.__name__}: data")
        except (RunDirError, DataError):
            event(f"{read.__name__}: error")


def test_object_arrays_are_refused_never_unpickled(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object), y=np.zeros(1))
    with pytest.raises(DataError, match="object arrays"):
        read_training_arrays(path)


def test_a_zip_that_is_not_an_npz(tmp_path):
    path = tmp_path / "f.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", b"not an array")
    with pytest.raises(DataError):
        read_input_array(path)
