// One time step of the peephole LSTM, forward and backward, element-wise part.
//
// The recurrent matmul (or convolution) stays in PyTorch
// (kerasrnn/backend/torch/native_cells.py calls mm between these steps);
// everything element-wise of a step is one pass here instead of a dozen
// PyTorch ops. Gate order i, f, c, o:
//
//   i = sigmoid(z_i + p_i c_prev)     f = sigmoid(z_f + p_f c_prev)
//   g = tanh(z_c)                     c = f c_prev + i g
//   o = sigmoid(z_o + p_o c)          h = o tanh(c)
//
// with z = x W + b + h_prev U the pre-activations. A batch entry has
// `positions` rows of `units` (1 for the peephole LSTM; a frame's pixels,
// channels last, for the ConvLSTM, whose peepholes differ by position).
// Batch entries are `stride` elements apart where a stride is passed;
// everything else is contiguous rows.
#include "activations.h"
#include "parallel.h"

namespace kerasrnn {

template <typename T>
void peephole_lstm_forward_step(int64_t batch, int64_t positions, int64_t units, const T* __restrict__ projected,
                                int64_t projected_stride, T* __restrict__ gates, const T* __restrict__ c_prev,
                                T* __restrict__ c, T* __restrict__ tanh_c, T* __restrict__ h, int64_t h_stride,
                                const T* __restrict__ peepholes) {
    // Row r = b * positions + p. projected: x_t W + b, row at b * projected_stride + p * 4 units; gates: in
    // h_prev U (rows of 4 units), out the activations i, f, g, o (z = projected + h_prev U is summed here,
    // not by a separate addmm's copy). c_prev, c, tanh_c: rows of units; h: row at b * h_stride + p * units.
    // peepholes (3, positions, units).
    for (int64_t b = 0; b < batch; ++b) {
        for (int64_t q = 0; q < positions; ++q) {
            const int64_t r = b * positions + q;
            const T* x = projected + b * projected_stride + q * 4 * units;
            T* z = gates + r * 4 * units;
            const T* cp = c_prev + r * units;
            T* cn = c + r * units;
            T* tc = tanh_c + r * units;
            T* hn = h + b * h_stride + q * units;
            const T* p_i = peepholes + q * units;
            const T* p_f = peepholes + (positions + q) * units;
            const T* p_o = peepholes + (2 * positions + q) * units;
            for (int64_t j = 0; j < units; ++j) {
                const T i = sigmoid(x[j] + z[j] + p_i[j] * cp[j]);
                const T f = sigmoid(x[units + j] + z[units + j] + p_f[j] * cp[j]);
                const T g = tanh(x[2 * units + j] + z[2 * units + j]);
                const T c_new = f * cp[j] + i * g;
                const T o = sigmoid(x[3 * units + j] + z[3 * units + j] + p_o[j] * c_new);
                const T t = tanh(c_new);
                z[j] = i;
                z[units + j] = f;
                z[2 * units + j] = g;
                z[3 * units + j] = o;
                cn[j] = c_new;
                tc[j] = t;
                hn[j] = o * t;
            }
        }
    }
}

template <typename T>
void peephole_lstm_backward_step(int64_t batch, int64_t positions, int64_t units, const T* __restrict__ gates,
                                 const T* __restrict__ c_prev, const T* __restrict__ c, const T* __restrict__ tanh_c,
                                 const T* __restrict__ peepholes, const T* __restrict__ grad_h, int64_t grad_h_stride,
                                 const T* __restrict__ grad_h_next, T* __restrict__ grad_c, T* __restrict__ grad_z,
                                 int64_t grad_z_stride, T* __restrict__ grad_peepholes) {
    // Rows as in the forward step. grad_h: dL/dh from the outputs (row at b * grad_h_stride + p * units);
    // grad_h_next: from the next step's recurrence (rows of units; nullptr at the last step). grad_c: in
    // dL/dc from the next step, out dL/dc_prev. grad_z: out dL/dz, the pre-activations (row at
    // b * grad_z_stride + p * 4 units). grad_peepholes (3, positions, units): accumulated.
    for (int64_t b = 0; b < batch; ++b) {
        for (int64_t q = 0; q < positions; ++q) {
            const int64_t r = b * positions + q;
            const T* a = gates + r * 4 * units;
            const T* cp = c_prev + r * units;
            const T* cn = c + r * units;
            const T* tc = tanh_c + r * units;
            const T* gh = grad_h + b * grad_h_stride + q * units;
            const T* ghn = grad_h_next ? grad_h_next + r * units : nullptr;
            T* gc = grad_c + r * units;
            T* dz = grad_z + b * grad_z_stride + q * 4 * units;
            const T* p_i = peepholes + q * units;
            const T* p_f = peepholes + (positions + q) * units;
            const T* p_o = peepholes + (2 * positions + q) * units;
            T* gp_i = grad_peepholes + q * units;
            T* gp_f = grad_peepholes + (positions + q) * units;
            T* gp_o = grad_peepholes + (2 * positions + q) * units;
            for (int64_t j = 0; j < units; ++j) {
                const T i = a[j], f = a[units + j], g = a[2 * units + j], o = a[3 * units + j];
                const T dh = ghn ? gh[j] + ghn[j] : gh[j];
                const T dz_o = dh * tc[j] * o * (T(1) - o);
                const T dc = gc[j] + dh * o * (T(1) - tc[j] * tc[j]) + dz_o * p_o[j];
                const T dz_i = dc * g * i * (T(1) - i);
                const T dz_f = dc * cp[j] * f * (T(1) - f);
                dz[j] = dz_i;
                dz[units + j] = dz_f;
                dz[2 * units + j] = dc * i * (T(1) - g * g);
                dz[3 * units + j] = dz_o;
                gc[j] = dc * f + dz_i * p_i[j] + dz_f * p_f[j];
                gp_i[j] += dz_i * cp[j];
                gp_f[j] += dz_f * cp[j];
                gp_o[j] += dz_o * cn[j];
            }
        }
    }
}

}  // namespace kerasrnn

