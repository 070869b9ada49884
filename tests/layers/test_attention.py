"""LuongAttention and BahdanauAttention against the float64 NumPy reference (tests/helpers/attention_reference.py)."""

import keras
import numpy as np
import pytest

from kerasrnn.layers import BahdanauAttention, LuongAttention
from tests.helpers import attention_reference as aref
from tests.helpers import numpy_reference as ref

B, T, S, DQ, DV, UNITS = 3, 4, 6, 5, 7, 4
LENGTHS = [6, 4, 1]  # real source steps per row
TOLERANCE = 1e-5
FORMS = ["dot", "general", "scaled", "bahdanau", "bahdanau_normalized"]


def make(form):
    if form.startswith("bahdanau"):
        return BahdanauAttention(UNITS, normalize=form == "bahdanau_normalized")
    return LuongAttention(form)


def value(variable):
    return np.asarray(keras.ops.convert_to_numpy(variable), dtype=np.float64)


def randomize(attention, rng):
    """Fresh random values in every weight (g and b too); returns the reference's weight dict."""
    for variable in attention.weights:
        shape = tuple(variable.shape)
        scale = 1.0 / np.sqrt(shape[0]) if len(shape) == 2 else 1.0
        values = rng.normal(scale=scale, size=shape) if shape else rng.uniform(0.5, 2.0)
        variable.assign(np.asarray(values, dtype="float32"))
    return reference_weights(attention)


def reference_weights(attention):
    if isinstance(attention, LuongAttention):
        w = {}
        if attention.score == "general":
            w["W_a"] = value(attention.memory_layer.kernel)
        if attention.score == "scaled":
            w["g"] = value(attention.score_layer.scale)
        return w
    w = {"W_1": value(attention.memory_layer.kernel), "W_2": value(attention.query_layer.kernel)}
    if attention.normalize:
        w.update(v=value(attention.v), g=value(attention.g), b=value(attention.b))
    else:
        w["v"] = value(attention.score_layer.scale)
    return w


def numpy(t):
    return np.asarray(keras.ops.convert_to_numpy(t), dtype=np.float64)


def compiled(function):
    """``function`` under ``jax.jit`` on JAX (one compile instead of one per eager op and scan), as is elsewhere.

    The layers must be built; their weights enter as constants (nothing is assigned inside).
    """
    if keras.backend.backend() != "jax":
        return function
    import jax

    return jax.jit(function)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    mask = np.arange(S)[None, :] < np.array(LENGTHS)[:, None]
    return {
        "query3": rng.normal(size=(B, T, DQ)).astype("float32"),
        "memory": rng.normal(size=(B, S, DV)).astype("float32"),
        "square": rng.normal(size=(B, S, DQ)).astype("float32"),  # memory as wide as the query (dot, scaled)
        "mask": mask,
        "rng": rng,
    }


@pytest.mark.parametrize("form", FORMS)
def test_matches_reference_with_masks(form, data):
    attention = make(form)
    memory = data["square"] if form in ("dot", "scaled") else data["memory"]
    query3, mask = data["query3"], data["mask"]
    attention(query3, memory, mask=mask)  # builds
    w = randomize(attention, np.random.default_rng([5, len(form)]))

    @compiled
    def run(query3, memory, mask):
        keys = attention.memory_keys(memory)
        results = [attention(q, memory, keys=keys, mask=m) for q in (query3[:, 0], query3) for m in (mask, None)]
        return results, attention(query3, memory, mask=mask)  # keys=None computes the same keys

    results, without_keys = run(query3, memory, mask)
    cases = [(query, m) for query in (query3[:, 0], query3) for m in (mask, None)]  # rank 2 (one step), rank 3
    for (query, m), (context, weights) in zip(cases, results):
        want_context, want_weights = aref.attention(form, query, memory, w, m)
        label = f"attention {form} rank {query.ndim}" + (" masked" if m is not None else "")
        for got, want in ((numpy(context), want_context), (numpy(weights), want_weights)):
            err = ref.record_error(label, ref.relative_error(got, want))
            assert err < TOLERANCE, f"{label}: relative error {err:.2e}"
        weights = numpy(weights)
        np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
        if m is not None:
            padding = np.broadcast_to(~m[:, None, :] if query.ndim == 3 else ~m, weights.shape)
            assert np.all(weights[padding] == 0.0), "masked source steps must get weight exactly 0"
    np.testing.assert_allclose(numpy(without_keys[0]), numpy(results[2][0]), rtol=1e-6)


