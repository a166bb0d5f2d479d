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

#ifdef __cplusplus
}
#endif

#endif
