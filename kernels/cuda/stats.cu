/* Statistics on the device (kernels/stats.h defines the reduction; this file computes the same
 * bits as the CPU back end, whose ck_cpu_stats is the reference behaviour).
 *
 * Pass 1, one call: values that complete the chunk left open by the previous call go through the
 * open chunk on the host (ck_stats_feed_open); the whole chunks go to the device; the values after
 * the last whole chunk open the next one (on the host again). On the device, a group of
 * CK_STATS_LANES = 64 threads reduces one chunk: thread k holds elements k, k + 64, k + 128, ...
 * in registers and runs lane k of ck_stats_chunk over them in that order; thread 0 of the group
 * folds the lanes with ck_fold_lanes. The steps are written once (the `step_*` functions below,
 * host and device) and run in the kernel with a barrier between them; ck_cuda_stats_emulate runs
 * the very same steps on the host, lane after lane, so the tests check them against ck_stats_chunk
 * without a device. Each chunk leaves a record (its finite count, c, and the two folded sums; or
 * S and M2 for a chunk reduced in double lanes), each block its counts, min and max; the host
 * turns the records into moments (ck_stats_shifted, the CPU's own code) and merges them in chunk
 * order (ck_stats_merge_chunk). Device arithmetic is rounded step by step (__fadd_rn, __dmul_rn,
 * ...): nothing is fused into an FMA, here or (with --fmad=false) in the shared headers.
 * Pass 2 (histograms only): each thread bins elements with ck_stats_bin into a block histogram in
 * shared memory (integer atomics, so the counts are exact whatever the order), added to one global
 * histogram per stream.
 *
 * Overlap: a call's elements go in pieces of PIECE_BYTES through two slots, each with its own
 * stream, pinned host staging buffer, device buffer and result buffers. For piece k in slot k % 2,
 * the host waits for the slot's previous piece (k - 2), merges its results, copies piece k into the
 * pinned buffer and queues copy-in, kernel and copy-out on the slot's stream, then goes on with
 * piece k + 1 in the other slot: the copy-in of piece k + 1 runs while the kernel of piece k does,
 * and the host's staging copy of piece k + 1 while the device copies in and reduces piece k.
 * Results are merged in piece order, and every piece is merged before the call returns (the
 * reduction's state is the host's). The slots are made on the first call that needs the device
 * and freed when the back end is destroyed. */
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/common.cuh"
extern "C" {
#include "kernels/cuda/backend_cuda.h"
}

#define LANES CK_STATS_LANES
#define PER_LANE (CK_STATS_CHUNK / CK_STATS_LANES)  /* elements per thread: 16 */
#define GROUPS 4                                    /* chunks per block */
#define THREADS (GROUPS * LANES)
/* One slot's staging buffer. Small enough that one call of the callers' usual size (8 MiB
 * windows of a plain tensor) is cut into pieces that overlap; large enough that a piece's fixed
 * costs (a launch, two small copies back, a wait: tens of microseconds) stay small beside its
 * transfer (4 MiB over PCIe: 100 to 300 microseconds). */
#define PIECE_BYTES ((size_t)4 << 20)
#define MAX_CHUNKS (PIECE_BYTES / CK_STATS_CHUNK)   /* per piece, for 1-byte elements */
#define MAX_BLOCKS ((MAX_CHUNKS + GROUPS - 1) / GROUPS)
#define HIST_THREADS 256
#define HIST_PER_THREAD 16
#define HIST_MAX_BLOCKS 4096
#define DOUBLE_LANES 0x80000000u                    /* chunk_rec.n: the chunk went through double lanes */
#define EXACT_SUMS 0x40000000u                      /* chunk_rec.n: a = sum(k), b = sum(k^2) (E4M3) */

#ifdef __CUDA_ARCH__
#define F_ADD(a, b) __fadd_rn((a), (b))
#define F_SUB(a, b) __fsub_rn((a), (b))
#define F_MUL(a, b) __fmul_rn((a), (b))
#define D_ADD(a, b) __dadd_rn((a), (b))
#define D_SUB(a, b) __dsub_rn((a), (b))
#define D_MUL(a, b) __dmul_rn((a), (b))
#else /* the host side is compiled with -ffp-contract=off */
#define F_ADD(a, b) ((a) + (b))
#define F_SUB(a, b) ((a) - (b))
#define F_MUL(a, b) ((a) * (b))
#define D_ADD(a, b) ((a) + (b))
#define D_SUB(a, b) ((a) - (b))
#define D_MUL(a, b) ((a) * (b))
#endif

