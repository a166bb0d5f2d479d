/* Content hash for duplicate detection, built on XXH3-64 (seed 0) from libxxhash: the XXH3-64 of
 * the list of XXH3-64 digests (8 bytes each, little-endian) of the data's consecutive blocks of
 * CK_HASH_BLOCK bytes (the last one may be shorter; no data, no digests). XXH3 itself is
 * sequential, one core's worth of work (about 20 GB/s here, below what two cores read); block
 * digests are computed in parallel by the back end's workers (the `hash_blocks` op) and only
 * the short digest list is hashed in order. A quantized group (weight + scales) hashes each
 * member's blocks in turn, blocks counted from each member's start, so two groups match only if
 * every member matches. Streamed: a tensor never has to be in memory at once. */
#ifndef CK_HASH_H
#define CK_HASH_H

#include <stddef.h>
#include <stdint.h>

#define CK_HASH_BLOCK ((size_t)1 << 20)

typedef struct ck_hash ck_hash;

ck_hash *ck_hash_new(void); /* NULL when out of memory */
void ck_hash_free(ck_hash *h);
/* The next bytes of the current member, any length. */
void ck_hash_update(ck_hash *h, const void *data, size_t len);
/* The digests of the current member's next n whole blocks (ck_hash_block of each), in order; the
 * member's bytes so far must be a whole number of blocks. */
void ck_hash_add_blocks(ck_hash *h, const uint64_t *digests, size_t n);
/* Close the current member (its last, partial block); the next bytes start a new one. */
void ck_hash_end_member(ck_hash *h);
/* The hash of everything so far (closing the current member; h can take no more data). */
uint64_t ck_hash_digest(ck_hash *h);

uint64_t ck_hash_block(const void *data, size_t len); /* XXH3-64 of one block */
uint64_t ck_hash_bytes(const void *data, size_t len); /* one member, one shot: the streamed value */

#endif
