// One time step of the layer-normalized simple RNN, forward and backward, element-wise part.
//
// The recurrent matmul stays in PyTorch (kerasrnn/backend/torch/native_cells.py):
//
//   a = p + h_prev U     (p = x W)
//   h = tanh(LN(a; gamma, beta))      (beta: the layer's bias, zero without one)
#include "activations.h"
#include "layer_norm.h"
#include "parallel.h"

namespace kerasrnn {

template <typename T>
void layer_norm_simple_rnn_forward_step(int64_t batch, int64_t units, T* __restrict__ recurrent,
                                        T* __restrict__ rstd, const T* __restrict__ projected,
                                        int64_t projected_stride, const T* __restrict__ gamma,
                                        const T* __restrict__ beta, T epsilon, T* __restrict__ h,
                                        int64_t h_stride) {
    // recurrent: in h_prev U (batch, units), out the normalized a; rstd: out (batch,).
    for (int64_t b = 0; b < batch; ++b) {
        T* a = recurrent + b * units;
        const T* p = projected + b * projected_stride;
        for (int64_t j = 0; j < units; ++j) a[j] += p[j];
        rstd[b] = normalize_row(a, units, epsilon);
        T* hn = h + b * h_stride;
        for (int64_t j = 0; j < units; ++j) hn[j] = tanh(gamma[j] * a[j] + beta[j]);
    }
}

template <typename T>
void layer_norm_simple_rnn_backward_step(int64_t batch, int64_t units, const T* __restrict__ a_hat,
                                         const T* __restrict__ rstd, const T* __restrict__ h, int64_t h_stride,
                                         const T* __restrict__ gamma, const T* __restrict__ grad_h,
                                         int64_t grad_h_stride, const T* __restrict__ grad_h_next,
                                         T* __restrict__ grad_a, int64_t grad_a_stride, T* __restrict__ grad_gamma,
                                         T* __restrict__ grad_beta) {
    // Out: grad_a = dL/da (= dL/dp = dL/d(h_prev U)); grad_gamma, grad_beta accumulate.
    std::vector<T> scratch(static_cast<size_t>(units));
    T* __restrict__ work = scratch.data();
    for (int64_t b = 0; b < batch; ++b) {
        const T* hn = h + b * h_stride;
        const T* gh = grad_h + b * grad_h_stride;
        const T* ghn = grad_h_next ? grad_h_next + b * units : nullptr;
        for (int64_t j = 0; j < units; ++j) {
            const T dh = ghn ? gh[j] + ghn[j] : gh[j];
            work[j] = dh * (T(1) - hn[j] * hn[j]);
        }
        normalize_row_backward(work, a_hat + b * units, rstd[b], gamma, units, grad_a + b * grad_a_stride,
                               grad_gamma, grad_beta);
    }
}

}  // namespace kerasrnn

#define KERASRNN_LAYER_NORM_SIMPLE_RNN(T, SUFFIX)                                                                  \
    extern "C" void layer_norm_simple_rnn_forward_step_##SUFFIX(                                                   \
        int64_t batch, int64_t units, T* recurrent, T* rstd, const T* projected, int64_t projected_stride,         \
        const T* gamma, const T* beta, T epsilon, T* h, int64_t h_stride) {                                        \
        kerasrnn::parallel_rows<T>(batch, batch * units, [&](int64_t first, int64_t last) {                        \
            kerasrnn::layer_norm_simple_rnn_forward_step<T>(                                                       \
                last - first, units, recurrent + first * units, rstd + first,                                      \
                projected + first * projected_stride, projected_stride, gamma, beta, epsilon,                      \
                h + first * h_stride, h_stride);                                                                   \
        });                                                                                                        \
    }                                                                                                              \
    extern "C" void layer_norm_simple_rnn_backward_step_##SUFFIX(                                                  \
        int64_t batch, int64_t units, const T* a_hat, const T* rstd, const T* h, int64_t h_stride, const T* gamma, \
        const T* grad_h, int64_t grad_h_stride, const T* grad_h_next, T* grad_a, int64_t grad_a_stride,            \
        T* grad_gamma, T* grad_beta) {                                                                             \
        const std::array<kerasrnn::Sum<T>, 2> sums{{{grad_gamma, units}, {grad_beta, units}}};                     \
        kerasrnn::parallel_rows_summing<T>(                                                                        \
            batch, batch * units, sums, [&](int64_t first, int64_t last, const std::array<T*, 2>& s) {             \
                kerasrnn::layer_norm_simple_rnn_backward_step<T>(                                                  \
                    last - first, units, a_hat + first * units, rstd + first, h + first * h_stride, h_stride,      \
                    gamma, grad_h + first * grad_h_stride, grad_h_stride,                                          \
                    grad_h_next ? grad_h_next + first * units : nullptr, grad_a + first * grad_a_stride,           \
                    grad_a_stride, s[0], s[1]);                                                                    \
            });                                                                                                    \
    }

KERASRNN_LAYER_NORM_SIMPLE_RNN(float, f32)
KERASRNN_LAYER_NORM_SIMPLE_RNN(double, f64)
