"""TCN (Bai, Kolter & Koltun 2018): shapes, causality, receptive field, a float64 NumPy reference, masking,
the .keras round trip, build_model's tcn, the streaming exporter's refusal and a small learning task."""

import logging

import keras
import numpy as np
import pytest

import kerasrnn
from kerasrnn import registry
from kerasrnn.data import PAD_VALUE
from kerasrnn.layers import TCN, CausalConv1D, TemporalBlock
from kerasrnn.layers.tcn import receptive_field

BATCH, TIME, INPUT, FILTERS = 3, 12, 2, 4


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x), dtype=np.float64)


def _randomize(layer, seed):
    """Every weight random (N(0, 0.5)); weight-norm scales and layer-norm gammas around 1."""
    rng = np.random.default_rng(seed)
    for variable in layer.weights:
        value = rng.normal(0.0, 0.5, variable.shape)
        if variable.path.endswith(("kernel_scale", "gamma")):
            value = 1.0 + np.abs(value)
        variable.assign(value.astype("float32"))


# --------------------------------------------------------------------------- #
# A float64 NumPy reference of the paper's equations, written apart from the layers
# --------------------------------------------------------------------------- #


def _ref_causal_conv(x, v, bias, dilation, g=None):
    """y_t = b + sum_j W_j x_{t-(k-1-j)d}, x_s = 0 for s < 0; W = g v/||v|| with weight norm."""
    k = v.shape[0]
    w = v if g is None else g * v / np.sqrt((v**2).sum(axis=(0, 1)))
    y = np.zeros((x.shape[0], x.shape[1], v.shape[2])) + bias
    for t in range(x.shape[1]):
        for j in range(k):
            s = t - (k - 1 - j) * dilation
            if s >= 0:
                y[:, t] += x[:, s] @ w[j]
    return y


def _ref_layer_norm(x, gamma, beta, epsilon):
    mean = x.mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(x.var(-1, keepdims=True) + epsilon) * gamma + beta


def _ref_tcn(layer, x):
    """o = relu(P x + F(x)) per block, F = two (conv -> [layer norm] -> relu); many-to-one: the last step."""
    z = x.astype(np.float64)
    for depth, block in enumerate(layer.blocks):
        h = z
        for index, conv in enumerate(block.convolutions):
            g = _numpy(conv.kernel_scale) if conv.weight_normalization else None
            h = _ref_causal_conv(h, _numpy(conv.kernel), _numpy(conv.bias), 2**depth, g)  # block i dilates by 2^i
            if block.norms:
                norm = block.norms[index]
                h = _ref_layer_norm(h, _numpy(norm.gamma), _numpy(norm.beta), norm.epsilon)
            h = np.maximum(h, 0.0)
        residual = (
            z if block.projection is None else z @ _numpy(block.projection.kernel)[0] + _numpy(block.projection.bias)
        )
        z = np.maximum(residual + h, 0.0)
    return z if layer.return_sequences else z[:, -1]


@pytest.mark.backend_independent
def test_receptive_field_formula():
    # 1 + 2 (k - 1) (2^L - 1): one block of kernel 3 sees 5 steps, 8 blocks 1021 (enough for 784 pixels).
    assert [receptive_field(3, n) for n in (1, 2, 3, 8)] == [5, 13, 29, 1021]
    assert receptive_field(2, 1) == 3 and receptive_field(1, 5) == 1
    with pytest.raises(ValueError, match="num_blocks"):
        receptive_field(3, 0)
    assert registry.architecture("tcn").cell is None
    assert "tcn" in kerasrnn.ARCHITECTURES and "bitcn" not in kerasrnn.ARCHITECTURES


@pytest.mark.parametrize("normalization", ["weight", "layer", None])
def test_against_numpy_reference(normalization):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(BATCH, TIME, INPUT)).astype("float32")
    layer = TCN(FILTERS, num_blocks=2, kernel_size=3, normalization=normalization, return_sequences=True)
    layer.build(x.shape)
    _randomize(layer, seed=2)
    for return_sequences in (True, False):  # every step, then (same weights) the last one
        layer.return_sequences = return_sequences
        np.testing.assert_allclose(_numpy(layer(x)), _ref_tcn(layer, x), rtol=1e-4, atol=1e-5)


