"""EncoderDecoder: shapes, one-step decoding equal to teacher forcing, masking, config and .keras round trip."""

import keras
import numpy as np
import pytest
from keras import ops

from kerasrnn.models.encoder_decoder import EncoderDecoder

SOURCE_VOCAB, TARGET_VOCAB = 11, 13


def small_model(arch="gru", **kwargs):
    options = dict(source_vocab_size=SOURCE_VOCAB, target_vocab_size=TARGET_VOCAB, units=8, embedding_dim=6)
    model = EncoderDecoder(arch, **{**options, **kwargs})
    model.ensure_built()  # weights made eagerly, before any compiled function reads them
    return model


def compiled(function):
    """``function`` under ``jax.jit`` on JAX: one compile instead of one per eager op and scan (3x faster here)."""
    if keras.backend.backend() != "jax":
        return function
    import jax

    return jax.jit(function)


def batch(seed=0, rows=3, source_steps=6, target_steps=5):
    """Sources ``[w.., EOS, 0..]`` of several lengths and targets ``[BOS, w.., EOS, 0..]`` (teacher-forcing input)."""
    rng = np.random.default_rng(seed)
    source = np.zeros((rows, source_steps), "int32")
    target = np.zeros((rows, target_steps), "int32")
    for row in range(rows):
        n = source_steps - 1 - row % 3
        source[row, :n] = rng.integers(4, SOURCE_VOCAB, n)
        source[row, n] = 3
        m = target_steps - 1 - row % 2
        target[row, 0] = 2
        target[row, 1:m] = rng.integers(4, TARGET_VOCAB, m - 1)
        target[row, m] = 3
    return source, target


def numpy(x):
    return ops.convert_to_numpy(x)


def teacher_forced_and_stepwise(model, source, target_in):
    """The teacher-forced logits, and the logits and alignments of decode_step run step by step."""

    @compiled
    def run(source, target_in):
        memory, memory_mask, states = model.encode(source)
        logits, alignments = [], []
        for t in range(target_in.shape[1]):
            step_logits, states, alignment = model.decode_step(target_in[:, t], states, memory, memory_mask)
            logits.append(step_logits)
            alignments.append(alignment)
        return model([source, target_in]), logits, alignments

    logits, stepwise, alignments = run(source, target_in)
    alignments = None if alignments[0] is None else np.stack([numpy(a) for a in alignments], axis=1)
    return numpy(logits), np.stack([numpy(x) for x in stepwise], axis=1), alignments


CASES = [
    dict(arch="gru", layers=2, attention="none"),
    dict(arch="bilstm", layers=2, attention="none"),
    dict(arch="lstm", layers=2, attention="luong"),
    dict(arch="bigru", layers=2, attention="bahdanau"),
    dict(arch="min-gru", layers=1, attention="luong", attention_score="dot"),
]
# The model is keras.ops throughout: the cases that add no backend-specific path (a second bidirectional
# encoder without attention, the min-gru scan) run on TensorFlow only, to keep JAX's compile time in budget.
TENSORFLOW_ONLY = (1, 4)
CASES = [
    pytest.param(
        case, marks=pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="covered on tensorflow")
    )
    if index in TENSORFLOW_ONLY
    else case
    for index, case in enumerate(CASES)
]


@pytest.mark.parametrize(
    "case", CASES, ids=["gru-2-none", "bilstm-2-none", "lstm-2-luong", "bigru-2-bahdanau", "min-gru-dot"]
)
def test_decode_step_equals_teacher_forcing(case):
    model = small_model(**case)
    source, target = batch()
    logits, stepwise, alignment = teacher_forced_and_stepwise(model, source, target)
    assert logits.shape == (3, 5, TARGET_VOCAB)
    real = target != 0  # steps after a target's padding begin are masked in the teacher-forced call
    np.testing.assert_allclose(stepwise[real], logits[real], atol=1e-5)
    if case["attention"] == "none":
        assert alignment is None
    else:
        assert alignment.shape == (3, 5, 6)
        np.testing.assert_allclose(alignment.sum(axis=-1), 1.0, atol=1e-5)
        np.testing.assert_array_equal(alignment[source[:, None, :].repeat(5, 1) == 0], 0.0)


def test_encode_shapes_and_bridge():
    model = small_model("bilstm", layers=2, attention="luong")
    source, _ = batch()
    memory, memory_mask, states = compiled(model.encode)(source)
    assert tuple(memory.shape) == (3, 6, 16)  # both directions
    np.testing.assert_array_equal(numpy(memory_mask), (source != 0).astype("float32"))
    # 2 layers x [h, c], then the attentional vector and the alignment
    assert [tuple(s.shape) for s in states] == [(3, 8)] * 5 + [(3, 6)]
    assert len(model.bridge) == 4
    one_way = small_model("lstm", layers=2)
    assert one_way.bridge == []


