// Splitting a kernel call's rows among PyTorch's intra-op threads.
//
// The library is built with OpenMP and, loaded into a PyTorch process, uses
// PyTorch's own OpenMP runtime (libgomp.so.1 is loaded by then): the calling
// thread's team is the one torch.set_num_threads sizes, and its threads are
// still awake from the matmul just before. A call splits its rows (batch
// entries) into one contiguous block per thread. Each thread sets denormals
// as zero for itself (DenormalsAsZero is per thread). Small calls stay on the
// calling thread: below kParallelWork element updates, waking a second thread
// costs more than it saves.
//
// Gradients that sum over rows go through parallel_rows_summing: each thread
// adds into a zeroed private copy, and the copies are added to the output in
// thread order, so a result depends on the thread count, never on timing.
#pragma once

#include <array>
#include <cstdint>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "activations.h"

namespace kerasrnn {

constexpr int64_t kParallelWork = 4096;

// Threads for `rows` rows of `work` element updates in all: the calling thread's OpenMP team size
// (torch.set_num_threads), at most one per row; 1 for small calls, inside a parallel region, or without OpenMP.
inline int64_t kernel_threads(int64_t rows, int64_t work) {
#ifdef _OPENMP
    if (work < kParallelWork || omp_in_parallel()) return 1;
    const int64_t threads = omp_get_max_threads();
    return threads < rows ? threads : rows;
#else
    (void)rows;
    (void)work;
    return 1;
#endif
}

// body(first, last) over blocks of [0, rows).
template <typename T, typename Body>
void parallel_rows(int64_t rows, int64_t work, Body body) {
    const int64_t threads = kernel_threads(rows, work);
    if (threads <= 1) {
        [[maybe_unused]] const DenormalsAsZero<T> denormals_as_zero;
        body(int64_t(0), rows);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(static_cast<int>(threads))
    {
        [[maybe_unused]] const DenormalsAsZero<T> denormals_as_zero;
        const int64_t count = omp_get_num_threads(), id = omp_get_thread_num();
        body(rows * id / count, rows * (id + 1) / count);
    }
#endif
}

// An output that sums over rows: `size` entries at `data`.
template <typename T>
struct Sum {
    T* data;
    int64_t size;
};

// body(first, last, sums) over blocks of [0, rows), where sums[k] is where the block adds sums[k]'s terms: the
// output itself on one thread, a zeroed private copy on several (added to the output afterwards, in thread order).
template <typename T, size_t N, typename Body>
void parallel_rows_summing(int64_t rows, int64_t work, const std::array<Sum<T>, N>& outputs, Body body) {
    const int64_t threads = kernel_threads(rows, work);
    if (threads <= 1) {
        [[maybe_unused]] const DenormalsAsZero<T> denormals_as_zero;
        std::array<T*, N> sums;
        for (size_t k = 0; k < N; ++k) sums[k] = outputs[k].data;
        body(int64_t(0), rows, sums);
        return;
    }
#ifdef _OPENMP
    int64_t size = 0;
    for (const Sum<T>& output : outputs) size += output.size;
    std::vector<T> copies(static_cast<size_t>(threads * size), T(0));
#pragma omp parallel num_threads(static_cast<int>(threads))
    {
        [[maybe_unused]] const DenormalsAsZero<T> denormals_as_zero;
        const int64_t count = omp_get_num_threads(), id = omp_get_thread_num();
        std::array<T*, N> sums;
        T* copy = copies.data() + id * size;
        for (size_t k = 0; k < N; ++k) {
            sums[k] = copy;
            copy += outputs[k].size;
        }
        body(rows * id / count, rows * (id + 1) / count, sums);
    }
    const T* copy = copies.data();
    for (int64_t thread = 0; thread < threads; ++thread) {  // unused copies (a smaller team) are zeros
        for (const Sum<T>& output : outputs) {
            for (int64_t j = 0; j < output.size; ++j) output.data[j] += copy[j];
            copy += output.size;
        }
    }
#endif
}

}  // namespace kerasrnn
