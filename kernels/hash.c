#include "kernels/hash.h"

#include <xxhash.h>
/* libxxhash's x86 dispatcher picks the widest vector unit at run time (SSE2 is the build's
 * baseline, AVX2 and AVX-512 about double that); same function, same digests. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__has_include)
#if __has_include(<xxh_x86dispatch.h>)
#include <xxh_x86dispatch.h>
#endif
#endif


ck_hash *ck_hash_new(void)
{
    /* XXH3_state_t is opaque in the shared library's ABI: allocate it through the library. */
    XXH3_state_t *st = XXH3_createState();
    if (!st) return NULL;
    XXH3_64bits_reset(st);
    return (ck_hash *)st;
}

void ck_hash_update(ck_hash *h, const void *data, size_t len) { XXH3_64bits_update((XXH3_state_t *)h, data, len); }
uint64_t ck_hash_digest(const ck_hash *h) { return XXH3_64bits_digest((const XXH3_state_t *)h); }
void ck_hash_free(ck_hash *h) { XXH3_freeState((XXH3_state_t *)h); }
uint64_t ck_hash_bytes(const void *data, size_t len) { return XXH3_64bits(data, len); }
