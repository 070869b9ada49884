"""AttentionCell inside keras.layers.RNN against a hand-unrolled float64 NumPy loop, serialization, training."""

import keras
import numpy as np
import pytest
from keras import ops

import kerasrnn
from kerasrnn.layers import AttentionCell, BahdanauAttention, LuongAttention
from tests.helpers import attention_reference as aref
from tests.helpers import numpy_reference as ref
from tests.layers.test_attention import compiled, randomize

B, T, S, DX, H, DV = 3, 5, 6, 4, 6, 7
SOURCE_LENGTHS = [6, 3, 1]
TARGET_LENGTHS = [5, 2, 4]
TOLERANCE = 1e-5


def numpy(t):
    return np.asarray(keras.ops.convert_to_numpy(t), dtype=np.float64)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(21)
    return {
        "x": rng.normal(size=(B, T, DX)).astype("float32"),
        "memory": rng.normal(size=(B, S, DV)).astype("float32"),
        "memory_mask": np.arange(S)[None, :] < np.array(SOURCE_LENGTHS)[:, None],
        "step_mask": np.arange(T)[None, :] < np.array(TARGET_LENGTHS)[:, None],
        "h0": rng.normal(scale=0.5, size=(B, H)).astype("float32"),
        "c0": rng.normal(scale=0.5, size=(B, H)).astype("float32"),
    }


CASES = {
    # id: (inner cell, attention form, input feeding, attention_size, attention_activation)
    "lstm-general-feeding-tanh": ("lstm", "general", True, None, "tanh"),
    "lstm-general": ("lstm", "general", False, 5, None),
    "gru-bahdanau-feeding": ("gru", "bahdanau", True, None, None),
    "gru-normalized-context": ("gru", "bahdanau_normalized", True, 0, None),
}


# Zero initializers where the test overwrites the weights anyway: on JAX each random initializer compiles per shape.
ZEROS = {"kernel_initializer": "zeros"}
CELL_ZEROS = {"kernel_initializer": "zeros", "recurrent_initializer": "zeros"}


def make_attention(form):
    if form.startswith("bahdanau"):
        return BahdanauAttention(4, normalize=form == "bahdanau_normalized", **ZEROS)
    return LuongAttention(form, **ZEROS)


def randomize_all(layer, rng):
    """NumPy random values in every weight of ``layer`` (nested layers included)."""
    for variable in layer.weights:
        shape = tuple(variable.shape)
        scale = 1.0 / np.sqrt(shape[0]) if len(shape) == 2 else 0.5
        variable.assign(rng.normal(scale=scale, size=shape).astype("float32"))