namespace {

/* ---- element formats: the CPU back end's decoders (kernels/codec.h; integers convert exactly) */

struct SF32 {
    typedef float T;
    static const bool exact = false;
    static CK_HOST_DEVICE float dec(T v) { return v; }
};
struct SBF16 {
    typedef uint16_t T;
    static const bool exact = false;
    static CK_HOST_DEVICE float dec(T v) { return ck_bf16_to_f32(v); }
};
struct SF16 {
    typedef uint16_t T;
    static const bool exact = false;
    static CK_HOST_DEVICE float dec(T v) { return ck_f16_to_f32(v); }
};
struct SE4M3 {
    typedef uint8_t T;
    static const bool exact = true; /* kernels/stats.h: reduced exactly */
    static CK_HOST_DEVICE float dec(T v) { return ck_e4m3_to_f32(v); }
};
struct SE5M2 {
    typedef uint8_t T;
    static const bool exact = false;
    static CK_HOST_DEVICE float dec(T v) { return ck_e5m2_to_f32(v); }
};
struct SE8M0 {
    typedef uint8_t T;
    static const bool exact = false;
    static CK_HOST_DEVICE float dec(T v) { return ck_e8m0_to_f32(v); }
};
struct SU8 { /* and BOOL: the byte's value, as the CPU back end reads it */
    typedef uint8_t T;
    static const bool exact = false;
    static CK_HOST_DEVICE float dec(T v) { return (float)v; }
};
struct SI8 {
    typedef int8_t T;
    static const bool exact = false;
    static CK_HOST_DEVICE float dec(T v) { return (float)v; }
};
struct SU16 {
    typedef uint16_t T;
    static const bool exact = false;
    static CK_HOST_DEVICE float dec(T v) { return (float)v; }
};
struct SI16 {
    typedef int16_t T;
    static const bool exact = false;
    static CK_HOST_DEVICE float dec(T v) { return (float)v; }
};

/* ---- one chunk, as a group of LANES threads ----------------------------------------------- */

enum { MODE_NONE, MODE_FLOAT, MODE_DOUBLE, MODE_EXACT };

/* A group's shared memory: per-lane slots, then what thread 0 of the group computes from them. */
typedef struct {
    float f[LANES];          /* float lanes: sums of x - c, then of d * d */
    double d[LANES];         /* double lanes: sums of x, then of d * d */
    long long ks[LANES], kq[LANES]; /* exact: the lane's sums of k and k^2 (E4M3 units of 2^-9) */
    uint32_t first[LANES];   /* the lane's first finite element (index in the chunk; CHUNK: none) */
    float fv[LANES];         /* its value */
    uint32_t cnt[LANES];     /* the lane's NaN, Inf, zero and finite counts, a byte each (<= 16) */
    float mn[LANES], mx[LANES]; /* the lane's finite min and max (meaningless without finite values) */
    /* set by thread 0 */
    uint32_t nan, inf, zero, fin;
    float min, max, c, mf;
    double a, mean;
    long long es, eq;        /* exact: the chunk's sums of k and k^2 */
    int mode;
} group_shared;

/* What one chunk leaves for the host: for float lanes a = P (folded sums of x - c), b = Q (folded
 * squares about mf); for double lanes (n & DOUBLE_LANES) a = S, b = M2; for an exact chunk
 * (n & EXACT_SUMS) a = sum(k), b = sum(k^2), integers below 2^53. */
typedef struct {
    double a, b;
    float c;
    uint32_t n;
} chunk_rec;

/* One block's counts, min and max (min and max only where finite > 0). */
typedef struct {
    uint32_t nan, inf, zero, finite;
    float min, max;
} block_tally;

CK_HOST_DEVICE static inline bool finite_f(float v) { return (ck_f32_bits(v) & 0x7FFFFFFFu) < 0x7F800000u; }

/* Lane `lane`'s elements of the chunk at x: lane, lane + 64, ... */
template <class F>
CK_HOST_DEVICE static inline void step_load(const typename F::T *x, unsigned lane, float *v)
{
    for (unsigned j = 0; j < PER_LANE; j++) v[j] = F::dec(x[lane + j * LANES]);
}

/* Step 1, every lane: counts, the first finite element, min and max (ck_stats_chunk's rule:
 * the first of equal values is kept). */
CK_HOST_DEVICE static inline void step_scan(group_shared *g, unsigned lane, const float *v)
{
    uint32_t first = CK_STATS_CHUNK, nan = 0, inf = 0, zero = 0, fin = 0;
    float fv = 0, mn = 0, mx = 0;
    for (unsigned j = 0; j < PER_LANE; j++) {
        uint32_t a = ck_f32_bits(v[j]) & 0x7FFFFFFFu;
        nan += a > 0x7F800000u;
        inf += a == 0x7F800000u;
        zero += a == 0;
        if (a >= 0x7F800000u) continue;
        if (fin == 0) {
            first = lane + j * LANES;
            fv = v[j];
        }
        mn = fin == 0 || v[j] < mn ? v[j] : mn;
        mx = fin == 0 || v[j] > mx ? v[j] : mx;
        fin++;
    }
    g->first[lane] = first;
    g->fv[lane] = fv;
    g->cnt[lane] = nan | inf << 8 | zero << 16 | fin << 24;
    g->mn[lane] = mn;
    g->mx[lane] = mx;
}

/* Step 2, thread 0: the chunk's counts, min, max, c (its first finite value) and which lanes. */
CK_HOST_DEVICE static inline void step_plan(group_shared *g, bool exact)
{
    uint32_t first = CK_STATS_CHUNK, nan = 0, inf = 0, zero = 0, fin = 0;
    float c = 0, mn = 0, mx = 0;
    for (unsigned k = 0; k < LANES; k++) {
        uint32_t n = g->cnt[k], lf = n >> 24;
        nan += n & 0xFFu;
        inf += (n >> 8) & 0xFFu;
        zero += (n >> 16) & 0xFFu;
        if (lf) {
            mn = fin == 0 || g->mn[k] < mn ? g->mn[k] : mn;
            mx = fin == 0 || g->mx[k] > mx ? g->mx[k] : mx;
        }
        fin += lf;
        if (g->first[k] < first) {
            first = g->first[k];
            c = g->fv[k];
        }
    }
    g->nan = nan;
    g->inf = inf;
    g->zero = zero;
    g->fin = fin;
    g->min = mn;
    g->max = mx;
    g->c = c;
    g->mode = exact ? MODE_EXACT : !fin ? MODE_NONE : ck_stats_float_ok(-mn > mx ? -mn : mx) ? MODE_FLOAT : MODE_DOUBLE;
}

/* Step 3, every lane: the first sums. A non-finite value adds +0, as in ck_stats_chunk. */
CK_HOST_DEVICE static inline void step_sum(group_shared *g, unsigned lane, const float *v)
{
    if (g->mode == MODE_FLOAT) {
        float c = g->c, p = 0.0f;
        for (unsigned j = 0; j < PER_LANE; j++) p = F_ADD(p, finite_f(v[j]) ? F_SUB(v[j], c) : 0.0f);
        g->f[lane] = p;
    } else if (g->mode == MODE_DOUBLE) {
        double s = 0.0;
        for (unsigned j = 0; j < PER_LANE; j++) s = D_ADD(s, finite_f(v[j]) ? (double)v[j] : 0.0);
        g->d[lane] = s;
    } else if (g->mode == MODE_EXACT) { /* integers: exact in any order */
        long long ks = 0, kq = 0;
        for (unsigned j = 0; j < PER_LANE; j++) {
            long long k = finite_f(v[j]) ? ck_stats_e4m3_units(v[j]) : 0;
            ks += k;
            kq += k * k;
        }
        g->ks[lane] = ks;
        g->kq[lane] = kq;
    }
}

/* Step 4, thread 0: fold them; the shift of the second sweep. */
CK_HOST_DEVICE static inline void step_mean(group_shared *g)
{
    if (g->mode == MODE_FLOAT) {
        g->a = ck_fold_lanes(g->f);
        g->mf = ck_stats_mf(g->fin, g->c, g->a);
    } else if (g->mode == MODE_DOUBLE) {
        g->a = ck_fold_lanes_d(g->d);
        g->mean = g->a / (double)g->fin;
    } else if (g->mode == MODE_EXACT) {
        long long es = 0, eq = 0;
        for (unsigned k = 0; k < LANES; k++) es += g->ks[k], eq += g->kq[k];
        g->es = es;
        g->eq = eq;
    }
}

/* Step 5, every lane: the squares. */
CK_HOST_DEVICE static inline void step_squares(group_shared *g, unsigned lane, const float *v)
{
    if (g->mode == MODE_FLOAT) {
        float mf = g->mf, q = 0.0f;
        for (unsigned j = 0; j < PER_LANE; j++) {
            float d = finite_f(v[j]) ? F_SUB(v[j], mf) : 0.0f;
            q = F_ADD(q, F_MUL(d, d));
        }
        g->f[lane] = q;
    } else if (g->mode == MODE_DOUBLE) {
        double mean = g->mean, q = 0.0;
        for (unsigned j = 0; j < PER_LANE; j++) {
            double d = finite_f(v[j]) ? D_SUB((double)v[j], mean) : 0.0;
            q = D_ADD(q, D_MUL(d, d));
        }
        g->d[lane] = q;
    }
}

/* Step 6, thread 0: the chunk's record. */
CK_HOST_DEVICE static inline chunk_rec step_record(const group_shared *g)
{
    chunk_rec r = {0.0, 0.0, 0.0f, 0u};
    if (g->mode == MODE_FLOAT) r = {g->a, ck_fold_lanes(g->f), g->c, g->fin};
    else if (g->mode == MODE_DOUBLE) r = {g->a, ck_fold_lanes_d(g->d), g->c, g->fin | DOUBLE_LANES};
    else if (g->mode == MODE_EXACT) r = {(double)g->es, (double)g->eq, 0.0f, g->fin | EXACT_SUMS};
    return r;
}

/* The counts, min and max of a block's groups (after step 2). */
CK_HOST_DEVICE static inline block_tally block_of(const group_shared *g, unsigned ngroups)
{
    block_tally t = {0, 0, 0, 0, ck_bits_f32(0x7F800000u), ck_bits_f32(0xFF800000u)};
    for (unsigned k = 0; k < ngroups; k++) {
        t.nan += g[k].nan;
        t.inf += g[k].inf;
        t.zero += g[k].zero;
        if (g[k].fin) {
            t.min = g[k].min < t.min ? g[k].min : t.min;
            t.max = g[k].max > t.max ? g[k].max : t.max;
        }
        t.finite += g[k].fin;
    }
    return t;
}

/* Pass 1: chunk blockIdx.x * GROUPS + g for the group g of each block. */
template <class F>
__global__ void __launch_bounds__(THREADS) moments_k(const typename F::T *__restrict__ src, uint64_t chunks,
                                                     chunk_rec *__restrict__ recs, block_tally *__restrict__ tallies)
{
    __shared__ group_shared sh[GROUPS];
    unsigned gi = threadIdx.x / LANES, lane = threadIdx.x % LANES;
    uint64_t chunk = blockIdx.x * (uint64_t)GROUPS + gi;
    bool live = chunk < chunks;
    group_shared *g = &sh[gi];
    float v[PER_LANE];
    if (live) {
        step_load<F>(src + chunk * CK_STATS_CHUNK, lane, v);
        step_scan(g, lane, v);
    }
    __syncthreads();
    if (live && lane == 0) step_plan(g, F::exact);
    __syncthreads();
    if (threadIdx.x == 0) {
        uint64_t left = chunks - blockIdx.x * (uint64_t)GROUPS;
        tallies[blockIdx.x] = block_of(sh, left < GROUPS ? (unsigned)left : GROUPS);
    }
    if (live) step_sum(g, lane, v);
    __syncthreads();
    if (live && lane == 0) step_mean(g);
    __syncthreads();
    if (live) step_squares(g, lane, v);
    __syncthreads();
    if (live && lane == 0) recs[chunk] = step_record(g);
}

/* Pass 2: the bins of n elements, added to hist. */
template <class F>
__global__ void __launch_bounds__(HIST_THREADS) hist_k(const typename F::T *__restrict__ src, uint64_t n, double lo,
                                                        double range, unsigned long long *__restrict__ hist)
{
    __shared__ unsigned h[CK_HIST_BINS];
    for (unsigned b = threadIdx.x; b < CK_HIST_BINS; b += blockDim.x) h[b] = 0;
    __syncthreads();
    for (uint64_t i = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; i < n; i += (uint64_t)gridDim.x * blockDim.x) {
        float v = F::dec(src[i]);
        if (finite_f(v)) atomicAdd(&h[ck_stats_bin(v, lo, range)], 1u);
    }
    __syncthreads();
    for (unsigned b = threadIdx.x; b < CK_HIST_BINS; b += blockDim.x)
        if (h[b]) atomicAdd(&hist[b], (unsigned long long)h[b]);
}

/* ---- per-format entry points ---------------------------------------------------------------- */

template <class F>
void launch_moments(const void *src, uint64_t chunks, chunk_rec *recs, block_tally *tallies, cudaStream_t s)
{
    unsigned blocks = (unsigned)((chunks + GROUPS - 1) / GROUPS);
    moments_k<F><<<blocks, THREADS, 0, s>>>((const typename F::T *)src, chunks, recs, tallies);
}

template <class F>
void launch_hist(const void *src, uint64_t n, double lo, double range, unsigned long long *hist, cudaStream_t s)
{
    uint64_t want = (n + HIST_THREADS * HIST_PER_THREAD - 1) / (HIST_THREADS * HIST_PER_THREAD);
    unsigned blocks = want > HIST_MAX_BLOCKS ? HIST_MAX_BLOCKS : (unsigned)want;
    hist_k<F><<<blocks, HIST_THREADS, 0, s>>>((const typename F::T *)src, n, lo, range, hist);
}

/* Host decoding, for the open chunk and the tail (elements need not be aligned). */
template <class F>
void decode_host(const void *src, float *dst, uint64_t n)
{
    const uint8_t *p = (const uint8_t *)src;
    for (uint64_t i = 0; i < n; i++) {
        typename F::T t;
        memcpy(&t, p + i * sizeof t, sizeof t);
        dst[i] = F::dec(t);
    }
}

/* The kernel's steps on the host: chunk after chunk, each step over the 64 lanes in turn, blocks
 * of GROUPS chunks as on the device. */
template <class F>
void emulate(const void *src, uint64_t nchunks, chunk_rec *recs, block_tally *tallies)
{
    const typename F::T *x = (const typename F::T *)src;
    float v[GROUPS][LANES][PER_LANE];
    group_shared sh[GROUPS];
    for (uint64_t c0 = 0; c0 < nchunks; c0 += GROUPS) {
        unsigned ng = nchunks - c0 < GROUPS ? (unsigned)(nchunks - c0) : GROUPS;
        for (unsigned g = 0; g < ng; g++)
            for (unsigned l = 0; l < LANES; l++) {
                step_load<F>(x + (c0 + g) * CK_STATS_CHUNK, l, v[g][l]);
                step_scan(&sh[g], l, v[g][l]);
            }
        for (unsigned g = 0; g < ng; g++) step_plan(&sh[g], F::exact);
        tallies[c0 / GROUPS] = block_of(sh, ng);
        for (unsigned g = 0; g < ng; g++)
            for (unsigned l = 0; l < LANES; l++) step_sum(&sh[g], l, v[g][l]);
        for (unsigned g = 0; g < ng; g++) step_mean(&sh[g]);
        for (unsigned g = 0; g < ng; g++)
            for (unsigned l = 0; l < LANES; l++) step_squares(&sh[g], l, v[g][l]);
        for (unsigned g = 0; g < ng; g++) recs[c0 + g] = step_record(&sh[g]);
    }
}

typedef struct {
    ck_dtype dtype;
    void (*moments)(const void *, uint64_t, chunk_rec *, block_tally *, cudaStream_t);
    void (*hist)(const void *, uint64_t, double, double, unsigned long long *, cudaStream_t);
    void (*decode)(const void *, float *, uint64_t);
    void (*emulate)(const void *, uint64_t, chunk_rec *, block_tally *);
} format;

#define FORMAT(d, F) {d, launch_moments<F>, launch_hist<F>, decode_host<F>, emulate<F>}
/* Every dtype the CPU back end reduces, so that choosing the GPU never loses a tensor's statistics. */
const format formats[] = {
    FORMAT(CK_F32, SF32),      FORMAT(CK_BF16, SBF16),    FORMAT(CK_F16, SF16),   FORMAT(CK_F8_E4M3, SE4M3),
    FORMAT(CK_F8_E5M2, SE5M2), FORMAT(CK_F8_E8M0, SE8M0), FORMAT(CK_BOOL, SU8),   FORMAT(CK_U8, SU8),
    FORMAT(CK_I8, SI8),        FORMAT(CK_U16, SU16),      FORMAT(CK_I16, SI16),
};

const format *format_of(ck_dtype d)
{
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
        if (formats[i].dtype == d) return &formats[i];
    return NULL;
}

/* ---- merging on the host --------------------------------------------------------------------- */

void rec_moments(const chunk_rec *r, ck_chunk_moments *m)
{
    uint32_t n = r->n & ~(DOUBLE_LANES | EXACT_SUMS);
    if (!n || (r->n & EXACT_SUMS)) { /* no moments (an exact chunk's n only) */
        m->n = n;
        m->sum = m->m2 = 0;
    } else if (r->n & DOUBLE_LANES) {
        m->n = n;
        m->sum = r->a;
        m->m2 = r->b;
    } else {
        ck_stats_shifted(m, n, r->c, r->a, r->b);
    }
}

/* A chunk's record into the reduction: exact sums, or moments merged in chunk order. */
void rec_merge(const chunk_rec *r, ck_stats *st)
{
    if (r->n & EXACT_SUMS) {
        ck_exact_sums e = {(int64_t)r->a, (int64_t)r->b};
        ck_stats_add_exact(st, &e);
        return;
    }
    ck_chunk_moments m;
    rec_moments(r, &m);
    ck_stats_merge_chunk(st, &m);
}

void tally_add(ck_tally *t, const block_tally *b)
{
    t->nan += b->nan;
    t->inf += b->inf;
    t->zero += b->zero;
    t->finite += b->finite;
    if (b->finite) {
        t->min = b->min < t->min ? b->min : t->min;
        t->max = b->max > t->max ? b->max : t->max;
    }
}

/* ---- the two slots ----------------------------------------------------------------------------- */

typedef struct {
    cudaStream_t s;
    void *stage;                  /* pinned, PIECE_BYTES */
    void *dev;                    /* device, PIECE_BYTES */
    chunk_rec *drec, *hrec;       /* MAX_CHUNKS; hrec pinned */
    block_tally *dtal, *htal;     /* MAX_BLOCKS; htal pinned */
    unsigned long long *dhist, *hhist; /* CK_HIST_BINS; hhist pinned */
    uint64_t pending;             /* pass 1: chunks in flight whose results are not merged yet */
} slot;

typedef struct {
    slot sl[2];
} stats_ctx;

void ctx_free(stats_ctx *x)
{
    if (!x) return;
    for (int b = 0; b < 2; b++) {
        slot *s = &x->sl[b];
        if (s->s) cudaStreamSynchronize(s->s);
        if (s->s) cudaStreamDestroy(s->s);
        if (s->stage) cudaFreeHost(s->stage);
        if (s->hrec) cudaFreeHost(s->hrec);
        if (s->htal) cudaFreeHost(s->htal);
        if (s->hhist) cudaFreeHost(s->hhist);
        if (s->dev) cudaFree(s->dev);
        if (s->drec) cudaFree(s->drec);
        if (s->dtal) cudaFree(s->dtal);
        if (s->dhist) cudaFree(s->dhist);
    }
    free(x);
}

stats_ctx *ctx_get(ck_cuda *c, ck_error *err)
{
    if (c->stats) return (stats_ctx *)c->stats;
    stats_ctx *x = (stats_ctx *)calloc(1, sizeof *x);
    if (!x) {
        ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "stats: out of memory");
        return NULL;
    }
    cudaError_t e = cudaSuccess;
    const char *what = "";
    for (int b = 0; b < 2 && e == cudaSuccess; b++) {
        slot *s = &x->sl[b];
        what = "stream";
        e = cudaStreamCreateWithFlags(&s->s, cudaStreamNonBlocking);
        if (e == cudaSuccess) what = "pinned staging", e = cudaHostAlloc(&s->stage, PIECE_BYTES, cudaHostAllocDefault);
        if (e == cudaSuccess) e = cudaHostAlloc((void **)&s->hrec, MAX_CHUNKS * sizeof(chunk_rec), cudaHostAllocDefault);
        if (e == cudaSuccess) e = cudaHostAlloc((void **)&s->htal, MAX_BLOCKS * sizeof(block_tally), cudaHostAllocDefault);
        if (e == cudaSuccess) e = cudaHostAlloc((void **)&s->hhist, CK_HIST_BINS * sizeof(unsigned long long), cudaHostAllocDefault);
        if (e == cudaSuccess) what = "device buffers", e = cudaMalloc(&s->dev, PIECE_BYTES);
        if (e == cudaSuccess) e = cudaMalloc((void **)&s->drec, MAX_CHUNKS * sizeof(chunk_rec));
        if (e == cudaSuccess) e = cudaMalloc((void **)&s->dtal, MAX_BLOCKS * sizeof(block_tally));
        if (e == cudaSuccess) e = cudaMalloc((void **)&s->dhist, CK_HIST_BINS * sizeof(unsigned long long));
    }
    if (e != cudaSuccess) {
        ck_error_set(err, e == cudaErrorMemoryAllocation ? CK_E_NOMEM : CK_E_IO, NULL, NULL, -1,
                     "CUDA: stats: cannot make the %s: %s", what, cudaGetErrorString(e));
        ctx_free(x);
        return NULL;
    }
    c->stats = x;
    return x;
}

