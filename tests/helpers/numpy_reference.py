"""Float64 NumPy references of kerasrnn's cells, written from their specifications.

Each function implements the equations as the papers / tensorflow-addons state
them (copied in the docstrings below) and takes the weights as a dict of named
NumPy arrays, sliced here per the documented fused layouts. Nothing here calls
or mirrors kerasrnn's cell code; :func:`named_weights` is the only function that
touches a Keras object, and only to read the variables by name.

Every ``run_*`` function takes ``x`` of shape ``(batch, time, ...)`` and returns
``(outputs, states)`` like ``keras.layers.RNN(return_sequences=True,
return_state=True)``: ``outputs`` in processing order (reversed time when
``go_backwards``, as Keras returns it), ``states`` the final states.
"""

import itertools

import numpy as np

# -- helpers -------------------------------------------------------------------

# {label: max relative error seen}; filled by the tests through record_error and
# printed in pytest's terminal summary (see conftest.py).
RECORDED_ERRORS = {}


def record_error(label, error):
    """Keeps the largest relative error seen under ``label``; returns ``error``."""
    RECORDED_ERRORS[label] = max(error, RECORDED_ERRORS.get(label, 0.0))
    return error


def named_weights(layer):
    """``{name: float64 array}`` of a recurrent layer's cell weights."""
    import keras

    cell = getattr(layer, "cell", layer)
    weights = {}
    for variable in cell.weights:
        name = variable.name.split("/")[-1]
        assert name not in weights, f"duplicate weight name {name!r}"
        weights[name] = np.asarray(keras.ops.convert_to_numpy(variable), dtype=np.float64)
    return weights


