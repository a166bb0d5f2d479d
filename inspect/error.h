/* Errors are values: library code never prints and never exits. A ck_error carries
 * what went wrong and where (file, tensor key, byte offset), so the caller can print one
 * clear line and choose the exit status. */
#ifndef CK_ERROR_H
#define CK_ERROR_H

#include <stdint.h>
#include <stddef.h>

typedef enum {
    CK_OK = 0,
    CK_E_IO,          /* open/read/write/mmap failed (errno-ish) */
    CK_E_FORMAT,      /* the bytes break the format's rules */
    CK_E_NOMEM,
    CK_E_USAGE,       /* the caller asked for something impossible */
    CK_E_UNSUPPORTED, /* valid input, but beyond what ckdoc handles */
} ck_errcode;

typedef struct {
    ck_errcode code;
    char file[512];   /* the file the problem is in ("" if none) */
    char key[256];    /* tensor or JSON key, already escaped for printing ("" if none) */
    int64_t offset;   /* byte offset in `file`, or -1 when it has none */
    char msg[512];
} ck_error;

/* Set every field; `key` is escaped (control characters become \xNN) and truncated safely.
 * Returns -1 so callers can write `return ck_error_set(...)`. */
int ck_error_set(ck_error *err, ck_errcode code, const char *file, const char *key,
                 int64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* One line, no newline: "FILE: key 'KEY' at byte OFFSET: MESSAGE"; the parts with nothing to say
 * are left out ("FILE: byte OFFSET: MESSAGE", "FILE: key 'KEY': MESSAGE"). */
void ck_error_format(const ck_error *err, char *buf, size_t size);

/* Copy `src` into `dst` (size `size`), escaping so that a hostile tensor name can never drive the
 * terminal: bytes < 0x20, 0x7f and bytes that are not UTF-8 become \xNN; C1 controls and bidi
 * overrides become \uNNNN; backslash and quotes get a backslash. Other UTF-8 passes through. */
void ck_escape(char *dst, size_t size, const char *src, size_t src_len);

#endif
