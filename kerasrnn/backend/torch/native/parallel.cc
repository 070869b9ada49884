// How many threads a kernel call of `rows` rows and `work` element updates
// runs on (parallel.h), for the tests and for reports.
#include "parallel.h"

extern "C" int64_t kernel_threads(int64_t rows, int64_t work) { return kerasrnn::kernel_threads(rows, work); }
