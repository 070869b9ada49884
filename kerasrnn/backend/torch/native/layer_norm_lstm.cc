// One time step of the layer-normalized LSTM, forward and backward, element-wise part.
//
// The recurrent matmul stays in PyTorch (kerasrnn/backend/torch/native_cells.py
// calls mm between these steps). Gate order i, f, c, o; LN(x; gamma, beta) =
// gamma (x - mean) / sqrt(var + eps) + beta over a row, biased variance:
//
//   z = LN(r; gamma_h, beta_h) + p      with r = h_prev U and p = LN_x(x W) + b
//   i, f, o = sigmoid(z_i, z_f, z_o)    g = tanh(z_c)
//   v = f c_prev + i g                  c = LN(v; gamma_c, beta_c)
//   h = o tanh(c)
//
// Forward keeps, per row, the normalized values and rstd of both
// normalizations for the backward pass (layer_norm.h).
#include "activations.h"
#include "layer_norm.h"
#include "parallel.h"

namespace kerasrnn {

template <typename T>
void layer_norm_lstm_forward_step(int64_t batch, int64_t units, T* __restrict__ recurrent, T* __restrict__ rstd_r,
                                  const T* __restrict__ projected, int64_t projected_stride, const T* __restrict__ gamma_h,
                                  const T* __restrict__ beta_h, const T* __restrict__ gamma_c,
                                  const T* __restrict__ beta_c, T epsilon, T* __restrict__ gates,
                                  const T* __restrict__ c_prev, T* __restrict__ v_hat, T* __restrict__ rstd_c,
                                  T* __restrict__ c, T* __restrict__ tanh_c, T* __restrict__ h, int64_t h_stride) {
    // recurrent: in r = h_prev U (batch, 4 units), out its normalized values; gates: out i, f, g, o;
    // v_hat: out the normalized v (batch, units); rstd_r, rstd_c: out (batch,).
    const int64_t n = 4 * units;
    for (int64_t b = 0; b < batch; ++b) {
        T* r = recurrent + b * n;
        const T* p = projected + b * projected_stride;
        T* a = gates + b * n;
        rstd_r[b] = normalize_row(r, n, epsilon);
        for (int64_t j = 0; j < n; ++j) a[j] = gamma_h[j] * r[j] + beta_h[j] + p[j];
        const T* cp = c_prev + b * units;
        T* v = v_hat + b * units;
        for (int64_t j = 0; j < units; ++j) {
            const T i = sigmoid(a[j]);
            const T f = sigmoid(a[units + j]);
            const T g = tanh(a[2 * units + j]);
            a[j] = i;
            a[units + j] = f;
            a[2 * units + j] = g;
            a[3 * units + j] = sigmoid(a[3 * units + j]);
            v[j] = f * cp[j] + i * g;
        }
        rstd_c[b] = normalize_row(v, units, epsilon);
        T* cn = c + b * units;
        T* tc = tanh_c + b * units;
        T* hn = h + b * h_stride;
        for (int64_t j = 0; j < units; ++j) {
            const T c_new = gamma_c[j] * v[j] + beta_c[j];
            const T t = tanh(c_new);
            cn[j] = c_new;
            tc[j] = t;
            hn[j] = a[3 * units + j] * t;
        }
    }
}

template <typename T>
void layer_norm_lstm_backward_step(int64_t batch, int64_t units, const T* __restrict__ recurrent_hat,
                                   const T* __restrict__ rstd_r, const T* __restrict__ gates,
                                   const T* __restrict__ c_prev, const T* __restrict__ v_hat,
                                   const T* __restrict__ rstd_c, const T* __restrict__ tanh_c,
                                   const T* __restrict__ gamma_h, const T* __restrict__ gamma_c,
                                   const T* __restrict__ grad_h, int64_t grad_h_stride,
                                   const T* __restrict__ grad_h_next, T* __restrict__ grad_c, T* __restrict__ grad_z,
                                   int64_t grad_z_stride, T* __restrict__ grad_recurrent, int64_t grad_recurrent_stride,
                                   T* __restrict__ grad_gamma_h, T* __restrict__ grad_beta_h,
                                   T* __restrict__ grad_gamma_c, T* __restrict__ grad_beta_c) {
    // grad_c: in dL/dc from the next step, out dL/dc_prev; grad_z: out dL/dp (the projected input's gradient);
    // grad_recurrent: out dL/dr; the four parameter gradients accumulate.
    const int64_t n = 4 * units;
    std::vector<T> scratch(static_cast<size_t>(2 * units));
    T* __restrict__ dc = scratch.data();
    T* __restrict__ dv = dc + units;
    for (int64_t b = 0; b < batch; ++b) {
        const T* a = gates + b * n;
        const T* cp = c_prev + b * units;
        const T* tc = tanh_c + b * units;
        const T* gh = grad_h + b * grad_h_stride;
        const T* ghn = grad_h_next ? grad_h_next + b * units : nullptr;
        T* gc = grad_c + b * units;
        T* dz = grad_z + b * grad_z_stride;
        for (int64_t j = 0; j < units; ++j) {
            const T o = a[3 * units + j];
            const T dh = ghn ? gh[j] + ghn[j] : gh[j];
            dz[3 * units + j] = dh * tc[j] * o * (T(1) - o);
            dc[j] = gc[j] + dh * o * (T(1) - tc[j] * tc[j]);
        }
        normalize_row_backward(dc, v_hat + b * units, rstd_c[b], gamma_c, units, dv, grad_gamma_c, grad_beta_c);
        for (int64_t j = 0; j < units; ++j) {
            const T i = a[j], f = a[units + j], g = a[2 * units + j];
            dz[j] = dv[j] * g * i * (T(1) - i);
            dz[units + j] = dv[j] * cp[j] * f * (T(1) - f);
            dz[2 * units + j] = dv[j] * i * (T(1) - g * g);
            gc[j] = dv[j] * f;
        }
        normalize_row_backward(dz, recurrent_hat + b * n, rstd_r[b], gamma_h, n,
                               grad_recurrent + b * grad_recurrent_stride, grad_gamma_h, grad_beta_h);
    }
}

}  // namespace kerasrnn

