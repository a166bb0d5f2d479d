/* Block digests of the content hash (kernels/hash.h) on the worker pool: blocks are independent,
 * so the sequential XXH3 runs on every core at once. */
#include "kernels/cpu/cpu.h"
#include "kernels/hash.h"

typedef struct {
    const uint8_t *src;
    uint64_t len;
    uint64_t *digests;
} blocks_job;

static void block_task(void *ctx, size_t i)
{
    const blocks_job *j = ctx;
    uint64_t off = (uint64_t)i * CK_HASH_BLOCK, n = j->len - off < CK_HASH_BLOCK ? j->len - off : CK_HASH_BLOCK;
    j->digests[i] = ck_hash_block(j->src + off, (size_t)n);
}

int ck_cpu_hash_blocks(ck_backend *be, const void *src, uint64_t len, uint64_t *digests, ck_error *err)
{
    (void)err;
    blocks_job j = {src, len, digests};
    size_t n = (size_t)((len + CK_HASH_BLOCK - 1) / CK_HASH_BLOCK);
    if (n == 1) block_task(&j, 0); /* not worth waking the pool */
    else if (n) ck_pool_run(ck_cpu_pool(be), n, block_task, &j);
    return 0;
}
