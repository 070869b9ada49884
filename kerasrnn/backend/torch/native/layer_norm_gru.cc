// One time step of the layer-normalized GRU, forward and backward, element-wise part.
//
// The recurrent matmul r = h_prev U (3 units wide) stays in PyTorch
// (kerasrnn/backend/torch/native_cells.py). Gate order z, r, h; the gates'
// 2 units and the candidate's units are normalized apart (layer_norm.h):
//
//   [y_z, y_r] = LN(r[:2u]; gamma_g, beta_g)    y_h = LN(r[2u:]; gamma_h, beta_h)
//   z = sigmoid(p_z + y_z)     r = sigmoid(p_r + y_r)
//   n = tanh(p_h + r y_h)      h = z h_prev + (1 - z) n
//
// with p = [p_z, p_r, p_h] the input's normalized projection plus bias.
#include "activations.h"
#include "layer_norm.h"
#include "parallel.h"

namespace kerasrnn {

template <typename T>
void layer_norm_gru_forward_step(int64_t batch, int64_t units, T* __restrict__ recurrent, T* __restrict__ rstd,
                                 const T* __restrict__ projected, int64_t projected_stride,
                                 const T* __restrict__ gamma, const T* __restrict__ beta, T epsilon,
                                 T* __restrict__ gates, const T* __restrict__ h_prev, int64_t h_prev_stride,
                                 T* __restrict__ h, int64_t h_stride) {
    // recurrent: in h_prev U (batch, 3 units), out its normalized values (each group); rstd: out (batch, 2);
    // gates: out z, r, n (batch, 3 units).
    const int64_t g = 2 * units;
    for (int64_t b = 0; b < batch; ++b) {
        T* x = recurrent + b * 3 * units;
        const T* p = projected + b * projected_stride;
        const T* hp = h_prev + b * h_prev_stride;
        T* a = gates + b * 3 * units;
        T* hn = h + b * h_stride;
        rstd[2 * b] = normalize_row(x, g, epsilon);
        rstd[2 * b + 1] = normalize_row(x + g, units, epsilon);
        for (int64_t j = 0; j < g; ++j) a[j] = sigmoid(p[j] + gamma[j] * x[j] + beta[j]);
        for (int64_t j = 0; j < units; ++j) {
            const T y_h = gamma[g + j] * x[g + j] + beta[g + j];
            const T n = tanh(p[g + j] + a[units + j] * y_h);
            const T z = a[j];
            a[g + j] = n;
            hn[j] = z * hp[j] + (T(1) - z) * n;
        }
    }
}

template <typename T>
void layer_norm_gru_backward_step(int64_t batch, int64_t units, const T* __restrict__ recurrent_hat,
                                  const T* __restrict__ rstd, const T* __restrict__ gates,
                                  const T* __restrict__ h_prev, int64_t h_prev_stride, const T* __restrict__ gamma,
                                  const T* __restrict__ beta, const T* __restrict__ grad_h, int64_t grad_h_stride,
                                  const T* __restrict__ grad_h_next, T* __restrict__ grad_h_prev,
                                  T* __restrict__ grad_p, int64_t grad_p_stride, T* __restrict__ grad_recurrent,
                                  int64_t grad_recurrent_stride, T* __restrict__ grad_gamma,
                                  T* __restrict__ grad_beta) {
    // Out: grad_h_prev (batch, units) the direct part z dh; grad_p dL/dp; grad_recurrent dL/d(h_prev U);
    // grad_gamma, grad_beta (3 units) accumulate.
    const int64_t g = 2 * units;
    std::vector<T> scratch(static_cast<size_t>(3 * units));
    T* __restrict__ dy = scratch.data();  // dL/d[y_z, y_r, y_h]
    for (int64_t b = 0; b < batch; ++b) {
        const T* x = recurrent_hat + b * 3 * units;
        const T* a = gates + b * 3 * units;
        const T* hp = h_prev + b * h_prev_stride;
        const T* gh = grad_h + b * grad_h_stride;
        const T* ghn = grad_h_next ? grad_h_next + b * units : nullptr;
        T* dp = grad_p + b * grad_p_stride;
        T* direct = grad_h_prev + b * units;
        for (int64_t j = 0; j < units; ++j) {
            const T z = a[j], r = a[units + j], n = a[g + j];
            const T dh = ghn ? gh[j] + ghn[j] : gh[j];
            const T y_h = gamma[g + j] * x[g + j] + beta[g + j];
            const T da_h = dh * (T(1) - z) * (T(1) - n * n);
            const T da_z = dh * (hp[j] - n) * z * (T(1) - z);
            const T da_r = da_h * y_h * r * (T(1) - r);
            dp[j] = da_z;
            dp[units + j] = da_r;
            dp[g + j] = da_h;
            dy[j] = da_z;
            dy[units + j] = da_r;
            dy[g + j] = da_h * r;
            direct[j] = dh * z;
        }
        T* dr = grad_recurrent + b * grad_recurrent_stride;
        normalize_row_backward(dy, x, rstd[2 * b], gamma, g, dr, grad_gamma, grad_beta);
        normalize_row_backward(dy + g, x + g, rstd[2 * b + 1], gamma + g, units, dr + g, grad_gamma + g,
                               grad_beta + g);
    }
}

}  // namespace kerasrnn

