"""SavedModel / ONNX export: parity for every architecture, streaming, metadata.

One module-scoped fixture exports every one-way architecture of the registry
and the bidirectional forms of a few cells (plus masked variable-length
models, a stacked language model and ConvLSTM with and without peepholes) in both formats with one ``export_models`` call: on
the TensorFlow backend in this process, on JAX and torch (a representative
subset, ``SUBSET_OFF_TENSORFLOW``) through one shared TensorFlow worker
process (the documented route for those backends). The
tests then check the stored figures and verify the artifacts independently
here: onnxruntime on a batch size and a sequence length the exporter never
used, and the streaming ONNX model stepped over a sequence against the full
Keras model.
"""

import importlib.util
import json

import keras
import numpy as np
import pytest

import kerasrnn
from kerasrnn.data import PAD_VALUE
from kerasrnn.export import export_models

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
if importlib.util.find_spec("tf2onnx") is None:  # find, not import: it imports TensorFlow
    pytest.skip("ONNX export needs tf2onnx", allow_module_level=True)

TOLERANCE = 1e-5
FEATURES, UNITS, STEPS, CLASSES = 3, 4, 8, 3
BACKEND = keras.backend.backend()


def _case(arch, task="classification", input_shape=(STEPS, FEATURES), export=None, **options):
    return {"arch": arch, "task": task, "input_shape": input_shape, "options": options, "export": export or {}}


# Every one-way architecture of the registry; the bidirectional wrapper (the same for every cell) over
# Keras' cells and a few of kerasrnn's (peephole: the native ONNX form; min-gru: the linear recurrence's
# step loop run backwards), not over all of them: each case costs the suite seconds on every backend.
CASES = {arch: _case(arch) for arch in kerasrnn.ARCHITECTURES if not arch.startswith("bi")}
CASES.update({arch: _case(arch) for arch in ("bilstm", "bipeephole-lstm", "bimin-gru", "bilayer-norm-gru")})
CASES.update(
    {
        "lstm": _case("lstm", layers=2),  # stacked
        "bigru": _case("bigru", layers=2),  # stacked bidirectional
        "birnn": _case("birnn", merge_mode="sum"),
        "bimut2": _case("bimut2", task="labelling", merge_mode="ave"),
        "gru-cudnn": _case("gru-cudnn", task="regression"),
        "mut3": _case("mut3", layers=2),
        "conv-lstm": _case("conv-lstm", layers=2),  # peepholes (the default)
        "conv-lstm-no-peephole": _case("conv-lstm", "labelling", peephole=False),  # per step: TimeDistributed
        "gru-masked": _case("gru", "labelling", (None, FEATURES), variable_length=True, layers=2),
        "bilstm-masked": _case("bilstm", "classification", (None, FEATURES), variable_length=True),
        "mut1-masked": _case("mut1", "regression", (None, FEATURES), variable_length=True),
        "lstm-language-model": _case("lstm", "language_model", (None,), layers=2),
        # auto keeps SimpleRNN on the Loop (faster from batch 16 up); the native form on request:
        "birnn-relu-native": _case("birnn-relu", layers=2, export={"onnx_ops": "native"}),
        "tcn": _case("tcn", layers=2),  # dilations 1, 2 and a 1x1 projection
        "tcn-masked": _case("tcn", "classification", (None, FEATURES), variable_length=True),  # last valid step
    }
)
# On JAX and torch the export runs the same TensorFlow code (in one TensorFlow worker); what is theirs is
# the model and its weights going across. Those backends export one case of every form (stacked,
# bidirectional, masked, native ONNX operators, normalized, scan-trained, convolutional, TCN, language
# model), not every cell again: the suite runs on a 2-core CI machine.
SUBSET_OFF_TENSORFLOW = (
    "lstm", "bigru", "peephole-lstm", "gru-cudnn", "rnn", "mut1", "layer-norm-lstm", "min-gru", "conv-lstm",
    "gru-masked", "bilstm-masked", "lstm-language-model", "birnn-relu-native", "tcn-masked",
)  # fmt: skip
if BACKEND != "tensorflow":
    CASES = {name: CASES[name] for name in SUBSET_OFF_TENSORFLOW}
# A TCN has no streaming form (the exporter refuses it: tests/layers/test_tcn.py).
UNIDIRECTIONAL = sorted(
    name for name, case in CASES.items() if not case["arch"].startswith("bi") and case["arch"] != "tcn"
)


