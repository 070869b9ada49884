// One time step of the NAS cell (Zoph & Le, 2017; tensorflow-addons' NASCell), forward and backward.
//
// With a = x W (8 units) and m = h_prev U + b (8 units; the matmul stays in
// PyTorch, kerasrnn/backend/torch/native_cells.py), branch j of 8 reading
// a_j and m_j:
//
//   l0 = sigmoid(a0 + m0)  l1 = relu(a1 + m1)  l2 = sigmoid(a2 + m2)  l3 = relu(a3 m3)
//   l4 = tanh(a4 + m4)     l5 = sigmoid(a5 + m5)  l6 = tanh(a6 + m6)  l7 = sigmoid(a7 + m7)
//   k0 = tanh(tanh(l0 l1) + c_prev)  k1 = tanh(l2 + l3)  k2 = tanh(l4 l5)  k3 = sigmoid(l6 + l7)
//   c = k0 k1                        h = tanh(c tanh(k2 + k3))
//
// Forward keeps nothing but c and h; backward recomputes the step from a, m
// and c_prev (cheaper than storing eight branches per step).
#include "activations.h"
#include "parallel.h"

namespace kerasrnn {

// The step's forward values as locals of the calling loop (a macro: a struct or a helper function keeps
// GCC from vectorizing the backward loop).
#define KERASRNN_NAS_STEP(a, m, units, j, c_prev)                               \
    const T s1 = a[units + j] + m[units + j];                                    \
    const T s3 = a[3 * units + j] * m[3 * units + j];                            \
    const T l0 = sigmoid(a[j] + m[j]);                                           \
    const T l1 = s1 > T(0) ? s1 : T(0);                                          \
    const T l2 = sigmoid(a[2 * units + j] + m[2 * units + j]);                   \
    const T l3 = s3 > T(0) ? s3 : T(0);                                          \
    const T l4 = tanh(a[4 * units + j] + m[4 * units + j]);                      \
    const T l5 = sigmoid(a[5 * units + j] + m[5 * units + j]);                   \
    const T l6 = tanh(a[6 * units + j] + m[6 * units + j]);                      \
    const T l7 = sigmoid(a[7 * units + j] + m[7 * units + j]);                   \
    const T u0 = tanh(l0 * l1);                                                  \
    const T k0 = tanh(u0 + (c_prev));                                            \
    const T k1 = tanh(l2 + l3);                                                  \
    const T k2 = tanh(l4 * l5);                                                  \
    const T k3 = sigmoid(l6 + l7);                                               \
    const T c_new = k0 * k1;                                                     \
    const T v = tanh(k2 + k3);                                                   \
    const T h_new = tanh(c_new * v)

template <typename T>
void nas_forward_step(int64_t batch, int64_t units, const T* __restrict__ projected, int64_t projected_stride,
                      const T* __restrict__ recurrent, const T* __restrict__ c_prev, T* __restrict__ c,
                      T* __restrict__ h, int64_t h_stride) {
    for (int64_t b = 0; b < batch; ++b) {
        const T* a = projected + b * projected_stride;
        const T* m = recurrent + b * 8 * units;
        const T* cp = c_prev + b * units;
        T* cn = c + b * units;
        T* hn = h + b * h_stride;
        for (int64_t j = 0; j < units; ++j) {
            KERASRNN_NAS_STEP(a, m, units, j, cp[j]);
            cn[j] = c_new;
            hn[j] = h_new;
        }
    }
}

template <typename T>
void nas_backward_step(int64_t batch, int64_t units, const T* __restrict__ projected, int64_t projected_stride,
                       const T* __restrict__ recurrent, const T* __restrict__ c_prev, const T* __restrict__ grad_h,
                       int64_t grad_h_stride, const T* __restrict__ grad_h_next, T* __restrict__ grad_c,
                       T* __restrict__ grad_a, int64_t grad_a_stride, T* __restrict__ grad_m, int64_t grad_m_stride) {
    // grad_h_next: dL/dh from the next step (zeros at the last); grad_c: in dL/dc from the next step, out dL/dc_prev;
    // out: dL/da (the projected input), dL/dm.
    for (int64_t b = 0; b < batch; ++b) {
        const T* a = projected + b * projected_stride;
        const T* m = recurrent + b * 8 * units;
        const T* cp = c_prev + b * units;
        const T* gh = grad_h + b * grad_h_stride;
        const T* ghn = grad_h_next + b * units;
        T* gc = grad_c + b * units;
        T* da = grad_a + b * grad_a_stride;
        T* dm = grad_m + b * grad_m_stride;
#pragma GCC ivdep  // da, dm never alias a, m: GCC cannot see it through the strides
        for (int64_t j = 0; j < units; ++j) {
            KERASRNN_NAS_STEP(a, m, units, j, cp[j]);
            const T dh = gh[j] + ghn[j];
            const T dq = dh * (T(1) - h_new * h_new);
            const T dc = gc[j] + dq * v;
            const T dw = dq * c_new * (T(1) - v * v);
            const T e0 = dc * k1 * (T(1) - k0 * k0);
            const T e1 = e0 * (T(1) - u0 * u0);
            const T e2 = dc * k0 * (T(1) - k1 * k1);
            const T e3 = dw * (T(1) - k2 * k2);
            const T e4 = dw * k3 * (T(1) - k3);
            const T ds0 = e1 * l1 * l0 * (T(1) - l0);
            const T ds1 = s1 > T(0) ? e1 * l0 : T(0);
            const T ds2 = e2 * l2 * (T(1) - l2);
            const T ds3 = s3 > T(0) ? e2 : T(0);
            const T ds4 = e3 * l5 * (T(1) - l4 * l4);
            const T ds5 = e3 * l4 * l5 * (T(1) - l5);
            const T ds6 = e4 * (T(1) - l6 * l6);
            const T ds7 = e4 * l7 * (T(1) - l7);
            da[j] = ds0;
            dm[j] = ds0;
            da[units + j] = ds1;
            dm[units + j] = ds1;
            da[2 * units + j] = ds2;
            dm[2 * units + j] = ds2;
            da[3 * units + j] = ds3 * m[3 * units + j];
            dm[3 * units + j] = ds3 * a[3 * units + j];
            da[4 * units + j] = ds4;
            dm[4 * units + j] = ds4;
            da[5 * units + j] = ds5;
            dm[5 * units + j] = ds5;
            da[6 * units + j] = ds6;
            dm[6 * units + j] = ds6;
            da[7 * units + j] = ds7;
            dm[7 * units + j] = ds7;
            gc[j] = e0;
        }
    }
}

}  // namespace kerasrnn

