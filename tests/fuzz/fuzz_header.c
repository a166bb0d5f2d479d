/* libFuzzer target: the safetensors header reader (ck_st_parse_header).
 *
 * The input is laid out like a file: an 8-byte little-endian length N, then the header, then data;
 * file_size is the input length. When N fits, the reader sees exactly the file the input spells out
 * (so truncated, exact and over-long layouts are all reached); when N runs past the end it must
 * refuse before touching a byte, and the remaining bytes are parsed a second time as a header of
 * their own, over a data section whose claimed size comes from N, so that the JSON and layout checks
 * are fuzzed even when the length field is wrong. The header is copied into a buffer of its exact
 * size, so any read past it is an ASan report. Invariants of the result are checked too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/safetensors.h"

static void check_error(const ck_error *err, uint64_t file_size)
{
    if (err->msg[0] == '\0') __builtin_trap();                    /* every error says what is wrong */
    if (err->offset < -1 || (err->offset >= 0 && (uint64_t)err->offset > file_size)) __builtin_trap();
    for (const char *p = err->key; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) __builtin_trap(); /* keys are escaped */
    char line[2048];
    ck_error_format(err, line, sizeof line);
    for (const char *p = line; *p; p++)
        if (*p == '\n') __builtin_trap();                         /* one line */
}

static void check_file(const ck_st_file *f, uint64_t file_size)
{
    uint64_t expect = 0;
    for (size_t i = 0; i < f->n_tensors; i++) {
        const ck_st_tensor *t = &f->tensors[i];
        if (t->begin != expect || t->end < t->begin) __builtin_trap();
        if (t->ndim < 0 || t->ndim > CK_MAX_DIMS || (unsigned)t->dtype >= CK_DTYPE_COUNT) __builtin_trap();
        uint64_t numel, nbytes;
        if (ck_tensor_size(t->dtype, t->shape, t->ndim, &numel, &nbytes) != 0 || numel != t->numel ||
            nbytes != t->end - t->begin)
            __builtin_trap();
        if (memchr(t->name, 0, t->name_len) || t->name[t->name_len] != '\0') __builtin_trap();
        long k = ck_st_find(f, t->name);
        if (k < 0 || strcmp(f->tensors[k].name, t->name) != 0) __builtin_trap();
        expect = t->end;
    }
    if (f->data_start + expect != file_size) __builtin_trap();
}

static void parse_once(const uint8_t *hdr_src, uint64_t hdr_len, size_t avail, uint64_t file_size)
{
    /* Exactly `avail` bytes of header are readable (the rest, if hdr_len is larger, is "past EOF"). */
    uint8_t *hdr = malloc(avail ? avail : 1);
    if (!hdr) return;
    if (avail) memcpy(hdr, hdr_src, avail);
    ck_st_file f;
    ck_error err;
    memset(&err, 0, sizeof err);
    int rc = ck_st_parse_header("fuzz.safetensors", hdr, hdr_len, file_size, &f, &err);
    if (rc == 0) check_file(&f, file_size);
    else if (rc == -1) check_error(&err, file_size);
    else __builtin_trap();
    if (rc == 0 && hdr_len > avail) __builtin_trap(); /* accepted a header it could not have read */
    ck_st_close(&f);
    free(hdr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8) return 0;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | data[i];
    size_t rest = size - 8;
    if (n <= rest) {
        parse_once(data + 8, n, (size_t)n, size);
    } else {
        parse_once(data + 8, n, rest, size); /* must be refused from the length alone */
        parse_once(data + 8, rest, rest, size + (n & 0xffff));
    }
    return 0;
}
