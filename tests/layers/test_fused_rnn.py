"""kerasrnn's LSTM/GRU (backend fused kernels first) against Keras' generic loop.

``kerasrnn.layers.LSTM``/``GRU`` may run a backend's fused kernel (PyTorch's
own LSTM/GRU on the torch backend); ``keras.layers.LSTM``/``GRU`` with
``use_cudnn=False`` run the plain loop over Keras' cell. Same weights must
give the same outputs, states and gradients, in every case the fused path
takes and in every case it hands back to the loop.
"""

import keras
import numpy as np
import pytest

from kerasrnn import backend as fast_paths
from kerasrnn import layers
from tests.helpers.gradients import gradients_of as _gradients

UNITS = 5
SHAPE = (3, 6, 4)
FORMS = {
    "lstm": (layers.LSTM, keras.layers.LSTM, {}),
    "gru_reset_after": (layers.GRU, keras.layers.GRU, {"reset_after": True}),
    "gru_cho": (layers.GRU, keras.layers.GRU, {"reset_after": False}),
}
FUSED_BACKENDS = ("torch",)  # backends where kerasrnn.backend has a fused kernel


def _on_cuda():
    if keras.backend.backend() != "torch":
        return False
    import torch

    return torch.cuda.is_available()


# cuDNN sums in other orders than cuBLAS does for Keras' loop; on a GPU the
# comparison is float32 (TF32 off, see no_tf32) with a GPU's rounding spread.
RTOL, ATOL = (1e-4, 1e-5) if _on_cuda() else (1e-5, 1e-6)


@pytest.fixture(autouse=True)
def no_tf32():
    """cuDNN's RNNs use TF32 by default on Ampere and later (rel. errors ~1e-2)."""
    if not _on_cuda():
        yield
        return
    import torch

    saved = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32 = saved


@pytest.fixture
def fused_calls(monkeypatch):
    """Counts the calls that the fused kernels actually served (no NotImplementedError)."""
    calls = []
    for name in ("lstm", "gru"):
        original = getattr(fast_paths, name)

        def counted(*args, _original=original, _name=name, **kwargs):
            result = _original(*args, **kwargs)
            calls.append(_name)
            return result

        monkeypatch.setattr(fast_paths, name, counted)
    return calls


def _pair(form, use_bias=True, **options):
    fast_cls, keras_cls, form_options = FORMS[form]
    rng = np.random.default_rng(0)
    x = rng.normal(size=SHAPE).astype("float32")
    kwargs = dict(return_sequences=True, return_state=True, use_bias=use_bias, **form_options, **options)
    fast = fast_cls(UNITS, **kwargs)
    plain = keras_cls(UNITS, use_cudnn=False, **kwargs)
    fast.build(SHAPE)
    plain.build(SHAPE)
    weights = [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in fast.get_weights()]
    fast.set_weights(weights)
    plain.set_weights(weights)
    return fast, plain, x


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _fused_expected(form):
    # The Cho form has no PyTorch kernel: kerasrnn's C++ step kernels (tests/backend) run it on torch.
    return keras.backend.backend() in FUSED_BACKENDS


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("use_bias", [True, False])
def test_outputs_and_states_match_keras_loop(form, go_backwards, use_bias, fused_calls):
    fast, plain, x = _pair(form, use_bias=use_bias, go_backwards=go_backwards)
    h0 = np.random.default_rng(2).normal(size=(SHAPE[0], UNITS)).astype("float32")
    initial_state = [h0, -h0] if form == "lstm" else [h0]
    got, want = fast(x, initial_state=initial_state), plain(x, initial_state=initial_state)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(_np(g), _np(w), rtol=RTOL, atol=ATOL)
    assert bool(fused_calls) == _fused_expected(form)