#define KERASRNN_LAYER_NORM_LSTM(T, SUFFIX)                                                                          \
    extern "C" void layer_norm_lstm_forward_step_##SUFFIX(                                                           \
        int64_t batch, int64_t units, T* recurrent, T* rstd_r, const T* projected, int64_t projected_stride,         \
        const T* gamma_h, const T* beta_h, const T* gamma_c, const T* beta_c, T epsilon, T* gates, const T* c_prev,  \
        T* v_hat, T* rstd_c, T* c, T* tanh_c, T* h, int64_t h_stride) {                                              \
        kerasrnn::parallel_rows<T>(batch, batch * 4 * units, [&](int64_t first, int64_t last) {                      \
            kerasrnn::layer_norm_lstm_forward_step<T>(                                                               \
                last - first, units, recurrent + first * 4 * units, rstd_r + first,                                  \
                projected + first * projected_stride, projected_stride, gamma_h, beta_h, gamma_c, beta_c, epsilon,   \
                gates + first * 4 * units, c_prev + first * units, v_hat + first * units, rstd_c + first,            \
                c + first * units, tanh_c + first * units, h + first * h_stride, h_stride);                          \
        });                                                                                                          \
    }                                                                                                                \
    extern "C" void layer_norm_lstm_backward_step_##SUFFIX(                                                          \
        int64_t batch, int64_t units, const T* recurrent_hat, const T* rstd_r, const T* gates, const T* c_prev,      \
        const T* v_hat, const T* rstd_c, const T* tanh_c, const T* gamma_h, const T* gamma_c, const T* grad_h,       \
        int64_t grad_h_stride, const T* grad_h_next, T* grad_c, T* grad_z, int64_t grad_z_stride,                    \
        T* grad_recurrent, int64_t grad_recurrent_stride, T* grad_gamma_h, T* grad_beta_h, T* grad_gamma_c,          \
        T* grad_beta_c) {                                                                                            \
        const std::array<kerasrnn::Sum<T>, 4> sums{                                                                  \
            {{grad_gamma_h, 4 * units}, {grad_beta_h, 4 * units}, {grad_gamma_c, units}, {grad_beta_c, units}}};     \
        kerasrnn::parallel_rows_summing<T>(                                                                          \
            batch, batch * 4 * units, sums, [&](int64_t first, int64_t last, const std::array<T*, 4>& s) {           \
                kerasrnn::layer_norm_lstm_backward_step<T>(                                                          \
                    last - first, units, recurrent_hat + first * 4 * units, rstd_r + first,                          \
                    gates + first * 4 * units, c_prev + first * units, v_hat + first * units, rstd_c + first,        \
                    tanh_c + first * units, gamma_h, gamma_c, grad_h + first * grad_h_stride, grad_h_stride,         \
                    grad_h_next ? grad_h_next + first * units : nullptr, grad_c + first * units,                     \
                    grad_z + first * grad_z_stride, grad_z_stride, grad_recurrent + first * grad_recurrent_stride,   \
                    grad_recurrent_stride, s[0], s[1], s[2], s[3]);                                                  \
            });                                                                                                      \
    }

KERASRNN_LAYER_NORM_LSTM(float, f32)
KERASRNN_LAYER_NORM_LSTM(double, f64)
