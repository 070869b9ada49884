// One time step of the layer-normalized simple RNN, forward and backward, element-wise part.
//
// The recurrent matmul stays in PyTorch (kerasrnn/backend/torch/native_cells.py):
//
//   a = p + h_prev U     (p = x W)
//   h = tanh(LN(a; gamma, beta))      (beta: the layer's bias, zero without one)
#include "activations.h"
#include "layer_norm.h"

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
                                         T* __restrict__ grad_beta, T* __restrict__ work) {
    // Out: grad_a = dL/da (= dL/dp = dL/d(h_prev U)); grad_gamma, grad_beta accumulate; work: units scratch.
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
        const kerasrnn::DenormalsAsZero<T> denormals_as_zero;                                                      \
        kerasrnn::layer_norm_simple_rnn_forward_step<T>(batch, units, recurrent, rstd, projected, projected_stride, \
                                                        gamma, beta, epsilon, h, h_stride);                        \
    }                                                                                                              \
    extern "C" void layer_norm_simple_rnn_backward_step_##SUFFIX(                                                  \
        int64_t batch, int64_t units, const T* a_hat, const T* rstd, const T* h, int64_t h_stride, const T* gamma, \
        const T* grad_h, int64_t grad_h_stride, const T* grad_h_next, T* grad_a, int64_t grad_a_stride,            \
        T* grad_gamma, T* grad_beta, T* work) {                                                                    \
        const kerasrnn::DenormalsAsZero<T> denormals_as_zero;                                                      \
        kerasrnn::layer_norm_simple_rnn_backward_step<T>(batch, units, a_hat, rstd, h, h_stride, gamma, grad_h,    \
                                                         grad_h_stride, grad_h_next, grad_a, grad_a_stride,        \
                                                         grad_gamma, grad_beta, work);                             \
    }

KERASRNN_LAYER_NORM_SIMPLE_RNN(float, f32)
KERASRNN_LAYER_NORM_SIMPLE_RNN(double, f64)
