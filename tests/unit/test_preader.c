/* The read-ahead of kernels/preader.h on a real file: every byte of a range, in order and in the
 * windows asked for, with one and several reading threads; a new range started while the old one
 * is half read; and a range running past the end of the file, which must fail naming the file,
 * the key and the byte offset where the data stop. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/preader.h"
#include "tests/check.h"

#define FILE_BYTES (5u << 20)

static char path[256];
static uint8_t *content;

static int make_file(void)
{
    snprintf(path, sizeof path, "%s/preader.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    content = malloc(FILE_BYTES);
    for (uint32_t i = 0; i < FILE_BYTES; i++) content[i] = (uint8_t)(i * 2654435761u >> 24);
    if (write(fd, content, FILE_BYTES) != (ssize_t)FILE_BYTES) return -1;
    return fd;
}

/* Read [off, off + len) in windows of `window`: the bytes must be the file's, in order, each window
 * full but the last. */
static int read_range(ck_preader *r, int fd, uint64_t off, uint64_t len, size_t window)
{
    ck_error err;
    ck_preader_start(r, fd, off, len, window, path, "t");
    size_t full = window ? window : 4u << 20; /* 0: the buffers' size */
    uint64_t got = 0;
    const uint8_t *p;
    size_t n;
    int more;
    while ((more = ck_preader_next(r, &p, &n, &err)) > 0) {
        if (n == 0 || (got + n < len && n != full) || memcmp(p, content + off + got, n)) return 0;
        got += n;
    }
    return more == 0 && got == len;
}

static void ranges(void)
{
    int fd = make_file();
    CHECK(fd >= 0);
    if (fd < 0) return;
    for (int readers = 1; readers <= 3; readers++) {
        ck_error err;
        ck_preader *r = ck_preader_new(4u << 20, readers, &err); /* windows of 4 MiB: split between the readers */
        CHECK(r != NULL);
        if (!r) continue;
        CHECK(read_range(r, fd, 0, FILE_BYTES, 0));                 /* windows of the whole buffer */
        CHECK(read_range(r, fd, 12345, FILE_BYTES - 12345, 1u << 20));
        CHECK(read_range(r, fd, 77, 1000, 300));                     /* small, odd windows */
        CHECK(read_range(r, fd, 100, 0, 0));                         /* nothing */
        /* a new range while the old one is half read: only the new one's bytes come */
        const uint8_t *p;
        size_t n;
        ck_preader_start(r, fd, 0, FILE_BYTES, 0, path, "t");
        CHECK(ck_preader_next(r, &p, &n, &err) == 1);
        CHECK(read_range(r, fd, 4096, 3u << 20, 1u << 20));
        ck_preader_free(r);
    }
    close(fd);
}

static void past_the_end(void)
{
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    ck_error err;
    ck_preader *r = ck_preader_new(1u << 20, 2, &err);
    CHECK(r != NULL);
    if (fd < 0 || !r) return;
    /* 3 MiB from 4 MiB: the first window is whole, the second stops at the end of the file */
    ck_preader_start(r, fd, 4u << 20, 3u << 20, 0, path, "model.w");
    const uint8_t *p;
    size_t n;
    CHECK(ck_preader_next(r, &p, &n, &err) == 1 && n == 1u << 20);
    memset(&err, 0, sizeof err);
    CHECK(ck_preader_next(r, &p, &n, &err) == -1 && p == NULL && n == 0);
    CHECK(err.code == CK_E_IO && err.offset == (int64_t)FILE_BYTES);
    CHECK(strstr(err.file, "preader.") != NULL && strstr(err.key, "model.w") != NULL);
    CHECK(strstr(err.msg, "ends before") != NULL);
    /* after an error the range is over */
    CHECK(ck_preader_next(r, &p, &n, &err) == 0);
    ck_preader_free(r);
    close(fd);
}

int main(void)
{
    RUN_TEST("preader", ranges);
    RUN_TEST("preader", past_the_end);
    unlink(path);
    free(content);
    return ck_test_failures ? 1 : 0;
}
