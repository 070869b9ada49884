"""Runs on word-level text: fit / evaluate / translate / predict for fra-eng, sentiment and user files.

Tiny models on small real subsets: these check that the pieces are wired
(BLEU and exact match in metrics.json, samples.txt, attention.png,
vocabularies reused by translate and predict, refused options), not what the
models learn (tests/decoding and tests/models do that).
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from kerasrnn.cli.main import main
from kerasrnn.training import ConfigError, RunConfig, fit
from kerasrnn.training.evaluation import evaluate_run
from kerasrnn.training.prediction import predict_file
from kerasrnn.training.translation import translate_run

pytestmark = pytest.mark.slow

# The translation run's wiring (metrics, files, translate) is the same code on every backend; on torch
# its attention decoder trains through Keras' Python step loop (about 50 s for this tiny run), so the
# run is checked on TensorFlow and JAX, and torch's training and decoding in tests/decoding and tests/models.
not_on_torch = pytest.mark.skipif(
    keras.backend.backend() == "torch", reason="translation run wiring checked on TensorFlow and JAX"
)

TINY = dict(units=16, embedding_dim=8, batch_size=32, epochs=1, patience=0, time_budget=0.0)


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


@pytest.fixture(scope="module")
def translation_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fra-eng") / "run"
    config = RunConfig(dataset="fra-eng", arch="gru", attention="luong", beam=2, max_samples=200, **TINY)
    return fit(config, out, progress=False)


@not_on_torch
def test_translation_run_reports_bleu_and_writes_samples_and_alignments(translation_run):
    metrics = _metrics(translation_run)
    for split in ("val", "test"):
        for key in ("bleu", "exact_match", "bleu_beam2", "exact_match_beam2", "loss", "accuracy"):
            assert f"{split}_{key}" in metrics, key
        assert 0.0 <= metrics[f"{split}_bleu"] <= 100.0
        assert 0.0 <= metrics[f"{split}_exact_match"] <= 1.0
    samples = (translation_run / "samples.txt").read_text()
    assert samples.count("source:") == 20 and "greedy:" in samples and "beam 2:" in samples
    png = (translation_run / "attention.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    record = json.loads((translation_run / "config.json").read_text())
    assert record["data"]["task"] == "seq2seq"
    assert {"source_vocabulary", "target_vocabulary"} <= set(record["data"]["info"])


@not_on_torch
def test_evaluate_recomputes_the_same_bleu(translation_run):
    result = evaluate_run(translation_run, "test")
    assert result["test_bleu"] == pytest.approx(_metrics(translation_run)["test_bleu"], abs=1e-6)


@not_on_torch
def test_translate_uses_the_runs_vocabularies(translation_run, tmp_path):
    results = translate_run(translation_run, ["I'm cold.", "Zzyzx qwerty!"], beam=1)
    assert [r["source"] for r in results] == ["I'm cold.", "Zzyzx qwerty!"]
    assert results[0]["unknown_words"] == 0 and results[1]["unknown_words"] == 2
    lines = tmp_path / "lines.txt"
    lines.write_text("I'm cold.\n\nZzyzx qwerty!\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["translate", str(translation_run), "--input", str(lines), "--beam", "2"])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 2  # one line a translation (an untrained model's may be empty)
    assert "2 source word(s) not in the run's vocabulary" in result.stderr


@not_on_torch
def test_translate_refuses_what_it_cannot_do(translation_run, tmp_path):
    result = CliRunner().invoke(main, ["translate", str(translation_run)])
    assert result.exit_code == 2 and "nothing to translate" in result.output
    with pytest.raises(ConfigError, match="use kerasrnn translate"):
        predict_file(translation_run, _write(tmp_path / "x.txt", "hello\n"))


@pytest.mark.backend_independent
def test_sequence_to_sequence_options_are_refused_elsewhere():
    with pytest.raises(ConfigError, match="--attention applies to sequence-to-sequence"):
        fit(RunConfig(dataset="sentiment", attention="bahdanau", **TINY))
    with pytest.raises(ConfigError, match="cannot be an encoder-decoder"):
        fit(RunConfig(dataset="fra-eng", arch="tcn", **TINY))


def test_text_classification_run_predicts_raw_texts(tmp_path):
    texts = tmp_path / "texts.tsv"
    rows = [("1", "a wonderful film, loved it"), ("0", "awful and boring"), ("1", "great food"), ("0", "bad")]
    texts.write_text("".join(f"{label}\t{text}\n" for label, text in rows * 15), encoding="utf-8")
    config = RunConfig(dataset="file", data_file=str(texts), task="text-classification", **TINY)
    run = fit(config, tmp_path / "run", progress=False)
    assert "test_accuracy" in _metrics(run)
    columns, predicted, summary = predict_file(run, _write(tmp_path / "new.txt", "loved it, wonderful\nboring\n"))
    assert summary["samples"] == 2 and columns[:2] == ["index", "prediction"]
    assert {row["prediction"] for row in predicted} <= {"0", "1"}
    with pytest.raises(Exception, match="line 2 holds no text"):
        predict_file(run, _write(tmp_path / "bad.txt", "fine\n\n"))
    np.testing.assert_allclose(sum(v for k, v in predicted[0].items() if k.startswith("p_")), 1.0, rtol=1e-5)


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.backend_independent
def test_embeddings_file_initializes_the_embedding_rows(tmp_path):
    from kerasrnn.data.vocabulary import Vocabulary
    from kerasrnn.training.inputs import load_run_data
    from kerasrnn.training.model import build_and_compile

    texts = tmp_path / "texts.tsv"
    texts.write_text("".join(f"{label}\tgood film {i}\n" for i, label in enumerate([0, 1] * 10)), encoding="utf-8")
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("good 0.5 -1.0 2.0 0.25\nfilm 1.5 0.0 -0.5 3.0\nabsent 9 9 9 9\n", encoding="utf-8")
    config = RunConfig(
        dataset="file", data_file=str(texts), task="text-classification", embeddings=str(vectors), **TINY
    ).resolve()
    config = RunConfig.from_dict({**config.to_dict(), "embedding_dim": 4}).resolve()
    data = load_run_data(config)
    model = build_and_compile(config, data)
    vocabulary = Vocabulary.from_config(data.info["vocabulary"])
    matrix = keras.ops.convert_to_numpy(model.get_layer("embedding").embeddings)
    np.testing.assert_allclose(matrix[vocabulary.id("good")], [0.5, -1.0, 2.0, 0.25])
    np.testing.assert_allclose(matrix[vocabulary.id("film")], [1.5, 0.0, -0.5, 3.0])
    np.testing.assert_array_equal(matrix[0], 0.0)  # padding
