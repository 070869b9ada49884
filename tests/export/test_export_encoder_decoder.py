"""Exporting a sequence-to-sequence model: the encoder and the decoder step, and translating with them.

* parity of every output of the encoder and of two decoder steps (SavedModel,
  ONNX) with the Keras model, on valid token ids: a bidirectional GRU encoder
  with Luong attention (exported from a run directory with ``kerasrnn
  export``), a two-layer LSTM without attention;
* greedy decoding with the exported ONNX pair (a loop written here on
  onnxruntime) gives the tokens of ``kerasrnn.decoding.greedy_decode``;
* ``examples/translate_onnx.py`` (onnxruntime and NumPy only) translates like
  ``greedy_decode`` and, with ``--beam``, like ``beam_search``, and its copy
  of the tokenizer is kerasrnn's;
* what cannot be exported is refused with one line, leaving nothing behind.

The exports are made once (module fixture) in this process under TensorFlow;
the JAX/torch worker route is checked once, under torch.
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
from click.testing import CliRunner

import kerasrnn
from kerasrnn.cli.main import main as kerasrnn_cli
from kerasrnn.data.fra_eng import BUNDLED_FRA_ENG
from kerasrnn.data.vocabulary import EOS_ID, PAD_ID, Vocabulary, detokenize, tokenize
from kerasrnn.export import ExportError, export_encoder_decoder, export_model, export_run
from kerasrnn.export import encoder_decoder as seq2seq_export
from kerasrnn.models.encoder_decoder import EncoderDecoder

ort = pytest.importorskip("onnxruntime")
if importlib.util.find_spec("tf2onnx") is None:
    pytest.skip("ONNX export needs tf2onnx", allow_module_level=True)

BACKEND = keras.backend.backend()
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "translate_onnx.py"
TOLERANCE = 1e-5
in_process = pytest.mark.skipif(
    BACKEND != "tensorflow", reason="exported in this process under TensorFlow; the worker route: under torch"
)
SENTENCES = ["I'm cold.", "Tom didn't go, did he?", "Who is she?", "Unknownword, really!"]


def corpus_pairs():
    lines = BUNDLED_FRA_ENG.read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t")[:2]) for line in lines]


def vocabularies(count=400):
    pairs = corpus_pairs()[:count]
    source = Vocabulary.build([tokenize(english) for english, _ in pairs])
    target = Vocabulary.build([tokenize(french) for _, french in pairs])
    return source, target


def tiny_model(arch, attention, source, target, build=True, **options):
    keras.utils.set_random_seed(0)
    model = EncoderDecoder(
        arch,
        source_vocab_size=source.size,
        target_vocab_size=target.size,
        units=8,
        embedding_dim=6,
        attention=attention,
        **options,
    )
    if build:
        model([np.ones((2, 5), "int32"), np.ones((2, 4), "int32")])
        # Logits spread like a trained model's (std ~1, not ~0.003): greedy decoding by argmax then has no
        # near-ties that float32 rounding could break one way in Keras and the other in onnxruntime.
        kernel, bias = model.output_layer.get_weights()
        model.output_layer.set_weights([kernel * 300.0, bias])
    return model


def encode(vocabulary, texts):
    """Source ids as kerasrnn's data gives them: tokens, EOS, right-padded with 0."""
    ids, _ = vocabulary.encode_all([tokenize(text) for text in texts], add_eos=True)
    return ids


def greedy(model, source):
    from kerasrnn.decoding import greedy_decode

    return greedy_decode(model, source, max_length=seq2seq_export.max_length(source.shape[1])).tokens


def rows(tokens):
    """Each row's ids up to its padding."""
    return [[int(i) for i in row if i != PAD_ID] for row in np.asarray(tokens)]


def leftovers(path):
    parent = path.parent
    found = [path] if path.exists() else []
    return found + [p for p in parent.iterdir() if p.name.startswith(f".{path.name}.")] if parent.is_dir() else found


