/* safetensors reader: the header is read and validated as strictly as the reference Rust
 * implementation (huggingface/safetensors tensor.rs `read_metadata`), plus what it only
 * promises: duplicate keys are rejected. Data is never read here; it is mmapped on demand. */
#ifndef CK_SAFETENSORS_H
#define CK_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "error.h"

#define CK_ST_MAX_HEADER 100000000ull /* reference MAX_HEADER_SIZE */
#define CK_MAX_DIMS 16                /* more dims than any model uses; more is refused, not truncated */

typedef struct {
    char *name;           /* decoded UTF-8 (may hold control characters: escape before printing) */
    size_t name_len;
    ck_dtype dtype;
    int ndim;
    uint64_t shape[CK_MAX_DIMS];
    uint64_t numel;
    uint64_t begin, end;  /* data_offsets, relative to the data section */
} ck_st_tensor;

typedef struct {
    char *key, *value;
} ck_kv;

typedef struct {
    char *path;
    uint64_t file_size;
    uint64_t header_len;   /* N, the u64 at offset 0 */
    uint64_t data_start;   /* 8 + N: file offset of the data section */
    ck_st_tensor *tensors; /* in data order (sorted by begin, end), which is also file order */
    size_t n_tensors;
    ck_kv *metadata;       /* __metadata__, in the header's order */
    size_t n_metadata;
    bool has_metadata;
    /* private */
    int fd;
    void *map;             /* whole-file mmap, made on first ck_st_data() */
    size_t map_len;
    size_t *by_name;       /* tensor indices sorted by name (built while rejecting duplicates) */
    void *arena;           /* names and strings live here: one free */
} ck_st_file;

/* Parse and validate a header already in memory. `hdr` is the N header bytes (without the 8-byte
 * length prefix), `file_size` the size of the whole file, `path` only names the file in errors.
 * On success fills `out` (caller frees with ck_st_close) and returns 0; on failure returns -1 with
 * `err` naming file, key and byte offset (offsets are file offsets: header byte i is at 8 + i). */
int ck_st_parse_header(const char *path, const uint8_t *hdr, uint64_t hdr_len, uint64_t file_size,
                       ck_st_file *out, ck_error *err);

/* Open a file and read only its 8-byte length and header (pread, no mmap). */
int ck_st_open(const char *path, ck_st_file *out, ck_error *err);

/* Pointer to tensor `i`'s bytes, mapping the file read-only on first use; NULL with `err` set if
 * the mapping fails. Valid until ck_st_close. */
const uint8_t *ck_st_data(ck_st_file *f, size_t i, ck_error *err);

/* Index of the tensor called `name`, or -1. O(log n) over the name index. */
long ck_st_find(const ck_st_file *f, const char *name);

void ck_st_close(ck_st_file *f);

#endif
