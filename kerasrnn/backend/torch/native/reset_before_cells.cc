// One time step of the GRU-family cells whose reset gate acts before the
// candidate's matmul, element-wise part: Cho et al.'s GRU (Keras'
// reset_after=False) and MUT1-3 (Jozefowicz et al., 2015). Per step
//
//   z = sigmoid(s_z + p_z)     r = sigmoid(s_r + p_r)
//   n = tanh(p_h + (r h_prev) U_h)
//
// with p_* the projected input's parts and s_* each cell's own recurrent sums
//   h = z n + (1 - z) h_prev       (MUT1-3)
//   h = z h_prev + (1 - z) n       (Keras' GRU: z keeps the state)
//
// The matmuls stay in PyTorch (kerasrnn/backend/torch/native_cells.py): the
// gate sums s_z, s_r before `gates_forward`, (r h_prev) U_h between it and
// `update_forward`; the kernels add the projected parts, read in place (an
// addmm would first copy them into its output). Backward mirrors them. Pointers with a stride are
// rows `stride` elements apart; the others are contiguous (batch, units).
#include "activations.h"
#include "parallel.h"

namespace kerasrnn {

template <typename T>
void reset_before_gates_forward(int64_t batch, int64_t units, const T* __restrict__ s_z, int64_t s_z_stride,
                                const T* __restrict__ p_z, const T* __restrict__ s_r, int64_t s_r_stride,
                                const T* __restrict__ p_r, int64_t p_stride, const T* __restrict__ h_prev,
                                int64_t h_stride, T* __restrict__ z, T* __restrict__ r, T* __restrict__ rh) {
    for (int64_t b = 0; b < batch; ++b) {
        const T* sz = s_z + b * s_z_stride;
        const T* pz = p_z + b * p_stride;
        const T* sr = s_r + b * s_r_stride;
        const T* pr = p_r + b * p_stride;
        const T* hp = h_prev + b * h_stride;
        T* zb = z + b * units;
        T* rb = r + b * units;
        T* rhb = rh + b * units;
        for (int64_t j = 0; j < units; ++j) {
            const T reset = sigmoid(sr[j] + pr[j]);
            zb[j] = sigmoid(sz[j] + pz[j]);
            rb[j] = reset;
            rhb[j] = reset * hp[j];
        }
    }
}

template <typename T>
void reset_before_update_forward(int64_t batch, int64_t units, T* __restrict__ candidate,
                                 const T* __restrict__ p_h, int64_t p_stride, const T* __restrict__ z,
                                 const T* __restrict__ h_prev, int64_t h_stride, T* __restrict__ h,
                                 int64_t h_out_stride, int64_t z_keeps_state) {
    // candidate: in (r h_prev) U_h, out n = tanh(p_h + it).
    for (int64_t b = 0; b < batch; ++b) {
        T* n = candidate + b * units;
        const T* ph = p_h + b * p_stride;
        const T* zb = z + b * units;
        const T* hp = h_prev + b * h_stride;
        T* hn = h + b * h_out_stride;
        for (int64_t j = 0; j < units; ++j) {
            const T value = tanh(ph[j] + n[j]);
            const T keep = z_keeps_state ? zb[j] : T(1) - zb[j];
            n[j] = value;
            hn[j] = keep * hp[j] + (T(1) - keep) * value;
        }
    }
}

template <typename T>
void reset_before_update_backward(int64_t batch, int64_t units, const T* __restrict__ candidate,
                                  const T* __restrict__ z, const T* __restrict__ h_prev, int64_t h_stride,
                                  const T* __restrict__ grad_h, int64_t grad_h_stride,
                                  const T* __restrict__ grad_h_next, int64_t z_keeps_state,
                                  T* __restrict__ grad_candidate, int64_t grad_candidate_stride,
                                  T* __restrict__ grad_z, T* __restrict__ grad_h_prev) {
    // Out: dL/d(p_h + (r h_prev) U_h), dL/dz (after the sigmoid) and the direct part of dL/dh_prev.
    for (int64_t b = 0; b < batch; ++b) {
        const T* n = candidate + b * units;
        const T* zb = z + b * units;
        const T* hp = h_prev + b * h_stride;
        const T* gh = grad_h + b * grad_h_stride;
        const T* ghn = grad_h_next ? grad_h_next + b * units : nullptr;
        T* gn = grad_candidate + b * grad_candidate_stride;
        T* gz = grad_z + b * units;
        T* ghp = grad_h_prev + b * units;
        for (int64_t j = 0; j < units; ++j) {
            const T dh = ghn ? gh[j] + ghn[j] : gh[j];
            const T keep = z_keeps_state ? zb[j] : T(1) - zb[j];
            gn[j] = dh * (T(1) - keep) * (T(1) - n[j] * n[j]);
            gz[j] = z_keeps_state ? dh * (hp[j] - n[j]) : dh * (n[j] - hp[j]);
            ghp[j] = dh * keep;
        }
    }
}

template <typename T>
void reset_before_gates_backward(int64_t batch, int64_t units, const T* __restrict__ z, const T* __restrict__ r,
                                 const T* __restrict__ h_prev, int64_t h_stride, const T* __restrict__ grad_rh,
                                 const T* __restrict__ grad_z, T* __restrict__ grad_h_prev,
                                 T* __restrict__ grad_a_z, T* __restrict__ grad_a_r, int64_t grad_a_stride) {
    // grad_rh: dL/d(r h_prev); grad_h_prev: in its direct part, out plus the reset's; out: dL/da_z, dL/da_r.
    for (int64_t b = 0; b < batch; ++b) {
        const T* zb = z + b * units;
        const T* rb = r + b * units;
        const T* hp = h_prev + b * h_stride;
        const T* grh = grad_rh + b * units;
        const T* gz = grad_z + b * units;
        T* ghp = grad_h_prev + b * units;
        T* gaz = grad_a_z + b * grad_a_stride;
        T* gar = grad_a_r + b * grad_a_stride;
        for (int64_t j = 0; j < units; ++j) {
            ghp[j] += grh[j] * rb[j];
            gaz[j] = gz[j] * zb[j] * (T(1) - zb[j]);
            gar[j] = grh[j] * hp[j] * rb[j] * (T(1) - rb[j]);
        }
    }
}

}  // namespace kerasrnn