def seq2seq_run(path, model, source, target, **data):
    """A run directory as ``kerasrnn fit --dataset fra-eng`` leaves it (what ``export_run`` reads)."""
    path.mkdir(parents=True)
    if model is not None:
        model.save(path / "model.keras")
    else:
        (path / "model.keras").write_bytes(b"not read")
    info = {"source_vocabulary": source.to_config(), "target_vocabulary": target.to_config()}
    record = {
        "kerasrnn_run": 1,
        "status": "complete",
        "config": {"arch": "bigru", "dataset": "fra-eng", "backend": BACKEND},
        "data": {"task": "seq2seq", "info": info, **data},
    }
    (path / "config.json").write_text(json.dumps(record))
    return path


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Two exports: a bigru + Luong run through ``kerasrnn export``, an LSTM without attention (ONNX)."""
    if BACKEND != "tensorflow":
        pytest.skip("exported in this process under TensorFlow")
    root = tmp_path_factory.mktemp("seq2seq")
    source, target = vocabularies()
    luong = tiny_model("bigru", "luong", source, target)
    run = seq2seq_run(root / "run", luong, source, target, input_shape=[12])
    out = root / "bigru-luong"
    result = CliRunner().invoke(kerasrnn_cli, ["export", str(run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    plain = tiny_model("lstm", "none", source, target, layers=2)
    report = export_encoder_decoder(
        plain, root / "lstm-none", "onnx", source_vocabulary=source, target_vocabulary=target, verbose=False
    )
    return {
        "source": source,
        "target": target,
        "bigru-luong": {"model": luong, "path": out, "report": json.loads((out / "parity.json").read_text())},
        "lstm-none": {"model": plain, "path": root / "lstm-none", "report": report},
    }


@in_process
@pytest.mark.slow
@pytest.mark.parametrize("name", ["bigru-luong", "lstm-none"])
def test_encoder_and_step_match_the_keras_model(exports, name):
    report = exports[name]["report"]
    formats = ["savedmodel", "onnx"] if name == "bigru-luong" else ["onnx"]
    assert sorted(report["artifacts"]) == sorted(f"{part}/{f}" for part in ("encoder", "decoder_step") for f in formats)
    for artifact, figures in report["artifacts"].items():
        assert figures["passed"] and figures["max_abs_error"] <= TOLERANCE, artifact
        assert len(figures["cases"]) == 4, artifact  # two batch sizes x two source lengths
    assert len({c["batch"] for c in report["cases"]}) == 2 and len({c["length"] for c in report["cases"]}) == 2
    if name == "bigru-luong":  # the run's longest source (12) and a longer one
        assert {(c["length"], c["seen_in_training"]) for c in report["cases"]} == {(12, True), (15, False)}
    assert report["passed"] and report["tolerance"] == seq2seq_export.TOLERANCE == 1e-4  # the seq2seq default
    assert all(report["greedy_decoding"]["equal"].values()) and set(report["greedy_decoding"]["equal"]) == set(formats)
    assert report["greedy_decoding"]["sentences"] == 10


@in_process
@pytest.mark.slow
def test_metadata_names_the_inputs_outputs_and_recipe(exports):
    out, source, target = exports["bigru-luong"]["path"], exports["source"], exports["target"]
    assert sorted(p.name for p in out.iterdir()) == ["decoder_step", "encoder", "metadata.json", "parity.json"]
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["format"] == "kerasrnn-export" and metadata["kind"] == "encoder_decoder"
    assert metadata["task"] == "seq2seq" and metadata["architecture"] == "bigru"
    assert metadata["source_vocabulary"] == source.to_config()
    assert metadata["target_vocabulary"] == target.to_config()
    assert metadata["token_ids"] == {"pad": 0, "unk": 1, "bos": 2, "eos": 3}
    assert metadata["decoding"]["max_length"]["rule"] == "2 * source_length + 10"
    states = [f"state_{i}" for i in range(3)]  # GRU h, attentional vector, alignment
    expected = {
        "encoder": (["source"], ["memory", "memory_mask", *states]),
        "decoder_step": (
            ["token", *states, "memory", "memory_mask"],
            ["logits", *map("next_{}".format, states), "alignment"],
        ),
    }
    for part, (inputs, outputs) in expected.items():
        assert [s["name"] for s in metadata[part]["inputs"]] == inputs
        assert [s["name"] for s in metadata[part]["outputs"]] == outputs
        session = ort.InferenceSession(str(out / part / "model.onnx"), providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == inputs
        assert sorted(o.name for o in session.get_outputs()) == sorted(outputs)
        for value in session.get_inputs():
            wanted = next(s["shape"] for s in metadata[part]["inputs"] if s["name"] == value.name)
            assert value.shape == wanted, value.name  # batch and source_length free, by name
    source_input = ort.InferenceSession(str(out / "encoder" / "model.onnx")).get_inputs()[0]
    assert source_input.type == "tensor(int32)" and source_input.shape == ["batch", "source_length"]
    import tensorflow as tf

    loaded = tf.saved_model.load(str(out / "decoder_step" / "savedmodel"))
    assert json.loads(loaded.signatures["metadata"]()["json"].numpy())["target_vocabulary"] == target.to_config()
    assert sorted(loaded.signatures["serve"].structured_input_signature[1]) == sorted(expected["decoder_step"][0])
    # --overwrite may replace it (it is an export).
    from kerasrnn.export.staging import check_destination

    assert check_destination(out, overwrite=True) == out


def onnx_greedy(directory, source):
    """Greedy decoding with the exported pair, following metadata.json alone."""
    metadata = json.loads((directory / "metadata.json").read_text())
    encoder = ort.InferenceSession(str(directory / "encoder" / "model.onnx"), providers=["CPUExecutionProvider"])
    step = ort.InferenceSession(str(directory / "decoder_step" / "model.onnx"), providers=["CPUExecutionProvider"])
    names = {part: [s["name"] for s in metadata[part]["outputs"]] for part in ("encoder", "decoder_step")}
    step_inputs = [s["name"] for s in metadata["decoder_step"]["inputs"]]
    values = dict(zip(names["encoder"], encoder.run(names["encoder"], {"source": source})))
    values = {k: v for k, v in values.items() if k in step_inputs}  # memory: with attention only
    token = np.full(len(source), metadata["token_ids"]["bos"], np.int32)
    recipe = metadata["decoding"]["max_length"]
    found, finished = [], np.zeros(len(source), bool)
    for _ in range(recipe["factor"] * source.shape[1] + recipe["extra"]):
        outputs = dict(zip(names["decoder_step"], step.run(names["decoder_step"], {**values, "token": token})))
        values.update({new: outputs[old] for old, new in metadata["decoding"]["states"].items()})
        outputs["logits"][:, metadata["decoding"]["never_emitted"]] = -np.inf
        token = np.where(finished, 0, outputs["logits"].argmax(-1)).astype(np.int32)
        found.append(token)
        finished |= token == metadata["token_ids"]["eos"]
        if finished.all():
            break
    return np.stack(found, axis=1)


@in_process
@pytest.mark.slow
@pytest.mark.parametrize("name", ["bigru-luong", "lstm-none"])
def test_onnx_greedy_loop_equals_keras_greedy(exports, name):
    model, source = exports[name]["model"], encode(exports["source"], SENTENCES)
    assert (source == 1).any()  # one unknown word
    expected = rows(greedy(model, source))
    assert len({tuple(row) for row in expected}) == len(SENTENCES)  # a translation of its own each
    assert rows(onnx_greedy(exports[name]["path"], source)) == expected


# Runs the example and reports which heavy packages it imported (it must need none).
RUN_EXAMPLE = textwrap.dedent(
    """
    import json, runpy, sys
    sys.argv = sys.argv[1:]
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
    finally:
        heavy = sorted({m.split(".")[0] for m in sys.modules} & {"keras", "tensorflow", "kerasrnn", "torch", "jax"})
        print(json.dumps(heavy), file=sys.stderr)
    """
)


@in_process
@pytest.mark.slow
def test_the_onnxruntime_example_translates_like_kerasrnn(exports):
    out, model, target = exports["bigru-luong"]["path"], exports["bigru-luong"]["model"], exports["target"]
    env = {**os.environ, "PYTHONPATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", RUN_EXAMPLE, str(EXAMPLE), str(out), *SENTENCES, "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=out.parent,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []  # onnxruntime and NumPy only
    results = json.loads(done.stdout)
    expected = rows(greedy(model, encode(exports["source"], SENTENCES)))
    assert [r["ids"] for r in results] == expected
    assert [r["translation"] for r in results] == [target.decode_text(ids) for ids in expected]
    from kerasrnn.decoding import beam_search

    source = encode(exports["source"], SENTENCES)
    beam = beam_search(model, source, beam_size=3, max_length=seq2seq_export.max_length(source.shape[1]))
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), str(out), *SENTENCES, "--beam", "3", "--json"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert [r["ids"] for r in json.loads(done.stdout)] == rows(beam.tokens)


def load_example():
    spec = importlib.util.spec_from_file_location("translate_onnx_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.backend_independent
def test_the_example_tokenizes_as_kerasrnn():
    example = load_example()
    texts = [text for pair in corpus_pairs()[::3] for text in pair]
    texts += [
        "U.S. \"quotes\" and 'single' ones",
        "Qu'a-t-il fait aujourd'hui ?",
        "Don't, won't, I'd, they're; l'homme d'État.",
        "3:30, 1,000 and 4.5% -- «Bonjour» ¿Qué? 東京に行く",
        "  spaces\u202f?  and\ttabs ",
    ]
    for text in texts:
        for kind in ("word", "char"):
            tokens = tokenize(text, kind)
            assert example.tokenize(text, kind) == tokens, text
            assert example.detokenize(tokens, kind) == detokenize(tokens, kind), text


@pytest.mark.backend_independent
def test_the_greedy_check_sees_other_tokens(monkeypatch):
    """The export's own check: the artifacts' greedy tokens against Keras' (here fakes of both)."""
    vocabulary, length = 7, 4

    def encode_fake(source):
        batch = source.shape[0]
        return [np.zeros((batch, length, 2), np.float32), np.ones((batch, length), np.float32), source[:, :1] * 1.0]

    def step_fake(token, state):  # next id = previous + first source id, EOS after 5
        logits = np.zeros((len(token), vocabulary), np.float32)
        following = np.where(token >= 5, EOS_ID, token + state[:, 0].astype(int) + 1)
        logits[np.arange(len(token)), np.minimum(following, vocabulary - 1)] = 1.0
        return [logits, state]

    source = np.array([[1, 3, 0, 0], [2, 3, 0, 0]], np.int32)
    cases = [{"batch": 2, "length": length, "seen_in_training": False, "calls": {"encoder": [[source]]}}]
    runners = {"onnx": {"encoder": encode_fake, "decoder_step": step_fake}}
    right = seq2seq_export.greedy_with_artifacts(encode_fake, step_fake, source, 18, False)
    assert rows(right) == [[4, 6, 3], [5, 3]]
    monkeypatch.setattr(seq2seq_export, "keras_greedy", lambda model, source: right)
    assert seq2seq_export._greedy_check(None, cases, runners, {}, False)["equal"] == {"onnx": True}
    wrong = right.copy()
    wrong[1, 0] = 6
    monkeypatch.setattr(seq2seq_export, "keras_greedy", lambda model, source: wrong)
    assert seq2seq_export._greedy_check(None, cases, runners, {}, False)["equal"] == {"onnx": False}