@pytest.mark.parametrize("case", list(CASES))
def test_rnn_equals_hand_unrolled_reference(case, data):
    inner, form, feeding, attention_size, activation = CASES[case]
    cell_layer = keras.layers.LSTMCell(H, **CELL_ZEROS) if inner == "lstm" else keras.layers.GRUCell(H, **CELL_ZEROS)
    cell = AttentionCell(
        cell_layer,
        make_attention(form),
        attention_size=attention_size,
        input_feeding=feeding,
        attention_activation=activation,
        **ZEROS,
    )
    memory = data["memory"][..., :H] if form == "dot" else data["memory"]  # dot: memory as wide as the query
    inner0 = [data["h0"], data["c0"]] if inner == "lstm" else [data["h0"]]
    # zero_output_for_mask: Keras' default repeats the previous output on masked steps on TensorFlow and torch
    # but returns states[0] (the inner cell's h) on JAX; zeros are the same everywhere.
    rnn = keras.layers.RNN(cell, return_sequences=True, return_state=True, zero_output_for_mask=True)
    cell.initial_states(inner0, memory, None, data["memory_mask"])  # creates the attention's weights
    rnn.build(data["x"].shape)  # and the cell's (no call: on JAX each eager call compiles its scan anew)
    rng = np.random.default_rng([7, len(case)])
    w = randomize(cell.attention, rng)
    for variable in cell.cell.weights:
        w[variable.path.split("/")[-1]] = variable  # kernel, recurrent_kernel, bias
    ref.randomize_weights(cell.cell, rng, scale=1.0)
    w.update({name: numpy(v) for name, v in w.items() if not isinstance(v, np.ndarray)})
    if cell.attention_kernel is not None:
        cell.attention_kernel.assign(rng.normal(scale=0.4, size=cell.attention_kernel.shape).astype("float32"))
        w["W_c"] = numpy(cell.attention_kernel)

    @compiled
    def run(x, inner0, memory, memory_mask, step_mask):
        states0 = cell.initial_states(inner0, memory, None, memory_mask)  # keys from the new weights
        return states0, rnn(x, initial_state=states0, mask=step_mask)

    states0, (outputs, *states) = run(data["x"], inner0, memory, data["memory_mask"], data["step_mask"])
    want_outputs, want_states = aref.run_attention_cell(
        inner,
        form,
        data["x"],
        inner0,
        memory,
        w,
        memory_mask=data["memory_mask"],
        step_mask=data["step_mask"],
        input_feeding=feeding,
        attention_size=attention_size,
        activation=activation,
    )
    label = f"attention cell {case}"
    err = ref.record_error(label, ref.relative_error(numpy(outputs), want_outputs))
    assert err < TOLERANCE, f"{label}: outputs: relative error {err:.2e}"
    count = len(inner0)
    for i, want in enumerate(want_states):
        err = ref.record_error(label, ref.relative_error(numpy(states[i]), want))
        assert err < TOLERANCE, f"{label}: state {i}: relative error {err:.2e}"
    alignment = numpy(states[count + 1])
    assert np.all(alignment[~data["memory_mask"]] == 0.0)
    for carried, initial in zip(states[count + 2 :], states0[count + 2 :]):  # memory, keys, mask ride unchanged
        np.testing.assert_array_equal(numpy(carried), numpy(initial))


def kerasrnn_cells():
    return {
        "simple_rnn": keras.layers.SimpleRNNCell(H, **CELL_ZEROS),
        "peephole_lstm": kerasrnn.layers.PeepholeLSTMCell(H, **CELL_ZEROS),
        "mut1": kerasrnn.layers.MUT1Cell(H, **CELL_ZEROS),
        "stacked": keras.layers.StackedRNNCells(
            [keras.layers.GRUCell(H, **CELL_ZEROS), keras.layers.LSTMCell(H, **CELL_ZEROS)]
        ),
    }


@pytest.mark.parametrize("name", ["simple_rnn", "peephole_lstm", "mut1", "stacked"])
def test_other_cells_step_by_step_equals_rnn(name, data):
    """Any cell: keras.layers.RNN equals calling the cell one step at a time (what a decoder's step does)."""
    inner = kerasrnn_cells()[name]
    cell = AttentionCell(inner, LuongAttention("general", **ZEROS), **ZEROS)
    sizes = [inner.state_size] if isinstance(inner.state_size, int) else keras.tree.flatten(inner.state_size)
    inner0 = [np.full((B, size), 0.1, "float32") for size in sizes]
    if name == "stacked":  # StackedRNNCells' nested states, given nested
        inner0 = [inner0[0], inner0[1:]]
    rnn = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    cell.initial_states(inner0, data["memory"], None, data["memory_mask"])
    rnn.build((B, 3, DX))
    randomize_all(cell, np.random.default_rng(len(name)))

    @compiled
    def run(x, inner0, memory, memory_mask):
        states = cell.initial_states(inner0, memory, None, memory_mask)
        outputs, *final = rnn(x, initial_state=states)
        stepped = []
        for t in range(x.shape[1]):
            output, states = cell(x[:, t], states)
            stepped.append(output)
        return outputs, final, stepped, states

    x = data["x"][:, :3]  # three steps: the stepped loop is unrolled in the compiled function
    outputs, final, stepped, states = run(x, inner0, data["memory"], data["memory_mask"])
    assert tuple(outputs.shape) == (B, 3, H)
    assert len(final) == len(sizes) + 5
    for t in range(3):
        np.testing.assert_allclose(numpy(stepped[t]), numpy(outputs[:, t]), rtol=1e-5, atol=1e-6)
    for got, want in zip(states, final):
        np.testing.assert_allclose(numpy(got), numpy(want), rtol=1e-5, atol=1e-6)


