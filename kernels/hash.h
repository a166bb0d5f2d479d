/* Content hash for duplicate detection: XXH3-64 (seed 0) from libxxhash, streamed so a tensor
 * never has to be in memory at once. The hash of a tensor is the hash of its raw bytes as stored;
 * a quantized group (weight + scales) hashes each member's bytes in order, so two groups match only
 * if every member matches. */
#ifndef CK_HASH_H
#define CK_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct ck_hash ck_hash;

ck_hash *ck_hash_new(void);          /* NULL when out of memory */
void ck_hash_update(ck_hash *h, const void *data, size_t len);
uint64_t ck_hash_digest(const ck_hash *h);
void ck_hash_free(ck_hash *h);

uint64_t ck_hash_bytes(const void *data, size_t len); /* one-shot, equal to the streamed value */

#endif