def test_weight_normalization():
    """W = g v/||v|| per output channel (norm over positions and input channels); g starts at ||v||."""
    conv = CausalConv1D(3, 2, dilation_rate=2)
    conv.build((None, None, 5))
    v = _numpy(conv.kernel)
    np.testing.assert_allclose(_numpy(conv.kernel_scale), np.sqrt((v**2).sum(axis=(0, 1))), rtol=1e-6)
    np.testing.assert_allclose(_numpy(conv.effective_kernel), v, rtol=1e-5, atol=1e-7)  # W = v at the start
    conv.kernel_scale.assign(np.array([0.5, 2.0, -1.0], "float32"))
    expected = np.array([0.5, 2.0, -1.0]) * v / np.linalg.norm(v.reshape(-1, 3), axis=0)
    np.testing.assert_allclose(_numpy(conv.effective_kernel), expected, rtol=1e-5, atol=1e-7)
    # Scaling v changes nothing: only its direction counts.
    before = _numpy(conv.effective_kernel)
    conv.kernel.assign(conv.kernel * 7.0)
    np.testing.assert_allclose(_numpy(conv.effective_kernel), before, rtol=1e-5, atol=1e-7)
    assert {w.path.split("/")[-1] for w in conv.weights} == {"kernel", "kernel_scale", "bias"}
    plain = CausalConv1D(3, 2, weight_normalization=False)
    plain.build((None, None, 5))
    assert {w.path.split("/")[-1] for w in plain.weights} == {"kernel", "bias"}


def test_shapes_and_residual_projection():
    x = np.zeros((BATCH, TIME, INPUT), "float32")
    layer = TCN(FILTERS, num_blocks=3, return_sequences=True)
    assert _numpy(layer(x)).shape == (BATCH, TIME, FILTERS)
    assert TCN(FILTERS)(x).shape == (BATCH, FILTERS)
    assert [block.dilation_rate for block in layer.blocks] == [1, 2, 4]
    # Only the first block changes the width: only it has the 1x1 convolution on the residual path.
    assert layer.blocks[0].projection is not None and layer.blocks[0].projection.kernel.shape == (1, INPUT, FILTERS)
    assert all(block.projection is None for block in layer.blocks[1:])
    assert layer.compute_output_shape((None, None, INPUT)) == (None, None, FILTERS)
    assert layer.receptive_field == 29
    with pytest.raises(ValueError, match="normalization"):
        TCN(4, normalization="batch")
    with pytest.raises(ValueError, match="kernel_size"):
        TCN(4, kernel_size=0)


def test_causality_and_receptive_field():
    """y_t depends on x_{t-R+1} .. x_t and on nothing later or earlier (R: the receptive field)."""
    blocks, kernel = 2, 3
    field = receptive_field(kernel, blocks)  # 13
    time = field + 4
    layer = TCN(FILTERS, num_blocks=blocks, kernel_size=kernel, return_sequences=True)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, time, INPUT)).astype("float32")
    layer.build(x.shape)
    _randomize(layer, seed=4)
    base = _numpy(layer(x))

    def changed(step):
        perturbed = x.copy()
        perturbed[:, step] += 5.0 * np.sign(rng.normal(size=perturbed[:, step].shape))
        return np.abs(_numpy(layer(perturbed)) - base).max(axis=(0, 2)) > 1e-6  # per output step

    t = time - 1
    diff = changed(t - 6)
    assert not diff[: t - 6].any() and diff[t - 6 :].any()  # nothing before the change moves
    assert changed(t - field + 1)[t]  # the oldest step the last output sees
    assert not changed(t - field)[t]  # one step older: outside the receptive field