int io_error(ck_error *err, const char *what, cudaError_t e)
{
    return ck_error_set(err, CK_E_IO, NULL, NULL, -1, "CUDA: stats: %s failed: %s", what, cudaGetErrorString(e));
}

/* Wait for a slot; for pass 1, merge its piece's chunks (in order) and counts. */
int collect(slot *s, ck_stats *st, ck_error *err)
{
    cudaError_t e = cudaStreamSynchronize(s->s);
    if (e != cudaSuccess) return io_error(err, "a piece", e);
    if (s->pending) {
        for (uint64_t k = 0; k < s->pending; k++) rec_merge(&s->hrec[k], st);
        for (uint64_t b = 0; b < (s->pending + GROUPS - 1) / GROUPS; b++) tally_add(&st->t, &s->htal[b]);
        st->count += s->pending * CK_STATS_CHUNK;
        s->pending = 0;
    }
    return 0;
}

/* Queue one piece of `n` elements (pass 1: whole chunks) on slot s. */
int enqueue(slot *s, const format *f, const uint8_t *src, uint64_t n, size_t eb, const ck_stats *st, ck_error *err)
{
    size_t bytes = (size_t)(n * eb);
    memcpy(s->stage, src, bytes);
    cudaError_t e = cudaMemcpyAsync(s->dev, s->stage, bytes, cudaMemcpyHostToDevice, s->s);
    if (e != cudaSuccess) return io_error(err, "copy to the device", e);
    if (st->pass == 1) {
        uint64_t chunks = n / CK_STATS_CHUNK, blocks = (chunks + GROUPS - 1) / GROUPS;
        f->moments(s->dev, chunks, s->drec, s->dtal, s->s);
        if ((e = cudaGetLastError()) != cudaSuccess) return io_error(err, "the moments kernel", e);
        e = cudaMemcpyAsync(s->hrec, s->drec, chunks * sizeof(chunk_rec), cudaMemcpyDeviceToHost, s->s);
        if (e == cudaSuccess)
            e = cudaMemcpyAsync(s->htal, s->dtal, blocks * sizeof(block_tally), cudaMemcpyDeviceToHost, s->s);
        if (e != cudaSuccess) return io_error(err, "copy from the device", e);
        s->pending = chunks;
    } else {
        f->hist(s->dev, n, st->lo, st->range, s->dhist, s->s);
        if ((e = cudaGetLastError()) != cudaSuccess) return io_error(err, "the histogram kernel", e);
    }
    return 0;
}

