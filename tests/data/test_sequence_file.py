"""User sequence files: delimited text (UCR convention) and .npz."""

import json

import numpy as np
import pytest

from kerasrnn.data import PAD_VALUE, DataError, load_dataset
from kerasrnn.data.sequence_file import companion_test_file, load_sequence_file

pytestmark = pytest.mark.backend_independent


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def ucr_rows(n=40, length=6, classes=("1", "2")):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        values = rng.normal(size=length)
        rows.append((classes[i % len(classes)], values))
    return rows


def format_rows(rows, sep):
    return "\n".join(sep.join([label, *(f"{v:.6f}" for v in values)]) for label, values in rows) + "\n"


@pytest.mark.parametrize("sep,name", [(",", "comma"), ("\t", "tab"), ("  ", "whitespace")])
def test_delimiters_detected(tmp_path, sep, name):
    rows = ucr_rows()
    path = write(tmp_path / "data.txt", format_rows(rows, sep))
    data = load_sequence_file(path)
    assert name in data.info["format"]
    assert data.task == "classification" and data.class_names == ["1", "2"]
    assert data.x_train.shape[1:] == (6, 1) and data.x_train.dtype == np.float32
    assert data.y_train.dtype == np.int32
    assert data.lengths_train is None  # fixed length
    assert len(data.x_train) + len(data.x_val) + len(data.x_test) == 40
    assert len(data.x_test) == 8 and len(data.x_val) == 3
    # Stratified: both classes in the test split, equally.
    assert np.bincount(data.y_test).tolist() == [4, 4]
    json.dumps(data.info)


def test_ucr_float_labels_and_companion_test_file(tmp_path):
    train = "\n".join(
        f"{label:.7e},{i},{i + 1},{i + 2}" for i, label in enumerate([1.0, 2.0, -1.0, 1.0, 2.0, -1.0] * 3)
    )
    write(tmp_path / "Gun_TRAIN.tsv".replace(".tsv", ".csv"), train)
    write(tmp_path / "Gun_TEST.csv", "1.0000000e+00,5,6,7\n-1.0000000e+00,1,2,3\n")
    assert companion_test_file(tmp_path / "Gun_TRAIN.csv") == tmp_path / "Gun_TEST.csv"
    data = load_sequence_file(tmp_path / "Gun_TRAIN.csv")
    assert data.class_names == ["-1", "1", "2"]
    assert data.num_outputs == 3
    assert data.y_test.tolist() == [1, 0]
    np.testing.assert_array_equal(data.x_test[0, :, 0], [5, 6, 7])
    assert "Gun_TEST.csv" in data.source
    assert len(data.x_train) + len(data.x_val) == 18
    assert set(data.info["md5"]) == {str(tmp_path / "Gun_TRAIN.csv"), str(tmp_path / "Gun_TEST.csv")}
    # The directory resolves to its *_TRAIN file.
    assert load_sequence_file(tmp_path).info["path"] == str(tmp_path / "Gun_TRAIN.csv")


def test_string_labels_and_label_col(tmp_path):
    lines = [f"{i}.5,{i}.25,{['cat', 'dog', 'emu'][i % 3]}" for i in range(30)]
    path = write(tmp_path / "animals.csv", "\n".join(lines))
    data = load_sequence_file(path, label_col=-1)
    assert data.class_names == ["cat", "dog", "emu"]
    assert data.x_train.shape[1:] == (2, 1)
    same = load_sequence_file(path, label_col=2)
    np.testing.assert_array_equal(same.x_test, data.x_test)


def test_variable_lengths_trailing_empty_and_nan(tmp_path):
    lines = []
    for i in range(20):
        length = 3 + i % 4
        values = [str(float(i + j)) for j in range(length)]
        padding = ["" if i % 2 else "NaN"] * (6 - length)
        lines.append(",".join([str(i % 2), *values, *padding]))
    path = write(tmp_path / "var.csv", "\n".join(lines) + "\n\n")
    data = load_sequence_file(path, validation_fraction=0.0, test_fraction=0.25)
    assert data.info["variable_length"] is True and data.info["pad_value"] == PAD_VALUE
    assert data.x_train.shape[1:] == (6, 1)
    x = np.concatenate([data.x_train, data.x_test])
    lengths = np.concatenate([data.lengths_train, data.lengths_test])
    assert sorted(lengths.tolist()) == sorted(3 + i % 4 for i in range(20))
    for sample, length in zip(x[..., 0], lengths):
        assert np.all(sample[length:] == PAD_VALUE) and np.all(sample[:length] != PAD_VALUE)
        np.testing.assert_array_equal(np.diff(sample[:length]), 1.0)
    assert "lengths 3-6" in data.source


def test_whitespace_variable_lengths(tmp_path):
    path = write(tmp_path / "ws.txt", "1 1 2 3\n2 4 5\n1 6\n2 7 8 9 10\n" * 5)
    data = load_sequence_file(path)
    assert data.x_train.shape[1:] == (4, 1)
    assert set(np.concatenate([data.lengths_train, data.lengths_val, data.lengths_test])) == {1, 2, 3, 4}


def test_regression_inferred_and_forced(tmp_path):
    lines = [f"{0.5 + i * 0.1:.3f},{i},{i * 2}" for i in range(20)]
    path = write(tmp_path / "reg.csv", "\n".join(lines))
    data = load_sequence_file(path)
    assert data.task == "regression" and data.num_outputs == 1
    assert data.y_train.shape[1:] == (1,) and data.y_train.dtype == np.float32
    assert data.class_names is None
    ints = write(tmp_path / "ints.csv", "\n".join(f"{i % 3},{i}" for i in range(20)))
    assert load_sequence_file(ints).task == "classification"
    forced = load_sequence_file(ints, task="regression")
    assert forced.task == "regression"
    with pytest.raises(DataError, match="integral or text labels"):
        load_sequence_file(path, task="classification")
    text = write(tmp_path / "text.csv", "\n".join(f"{'ab'[i % 2]},{i}" for i in range(20)))
    with pytest.raises(DataError, match="numeric labels; found 'a'"):
        load_sequence_file(text, task="regression")
    many = write(tmp_path / "many.csv", "\n".join(f"{i},{i}" for i in range(150)))
    assert load_sequence_file(many).task == "regression"