def test_padded_source_steps_do_not_change_the_result():
    model = small_model("bigru", attention="luong")
    source, target = batch(seed=1)
    longer = np.concatenate([source, np.zeros((3, 4), "int32")], axis=1)
    changed = source.copy()
    changed[0, -1] = 5  # a real token where there was padding: the result must change
    call = compiled(lambda source, target: model([source, target]))
    logits = numpy(call(source, target))
    np.testing.assert_allclose(numpy(call(longer, target)), logits, atol=1e-5)
    assert not np.allclose(numpy(call(changed, target))[0], logits[0], atol=1e-5)


@pytest.mark.parametrize(
    "options",
    [
        dict(arch="bigru", attention="luong", tied_output=True, dropout=0.1, layers=2),
        dict(
            arch="lstm",
            attention="bahdanau",
            attention_score="normalized",
            init="pytorch",
            tied_output=True,
            embedding_dim=8,
        ),
    ],
    ids=["bigru-luong-tied-projected", "lstm-bahdanau-pytorch-tied"],
)
def test_config_and_keras_round_trip(options, tmp_path):
    model = small_model(**options)
    source, target = batch()
    logits = numpy(compiled(lambda source, target: model([source, target]))(source, target))
    config = model.get_config()
    assert config["arch"] == options["arch"] and config["attention"] == options["attention"]
    rebuilt = EncoderDecoder.from_config(config)
    assert rebuilt.get_config() == config
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, EncoderDecoder)
    np.testing.assert_allclose(numpy(compiled(lambda s, t: loaded([s, t]))(source, target)), logits, atol=1e-6)
    # The tied output reads the target embedding: no output kernel of its own.
    assert (model.tied_projection is not None) == bool(
        options.get("tied_output") and model.units != model.embedding_dim
    )


def test_shared_embeddings_and_pretrained_vectors():
    vectors = np.random.default_rng(0).normal(size=(SOURCE_VOCAB, 6)).astype("float32")
    model = EncoderDecoder(
        "gru",
        source_vocab_size=SOURCE_VOCAB,
        target_vocab_size=SOURCE_VOCAB,
        units=8,
        embedding_dim=6,
        shared_embeddings=True,
        source_embeddings=vectors,
    )
    assert model.target_embedding is model.source_embedding
    model.ensure_built()
    np.testing.assert_array_equal(numpy(model.source_embedding.embeddings), vectors)
    source, target = batch()
    target = np.minimum(target, SOURCE_VOCAB - 1)
    assert compiled(lambda s, t: model([s, t]))(source, target).shape == (3, 5, SOURCE_VOCAB)
    with pytest.raises(ValueError, match=r"shape \(13, 6\)"):
        small_model(target_embeddings=vectors)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(arch="tcn"), "tcn cannot be an encoder-decoder"),
        (dict(arch="conv-lstm"), "conv-lstm cannot be an encoder-decoder"),
        (dict(arch="nope"), "unknown architecture"),
        (dict(attention="luong", attention_score="additive"), "unknown luong attention score"),
        (dict(attention="global"), "unknown attention"),
        (dict(arch="bigru", attention="luong", attention_score="dot"), "twice as wide"),
        (dict(shared_embeddings=True), "one vocabulary"),
        (dict(source_vocab_size=2), "source_vocab_size must be an integer >= 4"),
    ],
)
def test_refuses_what_cannot_be_built(arguments, message):
    with pytest.raises(ValueError, match=message):
        small_model(**arguments)


@pytest.mark.parametrize("attention", ["none", "luong"])
def test_encoder_and_step_models_for_export(attention):
    model = small_model("bigru", layers=2, attention=attention)
    encoder, step = model.encoder_model(), model.step_model()
    source, target = batch()

    @compiled
    def run(source, tokens):
        memory, memory_mask, states = model.encode(source)
        direct = [memory, memory_mask, *model.decode_step(tokens, states, memory, memory_mask)]
        encoded = encoder(source)
        memory_inputs = [] if attention == "none" else [encoded[0], encoded[1]]
        return direct, encoded, step([tokens, *encoded[2:], *memory_inputs])

    (memory, memory_mask, logits, new_states, alignment), encoded, stepped = run(
        ops.convert_to_tensor(source), ops.convert_to_tensor(target[:, 0])
    )
    np.testing.assert_allclose(numpy(encoded[0]), numpy(memory), atol=1e-6)
    np.testing.assert_allclose(numpy(encoded[1]), numpy(memory_mask))
    assert len(encoded) == 2 + len(new_states)
    assert len(stepped) == 1 + len(new_states) + (attention != "none")
    np.testing.assert_allclose(numpy(stepped[0]), numpy(logits), atol=1e-5)
    for got, expected in zip(stepped[1 : 1 + len(new_states)], new_states):
        np.testing.assert_allclose(numpy(got), numpy(expected), atol=1e-5)
    if attention != "none":
        np.testing.assert_allclose(numpy(stepped[-1]), numpy(alignment), atol=1e-6)
