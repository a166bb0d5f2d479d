/* The CUDA back end, seen from C: nothing here needs cuda_runtime.h. Built only when nvcc is found
 * (the Makefile defines CK_HAVE_CUDA and compiles the .cu files in kernels/cuda). */
#ifndef CK_BACKEND_CUDA_H
#define CK_BACKEND_CUDA_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* True when the CUDA runtime answers and reports at least one device; otherwise `why` (size bytes)
 * says what failed: the runtime's own error string, or "no CUDA device". */
bool ck_cuda_available(char *why, size_t size);

/* Device 0. `threads` sizes the host-side helpers. NULL with err set on failure. */
ck_backend *ck_cuda_backend_create(int threads, ck_error *err);

/* For tests, and needs no device: the statistics kernel's per-chunk steps (kernels/cuda/stats.cu)
 * run on the host, lane after lane, over `nchunks` whole chunks of `dtype` at `src`; chunk c's
 * moments go to m[c] (for F8_E4M3, reduced exactly, only m[c].n: the sums are added to *exact),
 * the counts, min and max are added to *t. 0, or -1 for a dtype the CUDA back end does not reduce. */
int ck_cuda_stats_emulate(ck_dtype dtype, const void *src, uint64_t nchunks, ck_chunk_moments *m,
                          ck_exact_sums *exact, ck_tally *t);

#ifdef __cplusplus
}
#endif

#endif
