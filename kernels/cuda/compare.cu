/* Compare on the device: whole chunks only, one thread per (chunk, lane) running CK_CMP_PAIR over
 * the lane's pairs in order, then one thread per chunk folding its lanes with ck_cmp_fold; the
 * host merges chunk sums in chunk order (ck_compare_close_chunk) and runs the open chunk's head
 * and tail with ck_cmp_run. The same operations in the same order as the CPU back end, with
 * rounded (never fused) device arithmetic: bit-identical results. */
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/common.cuh"

#define CHUNKS_PER_BLOCK 32
#define THREADS (CHUNKS_PER_BLOCK * CK_CMP_LANES)

__global__ void cmp_k(const float *__restrict__ a, const float *__restrict__ b, uint64_t chunks,
                      double *__restrict__ sums, ck_cmp_tally *__restrict__ tallies)
{
    __shared__ double sh[CK_CMP_SUMS][THREADS];
    __shared__ uint64_t nf[THREADS], mm[THREADS];
    __shared__ double mxs[THREADS];
    unsigned tid = threadIdx.x, lane = tid % CK_CMP_LANES;
    uint64_t chunk = blockIdx.x * (uint64_t)CHUNKS_PER_BLOCK + tid / CK_CMP_LANES;
    double dot = 0, aa = 0, bb = 0, dd = 0, mx = 0;
    uint64_t nonfinite = 0, mismatch = 0;
    if (chunk < chunks) {
        const float *pa = a + chunk * CK_CMP_CHUNK, *pb = b + chunk * CK_CMP_CHUNK;
        for (unsigned i = lane; i < CK_CMP_CHUNK; i += CK_CMP_LANES)
            CK_CMP_PAIR(pa[i], pb[i], dot, aa, bb, dd, nonfinite, mismatch, mx);
    }
    sh[CK_CMP_DOT][tid] = dot;
    sh[CK_CMP_AA][tid] = aa;
    sh[CK_CMP_BB][tid] = bb;
    sh[CK_CMP_DD][tid] = dd;
    nf[tid] = nonfinite;
    mm[tid] = mismatch;
    mxs[tid] = mx;
    __syncthreads();
    if (lane == 0 && chunk < chunks) {
        for (int q = 0; q < CK_CMP_SUMS; q++) sums[chunk * CK_CMP_SUMS + q] = ck_cmp_fold(&sh[q][tid]);
        ck_cmp_tally t = {0, 0, 0.0};
        for (unsigned k = 0; k < CK_CMP_LANES; k++) {
            t.nonfinite += nf[tid + k];
            t.mismatch += mm[tid + k];
            t.max_abs = mxs[tid + k] > t.max_abs ? mxs[tid + k] : t.max_abs;
        }
        tallies[chunk] = t;
    }
}

static void open_chunk(ck_compare *acc, const float *a, const float *b, uint64_t k)
{
    ck_cmp_run(a, b, k, (unsigned)(acc->count % CK_CMP_CHUNK), acc->lanes, &acc->t);
    acc->count += k;
    if (acc->count % CK_CMP_CHUNK == 0) {
        double s[CK_CMP_SUMS];
        for (int q = 0; q < CK_CMP_SUMS; q++) s[q] = ck_cmp_fold(acc->lanes[q]);
        ck_compare_close_chunk(acc, s);
        memset(acc->lanes, 0, sizeof acc->lanes);
    }
}

int ck_cuda_compare(ck_backend *be, const float *a, const float *b, uint64_t n, ck_compare *acc, ck_error *err)
{
    ck_cuda *c = (ck_cuda *)be->impl;
    if (acc->finished)
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "compare: the comparison is already finished");
    if (n > UINT64_MAX / 8) return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "compare: count overflows");
    uint64_t i = 0;
    if (acc->count % CK_CMP_CHUNK && n) {
        uint64_t room = CK_CMP_CHUNK - acc->count % CK_CMP_CHUNK, k = n < room ? n : room;
        open_chunk(acc, a, b, k);
        i = k;
    }
    uint64_t chunks = (n - i) / CK_CMP_CHUNK;
    if (chunks) {
        size_t bytes = chunks * CK_CMP_CHUNK * sizeof(float);
        size_t sbytes = chunks * CK_CMP_SUMS * sizeof(double), tbytes = chunks * sizeof(ck_cmp_tally);
        double *hs = (double *)malloc(sbytes);
        ck_cmp_tally *ht = (ck_cmp_tally *)malloc(tbytes);
        void *da = ck_cuda_upload(c, 0, a + i, bytes, err);
        void *db = da ? ck_cuda_upload(c, 1, b + i, bytes, err) : NULL;
        void *ds = db ? ck_cuda_scratch(c, 2, sbytes, err) : NULL;
        void *dt = ds ? ck_cuda_scratch(c, 3, tbytes, err) : NULL;
        int rc = -1;
        if (!hs || !ht) ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "compare: out of memory");
        else if (dt) {
            unsigned grid = (unsigned)((chunks + CHUNKS_PER_BLOCK - 1) / CHUNKS_PER_BLOCK);
            cmp_k<<<grid, THREADS, 0, c->stream>>>((const float *)da, (const float *)db, chunks, (double *)ds,
                                                   (ck_cmp_tally *)dt);
            cudaError_t e = cudaMemcpyAsync(ht, dt, tbytes, cudaMemcpyDeviceToHost, c->stream);
            if (e != cudaSuccess)
                ck_error_set(err, CK_E_IO, NULL, NULL, -1, "CUDA: compare copy failed: %s", cudaGetErrorString(e));
            else rc = ck_cuda_finish(c, hs, ds, sbytes, err);
        }
        if (rc == 0) {
            for (uint64_t k = 0; k < chunks; k++) {
                ck_compare_close_chunk(acc, hs + k * CK_CMP_SUMS);
                ck_cmp_tally_merge(&acc->t, &ht[k]);
            }
            acc->count += chunks * CK_CMP_CHUNK;
            i += chunks * CK_CMP_CHUNK;
        }
        free(hs);
        free(ht);
        if (rc) return -1;
    }
    if (i < n) open_chunk(acc, a + i, b + i, n - i);
    return 0;
}