@pytest.mark.parametrize("form", FORMS)
def test_config_round_trip(form, data):
    attention = make(form)
    memory = data["square"] if form in ("dot", "scaled") else data["memory"]
    attention(data["query3"], memory, mask=data["mask"])
    config = attention.get_config()
    clone = type(attention).from_config(config)
    assert clone.get_config() == config
    clone(data["query3"], memory, mask=data["mask"])
    assert [tuple(v.shape) for v in clone.weights] == [tuple(v.shape) for v in attention.weights]
    clone.set_weights(attention.get_weights())
    for got, want in zip(
        clone(data["query3"], memory, mask=data["mask"]), attention(data["query3"], memory, mask=data["mask"])
    ):
        np.testing.assert_array_equal(numpy(got), numpy(want))


def gradients(attention, query, memory, mask):
    """d sum(context * r) / d (query, memory, every trainable weight) on the active backend."""
    backend = keras.backend.backend()
    r = np.random.default_rng(3).normal(size=(query.shape[0], memory.shape[-1])).astype("float32")
    if backend == "tensorflow":
        import tensorflow as tf

        q, m = tf.constant(query), tf.constant(memory)
        with tf.GradientTape() as tape:
            tape.watch([q, m])
            loss = tf.reduce_sum(attention(q, m, mask=mask)[0] * r)
        grads = tape.gradient(loss, [q, m] + [v.value for v in attention.trainable_variables])
        return [np.asarray(g) for g in grads]
    if backend == "jax":
        import jax

        trainable = [v.value for v in attention.trainable_variables]

        def loss(q, m, train):
            (context, _), _ = attention.stateless_call(train, [], q, m, mask=mask)
            return (context * r).sum()

        gq, gm, gw = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))(query, memory, trainable)
        return [np.asarray(gq), np.asarray(gm)] + [np.asarray(g) for g in gw]
    import torch

    params = [v.value for v in attention.trainable_variables]
    device = params[0].device
    q = torch.tensor(query, device=device, requires_grad=True)
    m = torch.tensor(memory, device=device, requires_grad=True)
    loss = (attention(q, m, mask=torch.tensor(mask, device=device))[0] * torch.tensor(r, device=device)).sum()
    return [g.detach().cpu().numpy() for g in torch.autograd.grad(loss, [q, m] + params)]


@pytest.mark.parametrize("form", ["general", "scaled", "bahdanau", "bahdanau_normalized"])
def test_gradients_flow(form, data):
    """Every weight, the query and the real memory rows get a gradient; padded memory rows get none."""
    attention = make(form)
    memory = data["square"] if form == "scaled" else data["memory"]
    query, mask = data["query3"][:, 0], data["mask"]
    attention(query, memory, mask=mask)
    grad_query, grad_memory, *grad_weights = gradients(attention, query, memory, mask)
    assert len(grad_weights) == len(attention.trainable_variables) > 0
    for g in [grad_query, grad_memory, *grad_weights]:
        assert np.all(np.isfinite(g))
    assert np.abs(grad_query).max() > 0
    for variable, g in zip(attention.trainable_variables, grad_weights):
        assert np.abs(g).max() > 0, f"no gradient reaches {variable.path}"
    assert np.all(grad_memory[~mask] == 0.0), "padded source steps must not receive gradient"
    assert np.all(np.abs(grad_memory[mask]).max(-1) > 0)


@pytest.mark.backend_independent
def test_bad_arguments():
    with pytest.raises(ValueError, match="score"):
        LuongAttention("concat")
    with pytest.raises(ValueError, match="units"):
        BahdanauAttention(0)
    with pytest.raises(ValueError, match="as wide as the memory"):
        LuongAttention("dot")(np.zeros((2, 3), "float32"), np.zeros((2, 4, 5), "float32"))
    with pytest.raises(ValueError, match="query width first"):
        LuongAttention("general").memory_keys(np.zeros((2, 4, 5), "float32"))