def test_header_detected(tmp_path):
    path = write(tmp_path / "h.csv", "label,t0,t1\n" + "\n".join(f"{i % 2},{i},{i}" for i in range(20)))
    data = load_sequence_file(path)
    assert data.info["header_skipped"] is True
    assert len(data.x_train) + len(data.x_val) + len(data.x_test) == 20


def test_malformed_value_names_file_line_column(tmp_path):
    path = write(tmp_path / "bad.csv", "1,0.1,0.2\n2,0.3,abc\n")
    with pytest.raises(DataError, match=r"bad\.csv, line 2, column 3: expected a number, found 'abc'"):
        load_sequence_file(path)


def test_nan_inside_sequence(tmp_path):
    path = write(tmp_path / "nan.csv", "1,0.1,0.2,0.3\n\n2,0.3,NaN,0.5\n")
    with pytest.raises(DataError, match=r"line 3, column 3: missing value"):
        load_sequence_file(path)
    empty_field = write(tmp_path / "gap.tsv", "1\t0.1\t\t0.3\n")
    with pytest.raises(DataError, match=r"line 1, column 3: missing value"):
        load_sequence_file(empty_field)


def test_label_column_out_of_range(tmp_path):
    path = write(tmp_path / "d.csv", "1,2,3\n")
    with pytest.raises(DataError, match="label_col=5 is out of range for a row with 3 column"):
        load_sequence_file(path, label_col=5)
    with pytest.raises(DataError, match="label_col=-4"):
        load_sequence_file(path, label_col=-4)


def test_file_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_sequence_file(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="no data rows"):
        load_sequence_file(write(tmp_path / "empty.csv", "\n\n"))
    with pytest.raises(DataError, match="binary"):
        (tmp_path / "bin.dat").write_bytes(b"\x00\x01\x02" * 10)
        load_sequence_file(tmp_path / "bin.dat")
    with pytest.raises(DataError, match="expected a label"):
        load_sequence_file(write(tmp_path / "nolabel.csv", ",1,2\n"))
    with pytest.raises(DataError, match="at least 2 classes"):
        load_sequence_file(write(tmp_path / "one.csv", "1,1,2\n1,3,4\n1,5,6\n"))
    with pytest.raises(DataError, match="task must be"):
        load_sequence_file(tmp_path / "one.csv", task="clustering")


def test_split_is_seeded_and_recorded(tmp_path):
    path = write(tmp_path / "d.csv", format_rows(ucr_rows(n=50), ","))
    first = load_sequence_file(path, seed=1)
    again = load_sequence_file(path, seed=1)
    other = load_sequence_file(path, seed=2)
    np.testing.assert_array_equal(first.x_test, again.x_test)
    assert first.info["split"] == again.info["split"]
    assert first.info["split"]["test_indices"] != other.info["split"]["test_indices"]
    assert first.info["split"]["seed"] == 1 and first.info["split"]["test_fraction"] == 0.2
    assert "seeded stratified 20% test split, seed 1" in first.source


def test_npz(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 8, 2)).astype(np.float32)
    x[:10, 5:] = np.nan  # ten shorter sequences
    y = np.arange(30) % 3
    np.savez(tmp_path / "d.npz", x=x, y=y, x_test=x[:6], y_test=y[:6])
    data = load_sequence_file(tmp_path / "d.npz")
    assert data.task == "classification" and data.class_names == ["0", "1", "2"]
    assert data.x_train.shape[1:] == (8, 2) and len(data.x_test) == 6
    assert data.lengths_test.tolist() == [5] * 6
    assert np.all(data.x_test[:, 5:] == PAD_VALUE)
    assert not np.isnan(data.x_train).any()

    np.savez(tmp_path / "r.npz", x=rng.normal(size=(20, 5)), y=rng.normal(size=(20, 2)))
    reg = load_sequence_file(tmp_path / "r.npz")
    assert reg.task == "regression" and reg.num_outputs == 2 and reg.x_train.shape[1:] == (5, 1)

    np.savez(tmp_path / "l.npz", x=rng.normal(size=(20, 5)), y=rng.integers(0, 4, size=(20, 5)))
    labelling = load_sequence_file(tmp_path / "l.npz")
    assert labelling.task == "labelling" and labelling.y_train.shape[1:] == (5,)

    np.savez(tmp_path / "bad.npz", features=x)
    with pytest.raises(DataError, match="expected arrays 'x' and 'y'"):
        load_sequence_file(tmp_path / "bad.npz")
    x_inner = x.copy()
    x_inner[3, 2] = np.nan
    np.savez(tmp_path / "inner.npz", x=x_inner, y=y)
    with pytest.raises(DataError, match=r"x\[3\] has a NaN at step 2"):
        load_sequence_file(tmp_path / "inner.npz")


def test_load_dataset_dispatches_paths(tmp_path):
    path = write(tmp_path / "d.csv", format_rows(ucr_rows(), ","))
    data = load_dataset(str(path), seed=3)
    assert data.info["split"]["seed"] == 3 and data.source.startswith(f"user file {path}")
    with pytest.raises(DataError, match="accepted: label_col"):
        load_dataset(str(path), window=3)
