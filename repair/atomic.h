/* Crash-safe output: every file is written under a temporary name in its final directory,
 * fsynced, renamed over the final name, and the directory fsynced. A crash leaves either the old
 * file or the new one, never a mix. */
#ifndef CK_ATOMIC_H
#define CK_ATOMIC_H

#include <stdint.h>
#include "../inspect/error.h"

typedef struct {
    char *final_path;
    char *tmp_path;   /* "<dir>/.<name>.ckdoc-tmp.<pid>" */
    int fd;
} ck_atomic_file;

int ck_atomic_open(ck_atomic_file *af, const char *final_path, ck_error *err);
/* Write all of buf (retrying short writes). */
int ck_atomic_write(ck_atomic_file *af, const void *buf, size_t len, ck_error *err);
/* Seek forward by len bytes without writing: the gap reads back as zeros (a file hole). */
int ck_atomic_skip(ck_atomic_file *af, uint64_t len, ck_error *err);
/* fsync, rename onto final_path, fsync the directory. Frees af. */
int ck_atomic_commit(ck_atomic_file *af, ck_error *err);
/* Remove the temporary file. Frees af. Safe after a failed commit. */
void ck_atomic_abort(ck_atomic_file *af);

/* Write a whole small file (JSON side files, indexes) atomically. */
int ck_atomic_write_file(const char *path, const void *buf, size_t len, ck_error *err);

#endif