def test_traced_with_an_unknown_source_length(data):
    """TensorFlow: one tf.function (XLA too) with S unknown serves sources of any length, masks included."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("JAX traces static shapes (fit's jit: the training test); torch runs the loop eagerly")
    import tensorflow as tf

    cell = AttentionCell(keras.layers.GRUCell(H), BahdanauAttention(4))
    rnn = keras.layers.RNN(cell, return_sequences=True)

    def decode(memory, memory_mask):
        states = cell.initial_states([data["h0"]], memory, None, memory_mask)
        return rnn(data["x"], initial_state=states, mask=data["step_mask"])

    decode(data["memory"], data["memory_mask"])  # builds
    signature = [tf.TensorSpec((None, None, DV)), tf.TensorSpec((None, None), tf.bool)]
    for jit_compile, lengths in ((False, (S, 2)), (True, (3,))):
        traced = tf.function(decode, input_signature=signature, jit_compile=jit_compile)
        for steps in lengths:
            memory, memory_mask = data["memory"][:, :steps], data["memory_mask"][:, :steps]
            np.testing.assert_allclose(
                numpy(traced(memory, memory_mask)), numpy(decode(memory, memory_mask)), rtol=1e-5, atol=1e-6
            )


def test_inner_dropout_masks_are_drawn_before_the_loop(data):
    """A stacked inner cell's dropout masks come from keras.layers.RNN's pre-loop hook (one mask per sequence)."""
    first = keras.layers.GRUCell(H, dropout=0.5, recurrent_dropout=0.5, **CELL_ZEROS)
    second = keras.layers.LSTMCell(H, dropout=0.5, **CELL_ZEROS)
    cell = AttentionCell(keras.layers.StackedRNNCells([first, second]), LuongAttention("general", **ZEROS), **ZEROS)
    states = cell.initial_states([data["h0"], [data["h0"], data["c0"]]], data["memory"])
    # unroll: RNN draws the masks before any loop; unrolled, JAX needs no scan compile here
    rnn = keras.layers.RNN(cell, return_sequences=True, unroll=True)
    rnn.build(data["x"].shape)
    randomize_all(cell, np.random.default_rng(3))
    drawn = {}
    hook = cell.get_dropout_mask

    def spy(step_input):
        hook(step_input)
        masks = first.get_dropout_mask(None), second.get_dropout_mask(None), first.get_recurrent_dropout_mask(None)
        # (a cell may keep a list of masks, one per gate)
        drawn.update(zip(("first", "second", "recurrent"), (keras.tree.flatten(mask)[0] for mask in masks)))

    cell.get_dropout_mask = spy
    trained = numpy(rnn(data["x"], initial_state=states, training=True))
    assert tuple(drawn["first"].shape) == (B, DX + H)  # [x_t; a_{t-1}]
    assert tuple(drawn["second"].shape) == tuple(drawn["recurrent"].shape) == (B, H)
    assert np.abs(trained - numpy(rnn(data["x"], initial_state=states, training=False))).max() > 1e-2


def test_config_round_trip():
    cell = AttentionCell(
        kerasrnn.layers.PeepholeLSTMCell(H),
        BahdanauAttention(4, normalize=True),
        attention_size=3,
        input_feeding=False,
        attention_activation="tanh",
    )
    config = cell.get_config()
    clone = AttentionCell.from_config(config)
    assert clone.get_config() == config
    assert isinstance(clone.cell, kerasrnn.layers.PeepholeLSTMCell) and clone.cell is not cell.cell
    assert clone.attention.normalize and clone.attention_size == 3 and not clone.input_feeding
    assert clone.attention_activation is keras.activations.tanh


@keras.saving.register_keras_serializable(package="kerasrnn_tests")
class NumpyNormal(keras.initializers.Initializer):
    """N(0, 1/fan_in) drawn by NumPy: Keras' random initializers compile once per shape on JAX."""

    def __call__(self, shape, dtype=None):
        scale = 1.0 / np.sqrt(shape[0]) if len(shape) == 2 else 0.1
        values = np.random.default_rng(sum(shape)).normal(scale=scale, size=shape)
        return keras.ops.convert_to_tensor(values, dtype=dtype or "float32")