/* n elements through the two slots: pass 1 whole chunks, pass 2 any count. */
int run_pieces(stats_ctx *x, const format *f, const uint8_t *src, uint64_t n, size_t eb, ck_stats *st, ck_error *err)
{
    uint64_t per = PIECE_BYTES / eb; /* elements per piece: whole chunks, as PIECE_BYTES is */
    int rc = 0, used = 0;
    cudaError_t e = cudaSuccess;
    if (st->pass == 2)
        for (int b = 0; b < 2 && e == cudaSuccess; b++)
            e = cudaMemsetAsync(x->sl[b].dhist, 0, CK_HIST_BINS * sizeof(unsigned long long), x->sl[b].s);
    if (e != cudaSuccess) rc = io_error(err, "clearing the histogram", e);
    uint64_t k = 0;
    for (uint64_t i = 0; !rc && i < n; i += per, k++) {
        slot *s = &x->sl[k % 2];
        uint64_t m = n - i < per ? n - i : per;
        rc = collect(s, st, err); /* piece k - 2, merged before k - 1 (next round) and k */
        if (!rc) rc = enqueue(s, f, src + i * eb, m, eb, st, err);
        used |= 1 << (k % 2);
    }
    /* the last two pieces, older first */
    for (int j = 0; !rc && j < 2; j++) rc = collect(&x->sl[(k + (uint64_t)j) % 2], st, err);
    if (!rc && st->pass == 2) {
        for (int b = 0; b < 2 && e == cudaSuccess; b++)
            if (used & (1 << b))
                e = cudaMemcpyAsync(x->sl[b].hhist, x->sl[b].dhist, CK_HIST_BINS * sizeof(unsigned long long),
                                    cudaMemcpyDeviceToHost, x->sl[b].s);
        for (int b = 0; b < 2 && e == cudaSuccess; b++) e = cudaStreamSynchronize(x->sl[b].s);
        if (e != cudaSuccess) rc = io_error(err, "copy of the histogram", e);
        for (int b = 0; !rc && b < 2; b++)
            if (used & (1 << b))
                for (int h = 0; h < CK_HIST_BINS; h++) st->t.hist[h] += x->sl[b].hhist[h];
    }
    if (rc) /* leave nothing in flight on the buffers, and no half-merged piece for the next call */
        for (int b = 0; b < 2; b++) {
            cudaStreamSynchronize(x->sl[b].s);
            x->sl[b].pending = 0;
        }
    return rc;
}

} /* namespace */

