/* Device timing for the GPU bench: CUDA events at an op's two staging points (after its last
 * upload, before its first download), and the reference copy rates the bench compares against. */
#include <stdlib.h>

#include "kernels/cuda/common.cuh"
extern "C" {
#include "kernels/cuda/backend_cuda.h"
}

void ck_cuda_mark_in(ck_cuda *c)
{
    if (c->timing) cudaEventRecord(c->ev_in, c->stream);
}

void ck_cuda_mark_out(ck_cuda *c)
{
    if (c->timing) cudaEventRecord(c->ev_out, c->stream);
}

/* After the stream is synchronized: both events have completed. */
void ck_cuda_add_timed(ck_cuda *c)
{
    float ms = 0;
    if (c->timing && cudaEventElapsedTime(&ms, c->ev_in, c->ev_out) == cudaSuccess) c->device_ms += ms;
}

void ck_cuda_timing_release(ck_cuda *c)
{
    if (c->ev_in) cudaEventDestroy(c->ev_in);
    if (c->ev_out) cudaEventDestroy(c->ev_out);
    c->ev_in = c->ev_out = NULL;
    c->timing = false;
}

extern "C" int ck_cuda_set_timing(ck_backend *be, bool on, ck_error *err)
{
    ck_cuda *c = (ck_cuda *)be->impl;
    if (on && !c->ev_in) {
        CUDA_CHECK(err, cudaEventCreate(&c->ev_in));
        CUDA_CHECK(err, cudaEventCreate(&c->ev_out));
    }
    c->timing = on;
    c->device_ms = 0;
    return 0;
}

extern "C" double ck_cuda_take_device_ms(ck_backend *be)
{
    ck_cuda *c = (ck_cuda *)be->impl;
    double ms = c->device_ms;
    c->device_ms = 0;
    return ms;
}

/* Best time in ms of `reps` copies on one stream, timed by events. */
static cudaError_t best_copy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, int reps, cudaStream_t s,
                             cudaEvent_t a, cudaEvent_t b, float *best)
{
    cudaError_t e = cudaSuccess;
    *best = 1e30f;
    for (int r = 0; r < reps && e == cudaSuccess; r++) {
        float ms = 0;
        e = cudaEventRecord(a, s);
        if (e == cudaSuccess) e = cudaMemcpyAsync(dst, src, bytes, kind, s);
        if (e == cudaSuccess) e = cudaEventRecord(b, s);
        if (e == cudaSuccess) e = cudaEventSynchronize(b);
        if (e == cudaSuccess) e = cudaEventElapsedTime(&ms, a, b);
        if (e == cudaSuccess && ms < *best) *best = ms;
    }
    return e;
}

extern "C" int ck_cuda_copy_rates(size_t bytes, int reps, double *d2d, double *h2d, double *d2h, ck_error *err)
{
    void *d0 = NULL, *d1 = NULL, *h = NULL;
    cudaStream_t s = NULL;
    cudaEvent_t a = NULL, b = NULL;
    float t_dd = 0, t_hd = 0, t_dh = 0;
    cudaError_t e = cudaMalloc(&d0, bytes);
    if (e == cudaSuccess) e = cudaMalloc(&d1, bytes);
    if (e == cudaSuccess) e = cudaHostAlloc(&h, bytes, cudaHostAllocDefault);
    if (e == cudaSuccess) e = cudaStreamCreate(&s);
    if (e == cudaSuccess) e = cudaEventCreate(&a);
    if (e == cudaSuccess) e = cudaEventCreate(&b);
    if (e == cudaSuccess) e = cudaMemset(d0, 1, bytes);
    if (e == cudaSuccess) e = best_copy(d1, d0, bytes, cudaMemcpyDeviceToDevice, reps, s, a, b, &t_dd);
    if (e == cudaSuccess) e = best_copy(d0, h, bytes, cudaMemcpyHostToDevice, reps, s, a, b, &t_hd);
    if (e == cudaSuccess) e = best_copy(h, d0, bytes, cudaMemcpyDeviceToHost, reps, s, a, b, &t_dh);
    if (a) cudaEventDestroy(a);
    if (b) cudaEventDestroy(b);
    if (s) cudaStreamDestroy(s);
    if (h) cudaFreeHost(h);
    if (d0) cudaFree(d0);
    if (d1) cudaFree(d1);
    if (e != cudaSuccess)
        return ck_error_set(err, CK_E_IO, NULL, NULL, -1, "CUDA: reference copies failed: %s", cudaGetErrorString(e));
    *d2d = 2.0 * bytes / (t_dd * 1e-3) / 1e9;
    *h2d = bytes / (t_hd * 1e-3) / 1e9;
    *d2h = bytes / (t_dh * 1e-3) / 1e9;
    return 0;
}
