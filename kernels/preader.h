/* Read-ahead of a byte range of a file, for the commands that stream tensor data once (stats,
 * check --deep): a thread of its own preads the next window into one of two buffers while the
 * caller computes on the other.
 *
 * Why pread and not the shard's mmap: for data in the page cache, mapping costs more kernel time
 * than the statistics themselves (populating the page tables of 256 MiB took 25 ms here, and
 * dropping them again 10 ms, all on the calling thread), while pread copies into a buffer that
 * stays hot in cache for the reduction that follows, and the copy overlaps that reduction. The
 * memory used is two windows, whatever the tensor's size. */
#ifndef CK_PREADER_H
#define CK_PREADER_H

#include <stddef.h>
#include <stdint.h>

#include "inspect/error.h"

typedef struct ck_preader ck_preader;

/* Two buffers of `window` bytes (rounded up to a multiple of 64), and `readers` threads that
 * read each window in parts (at least one). */
ck_preader *ck_preader_new(size_t window, int readers, ck_error *err);
void ck_preader_free(ck_preader *r);

/* Start reading [offset, offset + len) of fd, in windows of `window` bytes (0 or more than the
 * buffers hold: as much as they hold), the last one shorter (`path` and `key` name the file and
 * tensor in errors). Ends any range still being read. */
void ck_preader_start(ck_preader *r, int fd, uint64_t offset, uint64_t len, size_t window, const char *path,
                      const char *key);

/* The next window of the range, in order: 1 with its bytes in *p and length in *n (valid until
 * the next call), 0 at the end of the range, -1 on a read error (err names the file, the key and
 * the byte offset). */
int ck_preader_next(ck_preader *r, const uint8_t **p, size_t *n, ck_error *err);

#endif
