// The whole IndRNN recurrence (Li et al., 2018), forward and backward:
//
//   h_t = act(p_t + u h_{t-1})      p_t = x_t W + b, u a vector (one weight per unit)
//
// The recurrence has no matmul, so the whole time loop runs here, one call
// per sequence each way. act is given by its code: 0 linear, 1 relu,
// 2 tanh, 3 sigmoid; each derivative is read off the output y (relu: y > 0,
// tanh: 1 - y^2, sigmoid: y (1 - y)). Tensors are contiguous: projected,
// outputs and their gradients (batch, time, units); outputs in processing
// order (input step t = time - 1 - k for the k-th step when go_backwards).
#include "activations.h"
#include "parallel.h"

namespace kerasrnn {

template <typename T>
inline T ind_rnn_activation(T a, int64_t code) {
    switch (code) {
        case 1: return a > T(0) ? a : T(0);
        case 2: return tanh(a);
        case 3: return sigmoid(a);
        default: return a;
    }
}

template <typename T>
inline T ind_rnn_derivative(T y, int64_t code) {
    switch (code) {
        case 1: return y > T(0) ? T(1) : T(0);
        case 2: return T(1) - y * y;
        case 3: return y * (T(1) - y);
        default: return T(1);
    }
}

template <typename T, int64_t Code>
void ind_rnn_forward_rows(int64_t batch, int64_t steps, int64_t units, const T* __restrict__ projected,
                          const T* __restrict__ h0, const T* __restrict__ recurrent, T* __restrict__ outputs,
                          int64_t go_backwards) {
    for (int64_t b = 0; b < batch; ++b) {
        const T* h = h0 + b * units;
        for (int64_t k = 0; k < steps; ++k) {
            const int64_t t = go_backwards ? steps - 1 - k : k;
            const T* p = projected + (b * steps + t) * units;
            T* y = outputs + (b * steps + k) * units;
            for (int64_t j = 0; j < units; ++j) y[j] = ind_rnn_activation(p[j] + recurrent[j] * h[j], Code);
            h = y;
        }
    }
}

template <typename T, int64_t Code>
void ind_rnn_backward_rows(int64_t batch, int64_t steps, int64_t units, const T* __restrict__ h0,
                           const T* __restrict__ recurrent, const T* __restrict__ outputs,
                           const T* __restrict__ grad_outputs, T* __restrict__ grad_projected,
                           T* __restrict__ grad_h0, T* __restrict__ grad_recurrent, int64_t go_backwards) {
    // grad_h0 (batch, units) doubles as the running dL/dh; grad_recurrent (units) accumulates.
    for (int64_t b = 0; b < batch; ++b) {
        T* dh = grad_h0 + b * units;
        for (int64_t j = 0; j < units; ++j) dh[j] = T(0);
        for (int64_t k = steps - 1; k >= 0; --k) {
            const int64_t t = go_backwards ? steps - 1 - k : k;
            const T* y = outputs + (b * steps + k) * units;
            const T* h = k ? outputs + (b * steps + k - 1) * units : h0 + b * units;
            const T* g = grad_outputs + (b * steps + k) * units;
            T* dp = grad_projected + (b * steps + t) * units;
            for (int64_t j = 0; j < units; ++j) {
                const T da = (dh[j] + g[j]) * ind_rnn_derivative(y[j], Code);
                dp[j] = da;
                grad_recurrent[j] += da * h[j];
                dh[j] = da * recurrent[j];
            }
        }
    }
}

template <typename T>
void ind_rnn_forward(int64_t batch, int64_t steps, int64_t units, const T* projected, const T* h0,
                     const T* recurrent, T* outputs, int64_t go_backwards, int64_t code) {
    // One instantiation per activation: the switch leaves the inner loop, which then vectorizes.
    switch (code) {
        case 1: return ind_rnn_forward_rows<T, 1>(batch, steps, units, projected, h0, recurrent, outputs, go_backwards);
        case 2: return ind_rnn_forward_rows<T, 2>(batch, steps, units, projected, h0, recurrent, outputs, go_backwards);
        case 3: return ind_rnn_forward_rows<T, 3>(batch, steps, units, projected, h0, recurrent, outputs, go_backwards);
        default: return ind_rnn_forward_rows<T, 0>(batch, steps, units, projected, h0, recurrent, outputs, go_backwards);
    }
}

template <typename T>
void ind_rnn_backward(int64_t batch, int64_t steps, int64_t units, const T* h0, const T* recurrent,
                      const T* outputs, const T* grad_outputs, T* grad_projected, T* grad_h0, T* grad_recurrent,
                      int64_t go_backwards, int64_t code) {
#define KERASRNN_IND_RNN_BACKWARD(CODE)                                                                         \
    return ind_rnn_backward_rows<T, CODE>(batch, steps, units, h0, recurrent, outputs, grad_outputs,           \
                                          grad_projected, grad_h0, grad_recurrent, go_backwards)
    switch (code) {
        case 1: KERASRNN_IND_RNN_BACKWARD(1);
        case 2: KERASRNN_IND_RNN_BACKWARD(2);
        case 3: KERASRNN_IND_RNN_BACKWARD(3);
        default: KERASRNN_IND_RNN_BACKWARD(0);
    }
#undef KERASRNN_IND_RNN_BACKWARD
}

}  // namespace kerasrnn

#define KERASRNN_IND_RNN(T, SUFFIX)                                                                               \
    extern "C" void ind_rnn_forward_##SUFFIX(int64_t batch, int64_t steps, int64_t units, const T* projected,    \
                                             const T* h0, const T* recurrent, T* outputs, int64_t go_backwards,  \
                                             int64_t code) {                                                     \
        kerasrnn::parallel_rows<T>(batch, batch * steps * units, [&](int64_t first, int64_t last) {              \
            const int64_t row = first * steps * units;                                                           \
            kerasrnn::ind_rnn_forward<T>(last - first, steps, units, projected + row, h0 + first * units,        \
                                         recurrent, outputs + row, go_backwards, code);                          \
        });                                                                                                      \
    }                                                                                                            \
    extern "C" void ind_rnn_backward_##SUFFIX(int64_t batch, int64_t steps, int64_t units, const T* h0,          \
                                              const T* recurrent, const T* outputs, const T* grad_outputs,       \
                                              T* grad_projected, T* grad_h0, T* grad_recurrent,                  \
                                              int64_t go_backwards, int64_t code) {                              \
        const std::array<kerasrnn::Sum<T>, 1> sums{{{grad_recurrent, units}}};                                   \
        kerasrnn::parallel_rows_summing<T>(                                                                      \
            batch, batch * steps * units, sums, [&](int64_t first, int64_t last, const std::array<T*, 1>& s) {   \
                const int64_t row = first * steps * units;                                                       \
                kerasrnn::ind_rnn_backward<T>(last - first, steps, units, h0 + first * units, recurrent,         \
                                              outputs + row, grad_outputs + row, grad_projected + row,           \
                                              grad_h0 + first * units, s[0], go_backwards, code);                \
            });                                                                                                  \
    }

KERASRNN_IND_RNN(float, f32)
KERASRNN_IND_RNN(double, f64)
