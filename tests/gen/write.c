/* Turning a fixture model into files: data is made here (never for a sparse model), the
 * safetensors go through the project's writer, the JSON side files through ck_atomic_write_file. */
#include "builder.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../repair/atomic.h"
#include "../../repair/st_writer.h"

static int mkdir_p(const char *dir, ck_error *err)
{
    char *p = strdup(dir);
    if (!p) return ck_error_set(err, CK_E_NOMEM, dir, "", -1, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            ck_error_set(err, CK_E_IO, p, "", -1, "cannot create directory: %s", strerror(errno));
            free(p);
            return -1;
        }
        *s = c;
        if (c == '\0') break;
    }
    free(p);
    return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* A fixture never lands on top of another checkpoint: mixed shards would be a fixture nobody
 * meant to make. */
static int refuse_existing(const char *dir, ck_error *err)
{
    DIR *d = opendir(dir);
    if (!d) return ck_error_set(err, CK_E_IO, dir, "", -1, "cannot open directory: %s", strerror(errno));
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (ends_with(e->d_name, ".safetensors") || !strcmp(e->d_name, "config.json") ||
            !strcmp(e->d_name, "model.safetensors.index.json")) {
            rc = ck_error_set(err, CK_E_USAGE, dir, "", -1, "already holds a checkpoint (%s)", e->d_name);
            break;
        }
    }
    closedir(d);
    return rc;
}

/* The writer fills shards in order and starts a new one when the next tensor would pass the
 * limit (a tensor over the limit sits alone). Mirror that to count shards for a limit. */
static unsigned count_shards(const uint64_t *sizes, size_t n, uint64_t max)
{
    unsigned shards = 0;
    uint64_t cur = 0;
    for (size_t i = 0; i < n; i++) {
        if (shards == 0 || (cur > 0 && cur + sizes[i] > max)) {
            shards++;
            cur = 0;
        }
        cur += sizes[i];
    }
    return shards;
}

/* The smallest limit giving at most `want` shards (the count only falls as the limit grows). */
static uint64_t limit_for_shards(const uint64_t *sizes, size_t n, unsigned want)
{
    uint64_t lo = 1, hi = 0;
    for (size_t i = 0; i < n; i++) hi += sizes[i];
    if (hi == 0) return 1;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (count_shards(sizes, n, mid) <= want) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

static void free_sources(ck_st_source *src, size_t n)
{
    for (size_t i = 0; i < n; i++) free((void *)src[i].data);
    free(src);
}

int ckg_model_write(ckg_model *m, const char *dir, ck_error *err)
{
    if (m->failed) return ck_error_set(err, CK_E_NOMEM, dir, "", -1, "out of memory while building the fixture");
    if (mkdir_p(dir, err) != 0 || refuse_existing(dir, err) != 0) return -1;

    ck_st_source *src = calloc(m->n ? m->n : 1, sizeof *src);
    uint64_t *sizes = calloc(m->n ? m->n : 1, sizeof *sizes);
    if (!src || !sizes) {
        free(src);
        free(sizes);
        return ck_error_set(err, CK_E_NOMEM, dir, "", -1, "out of memory");
    }
    int rc = 0;
    for (size_t i = 0; i < m->n && rc == 0; i++) {
        ckg_tensor *t = &m->t[i];
        src[i].name = t->name;
        src[i].dtype = t->dtype;
        src[i].ndim = t->ndim;
        src[i].shape = t->shape;
        if (ck_tensor_size(t->dtype, t->shape, t->ndim, NULL, &sizes[i]) != 0) {
            rc = ck_error_set(err, CK_E_USAGE, dir, t->name, -1, "fixture tensor has an impossible size");
            break;
        }
        if (m->sparse || t->fill == CKG_FILL_ZERO || sizes[i] == 0) continue; /* a hole */
        uint8_t *buf = malloc((size_t)sizes[i]);
        if (!buf) {
            rc = ck_error_set(err, CK_E_NOMEM, dir, t->name, -1, "out of memory");
            break;
        }
        src[i].data = buf;
        if (ckg_fill_tensor(t, buf, err) != 0) rc = -1;
    }
    if (rc == 0) {
        uint64_t limit = m->shard_bytes ? m->shard_bytes : UINT64_MAX;
        if (m->n_shards) limit = limit_for_shards(sizes, m->n, m->n_shards);
        rc = ck_st_write_sharded(dir, src, m->n, limit, err);
    }
    free_sources(src, m->n);
    free(sizes);

    for (size_t i = 0; i < m->n_side && rc == 0; i++) {
        char *path;
        if (asprintf(&path, "%s/%s", dir, m->side[i].name) < 0)
            return ck_error_set(err, CK_E_NOMEM, dir, "", -1, "out of memory");
        rc = ck_atomic_write_file(path, m->side[i].text, m->side[i].len, err);
        free(path);
    }
    return rc;
}