def test_masking_right_padded_sequences():
    """Padding after a sequence changes none of its outputs: many-to-one takes the last valid step."""
    lengths = [TIME, 7, 1]
    rng = np.random.default_rng(5)
    x = rng.normal(size=(len(lengths), TIME, INPUT)).astype("float32")
    padded = x.copy()
    for i, n in enumerate(lengths):
        padded[i, n:] = PAD_VALUE
    # Two models on one input, one TCN each (the same weights): every step and many-to-one.
    inputs = keras.Input((None, INPUT))
    masked = keras.layers.Masking(PAD_VALUE)(inputs)
    every, last = (TCN(FILTERS, num_blocks=2, normalization="layer", return_sequences=r) for r in (True, False))
    model = keras.Model(inputs, [every(masked), last(masked)])
    _randomize(every, seed=6)
    last.set_weights(every.get_weights())
    out_every, out_last = (_numpy(y) for y in model(padded))
    for i, n in enumerate(lengths):
        alone = _numpy(every(x[i : i + 1, :n]))[0]  # the sequence without its padding, unmasked
        np.testing.assert_allclose(out_every[i, :n], alone, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(out_last[i], alone[-1], rtol=1e-5, atol=1e-6)
    # Without the mask the padded samples' answers would be the padding's.
    assert np.abs(out_last[1:] - _numpy(last(padded))[1:]).max() > 1e-3
    # A mask passes on for per-step outputs (to a per-step head and loss).
    assert every.compute_mask(padded, np.ones((3, TIME), bool)) is not None
    assert last.compute_mask(padded, np.ones((3, TIME), bool)) is None


def test_keras_file_round_trip(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, INPUT))
    tcn = TCN(FILTERS, num_blocks=2, kernel_size=3, dropout=0.1, normalization="layer", return_sequences=True)
    model = keras.Model(inputs, keras.layers.Dense(2)(tcn(inputs)))
    _randomize(tcn, seed=7)
    x = np.random.default_rng(8).normal(size=(2, 9, INPUT)).astype("float32")
    path = tmp_path / "tcn.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(_numpy(loaded(x)), _numpy(model(x)), rtol=1e-6, atol=1e-6)
    restored = loaded.layers[1]
    assert type(restored) is TCN and restored.get_config() == tcn.get_config()
    config = tcn.blocks[0].get_config()
    assert TemporalBlock.from_config(config).get_config() == config
    assert CausalConv1D.from_config(tcn.blocks[1].convolutions[0].get_config()).dilation_rate == 2


def test_build_model_tasks_and_receptive_field_warning(caplog):
    # (classification: tests/models/test_architectures.py runs every architecture)
    for task, shape, expected in [("labelling", (6, INPUT), (2, 6, 5)), ("language_model", (6,), (2, 6, 5))]:
        with caplog.at_level(logging.INFO, logger="kerasrnn"):
            caplog.clear()
            model = kerasrnn.build_model(
                "tcn", task, shape, 5, units=FILTERS, layers=2, dropout=0.1, embedding_dim=INPUT
            )
        assert "receptive field 13 steps" in caplog.text and "shorter" not in caplog.text
        x = np.ones((2, 6, INPUT), "float32") if len(shape) == 2 else np.ones((2, 6), "int32")
        assert model(x).shape == expected
        assert model.get_layer("tcn").num_blocks == 2
    # Many-to-one over 28 steps with one block (5 steps seen): warned, naming the layers that would do.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="kerasrnn"):
        kerasrnn.build_model("tcn", "classification", (28, INPUT), 10, units=FILTERS)
    assert "receptive field 5 steps is shorter than the 28-step sequences" in caplog.text
    assert "3 blocks (layers) would see 29" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="kerasrnn"):
        kerasrnn.build_model("tcn", "labelling", (28, INPUT), 10, units=FILTERS)  # every step: no single cut-off
        kerasrnn.build_model("tcn", "classification", (29, INPUT), 10, units=FILTERS, layers=3)
    assert "shorter" not in caplog.text


def test_streaming_export_refuses_tcn():
    from kerasrnn.export import ExportError, build_streaming_model

    model = kerasrnn.build_model("tcn", "classification", (8, INPUT), 2, units=FILTERS, layers=2)
    with pytest.raises(ExportError, match="temporal convolutional network.*last 13 inputs.*without streaming"):
        build_streaming_model(model)


def test_learns_a_task_that_needs_its_receptive_field():
    """The class is the sign of the first of 9 steps: 2 blocks (13 steps seen) learn it."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 9, 1)).astype("float32")
    y = (x[:, 0, 0] > 0).astype("int32")
    keras.utils.set_random_seed(0)
    model = kerasrnn.build_model("tcn", "classification", (9, 1), 2, units=8, layers=2)
    model.compile(keras.optimizers.Adam(3e-2), "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=6, verbose=0)
    assert history.history["accuracy"][-1] > 0.9, history.history
