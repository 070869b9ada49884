// The whole linear recurrence h_t = a_t h_{t-1} + b_t (minGRU, minLSTM), forward and backward.
//
// The coefficients come from the input alone (kerasrnn/layers/linear_recurrence.py),
// so the recurrence has no matmul and the whole time loop runs here: one
// pass over the sequence each way, where the associative scan the layers
// otherwise use takes log2(T) passes of several ops. Tensors are contiguous
// (batch, time, units); a and b in processing order (already reversed for
// go_backwards by the caller), outputs likewise.
#include <cstdint>

#include "parallel.h"  // parallel_rows (and DenormalsAsZero)

namespace kerasrnn {

template <typename T>
void linear_recurrence_forward(int64_t batch, int64_t steps, int64_t units, const T* __restrict__ a,
                               const T* __restrict__ b, const T* __restrict__ h0, T* __restrict__ outputs) {
    for (int64_t n = 0; n < batch; ++n) {
        const T* h = h0 + n * units;
        for (int64_t t = 0; t < steps; ++t) {
            const int64_t row = (n * steps + t) * units;
            T* y = outputs + row;
            for (int64_t j = 0; j < units; ++j) y[j] = a[row + j] * h[j] + b[row + j];
            h = y;
        }
    }
}

template <typename T>
void linear_recurrence_backward(int64_t batch, int64_t steps, int64_t units, const T* __restrict__ a,
                                const T* __restrict__ h0, const T* __restrict__ outputs,
                                const T* __restrict__ grad_outputs, T* __restrict__ grad_a, T* __restrict__ grad_b,
                                T* __restrict__ grad_h0) {
    // grad_h0 (batch, units) doubles as the running dL/dh.
    for (int64_t n = 0; n < batch; ++n) {
        T* dh = grad_h0 + n * units;
        for (int64_t j = 0; j < units; ++j) dh[j] = T(0);
        for (int64_t t = steps - 1; t >= 0; --t) {
            const int64_t row = (n * steps + t) * units;
            const T* h = t ? outputs + row - units : h0 + n * units;
            const T* g = grad_outputs + row;
            for (int64_t j = 0; j < units; ++j) {
                const T d = dh[j] + g[j];
                grad_a[row + j] = d * h[j];
                grad_b[row + j] = d;
                dh[j] = d * a[row + j];
            }
        }
    }
}

}  // namespace kerasrnn

#define KERASRNN_LINEAR_RECURRENCE(T, SUFFIX)                                                                     \
    extern "C" void linear_recurrence_forward_##SUFFIX(int64_t batch, int64_t steps, int64_t units, const T* a,  \
                                                       const T* b, const T* h0, T* outputs) {                    \
        kerasrnn::parallel_rows<T>(batch, batch * steps * units, [&](int64_t first, int64_t last) {              \
            const int64_t row = first * steps * units;                                                           \
            kerasrnn::linear_recurrence_forward<T>(last - first, steps, units, a + row, b + row,                 \
                                                   h0 + first * units, outputs + row);                           \
        });                                                                                                      \
    }                                                                                                            \
    extern "C" void linear_recurrence_backward_##SUFFIX(int64_t batch, int64_t steps, int64_t units, const T* a, \
                                                        const T* h0, const T* outputs, const T* grad_outputs,    \
                                                        T* grad_a, T* grad_b, T* grad_h0) {                      \
        kerasrnn::parallel_rows<T>(batch, batch * steps * units, [&](int64_t first, int64_t last) {              \
            const int64_t row = first * steps * units;                                                           \
            kerasrnn::linear_recurrence_backward<T>(last - first, steps, units, a + row, h0 + first * units,     \
                                                    outputs + row, grad_outputs + row, grad_a + row,             \
                                                    grad_b + row, grad_h0 + first * units);                      \
        });                                                                                                      \
    }

KERASRNN_LINEAR_RECURRENCE(float, f32)
KERASRNN_LINEAR_RECURRENCE(double, f64)
