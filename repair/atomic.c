#include "atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The temporary lives in the destination directory because rename() is only atomic within one
 * file system; the leading dot keeps it out of globs such as "*.safetensors". */
static char *tmp_name_for(const char *final_path)
{
    const char *slash = strrchr(final_path, '/');
    size_t dir_len = slash ? (size_t)(slash - final_path) + 1 : 0;
    const char *base = final_path + dir_len;
    size_t n = strlen(final_path) + 64;
    char *tmp = malloc(n);
    if (!tmp) return NULL;
    snprintf(tmp, n, "%.*s.%s.ckdoc-tmp.%ld", (int)dir_len, final_path, base, (long)getpid());
    return tmp;
}

static void release(ck_atomic_file *af)
{
    if (af->fd >= 0) close(af->fd);
    free(af->final_path);
    free(af->tmp_path);
    af->fd = -1;
    af->final_path = af->tmp_path = NULL;
}

/* Where the next byte goes: the file offset names the spot in errors. */
static int64_t position(const ck_atomic_file *af)
{
    off_t at = lseek(af->fd, 0, SEEK_CUR);
    return at < 0 ? -1 : (int64_t)at;
}

int ck_atomic_open(ck_atomic_file *af, const char *final_path, ck_error *err)
{
    af->fd = -1;
    af->final_path = af->tmp_path = NULL;
    const char *base = strrchr(final_path, '/');
    base = base ? base + 1 : final_path;
    if (!*base)
        return ck_error_set(err, CK_E_USAGE, final_path, NULL, -1, "output path names a directory");
    af->final_path = strdup(final_path);
    af->tmp_path = tmp_name_for(final_path);
    if (!af->final_path || !af->tmp_path) {
        release(af);
        return ck_error_set(err, CK_E_NOMEM, final_path, NULL, -1, "out of memory");
    }
    /* O_TRUNC: a temporary left by a crashed run with our pid is stale, never wanted. */
    af->fd = open(af->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (af->fd < 0) {
        int e = errno;
        ck_error_set(err, CK_E_IO, final_path, NULL, -1, "cannot create temporary file %s: %s",
                     af->tmp_path, strerror(e));
        release(af);
        return -1;
    }
    return 0;
}

int ck_atomic_write(ck_atomic_file *af, const void *buf, size_t len, ck_error *err)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(af->fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC; /* write() returning 0 only happens when full */
            return ck_error_set(err, CK_E_IO, af->final_path, NULL, position(af), "write failed: %s",
                                strerror(e));
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int ck_atomic_skip(ck_atomic_file *af, uint64_t len, ck_error *err)
{
    int64_t at = position(af);
    if (at < 0 || len > (uint64_t)(INT64_MAX - at))
        return ck_error_set(err, CK_E_USAGE, af->final_path, NULL, at,
                            "skip of %llu bytes would pass the largest file offset",
                            (unsigned long long)len);
    if (lseek(af->fd, (off_t)(at + (int64_t)len), SEEK_SET) < 0)
        return ck_error_set(err, CK_E_IO, af->final_path, NULL, at, "seek failed: %s", strerror(errno));
    return 0;
}

/* fsync of a directory fails with EINVAL on some file systems that cannot sync directories;
 * there is nothing more to make durable then. */
static int sync_dir_of(const char *path, ck_error *err)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;
    if (fd < 0 || (fsync(fd) < 0 && errno != EINVAL))
        rc = ck_error_set(err, CK_E_IO, path, NULL, -1, "cannot sync directory %s: %s", dir,
                          strerror(errno));
    if (fd >= 0) close(fd);
    free(dir);
    return rc;
}

int ck_atomic_commit(ck_atomic_file *af, ck_error *err)
{
    if (af->fd < 0 || !af->tmp_path)
        return ck_error_set(err, CK_E_USAGE, af->final_path, NULL, -1, "commit of a closed file");
    /* A trailing skip moved the offset past the end without extending the file: materialise it. */
    int64_t end = position(af);
    struct stat st;
    if (end < 0 || fstat(af->fd, &st) < 0) {
        ck_error_set(err, CK_E_IO, af->final_path, NULL, -1, "cannot stat temporary file: %s",
                     strerror(errno));
        goto fail;
    }
    if (end > (int64_t)st.st_size && ftruncate(af->fd, (off_t)end) < 0) {
        ck_error_set(err, CK_E_IO, af->final_path, NULL, end, "cannot extend file: %s", strerror(errno));
        goto fail;
    }
    if (fsync(af->fd) < 0) {
        ck_error_set(err, CK_E_IO, af->final_path, NULL, -1, "fsync failed: %s", strerror(errno));
        goto fail;
    }
    /* close() can report a deferred write error (NFS), so it is checked before the rename. */
    int fd = af->fd;
    af->fd = -1;
    if (close(fd) < 0) {
        ck_error_set(err, CK_E_IO, af->final_path, NULL, -1, "close failed: %s", strerror(errno));
        goto fail;
    }
    if (rename(af->tmp_path, af->final_path) < 0) {
        ck_error_set(err, CK_E_IO, af->final_path, NULL, -1, "cannot rename %s into place: %s",
                     af->tmp_path, strerror(errno));
        goto fail;
    }
    free(af->tmp_path);
    af->tmp_path = NULL;
    int rc = sync_dir_of(af->final_path, err);
    release(af);
    return rc;
fail:
    ck_atomic_abort(af);
    return -1;
}

void ck_atomic_abort(ck_atomic_file *af)
{
    if (af->fd >= 0) close(af->fd);
    af->fd = -1;
    if (af->tmp_path) unlink(af->tmp_path);
    release(af);
}

int ck_atomic_write_file(const char *path, const void *buf, size_t len, ck_error *err)
{
    ck_atomic_file af;
    if (ck_atomic_open(&af, path, err) < 0) return -1;
    if (ck_atomic_write(&af, buf, len, err) < 0) {
        ck_atomic_abort(&af);
        return -1;
    }
    return ck_atomic_commit(&af, err);
}
