"""--dataset sentiment: the bundled UCI sentences, a split stratified by label and site."""

import shutil

import numpy as np
import pytest

from kerasrnn.data import sentiment
from kerasrnn.data.sentiment import BUNDLED_SENTIMENT, SENTIMENT_FILES, load_sentiment
from kerasrnn.data.vocabulary import Vocabulary, tokenize
from kerasrnn.errors import DataError
from kerasrnn.training.run_config import RunConfig

pytestmark = pytest.mark.backend_independent


@pytest.fixture(scope="module")
def data():
    return load_sentiment(seed=0)


def test_sizes_classes_and_arrays(data):
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (2099, 450, 450)
    assert data.task == "text_classification" and data.class_names == ["negative", "positive"]
    assert data.num_outputs == 2 and set(np.unique(data.y_train)) == {0, 1}
    assert data.x_train.dtype == np.int32 and data.lengths_train.min() >= 1
    for x, lengths in ((data.x_train, data.lengths_train), (data.x_test, data.lengths_test)):
        steps = np.arange(x.shape[1])[None, :]
        assert ((x > 0) == (steps < lengths[:, None])).all()  # ids up to the length, then padding 0


def test_split_is_stratified_by_label_and_site(data):
    counts = data.info["counts"]
    for split, each in (("val", 75), ("test", 75)):
        assert counts[split] == {site: {"negative": each, "positive": each} for site in SENTIMENT_FILES}
    assert counts["train"]["imdb"] == {"negative": 349, "positive": 350}  # imdb has 499 negatives
    assert np.bincount(data.y_test).tolist() == [225, 225]


def test_text_is_read_without_bom_and_trailing_spaces(data):
    vocabulary = Vocabulary.from_config(data.info["vocabulary"])
    assert "\ufeff" not in "".join(vocabulary.tokens) and "\ufeffa" not in vocabulary
    first = (BUNDLED_SENTIMENT / "imdb_labelled.txt").read_text("utf-8-sig").split("\n")[0].split("\t")[0]
    ids = vocabulary.encode(tokenize(first))
    rows = np.concatenate([data.x_train, data.x_val, data.x_test])
    lengths = np.concatenate([data.lengths_train, data.lengths_val, data.lengths_test])
    matches = [i for i in np.flatnonzero(lengths == len(ids)) if (rows[i, : len(ids)] == ids).all()]
    assert len(matches) == 1 and first.endswith("  ")


def test_split_is_seeded_and_the_vocabulary_is_the_training_splits(data):
    again, other = load_sentiment(seed=0), load_sentiment(seed=1)
    assert again.digest() == data.digest() and other.digest() != data.digest()
    vocabulary = Vocabulary.from_config(data.info["vocabulary"])
    assert set(np.unique(data.x_train)) - {0} == set(range(4, vocabulary.size))
    assert data.info["unknown_token_rate_held_out"] > 0.02
    assert RunConfig(dataset="sentiment").resolve().arch == "gru"


def test_damaged_or_bad_files_are_refused(monkeypatch, tmp_path):
    monkeypatch.setitem(SENTIMENT_FILES, "yelp", ("yelp_labelled.txt", "0" * 32))
    with pytest.raises(DataError, match="bundled sentiment file .*yelp_labelled.txt is missing or damaged"):
        load_sentiment()
    monkeypatch.undo()
    for name, _ in SENTIMENT_FILES.values():
        shutil.copy(BUNDLED_SENTIMENT / name, tmp_path / name)
    (tmp_path / "yelp_labelled.txt").write_text("Good.\t1\nBad.\t2\nUgly\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"2 bad line\(s\).*line 2: got 'Bad.\\t2'; line 3: no tab"):
        sentiment.load_sentiment(tmp_path)
