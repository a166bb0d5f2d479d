/* Streaming safetensors writer. Output bytes are a function of the input alone:
 *  - tensors are laid out in the reference writer's order: dtype descending in the safetensors
 *    enum order (U64, I64, F64, C64, F32, ...), ties by name in byte order; so every tensor
 *    starts at a multiple of its element size;
 *  - header JSON is compact, `__metadata__` first (keys in the caller's order), tensor fields
 *    in the order dtype, shape, data_offsets; padded with spaces to a multiple of 8;
 *  - the file is written through ck_atomic_* (temporary name, fsync, rename, dir fsync).
 * Data comes from a pointer, from a read callback (streaming from an mmap or a computation),
 * or is all zeros, in which case it is left as a file hole (sparse fixtures cost no disk). */
#ifndef CK_ST_WRITER_H
#define CK_ST_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "../inspect/dtype.h"
#include "../inspect/error.h"
#include "../inspect/safetensors.h"

typedef int (*ck_read_fn)(void *ctx, uint64_t offset, void *buf, size_t len, ck_error *err);

typedef struct {
    const char *name;
    ck_dtype dtype;
    int ndim;
    const uint64_t *shape;
    const void *data;    /* whole tensor bytes, or NULL */
    ck_read_fn read;     /* used when data is NULL and read is set */
    void *read_ctx;
    /* data == NULL and read == NULL: the tensor is all zero bytes, written as a hole */
} ck_st_source;

/* Write one safetensors file at `path`. `meta` may be NULL (no __metadata__). Fails (nothing left
 * behind) on duplicate names, a name "__metadata__", sizes that overflow, or I/O errors. */
int ck_st_write_file(const char *path, const ck_st_source *tensors, size_t n,
                     const ck_kv *meta, size_t n_meta, ck_error *err);

/* Write a Hugging Face sharded checkpoint into directory `dir` (created if missing): tensors in
 * the caller's order are cut into shards of at most `max_shard_bytes` of data (a bigger tensor
 * gets its own shard), named model-00001-of-0000N.safetensors, plus
 * model.safetensors.index.json (metadata.total_size, weight_map sorted by name, 2-space indent).
 * With one shard the file is model.safetensors and no index is written. Each shard carries
 * __metadata__ {"format": "pt"}. */
int ck_st_write_sharded(const char *dir, const ck_st_source *tensors, size_t n,
                        uint64_t max_shard_bytes, ck_error *err);

#endif