#define KERASRNN_RESET_BEFORE(T, SUFFIX)                                                                            \
    extern "C" void reset_before_gates_forward_##SUFFIX(                                                           \
        int64_t batch, int64_t units, const T* s_z, int64_t s_z_stride, const T* p_z, const T* s_r,                \
        int64_t s_r_stride, const T* p_r, int64_t p_stride, const T* h_prev, int64_t h_stride, T* z, T* r,         \
        T* rh) {                                                                                                   \
        kerasrnn::parallel_rows<T>(batch, batch * units, [&](int64_t first, int64_t last) {                        \
            kerasrnn::reset_before_gates_forward<T>(                                                               \
                last - first, units, s_z + first * s_z_stride, s_z_stride, p_z + first * p_stride,                 \
                s_r + first * s_r_stride, s_r_stride, p_r + first * p_stride, p_stride, h_prev + first * h_stride, \
                h_stride, z + first * units, r + first * units, rh + first * units);                               \
        });                                                                                                        \
    }                                                                                                              \
    extern "C" void reset_before_update_forward_##SUFFIX(int64_t batch, int64_t units, T* candidate, const T* p_h, \
                                                         int64_t p_stride, const T* z, const T* h_prev,            \
                                                         int64_t h_stride, T* h, int64_t h_out_stride,             \
                                                         int64_t z_keeps_state) {                                  \
        kerasrnn::parallel_rows<T>(batch, batch * units, [&](int64_t first, int64_t last) {                        \
            kerasrnn::reset_before_update_forward<T>(last - first, units, candidate + first * units,               \
                                                     p_h + first * p_stride, p_stride, z + first * units,          \
                                                     h_prev + first * h_stride, h_stride, h + first * h_out_stride, \
                                                     h_out_stride, z_keeps_state);                                 \
        });                                                                                                        \
    }                                                                                                              \
    extern "C" void reset_before_update_backward_##SUFFIX(                                                         \
        int64_t batch, int64_t units, const T* candidate, const T* z, const T* h_prev, int64_t h_stride,           \
        const T* grad_h, int64_t grad_h_stride, const T* grad_h_next, int64_t z_keeps_state, T* grad_candidate,    \
        int64_t grad_candidate_stride, T* grad_z, T* grad_h_prev) {                                                \
        kerasrnn::parallel_rows<T>(batch, batch * units, [&](int64_t first, int64_t last) {                        \
            kerasrnn::reset_before_update_backward<T>(                                                             \
                last - first, units, candidate + first * units, z + first * units, h_prev + first * h_stride,      \
                h_stride, grad_h + first * grad_h_stride, grad_h_stride,                                           \
                grad_h_next ? grad_h_next + first * units : nullptr, z_keeps_state,                                \
                grad_candidate + first * grad_candidate_stride, grad_candidate_stride, grad_z + first * units,     \
                grad_h_prev + first * units);                                                                      \
        });                                                                                                        \
    }                                                                                                              \
    extern "C" void reset_before_gates_backward_##SUFFIX(int64_t batch, int64_t units, const T* z, const T* r,     \
                                                         const T* h_prev, int64_t h_stride, const T* grad_rh,      \
                                                         const T* grad_z, T* grad_h_prev, T* grad_a_z,             \
                                                         T* grad_a_r, int64_t grad_a_stride) {                     \
        kerasrnn::parallel_rows<T>(batch, batch * units, [&](int64_t first, int64_t last) {                        \
            kerasrnn::reset_before_gates_backward<T>(                                                              \
                last - first, units, z + first * units, r + first * units, h_prev + first * h_stride, h_stride,    \
                grad_rh + first * units, grad_z + first * units, grad_h_prev + first * units,                      \
                grad_a_z + first * grad_a_stride, grad_a_r + first * grad_a_stride, grad_a_stride);                \
        });                                                                                                        \
    }

KERASRNN_RESET_BEFORE(float, f32)
KERASRNN_RESET_BEFORE(double, f64)