bool ck_cuda_stats_supports(ck_dtype dtype) { return format_of(dtype) != NULL; }

int ck_cuda_stats(ck_backend *be, ck_dtype dtype, const void *src, uint64_t n, ck_stats *st, ck_error *err)
{
    ck_cuda *c = (ck_cuda *)be->impl;
    const format *f = format_of(dtype);
    if (!f)
        return ck_error_set(err, CK_E_UNSUPPORTED, NULL, NULL, -1, "stats: %s is not supported on the GPU",
                            ck_dtype_name(dtype));
    if (st->pass != 1 && st->pass != 2)
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "stats: the reduction is finished");
    if (st->pass == 1 && n && !ck_stats_take_dtype(st, dtype))
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1,
                            "stats: %s values in a reduction begun with another kind (E4M3 is reduced exactly)",
                            ck_dtype_name(dtype));
    size_t eb = ck_dtype_info(dtype)->bits / 8;
    const uint8_t *p = (const uint8_t *)src;
    if (st->pass == 2) {
        if (!st->histogram || n == 0) return 0;
        stats_ctx *x = ctx_get(c, err);
        return x ? run_pieces(x, f, p, n, eb, st, err) : -1;
    }
    float buf[CK_STATS_CHUNK];
    uint64_t done = 0;
    while (st->nopen && done < n) { /* complete the open chunk */
        uint64_t k = n - done < CK_STATS_CHUNK - st->nopen ? n - done : CK_STATS_CHUNK - st->nopen;
        f->decode(p + done * eb, buf, k);
        done += ck_stats_feed_open(st, buf, k);
    }
    uint64_t whole = (n - done) / CK_STATS_CHUNK * CK_STATS_CHUNK;
    if (whole) {
        stats_ctx *x = ctx_get(c, err);
        if (!x || run_pieces(x, f, p + done * eb, whole, eb, st, err)) return -1;
        done += whole;
    }
    if (done < n) { /* fewer than a chunk: they open the next one */
        f->decode(p + done * eb, buf, n - done);
        ck_stats_feed_open(st, buf, n - done);
    }
    return 0;
}

