#include "kernels/hash.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
/* libxxhash's x86 dispatcher picks the widest vector unit at run time (SSE2 is the build's
 * baseline, AVX2 and AVX-512 about double that); same function, same digests. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__has_include)
#if __has_include(<xxh_x86dispatch.h>)
#include <xxh_x86dispatch.h>
#endif
#endif

struct ck_hash {
    XXH3_state_t *list;  /* over the digests */
    XXH3_state_t *block; /* over the open block's bytes */
    size_t in_block;     /* bytes of the open block */
};

ck_hash *ck_hash_new(void)
{
    ck_hash *h = calloc(1, sizeof *h);
    /* XXH3_state_t is opaque in the shared library's ABI: allocate it through the library. */
    if (!h || !(h->list = XXH3_createState()) || !(h->block = XXH3_createState())) {
        ck_hash_free(h);
        return NULL;
    }
    XXH3_64bits_reset(h->list);
    XXH3_64bits_reset(h->block);
    return h;
}

void ck_hash_free(ck_hash *h)
{
    if (!h) return;
    if (h->list) XXH3_freeState(h->list);
    if (h->block) XXH3_freeState(h->block);
    free(h);
}

static void add_digest(ck_hash *h, uint64_t d)
{
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(d >> (8 * i));
    XXH3_64bits_update(h->list, le, sizeof le);
}

void ck_hash_update(ck_hash *h, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len) {
        if (!h->in_block && len >= CK_HASH_BLOCK) { /* a whole block: one shot */
            add_digest(h, XXH3_64bits(p, CK_HASH_BLOCK));
            p += CK_HASH_BLOCK, len -= CK_HASH_BLOCK;
            continue;
        }
        size_t k = CK_HASH_BLOCK - h->in_block < len ? CK_HASH_BLOCK - h->in_block : len;
        XXH3_64bits_update(h->block, p, k);
        h->in_block += k;
        p += k, len -= k;
        if (h->in_block == CK_HASH_BLOCK) ck_hash_end_member(h); /* a block is full: same as closing it */
    }
}

void ck_hash_add_blocks(ck_hash *h, const uint64_t *digests, size_t n)
{
    for (size_t i = 0; i < n; i++) add_digest(h, digests[i]);
}

void ck_hash_end_member(ck_hash *h)
{
    if (!h->in_block) return;
    add_digest(h, XXH3_64bits_digest(h->block));
    XXH3_64bits_reset(h->block);
    h->in_block = 0;
}

uint64_t ck_hash_digest(ck_hash *h)
{
    ck_hash_end_member(h);
    return XXH3_64bits_digest(h->list);
}

uint64_t ck_hash_block(const void *data, size_t len) { return XXH3_64bits(data, len); }

uint64_t ck_hash_bytes(const void *data, size_t len)
{
    ck_hash *h = ck_hash_new();
    if (!h) abort(); /* two small allocations: out of memory here has nowhere to go */
    ck_hash_update(h, data, len);
    uint64_t d = ck_hash_digest(h);
    ck_hash_free(h);
    return d;
}
