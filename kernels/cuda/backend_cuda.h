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

/* For the GPU bench (tests/tools/bench_cuda.c). With timing on, an op's device time from its last
 * upload to its first download (its kernels; CUDA events on the back end's stream) is added up,
 * and ck_cuda_take_device_ms returns the sum and clears it. Ops with one download only (transpose,
 * cast, dequantize, permute, matmul) are timed exactly; statistics, which stream through their
 * own two streams, are not timed this way. */
int ck_cuda_set_timing(ck_backend *be, bool on, ck_error *err);
double ck_cuda_take_device_ms(ck_backend *be);
/* Reference rates on device 0, in GB/s counting bytes read plus written (a copy of S bytes moves
 * 2S): a device-to-device copy of `bytes`, and pinned host-to-device and device-to-host copies
 * (counting S each). Best of `reps`. */
int ck_cuda_copy_rates(size_t bytes, int reps, double *d2d, double *h2d, double *d2h, ck_error *err);

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
