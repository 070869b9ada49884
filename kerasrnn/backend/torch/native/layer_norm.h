// Layer normalization of one row, forward and backward, for the step kernels.
//
// LN(x; gamma, beta) = gamma (x - mean) / sqrt(var + eps) + beta over the row,
// biased variance (kerasrnn.layers.layer_norm_lstm.layer_norm). Forward keeps
// xhat = (x - mean) * rstd and rstd; backward is the closed form
//   dx = rstd (dy gamma - mean(dy gamma) - xhat mean(dy gamma xhat)).
#pragma once

#include <cmath>
#include <cstdint>

namespace kerasrnn {

// Normalizes row x (n entries) in place to xhat; returns rstd. Two passes for the variance.
template <typename T>
T normalize_row(T* __restrict__ x, int64_t n, T epsilon) {
    T sum = 0;
    for (int64_t j = 0; j < n; ++j) sum += x[j];
    const T mean = sum / T(n);
    T squares = 0;
    for (int64_t j = 0; j < n; ++j) {
        const T d = x[j] - mean;
        squares += d * d;
    }
    const T rstd = T(1) / std::sqrt(squares / T(n) + epsilon);
    for (int64_t j = 0; j < n; ++j) x[j] = (x[j] - mean) * rstd;
    return rstd;
}

// dx from dy for y = gamma xhat + beta (row of n entries); accumulates gamma's and beta's gradients.
template <typename T>
void normalize_row_backward(const T* __restrict__ dy, const T* __restrict__ xhat, T rstd, const T* __restrict__ gamma,
                            int64_t n, T* __restrict__ dx, T* __restrict__ grad_gamma, T* __restrict__ grad_beta) {
    T sum = 0, sum_xhat = 0;
    for (int64_t j = 0; j < n; ++j) {
        const T d = dy[j] * gamma[j];
        sum += d;
        sum_xhat += d * xhat[j];
        grad_gamma[j] += dy[j] * xhat[j];
        grad_beta[j] += dy[j];
    }
    const T mean = sum / T(n), mean_xhat = sum_xhat / T(n);
    for (int64_t j = 0; j < n; ++j) dx[j] = rstd * (dy[j] * gamma[j] - mean - xhat[j] * mean_xhat);
}

}  // namespace kerasrnn
