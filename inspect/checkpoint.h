/* A checkpoint: one .safetensors file, or a directory with model.safetensors.index.json, or a
 * directory of loose *.safetensors files; plus the JSON side files (config.json,
 * generation_config.json, hf_quant_config.json). Opening reads headers only.
 *
 * Problems are collected, not fatal: a bad shard or a truncated config.json becomes an entry in
 * `problems` and the rest is still opened, so `check` can report everything at once. Only a path
 * that is not a checkpoint at all makes ck_checkpoint_open fail. */
#ifndef CK_CHECKPOINT_H
#define CK_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "safetensors.h"

struct cJSON;

/* A JSON side file. `present` false: the file does not exist. `json` NULL while present: it did not
 * parse, and `error` says where (byte offset of the first bad byte). */
typedef struct {
    bool present;
    char *path;
    char *text;            /* raw bytes, NUL-terminated */
    size_t text_len;
    struct cJSON *json;
    ck_error error;
} ck_json_file;

typedef enum {
    CK_LAYOUT_FILE,        /* a single .safetensors file */
    CK_LAYOUT_INDEXED,     /* directory with model.safetensors.index.json */
    CK_LAYOUT_LOOSE,       /* directory with *.safetensors, no index */
    CK_LAYOUT_INDEX_ONLY,  /* index present, shards absent (opened with CK_OPEN_INDEX_ONLY) */
} ck_layout;

typedef struct {
    char *name;            /* file name relative to the checkpoint directory */
    ck_st_file st;         /* header; st.path is the full path */
    bool ok;               /* header read and valid */
} ck_shard;

/* One tensor of the catalog: everything known without reading data. */
typedef struct {
    const char *name;      /* points into the shard's header arena (or index, for index-only) */
    size_t name_len;
    ck_dtype dtype;
    int ndim;
    const uint64_t *shape;
    uint64_t numel;
    uint64_t nbytes;
    uint32_t shard;        /* index into ck_checkpoint.shards */
    uint64_t file_offset;  /* absolute byte offset of the data in the shard file */
    bool has_header;       /* false for index-only entries: dtype/shape unknown */
} ck_entry;

typedef struct {
    char *path;            /* as given */
    char *dir;             /* the directory holding the shards and side files */
    ck_layout layout;
    char *index_path;      /* NULL without an index */
    uint64_t index_total_size;
    bool index_has_total_size;
    ck_shard *shards;
    size_t n_shards;
    ck_entry *entries;     /* sorted by name (byte order) */
    size_t n_entries;
    ck_json_file config, generation_config, hf_quant_config;
    ck_error *problems;    /* every problem met while opening, in a deterministic order */
    size_t n_problems;
    /* private */
    void *index_arena;
} ck_checkpoint;

enum {
    CK_OPEN_INDEX_ONLY = 1u << 0, /* do not require the shards named by the index to exist */
};

int ck_checkpoint_open(const char *path, unsigned flags, ck_checkpoint *out, ck_error *err);
void ck_checkpoint_close(ck_checkpoint *ck);

/* Binary search in the name-sorted catalog; NULL if absent. */
const ck_entry *ck_checkpoint_find(const ck_checkpoint *ck, const char *name);

#endif
