// Element-wise activations for the fused step kernels.
//
// float: exp by Cephes' expf (range reduction to [-ln2/2, ln2/2], a degree-6
// polynomial, 2^n from the exponent bits; about 1 ulp), written without
// library calls so that the compiler vectorizes the loops that use it
// (libm's expf is a call per element). tanh as Cephes' tanhf: a polynomial
// for |x| < 0.625, 1 - 2 / (e^{2|x|} + 1) beyond. double: the C library's
// own functions (float64 is the checking precision, not the fast one).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace kerasrnn {

inline float exp_approx(float x) {
    x = x < -87.33654f ? -87.33654f : (x > 88.0f ? 88.0f : x);  // e^x stays a normal float; NaN passes
    const float n = std::floor(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float y = p * r * r + r + 1.0f;
    const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

inline float sigmoid(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

inline float tanh(float x) {
    const float a = std::fabs(x);
    const float z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    const float small = x + x * z * p;
    const float large = std::copysign(1.0f - 2.0f / (exp_approx(2.0f * a) + 1.0f), x);
    return a < 0.625f ? small : large;
}

// Denormals as zero (DAZ) and flush to zero (FTZ) for the duration of one
// float32 kernel call, the caller's setting restored on return. Without them
// the vectorized step loops meet denormal operands and run 2-3x slower on
// x86 (peephole LSTM forward at batch 128 x 128 units: 116 us against 44 us
// per step, measured). Scoped on purpose: the process-wide switch that
// -ffast-math's startup code would make leaks into every later float
// computation of the process. Values below 1.2e-38 become 0 inside the
// kernels only. float64 (the checking precision) is left alone.
template <typename T>
class DenormalsAsZero {};

#if defined(__x86_64__) || defined(__i386__)
template <>
class DenormalsAsZero<float> {
   public:
    DenormalsAsZero() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040); }  // FTZ (bit 15) | DAZ (bit 6)
    ~DenormalsAsZero() { _mm_setcsr(saved_); }
    DenormalsAsZero(const DenormalsAsZero&) = delete;
    DenormalsAsZero& operator=(const DenormalsAsZero&) = delete;

   private:
    unsigned int saved_;
};
#endif

inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

inline double tanh(double x) { return std::tanh(x); }

}  // namespace kerasrnn