#define KERASRNN_LAYER_NORM_GRU(T, SUFFIX)                                                                         \
    extern "C" void layer_norm_gru_forward_step_##SUFFIX(                                                          \
        int64_t batch, int64_t units, T* recurrent, T* rstd, const T* projected, int64_t projected_stride,         \
        const T* gamma, const T* beta, T epsilon, T* gates, const T* h_prev, int64_t h_prev_stride, T* h,          \
        int64_t h_stride) {                                                                                        \
        kerasrnn::parallel_rows<T>(batch, batch * 3 * units, [&](int64_t first, int64_t last) {                    \
            kerasrnn::layer_norm_gru_forward_step<T>(                                                              \
                last - first, units, recurrent + first * 3 * units, rstd + 2 * first,                              \
                projected + first * projected_stride, projected_stride, gamma, beta, epsilon,                      \
                gates + first * 3 * units, h_prev + first * h_prev_stride, h_prev_stride, h + first * h_stride,    \
                h_stride);                                                                                         \
        });                                                                                                        \
    }                                                                                                              \
    extern "C" void layer_norm_gru_backward_step_##SUFFIX(                                                         \
        int64_t batch, int64_t units, const T* recurrent_hat, const T* rstd, const T* gates, const T* h_prev,      \
        int64_t h_prev_stride, const T* gamma, const T* beta, const T* grad_h, int64_t grad_h_stride,              \
        const T* grad_h_next, T* grad_h_prev, T* grad_p, int64_t grad_p_stride, T* grad_recurrent,                 \
        int64_t grad_recurrent_stride, T* grad_gamma, T* grad_beta) {                                              \
        const std::array<kerasrnn::Sum<T>, 2> sums{{{grad_gamma, 3 * units}, {grad_beta, 3 * units}}};             \
        kerasrnn::parallel_rows_summing<T>(                                                                        \
            batch, batch * 3 * units, sums, [&](int64_t first, int64_t last, const std::array<T*, 2>& s) {         \
                kerasrnn::layer_norm_gru_backward_step<T>(                                                         \
                    last - first, units, recurrent_hat + first * 3 * units, rstd + 2 * first,                      \
                    gates + first * 3 * units, h_prev + first * h_prev_stride, h_prev_stride, gamma, beta,         \
                    grad_h + first * grad_h_stride, grad_h_stride,                                                 \
                    grad_h_next ? grad_h_next + first * units : nullptr, grad_h_prev + first * units,              \
                    grad_p + first * grad_p_stride, grad_p_stride, grad_recurrent + first * grad_recurrent_stride, \
                    grad_recurrent_stride, s[0], s[1]);                                                            \
            });                                                                                                    \
    }

KERASRNN_LAYER_NORM_GRU(float, f32)
KERASRNN_LAYER_NORM_GRU(double, f64)
