"""kerasrnn's Bidirectional (both directions in one fused call) against Keras' two-layer path.

``kerasrnn.layers.Bidirectional`` over kerasrnn ``LSTM``/``GRU`` layers may
run both directions in one backend call (``torch._VF.lstm(...,
bidirectional=True)`` on the torch backend); ``keras.layers.Bidirectional``
over Keras layers with ``use_cudnn=False`` runs each direction's plain loop.
Same weights must give the same outputs, states and gradients, in every case
the fused call takes and in every case it hands back.
"""

import keras
import numpy as np
import pytest

from kerasrnn import backend as fast_paths
from kerasrnn import layers
from tests.test_fast_path import _gradients
from tests.test_fused_rnn import ATOL
from tests.test_fused_rnn import RTOL
from tests.test_fused_rnn import no_tf32  # noqa: F401  (autouse fixture)

UNITS = 5
SHAPE = (3, 6, 4)
FORMS = {
    "lstm": (layers.LSTM, keras.layers.LSTM, {}, 2),
    "gru_reset_after": (layers.GRU, keras.layers.GRU, {"reset_after": True}, 1),
    "gru_cho": (layers.GRU, keras.layers.GRU, {"reset_after": False}, 1),
}
FUSED_BACKENDS = ("torch",)  # backends where kerasrnn.backend has a fused bidirectional kernel


@pytest.fixture
def fused_calls(monkeypatch):
    """Counts the calls the fused bidirectional kernels actually served."""
    calls = []
    for name in ("bidirectional_lstm", "bidirectional_gru"):
        original = getattr(fast_paths, name)

        def counted(*args, _original=original, _name=name, **kwargs):
            result = _original(*args, **kwargs)
            calls.append(_name)
            return result

        monkeypatch.setattr(fast_paths, name, counted)
    return calls


def _pair(form, merge_mode="concat", return_sequences=True, **options):
    fast_cls, keras_cls, form_options, _ = FORMS[form]
    kwargs = dict(return_sequences=return_sequences, return_state=True, **form_options, **options)
    fast = layers.Bidirectional(
        fast_cls(UNITS, **kwargs), backward_layer=fast_cls(UNITS, go_backwards=True, **kwargs), merge_mode=merge_mode
    )
    plain_kwargs = {**kwargs, "use_cudnn": False}
    plain = keras.layers.Bidirectional(
        keras_cls(UNITS, **plain_kwargs),
        backward_layer=keras_cls(UNITS, go_backwards=True, **plain_kwargs),
        merge_mode=merge_mode,
    )
    fast.build(SHAPE)
    plain.build(SHAPE)
    rng = np.random.default_rng(0)
    weights = [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in fast.get_weights()]
    fast.set_weights(weights)
    plain.set_weights(weights)
    x = rng.normal(size=SHAPE).astype("float32")
    return fast, plain, x


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _fused_expected(form):
    return keras.backend.backend() in FUSED_BACKENDS and form != "gru_cho"


def _assert_all_close(got, want, rtol=RTOL):
    got, want = keras.tree.flatten(got), keras.tree.flatten(want)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(_np(g), _np(w), rtol=rtol, atol=ATOL)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul", None])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_outputs_and_states_match_keras(form, merge_mode, return_sequences, fused_calls):
    fast, plain, x = _pair(form, merge_mode, return_sequences)
    _assert_all_close(fast(x), plain(x))
    assert bool(fused_calls) == _fused_expected(form)


@pytest.mark.parametrize("form", FORMS)
def test_initial_states(form, fused_calls):
    fast, plain, x = _pair(form)
    per_direction = FORMS[form][3]
    rng = np.random.default_rng(2)
    states = [rng.normal(size=(SHAPE[0], UNITS)).astype("float32") for _ in range(2 * per_direction)]
    _assert_all_close(fast(x, initial_state=states), plain(x, initial_state=states))
    assert bool(fused_calls) == _fused_expected(form)


@pytest.mark.parametrize("form", FORMS)
def test_gradients_match_keras(form, fused_calls):
    fast, plain, x = _pair(form)
    weights = np.random.default_rng(1).normal(size=(SHAPE[0], SHAPE[1], 2 * UNITS)).astype("float32")
    for got, want in zip(_gradients(fast, x, weights), _gradients(plain, x, weights)):
        np.testing.assert_allclose(got, want, rtol=10 * RTOL, atol=ATOL)
    assert bool(fused_calls) == _fused_expected(form)


@pytest.mark.parametrize("form", ["lstm", "gru_reset_after"])
def test_cases_without_a_fused_kernel_take_keras_path(form, fused_calls):
    # A mask, dropout in training, use_cudnn=False: the two-layer path, same results.
    fast, plain, x = _pair(form)
    mask = np.ones(SHAPE[:2], bool)
    mask[1, 4:] = False
    _assert_all_close(fast(x, mask=mask), plain(x, mask=mask))
    dropped = _pair(form, dropout=0.5, seed=3)[0]
    dropped(x, training=True)
    no_cudnn = _pair(form, use_cudnn=False)[0]
    no_cudnn(x)
    assert not fused_calls
    dropped(x, training=False)  # dropout is off outside training: fused again
    assert bool(fused_calls) == _fused_expected(form)


def test_other_layers_are_keras_bidirectional(fused_calls):
    x = np.ones(SHAPE, "float32")
    layer = layers.Bidirectional(layers.MUT1(UNITS, return_sequences=True))
    assert layer(x).shape == (SHAPE[0], SHAPE[1], 2 * UNITS)
    assert not fused_calls


@pytest.mark.parametrize("form", ["lstm", "gru_reset_after"])
def test_config_and_keras_file_round_trip(form, tmp_path):
    fast, _, x = _pair(form)
    inputs = keras.Input(SHAPE[1:])
    model = keras.Model(inputs, fast(inputs)[0])
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.layers[1]) is layers.Bidirectional
    np.testing.assert_allclose(_np(loaded(x)), _np(model(x)), rtol=1e-6, atol=1e-6)
    config = fast.get_config()
    assert layers.Bidirectional.from_config(config).get_config() == config


def test_recurrent_stack_uses_it(fused_calls):
    stack = layers.Recurrent("lstm", UNITS, num_layers=2, bidirectional=True)
    assert all(type(layer) is layers.Bidirectional for layer in stack.rnn_layers)
    assert stack(np.ones(SHAPE, "float32")).shape == (SHAPE[0], 2 * UNITS)
    assert len(fused_calls) == (2 if keras.backend.backend() in FUSED_BACKENDS else 0)
