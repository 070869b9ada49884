"""User text files: --data pairs.tsv --task seq2seq and --data texts.tsv --task text-classification."""

import numpy as np
import pytest

from kerasrnn.data.labelled_texts import load_labelled_texts
from kerasrnn.data.sentence_pairs import load_sentence_pairs
from kerasrnn.data.vocabulary import Vocabulary
from kerasrnn.errors import DataError
from kerasrnn.training.run_config import RunConfig

pytestmark = pytest.mark.backend_independent


def write(tmp_path, text, name="data.tsv"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def pairs_text(count=40):
    return "".join(f"word {i % 20}\tmot {i}\n" for i in range(count))


def test_pairs_file_with_bom_crlf_and_blank_lines(tmp_path):
    path = write(tmp_path, "\ufeffПривет мир\thello world\r\n\r\n" + pairs_text() + "\n")
    data = load_sentence_pairs(path, seed=0)
    assert data.task == "seq2seq" and "2 blank line(s) skipped" in data.source
    assert data.info["blank_lines_skipped"] == 2 and data.info["dataset"] == "pairs"
    assert sum(data.info["split"]["pairs"].values()) == 41
    source = Vocabulary.from_config(data.info["source_vocabulary"])
    assert sum(refs == ["hello world"] for refs in sum(data.references.values(), [])) == 1  # the BOM line
    checked = 0
    for split in ("train", "val", "test"):  # each row's references are the targets of its source
        x, references = getattr(data, f"x_{split}"), data.references[split]
        for row, refs in zip(x, references, strict=True):
            text = source.decode_text(row)
            if text.startswith("word") and "<unk>" not in text:
                number = int(text.split()[1])
                assert refs == [f"mot {number}", f"mot {number + 20}"]
                checked += 1
    assert checked >= 30


def test_pairs_char_tokens_through_the_run_options(tmp_path):
    path = write(tmp_path, pairs_text())
    config = RunConfig(data_file=str(path), dataset="file", task="seq2seq", tokens="char").resolve()
    assert config.dataset == "pairs" and config.make_dataset().label() == "data"
    data = config.make_dataset().load()
    assert Vocabulary.from_config(data.info["target_vocabulary"]).kind == "char"
    assert data.x_train.shape[1] == len("word 10") + 1  # characters and EOS


@pytest.mark.parametrize(
    "text, message",
    [
        ("a\tb\nno tab here\nc\td\te\n", r"2 bad line\(s\).*line 2: no tab; line 3: 2 tabs"),
        ("a\tb\n \tb\nc\t\n", r"line 2: empty source; line 3: empty target"),
        ("\n\n", r"sentence-pair file .* is empty"),
    ],
)
def test_bad_pairs_files_name_their_lines(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        load_sentence_pairs(write(tmp_path, text))


def test_labels_first_or_last_are_detected(tmp_path):
    texts = [f"this is text number {i}" for i in range(60)]
    labels = [["2", "10", "3"][i % 3] for i in range(60)]
    first = load_labelled_texts(write(tmp_path, "".join(f"{y}\t{t}\n" for t, y in zip(texts, labels)), "a.tsv"))
    last = load_labelled_texts(write(tmp_path, "".join(f"{t}\t{y}\n" for t, y in zip(texts, labels)), "b.tsv"))
    assert "labels in column 1 (label<TAB>text, 3 distinct)" in first.source
    assert "labels in column 2 (text<TAB>label, 3 distinct)" in last.source
    assert first.class_names == ["2", "3", "10"] and first.digest() == last.digest()
    assert first.task == "text_classification" and first.lengths_train.max() == 5
    for split in ("train", "val", "test"):  # stratified: every class alike
        counts = np.bincount(getattr(first, f"y_{split}"), minlength=3)
        assert counts.max() - counts.min() <= 1, (split, counts)


def test_text_labels_and_the_run_options(tmp_path):
    rows = "".join(f"{'good' if i % 2 else 'bad'}\tsome words {i}\n" for i in range(40))
    config = RunConfig(data_file=str(write(tmp_path, rows)), dataset="file", task="text-classification").resolve()
    data = config.make_dataset().load()
    assert config.dataset == "texts" and data.class_names == ["bad", "good"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("1\tgood film\n0\nx\t1\tbad\n", r"line 2: no tab; line 3: 2 tabs"),
        ("1\tgood film\n\tbad\n", r"line 2: empty first column"),
        ("one two\tthree four\n", r"no column holds labels"),
        ("a\tb\nc\td\n", r"cannot tell which column holds the labels"),
        ("1\tgood film\n1\tbad film\n", r"needs at least 2 classes; found only \['1'\]"),
    ],
)
def test_bad_labelled_files_are_refused_with_line_numbers(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        load_labelled_texts(write(tmp_path, text))