# --------------------------------------------------------------------------- #
# Refused, one line, nothing left
# --------------------------------------------------------------------------- #


def one_line_error(error):
    message = str(error.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_a_sequence_model_is_refused_by_the_seq2seq_export(tmp_path):
    model = keras.Sequential(name="gru_classification")  # refused before it would be built or run
    with pytest.raises(ExportError) as refused:
        export_encoder_decoder(model, tmp_path / "out")
    assert "needs a sequence-to-sequence model" in one_line_error(refused)
    assert "export_model" in str(refused.value)
    assert leftovers(tmp_path / "out") == []


def test_one_onnx_file_and_streaming_are_refused(tmp_path):
    """Before the model is run (it is not even built here), on each backend's route."""
    source, target = Vocabulary(["a", "b"]), Vocabulary(["c"])
    model = tiny_model("gru", "none", source, target, build=False)
    with pytest.raises(ExportError) as refused:
        export_encoder_decoder(model, tmp_path / "model.onnx", "onnx")
    assert "two models" in one_line_error(refused)
    with pytest.raises(ExportError) as refused:
        export_model(model, tmp_path / "out", streaming=True, verbose=False)
    assert "no streaming form" in one_line_error(refused)
    assert leftovers(tmp_path / "model.onnx") == [] and leftovers(tmp_path / "out") == []


def test_cli_refuses_what_a_seq2seq_run_cannot_give(tmp_path):
    source, target = Vocabulary(["a", "b"]), Vocabulary(["c"])
    run = seq2seq_run(tmp_path / "run", None, source, target)
    for options, expected in (
        (["--streaming"], "no streaming form"),
        (["--out", str(tmp_path / "x.onnx")], "a sequence-to-sequence model is exported as two models"),
    ):
        result = CliRunner().invoke(kerasrnn_cli, ["export", str(run), *options])
        assert result.exit_code == 1 and expected in result.output, result.output
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    record = json.loads((run / "config.json").read_text())
    del record["data"]["info"]["target_vocabulary"]
    (run / "config.json").write_text(json.dumps(record))
    result = CliRunner().invoke(kerasrnn_cli, ["export", str(run)])
    assert result.exit_code == 1 and "lacks the target vocabulary" in result.output, result.output
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "model.keras"]