@keras.saving.register_keras_serializable(package="kerasrnn_tests")
class ToyTranslator(keras.Model):
    """A tiny attention decoder over embedded source tokens (no encoder RNN: one scan less to compile).

    The .keras format needs the initial states computed in call(), as here.
    """

    def __init__(self, vocabulary=12, units=16, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary, self.units = vocabulary, units
        init = NumpyNormal()
        self.source_embedding = keras.layers.Embedding(vocabulary, units, embeddings_initializer=init)
        self.target_embedding = keras.layers.Embedding(vocabulary, 8, mask_zero=True, embeddings_initializer=init)
        gru = keras.layers.GRUCell(units, kernel_initializer=init, recurrent_initializer=init)
        self.cell = AttentionCell(gru, LuongAttention("general", kernel_initializer=init), kernel_initializer=init)
        self.decoder = keras.layers.RNN(self.cell, return_sequences=True)
        self.projection = keras.layers.Dense(vocabulary, kernel_initializer=init)

    def call(self, inputs):
        source, target = inputs
        memory = self.source_embedding(source)
        source_mask = ops.not_equal(source, 0)
        start = ops.mean(memory, axis=1)
        states = self.cell.initial_states([start], memory, None, source_mask)
        return self.projection(self.decoder(self.target_embedding(target), initial_state=states))

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.vocabulary, "units": self.units}


def without_names(config):
    """A config without the layers' automatic names (a subclassed model's reload numbers them anew)."""
    if isinstance(config, dict):
        return {key: without_names(value) for key, value in config.items() if key != "name"}
    return config


def test_training_and_keras_round_trip(tmp_path):
    """A few steps on a toy reversal batch lower the loss (the source embedding learns through the memory state);
    .keras reloads."""
    rng = np.random.default_rng(0)
    source = rng.integers(4, 12, (32, 6)).astype("int32")
    source[::2, 4:] = 0  # padded sources
    reversed_source = np.stack([np.concatenate([row[row > 0][::-1], row[row == 0]]) for row in source])
    target = np.concatenate([np.full((32, 1), 2, "int32"), reversed_source], 1)
    model = ToyTranslator()
    model.compile(
        keras.optimizers.Adam(0.05),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        # JAX: one jit compile; TensorFlow: eager steps (tracing the step costs more than 8 eager steps)
        run_eagerly=keras.backend.backend() == "tensorflow",
    )
    inputs, labels = [source, target[:, :-1]], target[:, 1:]
    losses = [float(model.train_on_batch(inputs, labels))]
    memory_before = numpy(model.source_embedding.embeddings)
    losses += [float(model.train_on_batch(inputs, labels)) for _ in range(9)]
    assert losses[-1] < 0.8 * losses[0], losses
    assert np.abs(numpy(model.source_embedding.embeddings) - memory_before).max() > 0  # gradient through the states
    path = tmp_path / "toy.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert without_names(loaded.cell.get_config()) == without_names(model.cell.get_config())
    np.testing.assert_allclose(numpy(loaded(inputs)), numpy(model(inputs)), rtol=1e-6, atol=1e-6)


@pytest.mark.backend_independent
def test_errors_say_what_is_expected(data):
    cell = AttentionCell(keras.layers.LSTMCell(H, **CELL_ZEROS), LuongAttention("general", **ZEROS), **ZEROS)
    with pytest.raises(ValueError, match="has 2 states; received 1"):
        cell.initial_states([data["h0"]], data["memory"])
    with pytest.raises(ValueError, match="initial_state=cell.initial_states"):
        keras.layers.RNN(cell)(data["x"])
    with pytest.raises(ValueError, match="attention_size"):
        AttentionCell(keras.layers.GRUCell(H), LuongAttention(), attention_size=-1)