void ck_cuda_stats_release(ck_cuda *c)
{
    ctx_free((stats_ctx *)c->stats);
    c->stats = NULL;
}

extern "C" int ck_cuda_stats_emulate(ck_dtype dtype, const void *src, uint64_t nchunks, ck_chunk_moments *m,
                                     ck_exact_sums *exact, ck_tally *t)
{
    const format *f = format_of(dtype);
    if (!f) return -1;
    chunk_rec *recs = (chunk_rec *)malloc((size_t)(nchunks ? nchunks : 1) * sizeof *recs);
    block_tally *tallies = (block_tally *)malloc((size_t)((nchunks + GROUPS - 1) / GROUPS + 1) * sizeof *tallies);
    if (!recs || !tallies) {
        free(recs);
        free(tallies);
        return -1;
    }
    f->emulate(src, nchunks, recs, tallies);
    for (uint64_t k = 0; k < nchunks; k++) {
        rec_moments(&recs[k], &m[k]);
        if (recs[k].n & EXACT_SUMS) exact->sum += (int64_t)recs[k].a, exact->sq += (int64_t)recs[k].b;
    }
    for (uint64_t b = 0; b < (nchunks + GROUPS - 1) / GROUPS; b++) tally_add(t, &tallies[b]);
    free(recs);
    free(tallies);
    return 0;
}