def _build(case):
    keras.utils.set_random_seed(0)
    return kerasrnn.build_model(
        case["arch"], case["task"], case["input_shape"], CLASSES, units=UNITS, **case["options"]
    )


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """name -> (model, export directory, report), all made by one export_models call."""
    root = tmp_path_factory.mktemp("exports")
    models = {name: _build(case) for name, case in CASES.items()}
    jobs = [
        {
            "model": models[name],
            "path": root / name,
            "streaming": name in UNIDIRECTIONAL,
            "metadata": {"class_names": ["a", "b", "c"]} if CASES[name]["task"] == "classification" else None,
            **CASES[name]["export"],
        }
        for name in CASES
    ]
    # One more job that must fail (an impossible tolerance) over an earlier
    # export directory, which must survive untouched.
    failing = root / "failing"
    failing.mkdir()  # a previous export (what overwrite may replace)
    (failing / "metadata.json").write_text(json.dumps({"format": "kerasrnn-export"}))
    (failing / "model.onnx").write_text("previous export")
    jobs.append({"model": models["mut1"], "path": failing, "format": "onnx", "tolerance": -1.0, "overwrite": True})
    reports = export_models(jobs, format="all", raise_errors=False, check_trained_backend=False)
    exported = {name: (models[name], root / name, report) for name, report in zip(CASES, reports)}
    exported["failing"] = (models["mut1"], failing, reports[-1])
    return exported


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _inputs(model, case, batch, length, seed):
    rng = np.random.default_rng(seed)
    if case["task"] == "language_model":
        return rng.integers(0, CLASSES, size=(batch, length)).astype("float32")
    x = rng.standard_normal((batch, length, *model.inputs[0].shape[2:])).astype("float32")
    if case["options"].get("variable_length"):
        x[1, length // 2 :] = PAD_VALUE  # sample 1 is padded
    return x


def _full_output(model, x):
    from kerasrnn.export.graph import dynamic_time_twin

    return _numpy(dynamic_time_twin(model)(x, training=False))


_PROBES = {}


def _probe(exports, name):
    """``(x, full model output)`` on a batch size and length the exporter never used (cached:
    one model call per architecture, shared by the ONNX and the streaming checks)."""
    if name not in _PROBES:
        model = exports[name][0]
        x = _inputs(model, CASES[name], batch=3, length=STEPS + 5, seed=7)
        _PROBES[name] = (x, _full_output(model, x))
    return _PROBES[name]


@pytest.mark.parametrize("name", sorted(CASES))
def test_export_parity(exports, name):
    model, path, report = exports[name]
    assert report.get("passed"), report.get("error")
    assert (path / "savedmodel" / "saved_model.pb").is_file()
    assert (path / "model.onnx").is_file()
    stored = json.loads((path / "parity.json").read_text())
    assert stored["passed"] and stored["tolerance"] == TOLERANCE
    batches = {case["batch"] for case in stored["cases"]}
    lengths = {case["length"] for case in stored["cases"]}
    assert len(batches) >= 2 and len(lengths) >= 2
    assert any(not case["seen_in_training"] for case in stored["cases"])
    for artifact in ("savedmodel", "onnx"):
        figures = stored["artifacts"][artifact]
        assert figures["max_abs_error"] <= TOLERANCE
        assert len(figures["cases"]) == len(stored["cases"])
    # No temporary directory left beside the export.
    assert not [p for p in path.parent.iterdir() if p.name.startswith(f".{name}.")]

    # Independently: onnxruntime here, on a batch size and length the exporter never used.
    x, full = _probe(exports, name)
    session = ort.InferenceSession(str(path / "model.onnx"), providers=["CPUExecutionProvider"])
    (output,) = session.run(["outputs"], {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(output, full, rtol=0, atol=TOLERANCE)


def test_onnx_dynamic_axes_and_metadata(exports):
    model, path, _ = exports["bigru"]
    proto = onnx.load(str(path / "model.onnx"))
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [bool(d.dim_param) for d in dims] == [True, True, False]  # batch, time free; features fixed
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["architecture"] == "bigru"
    assert props["task"] == "classification"
    assert json.loads(props["class_names"]) == ["a", "b", "c"]
    assert json.loads(props["input_spec"])["shape"] == [None, None, FEATURES]
    assert props["kerasrnn_version"] == kerasrnn.__version__
    whole = json.loads(props["kerasrnn"])
    assert whole["architecture"] == "bigru" and whole["input"]["step_shape"] == [FEATURES]
    on_disk = json.loads((path / "metadata.json").read_text())
    assert on_disk["class_names"] == ["a", "b", "c"]
    assert (path / "savedmodel" / "assets" / "kerasrnn_metadata.json").is_file()


def test_native_operators_where_the_math_matches(exports):
    """auto: GRU/LSTM/peephole LSTM on ONNX's operators, the rest on tf2onnx's graph."""
    operator = {"gru": "GRU", "gru-cudnn": "GRU", "lstm": "LSTM", "peephole-lstm": "LSTM"}
    for name in CASES:
        report = exports[name][2]
        case = CASES[name]
        base = case["arch"][2:] if case["arch"].startswith("bi") else case["arch"]
        figures = report["artifacts"]["onnx"]
        if case["export"].get("onnx_ops") == "native":
            assert figures["onnx_ops"] == "native" and figures["recurrent_ops"] == ["RNN"], name
        elif base in operator and not case["options"].get("variable_length"):
            assert figures["onnx_ops"] == "native", name
            assert figures["recurrent_ops"] == [operator[base]], name
        else:
            assert figures["onnx_ops"] == "tf2onnx", name
    # Masked models keep the exact Loop form (Keras' per-step mask); SimpleRNN the Loop.
    assert exports["gru-masked"][2]["artifacts"]["onnx"]["recurrent_ops"] == ["Loop"]
    assert exports["rnn"][2]["artifacts"]["onnx"]["recurrent_ops"] == ["Loop"]


@pytest.mark.parametrize("name", UNIDIRECTIONAL)
def test_streaming_steps_reproduce_the_full_model(exports, name):
    model, path, report = exports[name]
    for artifact in ("streaming/savedmodel", "streaming/onnx"):
        figures = report["artifacts"][artifact]
        assert figures["passed"] and figures["max_abs_error"] <= TOLERANCE, (artifact, figures)
        assert figures["stepped_sequence_vs_full_model"]
    metadata = json.loads((path / "metadata.json").read_text())
    inputs = metadata["streaming"]["inputs"]
    assert inputs[0]["name"] == "x_t" and all(s["name"].startswith("state_") for s in inputs[1:])

    # Independently: step the streaming ONNX model here over a sequence
    # (padded for a masked model) and compare with the full Keras model.
    x, full = _probe(exports, name)
    session = ort.InferenceSession(str(path / "streaming" / "model.onnx"), providers=["CPUExecutionProvider"])
    names = [s["name"] for s in metadata["streaming"]["outputs"]]
    states = [np.zeros((x.shape[0], *s["shape"][1:]), np.float32) for s in inputs[1:]]
    outputs = []
    for t in range(x.shape[1]):
        feed = {"x_t": x[:, t], **{s["name"]: v for s, v in zip(inputs[1:], states)}}
        y, *states = session.run(names, feed)
        outputs.append(y)
    stepped = np.stack(outputs, axis=1) if full.ndim == 3 else outputs[-1]
    np.testing.assert_allclose(stepped, full, rtol=0, atol=TOLERANCE)


def test_streaming_keras_model_on_this_backend(exports):
    """build_streaming_model works on every backend (here: the test's backend)."""
    from kerasrnn.export import build_streaming_model, initial_states

    model = exports["gru-masked"][0]
    step, info = build_streaming_model(model)
    x = _inputs(model, CASES["gru-masked"], batch=2, length=6, seed=3)
    states = initial_states(info, 2)
    outputs = []
    for t in range(x.shape[1]):
        y, *states = step([x[:, t], *states])
        outputs.append(_numpy(y))
        states = [_numpy(s) for s in states]
    np.testing.assert_allclose(np.stack(outputs, 1), _full_output(model, x), rtol=0, atol=TOLERANCE)


def test_streaming_refuses_bidirectional():
    from kerasrnn.export import ExportError, build_streaming_model

    with pytest.raises(ExportError, match="unidirectional"):
        build_streaming_model(_build(CASES["bigru"]))


@pytest.mark.skipif(BACKEND != "tensorflow", reason="loads the SavedModel with TensorFlow in this process")
def test_savedmodel_signatures(exports):
    import tensorflow as tf

    model, path, _ = exports["bilstm-masked"]
    loaded = tf.saved_model.load(str(path / "savedmodel"))
    assert {"serve", "serving_default", "metadata"} <= set(loaded.signatures)
    metadata = json.loads(loaded.signatures["metadata"]()["json"].numpy())
    assert metadata["architecture"] == "bilstm" and metadata["input"]["pad_value"] == PAD_VALUE
    x = _inputs(model, CASES["bilstm-masked"], batch=4, length=17, seed=5)
    output = loaded.signatures["serve"](sequences=tf.constant(x))["outputs"].numpy()
    np.testing.assert_allclose(output, _full_output(model, x), rtol=0, atol=TOLERANCE)


def test_failed_export_leaves_the_previous_export_untouched(exports):
    _, path, result = exports["failing"]
    assert result["passed"] is False and "parity check failed" in result["error"]
    assert result["report"]["artifacts"]["onnx"]["passed"] is False
    assert sorted(p.name for p in path.iterdir()) == ["metadata.json", "model.onnx"]
    assert (path / "model.onnx").read_text() == "previous export"
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".failing.")]