def relative_error(actual, expected):
    """``max|a - b| / max(max|b|, 1e-3)``: the max-abs error relative to the scale of b."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    if actual.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(expected))), 1e-3)
    return float(np.max(np.abs(actual - expected))) / scale


def sigmoid(v):
    """The logistic function, written overflow-free."""
    return 0.5 * (1.0 + np.tanh(0.5 * v))


def layer_norm(v, gamma, beta, eps):
    """gamma * (v - mean) / sqrt(var + eps) + beta over the last axis (biased var)."""
    mean = v.mean(axis=-1, keepdims=True)
    var = ((v - mean) ** 2).mean(axis=-1, keepdims=True)
    return gamma * (v - mean) / np.sqrt(var + eps) + beta


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def _scan(step, x, states, go_backwards):
    """Runs ``step(x_t, states) -> (output, states)`` over axis 1 of ``x``."""
    x = _f64(x)
    states = [_f64(s) for s in states]
    steps = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    outputs = []
    for t in steps:
        out, states = step(x[:, t], states)
        outputs.append(out)
    return np.stack(outputs, axis=1), states


def _zeros_states(batch, shape, count):
    return [np.zeros((batch,) + tuple(shape)) for _ in range(count)]


# -- Peephole LSTM -------------------------------------------------------------------


def run_peephole_lstm(x, w, initial_state=None, go_backwards=False):
    """Peephole LSTM (Gers & Schmidhuber 2000; Sak et al. 2014; tensorflow-addons).

    i = σ(W_i x + U_i h + p_i⊙c_{t−1} + b_i)
    f = σ(W_f x + U_f h + p_f⊙c_{t−1} + b_f)
    c_t = f⊙c_{t−1} + i⊙tanh(W_c x + U_c h + b_c)
    o = σ(W_o x + U_o h + p_o⊙c_t + b_o)
    h = o⊙tanh(c_t)

    Layout: kernel (d, 4u) [i, f, c, o]; recurrent_kernel (u, 4u); bias (4u);
    input_gate_peephole / forget_gate_peephole / output_gate_peephole (u,).
    """
    W_i, W_f, W_c, W_o = np.split(w["kernel"], 4, axis=1)
    U_i, U_f, U_c, U_o = np.split(w["recurrent_kernel"], 4, axis=1)
    b_i, b_f, b_c, b_o = np.split(w["bias"], 4)
    p_i, p_f, p_o = w["input_gate_peephole"], w["forget_gate_peephole"], w["output_gate_peephole"]
    units = U_i.shape[0]

    def step(x_t, states):
        h, c = states
        i = sigmoid(x_t @ W_i + h @ U_i + p_i * c + b_i)
        f = sigmoid(x_t @ W_f + h @ U_f + p_f * c + b_f)
        c_new = f * c + i * np.tanh(x_t @ W_c + h @ U_c + b_c)
        o = sigmoid(x_t @ W_o + h @ U_o + p_o * c_new + b_o)
        h_new = o * np.tanh(c_new)
        return h_new, [h_new, c_new]

    if initial_state is None:
        initial_state = _zeros_states(x.shape[0], (units,), 2)
    return _scan(step, x, initial_state, go_backwards)


# -- Layer-normalized LSTM -----------------------------------------------------------


def run_layer_norm_lstm(x, w, eps=1e-3, initial_state=None, go_backwards=False):
    """tensorflow-addons' LayerNormLSTMCell.

    z = LN_x(x W) + LN_h(h U) + b   (each LN jointly over all 4u features)
    i, f, c~, o = split(z)  [gate order i, f, c, o]
    c_t = LN_c(σ(f)⊙c_{t−1} + σ(i)⊙tanh(c~))   (the normalized c is carried)
    h_t = σ(o)⊙tanh(c_t)
    LN(v) = γ⊙(v − mean)/sqrt(var + eps) + β, biased variance.
    """
    W, U, b = w["kernel"], w["recurrent_kernel"], w["bias"]
    units = U.shape[0]

    def step(x_t, states):
        h, c = states
        z = (
            layer_norm(x_t @ W, w["kernel_norm_gamma"], w["kernel_norm_beta"], eps)
            + layer_norm(h @ U, w["recurrent_norm_gamma"], w["recurrent_norm_beta"], eps)
            + b
        )
        z_i, z_f, z_c, z_o = np.split(z, 4, axis=-1)
        c_new = sigmoid(z_f) * c + sigmoid(z_i) * np.tanh(z_c)
        c_new = layer_norm(c_new, w["state_norm_gamma"], w["state_norm_beta"], eps)
        h_new = sigmoid(z_o) * np.tanh(c_new)
        return h_new, [h_new, c_new]

    if initial_state is None:
        initial_state = _zeros_states(x.shape[0], (units,), 2)
    return _scan(step, x, initial_state, go_backwards)


# -- MUT1 / MUT2 / MUT3 (Jozefowicz, Zaremba & Sutskever 2015) -----------------------


def _bare_input(x_t, w):
    """The weight-free ``x`` of MUT1/MUT2, or ``x @ input_projection`` when projected."""
    if "input_projection" in w:
        return x_t @ w["input_projection"]
    return x_t


def run_mut1(x, w, initial_state=None, go_backwards=False):
    """MUT1.

    z = σ(W_xz x + b_z)
    r = σ(W_xr x + W_hr h + b_r)
    h' = tanh(W_hh (r⊙h) + tanh(x) + b_h)⊙z + h⊙(1 − z)
    (tanh(x) -> tanh(x P) with P = input_projection when present)

    Layout: kernel (d, 2u) [W_xz, W_xr]; recurrent_kernel (u, 2u) [W_hr, W_hh];
    bias (3u) [b_z, b_r, b_h].
    """
    W_xz, W_xr = np.split(w["kernel"], 2, axis=1)
    W_hr, W_hh = np.split(w["recurrent_kernel"], 2, axis=1)
    b_z, b_r, b_h = np.split(w["bias"], 3)
    units = W_hr.shape[0]

    def step(x_t, states):
        (h,) = states
        z = sigmoid(x_t @ W_xz + b_z)
        r = sigmoid(x_t @ W_xr + h @ W_hr + b_r)
        h_new = np.tanh((r * h) @ W_hh + np.tanh(_bare_input(x_t, w)) + b_h) * z + h * (1 - z)
        return h_new, [h_new]

    if initial_state is None:
        initial_state = _zeros_states(x.shape[0], (units,), 1)
    return _scan(step, x, initial_state, go_backwards)


def run_mut2(x, w, initial_state=None, go_backwards=False):
    """MUT2.

    z = σ(W_xz x + W_hz h + b_z)
    r = σ(x + W_hr h + b_r)           (x -> x P when projected)
    h' = tanh(W_hh (r⊙h) + W_xh x + b_h)⊙z + h⊙(1 − z)

    Layout: kernel (d, 2u) [W_xz, W_xh]; recurrent_kernel (u, 3u)
    [W_hz, W_hr, W_hh]; bias (3u) [b_z, b_r, b_h].
    """
    W_xz, W_xh = np.split(w["kernel"], 2, axis=1)
    W_hz, W_hr, W_hh = np.split(w["recurrent_kernel"], 3, axis=1)
    b_z, b_r, b_h = np.split(w["bias"], 3)
    units = W_hz.shape[0]

    def step(x_t, states):
        (h,) = states
        z = sigmoid(x_t @ W_xz + h @ W_hz + b_z)
        r = sigmoid(_bare_input(x_t, w) + h @ W_hr + b_r)
        h_new = np.tanh((r * h) @ W_hh + x_t @ W_xh + b_h) * z + h * (1 - z)
        return h_new, [h_new]

    if initial_state is None:
        initial_state = _zeros_states(x.shape[0], (units,), 1)
    return _scan(step, x, initial_state, go_backwards)


def run_mut3(x, w, initial_state=None, go_backwards=False):
    """MUT3.

    z = σ(W_xz x + W_hz tanh(h) + b_z)
    r = σ(W_xr x + W_hr h + b_r)
    h' = tanh(W_hh (r⊙h) + W_xh x + b_h)⊙z + h⊙(1 − z)

    Layout: kernel (d, 3u) [z, r, h]; recurrent_kernel (u, 3u) [z, r, h];
    bias (3u) [z, r, h].
    """
    W_xz, W_xr, W_xh = np.split(w["kernel"], 3, axis=1)
    W_hz, W_hr, W_hh = np.split(w["recurrent_kernel"], 3, axis=1)
    b_z, b_r, b_h = np.split(w["bias"], 3)
    units = W_hz.shape[0]

    def step(x_t, states):
        (h,) = states
        z = sigmoid(x_t @ W_xz + np.tanh(h) @ W_hz + b_z)
        r = sigmoid(x_t @ W_xr + h @ W_hr + b_r)
        h_new = np.tanh((r * h) @ W_hh + x_t @ W_xh + b_h) * z + h * (1 - z)
        return h_new, [h_new]

    if initial_state is None:
        initial_state = _zeros_states(x.shape[0], (units,), 1)
    return _scan(step, x, initial_state, go_backwards)


# -- IndRNN (Li et al. 2018), MGU (Zhou et al. 2016), NAS (Zoph & Le 2017) ----------


def run_ind_rnn(x, w, activation="relu", initial_state=None, go_backwards=False):
    """IndRNN.

    h' = act(W x + u⊙h + b)   (u a vector; act relu by default)

    Layout: kernel (d, u) W; recurrent_kernel (u,) u; bias (u) b.
    """
    act = {"relu": lambda v: np.maximum(v, 0.0), "tanh": np.tanh}[activation]
    W, u_vec, b = w["kernel"], w["recurrent_kernel"], w["bias"]
    units = u_vec.shape[0]

    def step(x_t, states):
        (h,) = states
        h_new = act(x_t @ W + u_vec * h + b)
        return h_new, [h_new]

    if initial_state is None:
        initial_state = _zeros_states(x.shape[0], (units,), 1)
    return _scan(step, x, initial_state, go_backwards)


def run_mgu(x, w, initial_state=None, go_backwards=False):
    """MGU.

    f = σ(W_f x + U_f h + b_f)
    h~ = tanh(W_h x + U_h (f⊙h) + b_h)
    h' = (1 − f)⊙h + f⊙h~

    Layout: kernel (d, 2u) [W_f, W_h]; recurrent_kernel (u, 2u) [U_f, U_h];
    bias (2u) [b_f, b_h].
    """
    W_f, W_h = np.split(w["kernel"], 2, axis=1)
    U_f, U_h = np.split(w["recurrent_kernel"], 2, axis=1)
    b_f, b_h = np.split(w["bias"], 2)
    units = U_f.shape[0]

    def step(x_t, states):
        (h,) = states
        f = sigmoid(x_t @ W_f + h @ U_f + b_f)
        candidate = np.tanh(x_t @ W_h + (f * h) @ U_h + b_h)
        h_new = (1.0 - f) * h + f * candidate
        return h_new, [h_new]

    if initial_state is None:
        initial_state = _zeros_states(x.shape[0], (units,), 1)
    return _scan(step, x, initial_state, go_backwards)


def run_nas(x, w, initial_state=None, go_backwards=False):
    """tensorflow-addons' NASCell (Zoph & Le 2017), its state reordered to (h, c).

    a = x W; m = h R (+ b), each split in 8 parts
    l0 = σ(a0 + m0)  l1 = relu(a1 + m1)  l2 = σ(a2 + m2)  l3 = relu(a3 · m3)
    l4 = tanh(a4 + m4)  l5 = σ(a5 + m5)  l6 = tanh(a6 + m6)  l7 = σ(a7 + m7)
    k0 = tanh(tanh(l0 l1) + c)  k1 = tanh(l2 + l3)  k2 = tanh(l4 l5)  k3 = σ(l6 + l7)
    c' = k0 k1;  h' = tanh(c' tanh(k2 + k3)) [@ P]

    Layout: kernel (d, 8u); recurrent_kernel (p or u, 8u); bias (8u) if present;
    projection_weights (u, p) if present.
    """
    W, R = w["kernel"], w["recurrent_kernel"]
    b = w.get("bias", 0.0)
    P = w.get("projection_weights")
    units = W.shape[1] // 8
    out = units if P is None else P.shape[1]
    relu = lambda v: np.maximum(v, 0.0)  # noqa: E731

    def step(x_t, states):
        h, c = states
        a = np.split(x_t @ W, 8, axis=-1)
        m = np.split(h @ R + b, 8, axis=-1)
        l0, l1, l2 = sigmoid(a[0] + m[0]), relu(a[1] + m[1]), sigmoid(a[2] + m[2])
        l3, l4, l5 = relu(a[3] * m[3]), np.tanh(a[4] + m[4]), sigmoid(a[5] + m[5])
        l6, l7 = np.tanh(a[6] + m[6]), sigmoid(a[7] + m[7])
        k0 = np.tanh(np.tanh(l0 * l1) + c)
        k1, k2, k3 = np.tanh(l2 + l3), np.tanh(l4 * l5), sigmoid(l6 + l7)
        c_new = k0 * k1
        h_new = np.tanh(c_new * np.tanh(k2 + k3))
        if P is not None:
            h_new = h_new @ P
        return h_new, [h_new, c_new]

    if initial_state is None:
        batch = x.shape[0]
        initial_state = [np.zeros((batch, out)), np.zeros((batch, units))]
    return _scan(step, x, initial_state, go_backwards)


# -- Layer-normalized simple RNN and GRU (Ba et al. 2016), echo state network (Jaeger 2001)


def run_layer_norm_simple_rnn(x, w, eps=1e-5, activation=np.tanh, initial_state=None, go_backwards=False):
    """tensorflow-addons' LayerNormSimpleRNNCell.

    y_t = f(ln(x_t W_xh + y_{t−1} W_hh) + b), ln = LayerNormalization(center=False,
    scale=True): γ⊙(v − mean)/sqrt(var + eps), biased variance; the bias added after it.

    Layout: kernel (d, u); recurrent_kernel (u, u); bias (u); gamma (u).
    """
    W, U, gamma = w["kernel"], w["recurrent_kernel"], w["gamma"]
    b = w.get("bias", 0.0)
    units = U.shape[0]

    def step(x_t, states):
        (h,) = states
        net = x_t @ W + h @ U
        mean = net.mean(axis=-1, keepdims=True)
        var = ((net - mean) ** 2).mean(axis=-1, keepdims=True)
        h_new = activation(gamma * (net - mean) / np.sqrt(var + eps) + b)
        return h_new, [h_new]

    if initial_state is None:
        initial_state = _zeros_states(x.shape[0], (units,), 1)
    return _scan(step, x, initial_state, go_backwards)


def run_layer_norm_gru(x, w, eps=1e-3, initial_state=None, go_backwards=False):
    """Layer-normalized GRU, reset-after form (Ba et al. 2016's LN-GRU, ryankiros/layer-norm).

    [a_z, a_r] = LN(x [W_z W_r]) + LN(h [U_z U_r]) + [b_z b_r]   (each LN over the 2u gate features)
    z = σ(a_z), r = σ(a_r)
    h~ = tanh(LN(x W_h) + r⊙LN(h U_h) + b_h)                      (each LN over the u features)
    h' = z⊙h + (1 − z)⊙h~

    Layout: kernel (d, 3u) [z, r, h]; recurrent_kernel (u, 3u) [z, r, h]; bias (3u);
    kernel_norm_gamma/beta, recurrent_norm_gamma/beta (3u): [:2u] the gates' LN, [2u:] the candidate's.
    """
    W_z, W_r, W_h = np.split(w["kernel"], 3, axis=1)
    U_z, U_r, U_h = np.split(w["recurrent_kernel"], 3, axis=1)
    b_z, b_r, b_h = np.split(w["bias"], 3)
    units = U_z.shape[0]
    gx, bx = w["kernel_norm_gamma"], w["kernel_norm_beta"]
    gh, bh = w["recurrent_norm_gamma"], w["recurrent_norm_beta"]
    g, c = slice(0, 2 * units), slice(2 * units, 3 * units)

    def step(x_t, states):
        (h,) = states
        a = (
            layer_norm(np.concatenate([x_t @ W_z, x_t @ W_r], axis=-1), gx[g], bx[g], eps)
            + layer_norm(np.concatenate([h @ U_z, h @ U_r], axis=-1), gh[g], bh[g], eps)
            + np.concatenate([b_z, b_r])
        )
        z, r = sigmoid(a[:, :units]), sigmoid(a[:, units:])
        candidate = np.tanh(layer_norm(x_t @ W_h, gx[c], bx[c], eps) + r * layer_norm(h @ U_h, gh[c], bh[c], eps) + b_h)
        h_new = z * h + (1 - z) * candidate
        return h_new, [h_new]

    if initial_state is None:
        initial_state = _zeros_states(x.shape[0], (units,), 1)
    return _scan(step, x, initial_state, go_backwards)


def run_esn(x, w, leaky=1.0, activation=np.tanh, initial_state=None, go_backwards=False):
    """tensorflow-addons' ESNCell: h' = (1 − α) h + α f(x W_in + h W + b), α = leaky.

    Layout: kernel (d, u) = W_in; recurrent_kernel (u, u) = W; bias (u).
    """
    W_in, W = w["kernel"], w["recurrent_kernel"]
    b = w.get("bias", 0.0)
    units = W.shape[0]

    def step(x_t, states):
        (h,) = states
        h_new = (1 - leaky) * h + leaky * activation(x_t @ W_in + h @ W + b)
        return h_new, [h_new]

    if initial_state is None:
        initial_state = _zeros_states(x.shape[0], (units,), 1)
    return _scan(step, x, initial_state, go_backwards)


# -- Convolution and ConvLSTM (Shi et al. 2015) -------------------------------------


def _pair(value, rank):
    return (value,) * rank if isinstance(value, int) else tuple(value)


def conv_output_size(n, k, stride, padding, dilation):
    """Output length of one spatial axis."""
    span = dilation * (k - 1) + 1
    if padding == "same":
        return -(-n // stride)
    return (n - span) // stride + 1


def conv_nd(x, kernel, strides=1, padding="valid", dilation=1):
    """N-D cross-correlation, channels_last, as deep-learning 'conv' layers compute it.

    x: (batch, *spatial, c_in); kernel: k + (c_in, c_out). 'same' padding pads
    ``total = max((out - 1) * s + span - n, 0)`` per axis, ``total // 2`` before
    (= (k - 1) // 2 at stride 1) and the rest after, as TF / Keras do.
    """
    x = _f64(x)
    kernel = _f64(kernel)
    rank = x.ndim - 2
    ks = kernel.shape[:rank]
    strides = _pair(strides, rank)
    dilation = _pair(dilation, rank)
    out_sizes, pads = [], [(0, 0)]
    for n, k, s, d in zip(x.shape[1:-1], ks, strides, dilation):
        out = conv_output_size(n, k, s, padding, d)
        total = max((out - 1) * s + d * (k - 1) + 1 - n, 0) if padding == "same" else 0
        out_sizes.append(out)
        pads.append((total // 2, total - total // 2))
    pads.append((0, 0))
    xp = np.pad(x, pads)
    y = np.zeros((x.shape[0], *out_sizes, kernel.shape[-1]))
    for offset in itertools.product(*(range(k) for k in ks)):
        window = (slice(None),) + tuple(
            slice(o * d, o * d + (out - 1) * s + 1, s) for o, d, s, out in zip(offset, dilation, strides, out_sizes)
        )
        y += np.tensordot(xp[window], kernel[offset], axes=([-1], [0]))
    return y


def run_conv_lstm(
    x,
    w,
    strides=1,
    padding="valid",
    dilation=1,
    initial_state=None,
    go_backwards=False,
):
    """ConvLSTM, eq. (3) of Shi et al. (2015), channels_last.

    i = σ(W_xi*X + W_hi*H + W_ci⊙C_{t−1} + b_i)
    f = σ(W_xf*X + W_hf*H + W_cf⊙C_{t−1} + b_f)
    C_t = f⊙C_{t−1} + i⊙tanh(W_xc*X + W_hc*H + b_c)
    o = σ(W_xo*X + W_ho*H + W_co⊙C_t + b_o)
    H_t = o⊙tanh(C_t)

    '*' is a cross-correlation: the input one with the layer's strides, padding
    and dilation, the recurrent one with stride 1 and 'same' padding. The
    peephole terms are used when ``w`` has the peephole weights (each of the
    state's shape ``spatial_out + (filters,)``).
    Layout: kernel k + (c_in, 4f) [i, f, c, o]; recurrent_kernel k + (f, 4f);
    bias (4f,).
    """
    W_x = np.split(w["kernel"], 4, axis=-1)
    W_h = np.split(w["recurrent_kernel"], 4, axis=-1)
    b = np.split(w["bias"], 4)
    peephole = "input_gate_peephole" in w
    if peephole:
        p_i, p_f, p_o = w["input_gate_peephole"], w["forget_gate_peephole"], w["output_gate_peephole"]
    else:
        p_i = p_f = p_o = 0.0

    def gate(g, X, H):
        return conv_nd(X, W_x[g], strides, padding, dilation) + conv_nd(H, W_h[g], 1, "same", 1) + b[g]

    def step(X, states):
        H, C = states
        i = sigmoid(gate(0, X, H) + p_i * C)
        f = sigmoid(gate(1, X, H) + p_f * C)
        C_new = f * C + i * np.tanh(gate(2, X, H))
        o = sigmoid(gate(3, X, H) + p_o * C_new)
        H_new = o * np.tanh(C_new)
        return H_new, [H_new, C_new]

    if initial_state is None:
        rank = x.ndim - 3
        ks = w["kernel"].shape[:rank]
        spatial = tuple(
            conv_output_size(n, k, s, padding, d)
            for n, k, s, d in zip(x.shape[2:-1], ks, _pair(strides, rank), _pair(dilation, rank))
        )
        filters = w["recurrent_kernel"].shape[-2]
        initial_state = _zeros_states(x.shape[0], spatial + (filters,), 2)
    return _scan(step, x, initial_state, go_backwards)


# -- test helpers ------------------------------------------------------------------


def randomize_weights(layer, rng, scale=1.0):
    """Sets every weight of ``layer``'s cell to fresh random values.

    Matrices and conv kernels: N(0, (scale / sqrt(fan_in))^2); layer-norm gammas:
    ±U(0.5, 1.5); everything else (biases, betas, peepholes): U(-scale, scale).
    Nothing is left at a trivial value (zero peepholes, unit gammas ...).
    """
    cell = getattr(layer, "cell", layer)
    values = []
    for variable in cell.weights:
        shape = tuple(variable.shape)
        name = variable.name.split("/")[-1]
        if name.endswith("gamma"):
            value = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
        elif "peephole" in name or len(shape) == 1:
            value = rng.uniform(-scale, scale, shape)
        else:
            fan_in = int(np.prod(shape[:-1]))
            value = rng.normal(0.0, scale / np.sqrt(fan_in), shape)
        values.append(value.astype(variable.dtype))
    cell.set_weights(values)


# -- LSTM with a recurrent projection (LSTMP) -------------------------------------------


def run_projected_lstm(x, w, peephole=False, initial_state=None, go_backwards=False):
    """LSTM with a recurrent projection layer (Sak et al. 2014; torch.nn.LSTM's proj_size).

    i = σ(W_i x + U_i h_{t−1} [+ p_i⊙c_{t−1}] + b_i)
    f = σ(W_f x + U_f h_{t−1} [+ p_f⊙c_{t−1}] + b_f)
    c_t = f⊙c_{t−1} + i⊙tanh(W_c x + U_c h_{t−1} + b_c)
    o = σ(W_o x + U_o h_{t−1} [+ p_o⊙c_t] + b_o)
    h_t = (o⊙tanh(c_t)) P          h: (p,), c: (u,)

    Layout: kernel (d, 4u) [i, f, c, o]; recurrent_kernel (p, 4u); bias (4u,);
    projection_kernel (u, p); with ``peephole`` the three (u,) peephole vectors.
    States [h, c].
    """
    W = np.split(w["kernel"], 4, axis=1)
    U = np.split(w["recurrent_kernel"], 4, axis=1)
    b = np.split(w["bias"], 4) if "bias" in w else [0.0] * 4
    P = w["projection_kernel"]
    units, proj = P.shape
    if peephole:
        p_i, p_f, p_o = w["input_gate_peephole"], w["forget_gate_peephole"], w["output_gate_peephole"]
    else:
        p_i = p_f = p_o = np.zeros(units)

    def step(x_t, states):
        h, c = states
        i = sigmoid(x_t @ W[0] + h @ U[0] + p_i * c + b[0])
        f = sigmoid(x_t @ W[1] + h @ U[1] + p_f * c + b[1])
        c_new = f * c + i * np.tanh(x_t @ W[2] + h @ U[2] + b[2])
        o = sigmoid(x_t @ W[3] + h @ U[3] + p_o * c_new + b[3])
        h_new = (o * np.tanh(c_new)) @ P
        return h_new, [h_new, c_new]

    if initial_state is None:
        initial_state = [np.zeros((x.shape[0], proj)), np.zeros((x.shape[0], units))]
    return _scan(step, x, initial_state, go_backwards)


# -- minGRU / minLSTM (Feng et al. 2024) -----------------------------------------------


def min_rnn_g(v):
    """The paper's candidate activation g(v) = v + 0.5 for v >= 0, σ(v) below (positive)."""
    return np.where(v >= 0, v + 0.5, sigmoid(v))


def run_min_gru(x, w, initial_state=None, go_backwards=False, log_space=True):
    """minGRU, "Were RNNs All We Needed?" (arXiv:2410.01201), the sequential mode.

    z = σ(W_z x + b_z)
    h~ = g(W_h x + b_h) in the log-space (default) form, W_h x + b_h otherwise
    h' = (1 − z)⊙h + z⊙h~

    Layout: kernel (d, 2u) [W_z, W_h]; bias (2u) [b_z, b_h].
    """
    W_z, W_h = np.split(w["kernel"], 2, axis=1)
    b_z, b_h = np.split(w["bias"], 2)
    units = W_z.shape[1]

    def step(x_t, states):
        (h,) = states
        z = sigmoid(x_t @ W_z + b_z)
        candidate = x_t @ W_h + b_h
        if log_space:
            candidate = min_rnn_g(candidate)
        h_new = (1.0 - z) * h + z * candidate
        return h_new, [h_new]

    if initial_state is None:
        initial_state = _zeros_states(x.shape[0], (units,), 1)
    return _scan(step, x, initial_state, go_backwards)


def run_min_lstm(x, w, initial_state=None, go_backwards=False, log_space=True):
    """minLSTM, "Were RNNs All We Needed?" (arXiv:2410.01201), the sequential mode.

    f = σ(W_f x + b_f), i = σ(W_i x + b_i)
    f' = f / (f + i), i' = i / (f + i)
    h~ = g(W_h x + b_h) in the log-space (default) form, W_h x + b_h otherwise
    h' = f'⊙h + i'⊙h~

    Layout: kernel (d, 3u) [W_f, W_i, W_h]; bias (3u) [b_f, b_i, b_h].
    """
    W_f, W_i, W_h = np.split(w["kernel"], 3, axis=1)
    b_f, b_i, b_h = np.split(w["bias"], 3)
    units = W_f.shape[1]

    def step(x_t, states):
        (h,) = states
        f = sigmoid(x_t @ W_f + b_f)
        i = sigmoid(x_t @ W_i + b_i)
        candidate = x_t @ W_h + b_h
        if log_space:
            candidate = min_rnn_g(candidate)
        h_new = f / (f + i) * h + i / (f + i) * candidate
        return h_new, [h_new]

    if initial_state is None:
        initial_state = _zeros_states(x.shape[0], (units,), 1)
    return _scan(step, x, initial_state, go_backwards)
