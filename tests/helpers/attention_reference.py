"""Float64 NumPy references of the attention layers and of the attention cell's recurrence.

Written from the papers' equations (Luong et al. 2015 eq. 5, 7-8; Bahdanau et
al. 2015 A.1.2; tfa's weight-normalized Bahdanau score, Salimans & Kingma
2016) and from Keras' documented LSTMCell / GRUCell equations, apart from
kerasrnn's code: nothing here imports kerasrnn or Keras. The weights come in
as a dict of NumPy arrays named after the paper:

* Luong: ``W_a`` ``(Dv, Dq)`` (general), ``g`` scalar (scaled);
* Bahdanau: ``W_1`` ``(Dv, units)``, ``W_2`` ``(Dq, units)``, ``v`` ``(units,)``,
  and with ``normalize`` ``g`` scalar, ``b`` ``(units,)``;
* the cell: ``W_c`` ``((Dq + Dv), A)`` or absent (a_t = c_t), and the inner
  cell's Keras weights ``kernel``, ``recurrent_kernel``, ``bias``.
"""

import numpy as np


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def sigmoid(v):
    return 0.5 * (1.0 + np.tanh(0.5 * v))


# -- attention -------------------------------------------------------------------


def scores(form, query, memory, w):
    """score(q, m_s) for one query per row: query (B, Dq), memory (B, S, Dv) -> (B, S)."""
    q, m = _f64(query), _f64(memory)
    if form == "dot":
        return np.einsum("bd,bsd->bs", q, m)
    if form == "scaled":
        return float(w["g"]) * np.einsum("bd,bsd->bs", q, m)
    if form == "general":  # q^T W_a m_s
        return np.einsum("bd,bsd->bs", q, m @ _f64(w["W_a"]))
    if form in ("bahdanau", "bahdanau_normalized"):
        keys = m @ _f64(w["W_1"])  # (B, S, units)
        processed = (q @ _f64(w["W_2"]))[:, None, :]  # (B, 1, units)
        v = _f64(w["v"])
        if form == "bahdanau":
            return np.tanh(keys + processed) @ v
        normed_v = float(w["g"]) * v / np.sqrt(np.sum(v**2))
        return np.tanh(keys + processed + _f64(w["b"])) @ normed_v
    raise ValueError(form)


def masked_softmax(s, mask):
    """Softmax over the real steps of each row; exactly 0 on masked ones. s (B, S), mask (B, S) bool."""
    mask = np.ones(s.shape, bool) if mask is None else np.asarray(mask, bool)
    shifted = np.where(mask, s, -np.inf)
    shifted = shifted - shifted.max(axis=-1, keepdims=True)
    e = np.where(mask, np.exp(shifted), 0.0)
    return e / e.sum(axis=-1, keepdims=True)


def attention(form, query, memory, w, mask=None):
    """(context, weights): query (B, Dq) -> (B, Dv), (B, S); query (B, T, Dq) -> (B, T, Dv), (B, T, S)."""
    query, memory = _f64(query), _f64(memory)
    if query.ndim == 3:
        steps = [attention(form, query[:, t], memory, w, mask) for t in range(query.shape[1])]
        return np.stack([c for c, _ in steps], 1), np.stack([a for _, a in steps], 1)
    alpha = masked_softmax(scores(form, query, memory, w), mask)
    return np.einsum("bs,bsd->bd", alpha, memory), alpha


# -- inner cells (Keras' equations) --------------------------------------------------


def lstm_step(x, states, w):
    """keras.layers.LSTMCell: gates [i, f, c, o] in kernel / recurrent_kernel / bias, states [h, c]."""
    h, c = states
    z = x @ _f64(w["kernel"]) + h @ _f64(w["recurrent_kernel"]) + _f64(w["bias"])
    i, f, g, o = np.split(z, 4, axis=-1)
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    h = sigmoid(o) * np.tanh(c)
    return h, [h, c]


def gru_step(x, states, w):
    """keras.layers.GRUCell(reset_after=True): gates [z, r, h], bias (2, 3u) = [input, recurrent]."""
    (h,) = states
    b_in, b_rec = _f64(w["bias"])
    xz, xr, xh = np.split(x @ _f64(w["kernel"]) + b_in, 3, axis=-1)
    hz, hr, hh = np.split(h @ _f64(w["recurrent_kernel"]) + b_rec, 3, axis=-1)
    z = sigmoid(xz + hz)
    r = sigmoid(xr + hr)
    candidate = np.tanh(xh + r * hh)
    h = z * h + (1.0 - z) * candidate
    return h, [h]


INNER_STEPS = {"lstm": lstm_step, "gru": gru_step}


# -- the attention cell ----------------------------------------------------------------


def run_attention_cell(
    inner,
    form,
    x,
    inner_states,
    memory,
    w,
    memory_mask=None,
    step_mask=None,
    input_feeding=True,
    attention_size=None,
    activation=None,
):
    """The wrapper's recurrence unrolled by hand, as keras.layers.RNN(return_sequences, return_state) returns it.

    Per step (Luong et al. 2015, tfa's AttentionWrapper order):
    x'_t = [x_t; a_{t-1}] (input feeding), o_t, s_t = cell(x'_t, s_{t-1}),
    c_t, alpha_t = attention(o_t, memory), a_t = g([o_t; c_t] W_c) with g the
    identity (tfa's AttentionWrapper) or tanh (Luong eq. 5) (a_t = c_t
    without W_c), output a_t. A masked step (step_mask False) keeps every state
    and outputs zeros (keras.layers.RNN(zero_output_for_mask=True)).

    Returns ``(outputs (B, T, A), final states [*inner, a, alpha])``.
    """
    step = INNER_STEPS[inner]
    x, memory = _f64(x), _f64(memory)
    batch, steps = x.shape[:2]
    states = [_f64(s) for s in inner_states]
    width = memory.shape[-1] if attention_size == 0 else w["W_c"].shape[1]
    a = np.zeros((batch, width))
    alpha = np.zeros(memory.shape[:2])
    outputs = []
    for t in range(steps):
        x_t = np.concatenate([x[:, t], a], -1) if input_feeding else x[:, t]
        o, new_states = step(x_t, states, w)
        c, new_alpha = attention(form, o, memory, w, memory_mask)
        g = np.tanh if activation == "tanh" else (lambda v: v)
        new_a = c if attention_size == 0 else g(np.concatenate([o, c], -1) @ _f64(w["W_c"]))
        keep = np.ones((batch, 1), bool) if step_mask is None else np.asarray(step_mask)[:, t : t + 1]
        states = [np.where(keep, n, s) for n, s in zip(new_states, states)]
        a = np.where(keep, new_a, a)
        alpha = np.where(keep, new_alpha, alpha)
        outputs.append(np.where(keep, new_a, 0.0))
    return np.stack(outputs, 1), [*states, a, alpha]
