/* model.safetensors.index.json: {"metadata": {"total_size": N, ...}, "weight_map": {key: shard}}.
 * Parsed from memory (so the fuzzer can drive it) and validated: weight_map present and an object
 * of strings, no duplicate keys, shard names that stay inside the directory (no '/', no "..",
 * not absolute, not empty, no control characters), total_size a non-negative integer if present. */
#ifndef CK_INDEX_H
#define CK_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct {
    const char *key;
    size_t key_len;
    uint32_t shard;        /* index into ck_index.shards */
} ck_index_entry;

typedef struct {
    ck_index_entry *entries; /* sorted by key (byte order) */
    size_t n_entries;
    char **shards;           /* distinct shard names, sorted */
    size_t n_shards;
    uint64_t total_size;
    bool has_total_size;
    void *arena;
} ck_index;

int ck_index_parse(const char *path, const char *text, size_t len, ck_index *out, ck_error *err);
void ck_index_free(ck_index *idx);

#endif