@pytest.mark.parametrize("form", FORMS)
def test_last_output_only(form):
    fast, plain, x = _pair(form)
    fast.return_sequences = plain.return_sequences = False
    for g, w in zip(fast(x), plain(x)):
        np.testing.assert_allclose(_np(g), _np(w), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("form", FORMS)
def test_gradients_match_keras_loop(form, fused_calls):
    fast, plain, x = _pair(form)
    weights = np.random.default_rng(1).normal(size=(SHAPE[0], SHAPE[1], UNITS)).astype("float32")
    for got, want in zip(_gradients(fast, x, weights), _gradients(plain, x, weights)):
        np.testing.assert_allclose(got, want, rtol=10 * RTOL, atol=ATOL)
    assert bool(fused_calls) == _fused_expected(form)


@pytest.mark.parametrize("form", FORMS)
def test_masked_sequences_fall_back_to_the_loop(form, fused_calls):
    fast, plain, x = _pair(form)
    mask = np.ones(SHAPE[:2], bool)
    mask[1, 4:] = False
    for g, w in zip(fast(x, mask=mask), plain(x, mask=mask)):
        np.testing.assert_allclose(_np(g), _np(w), rtol=RTOL, atol=ATOL)
    assert not fused_calls


@pytest.mark.parametrize("form", ["lstm", "gru_reset_after"])
def test_input_dropout_is_one_mask_per_sequence(form, fused_calls):
    # Same seed -> same mask; the fused path applies it to the whole
    # sequence at once, the loop at every step.
    fast, plain, x = _pair(form, dropout=0.5, seed=3)
    for g, w in zip(fast(x, training=True), plain(x, training=True)):
        np.testing.assert_allclose(_np(g), _np(w), rtol=RTOL, atol=ATOL)
    assert bool(fused_calls) == _fused_expected(form)


def test_use_cudnn_false_and_recurrent_dropout_take_the_loop(fused_calls):
    x = np.ones(SHAPE, "float32")
    layers.LSTM(UNITS, use_cudnn=False)(x)
    layers.LSTM(UNITS, recurrent_dropout=0.5)(x, training=True)
    layers.GRU(UNITS, activation="relu")(x)
    assert not fused_calls


@pytest.mark.parametrize("form", FORMS)
def test_config_and_keras_file_round_trip(form, tmp_path):
    fast, _, x = _pair(form)
    inputs = keras.Input(SHAPE[1:])
    model = keras.Model(inputs, fast(inputs)[0])
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.layers[1]) is type(fast)
    np.testing.assert_allclose(_np(loaded(x)), _np(model(x)), rtol=1e-6, atol=1e-6)
    assert type(fast).from_config(fast.get_config()).get_config() == fast.get_config()


# --------------------------------------------------------------------------- #
# Layer normalization (the layer-norm LSTM's three per-step normalizations)
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_fused_layer_norm_matches_the_reference(dtype):
    from kerasrnn.layers.layer_norm_lstm import layer_norm, reference_layer_norm

    rng = np.random.default_rng(3)
    x = keras.ops.convert_to_tensor(rng.normal(2.0, 3.0, size=(5, 16)).astype(dtype))
    gamma = keras.ops.convert_to_tensor(rng.normal(size=16).astype("float32"))
    beta = keras.ops.convert_to_tensor(rng.normal(size=16).astype("float32"))
    got, want = layer_norm(x, gamma, beta, 1e-3), reference_layer_norm(x, gamma, beta, 1e-3)
    assert keras.backend.standardize_dtype(got.dtype) == dtype
    tolerance = 1e-5 if dtype == "float32" else 2e-3
    np.testing.assert_allclose(_np(got).astype("float64"), _np(want).astype("float64"), rtol=tolerance, atol=tolerance)
    try:
        fast_paths.layer_norm(x, gamma, beta, 1e-3)
        served = True
    except NotImplementedError:
        served = False
    assert served  # every backend has one: torch's fused kernel, JAX's and TensorFlow's closed-form gradient


def test_layer_norm_lstm_gradients_match_with_the_reference_norm(monkeypatch):
    from kerasrnn.layers import layer_norm_lstm

    rng = np.random.default_rng(4)
    x = rng.normal(size=SHAPE).astype("float32")
    layer = layer_norm_lstm.LayerNormLSTM(UNITS, return_sequences=True)
    layer.build(SHAPE)
    layer.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()])
    weights = rng.normal(size=(SHAPE[0], SHAPE[1], UNITS)).astype("float32")
    fused = _gradients(layer, x, weights)
    monkeypatch.setattr(layer_norm_lstm, "layer_norm", layer_norm_lstm.reference_layer_norm)
    reference = _gradients(layer, x, weights)
    for got, want in zip(fused, reference):
        np.testing.assert_allclose(got, want, rtol=10 * RTOL, atol=10 * ATOL)


# --------------------------------------------------------------------------- #
# Under torch.compile (model.compile(jit_compile=True) on the torch backend)
# --------------------------------------------------------------------------- #


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="torch.compile is the torch backend's jit_compile")
def test_fused_lstm_trains_under_torch_compile():
    # The fused call never enters an inductor graph (inductor cannot lower
    # mkldnn_rnn_layer): traced, the layer takes its loop; run eagerly by a
    # caller torch.compile gave up on, the native call stays eager.
    import kerasrnn

    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3, 2)).astype("float32")
    y = rng.integers(0, 2, 16)
    losses = []
    for jit_compile in (False, True):
        keras.utils.set_random_seed(0)
        model = kerasrnn.build_model("lstm", "classification", (3, 2), 2, units=4)
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", jit_compile=jit_compile)
        history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        losses.append(history.history["loss"])
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4)