#undef KERASRNN_NAS_STEP

#define KERASRNN_NAS(T, SUFFIX)                                                                                    \
    extern "C" void nas_forward_step_##SUFFIX(int64_t batch, int64_t units, const T* projected,                   \
                                              int64_t projected_stride, const T* recurrent, const T* c_prev,      \
                                              T* c, T* h, int64_t h_stride) {                                     \
        kerasrnn::parallel_rows<T>(batch, batch * 8 * units, [&](int64_t first, int64_t last) {                   \
            kerasrnn::nas_forward_step<T>(last - first, units, projected + first * projected_stride,              \
                                          projected_stride, recurrent + first * 8 * units,                        \
                                          c_prev + first * units, c + first * units, h + first * h_stride,        \
                                          h_stride);                                                              \
        });                                                                                                       \
    }                                                                                                             \
    extern "C" void nas_backward_step_##SUFFIX(                                                                   \
        int64_t batch, int64_t units, const T* projected, int64_t projected_stride, const T* recurrent,           \
        const T* c_prev, const T* grad_h, int64_t grad_h_stride, const T* grad_h_next, T* grad_c, T* grad_a,      \
        int64_t grad_a_stride, T* grad_m, int64_t grad_m_stride) {                                                \
        kerasrnn::parallel_rows<T>(batch, batch * 8 * units, [&](int64_t first, int64_t last) {                   \
            kerasrnn::nas_backward_step<T>(last - first, units, projected + first * projected_stride,             \
                                           projected_stride, recurrent + first * 8 * units,                       \
                                           c_prev + first * units, grad_h + first * grad_h_stride, grad_h_stride, \
                                           grad_h_next + first * units, grad_c + first * units,                   \
                                           grad_a + first * grad_a_stride, grad_a_stride,                         \
                                           grad_m + first * grad_m_stride, grad_m_stride);                        \
        });                                                                                                       \
    }

KERASRNN_NAS(float, f32)
KERASRNN_NAS(double, f64)