#define KERASRNN_PEEPHOLE_LSTM(T, SUFFIX)                                                                          \
    extern "C" void peephole_lstm_forward_step_##SUFFIX(                                                           \
        int64_t batch, int64_t positions, int64_t units, const T* projected, int64_t projected_stride, T* gates,   \
        const T* c_prev, T* c, T* tanh_c, T* h, int64_t h_stride, const T* peepholes) {                            \
        kerasrnn::parallel_rows<T>(batch, batch * positions * units, [&](int64_t first, int64_t last) {            \
            const int64_t row = first * positions;                                                                 \
            kerasrnn::peephole_lstm_forward_step<T>(last - first, positions, units,                                \
                                                    projected + first * projected_stride, projected_stride,        \
                                                    gates + row * 4 * units, c_prev + row * units,                 \
                                                    c + row * units, tanh_c + row * units, h + first * h_stride,   \
                                                    h_stride, peepholes);                                          \
        });                                                                                                        \
    }                                                                                                              \
    extern "C" void peephole_lstm_backward_step_##SUFFIX(                                                          \
        int64_t batch, int64_t positions, int64_t units, const T* gates, const T* c_prev, const T* c,              \
        const T* tanh_c, const T* peepholes, const T* grad_h, int64_t grad_h_stride, const T* grad_h_next,         \
        T* grad_c, T* grad_z, int64_t grad_z_stride, T* grad_peepholes) {                                          \
        const std::array<kerasrnn::Sum<T>, 1> sums{{{grad_peepholes, 3 * positions * units}}};                     \
        kerasrnn::parallel_rows_summing<T>(                                                                        \
            batch, batch * positions * units, sums, [&](int64_t first, int64_t last, const std::array<T*, 1>& s) { \
                const int64_t row = first * positions;                                                             \
                kerasrnn::peephole_lstm_backward_step<T>(                                                          \
                    last - first, positions, units, gates + row * 4 * units, c_prev + row * units,                 \
                    c + row * units, tanh_c + row * units, peepholes, grad_h + first * grad_h_stride,              \
                    grad_h_stride, grad_h_next ? grad_h_next + row * units : nullptr, grad_c + row * units,        \
                    grad_z + first * grad_z_stride, grad_z_stride, s[0]);                                          \
            });                                                                                                    \
    }

KERASRNN_PEEPHOLE_LSTM(float, f32)
KERASRNN_PEEPHOLE_LSTM(double, f64)