@in_process
def test_a_seq2seq_run_holding_another_model_or_vocabularies_is_refused(tmp_path):
    source, target = Vocabulary(["a", "b"]), Vocabulary(["c"])
    keras.utils.set_random_seed(0)
    run = seq2seq_run(
        tmp_path / "run", kerasrnn.build_model("gru", "classification", (6, 3), 2, units=3), source, target
    )
    with pytest.raises(ExportError) as refused:
        export_run(run, verbose=False)
    assert "not an EncoderDecoder" in one_line_error(refused)
    model = tiny_model("gru", "none", source, target)
    with pytest.raises(ExportError) as refused:
        export_encoder_decoder(model, tmp_path / "out", source_vocabulary=target, target_vocabulary=target)
    assert "not the model's vocabularies" in one_line_error(refused)
    assert leftovers(run / "export") == [] and leftovers(tmp_path / "out") == []


# --------------------------------------------------------------------------- #
# The worker route (JAX and torch share it): under torch
# --------------------------------------------------------------------------- #


@pytest.mark.skipif(BACKEND != "torch", reason="the worker route, shared with JAX, is checked under torch")
@pytest.mark.slow
def test_a_torch_model_is_exported_by_the_tensorflow_worker(tmp_path):
    source, target = Vocabulary([f"w{i}" for i in range(40)]), Vocabulary([f"v{i}" for i in range(50)])
    model = tiny_model("gru", "bahdanau", source, target)
    out = tmp_path / "out"
    report = export_encoder_decoder(model, out, "onnx", source_vocabulary=source, target_vocabulary=target)
    assert report["passed"] and report["trained_backend"] == "torch"
    for figures in report["artifacts"].values():
        assert figures["max_abs_error"] <= TOLERANCE and figures["max_abs_error_vs_trained_backend"] <= TOLERANCE
    # Greedy decoding with the ONNX pair gave the torch model's tokens too.
    assert report["greedy_decoding"]["equal"] == {"onnx": True, "onnx vs trained backend": True}
