/* Opening a checkpoint: find its layout, read every shard header, merge the headers into one
 * name-sorted catalog, and cross-check the index against the shards. Problems are appended to
 * ck->problems in a fixed order (index, shards in name order, cross-checks in tensor-name order,
 * stray files, side files) so two runs over the same files print the same bytes.
 *
 * Cost: one header read per shard, one sort of the catalog, and binary searches for the
 * cross-checks: O(n log n) for n tensors, no allocation per tensor. */
#include "checkpoint.h"

#include "index.h"
#include "jsonfile.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INDEX_NAME "model.safetensors.index.json"
#define ST_SUFFIX ".safetensors"

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !memcmp(s + n - m, suffix, m);
}

static char *join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

static void add_problem(ck_checkpoint *ck, const ck_error *e)
{
    if ((ck->n_problems & (ck->n_problems - 1)) == 0) { /* grow at powers of two */
        ck_error *np = realloc(ck->problems, (ck->n_problems ? 2 * ck->n_problems : 8) * sizeof *np);
        if (!np) return; /* the catalog matters more than the 2^k-th problem */
        ck->problems = np;
    }
    ck->problems[ck->n_problems++] = *e;
}

__attribute__((format(printf, 6, 7)))
static void problem(ck_checkpoint *ck, ck_errcode code, const char *file, const char *key, int64_t offset,
                    const char *fmt, ...)
{
    char msg[sizeof ((ck_error *)0)->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ck_error e;
    ck_error_set(&e, code, file, key, offset, "%s", msg);
    add_problem(ck, &e);
}

/* A shard may be a symlink (the Hugging Face cache links snapshots to blobs), but what it names
 * must be a regular file. Returns 1 if usable, 0 if absent, -1 if present but unusable. */
static int shard_file_state(ck_checkpoint *ck, const char *full)
{
    struct stat st;
    if (stat(full, &st) < 0) {
        if (errno == ENOENT && lstat(full, &st) == 0) {
            /* The name exists but leads nowhere: a dangling symlink (a half-deleted cache). */
            problem(ck, CK_E_IO, full, NULL, -1, "the shard is a symlink whose target does not exist");
            return -1;
        }
        if (errno == ENOENT) return 0;
        problem(ck, CK_E_IO, full, NULL, -1, "cannot stat the shard: %s", strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        problem(ck, CK_E_FORMAT, full, NULL, -1, "the shard is not a regular file");
        return -1;
    }
    return 1;
}

/* ck_st_open rewrites the whole ck_st_file; the full path we put there is kept for messages
 * even when the open fails. Returns 0, or -1 with `e` set. */
static int open_shard_quiet(ck_shard *sh, ck_error *e)
{
    char *full = sh->st.path;
    if (ck_st_open(full, &sh->st, e) < 0) {
        ck_st_close(&sh->st);
        sh->st.path = full;
        return -1;
    }
    free(full);
    sh->ok = true;
    return 0;
}

/* Reading 64 headers of DeepSeek-V3 size is most of `ckdoc ls`'s time, and each is
 * independent: a few threads take shards from a shared counter. Errors land in per-shard slots
 * and are appended afterwards in shard order, so the output does not depend on scheduling. */
typedef struct {
    ck_shard *shards;
    const bool *want;
    ck_error *errs;
    bool *failed;
    size_t n;
    _Atomic size_t next;
} open_job;

static void *open_worker(void *arg)
{
    open_job *job = arg;
    for (size_t i; (i = atomic_fetch_add(&job->next, 1)) < job->n;)
        if (job->want[i]) job->failed[i] = open_shard_quiet(&job->shards[i], &job->errs[i]) < 0;
    return NULL;
}

#define MAX_OPEN_THREADS 8

static int open_shards(ck_checkpoint *ck, const bool *want, ck_error *err)
{
    size_t n = ck->n_shards;
    open_job job = {ck->shards, want, calloc(n ? n : 1, sizeof(ck_error)), calloc(n ? n : 1, sizeof(bool)), n, 0};
    if (!job.errs || !job.failed) {
        free(job.errs);
        free(job.failed);
        return ck_error_set(err, CK_E_NOMEM, ck->path, NULL, -1, "out of memory");
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t n_threads = cpus > 1 ? (size_t)cpus : 1;
    if (n_threads > MAX_OPEN_THREADS) n_threads = MAX_OPEN_THREADS;
    if (n_threads > n) n_threads = n ? n : 1;
    pthread_t tids[MAX_OPEN_THREADS];
    size_t started = 0;
    for (; started + 1 < n_threads; started++)
        if (pthread_create(&tids[started], NULL, open_worker, &job) != 0) break; /* fewer threads is fine */
    open_worker(&job);
    for (size_t t = 0; t < started; t++) pthread_join(tids[t], NULL);
    for (size_t i = 0; i < n; i++)
        if (want[i] && job.failed[i]) add_problem(ck, &job.errs[i]);
    free(job.errs);
    free(job.failed);
    return 0;
}

static int name_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int r = memcmp(a, b, an < bn ? an : bn);
    return r ? r : (an > bn) - (an < bn);
}

static int entry_cmp(const void *pa, const void *pb)
{
    const ck_entry *a = pa, *b = pb;
    int r = name_cmp(a->name, a->name_len, b->name, b->name_len);
    if (r) return r;
    if (a->shard != b->shard) return a->shard < b->shard ? -1 : 1;
    return (a->file_offset > b->file_offset) - (a->file_offset < b->file_offset);
}

static int str_ptr_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.safetensors in `dir`, sorted (dot files skipped: they are temporaries of an atomic
 * writer). Returns the count, or -1 with err. */
static long list_st_files(const char *dir, char ***out, ck_error *err)
{
    DIR *d = opendir(dir);
    if (!d) return ck_error_set(err, CK_E_IO, dir, NULL, -1, "cannot read the directory: %s", strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !ends_with(de->d_name, ST_SUFFIX)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) goto nomem;
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) goto nomem;
        n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, str_ptr_cmp);
    *out = names;
    return (long)n;
nomem:
    closedir(d);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return ck_error_set(err, CK_E_NOMEM, dir, NULL, -1, "out of memory");
}

static void free_names(char **names, long n)
{
    for (long i = 0; i < n; i++) free(names[i]);
    free(names);
}

static int alloc_shards(ck_checkpoint *ck, size_t n, ck_error *err)
{
    ck->shards = calloc(n ? n : 1, sizeof *ck->shards);
    if (!ck->shards) return ck_error_set(err, CK_E_NOMEM, ck->path, NULL, -1, "out of memory");
    for (size_t i = 0; i < n; i++) ck->shards[i].st.fd = -1; /* ck_st_close must not close fd 0 */
    ck->n_shards = n;
    return 0;
}

static int set_shard_name(ck_checkpoint *ck, ck_shard *sh, const char *name, ck_error *err)
{
    sh->name = strdup(name);
    sh->st.path = join(ck->dir, name);
    if (!sh->name || !sh->st.path) return ck_error_set(err, CK_E_NOMEM, ck->path, NULL, -1, "out of memory");
    return 0;
}

/* ---- the catalog ------------------------------------------------------------------------ */

static void fill_from_header(ck_entry *e, const ck_shard *sh, uint32_t s, size_t i)
{
    const ck_st_tensor *t = &sh->st.tensors[i];
    *e = (ck_entry){t->name, t->name_len, t->dtype, t->ndim, t->shape, t->numel, t->end - t->begin,
                    s, sh->st.data_start + t->begin, true};
}

/* Tensors of every readable shard, plus, for shards that could not be read, what the index
 * says about them (has_header = false). Duplicates across shards stay in (both are listed) and
 * become problems. */
static int build_catalog(ck_checkpoint *ck, const ck_index *idx, ck_error *err)
{
    size_t n = 0;
    for (size_t s = 0; s < ck->n_shards; s++)
        if (ck->shards[s].ok) n += ck->shards[s].st.n_tensors;
    if (idx)
        for (size_t i = 0; i < idx->n_entries; i++) n += !ck->shards[idx->entries[i].shard].ok;
    ck->entries = malloc((n ? n : 1) * sizeof *ck->entries);
    if (!ck->entries) return ck_error_set(err, CK_E_NOMEM, ck->path, NULL, -1, "out of memory");
    size_t k = 0;
    for (size_t s = 0; s < ck->n_shards; s++)
        if (ck->shards[s].ok)
            for (size_t i = 0; i < ck->shards[s].st.n_tensors; i++)
                fill_from_header(&ck->entries[k++], &ck->shards[s], (uint32_t)s, i);
    if (idx)
        for (size_t i = 0; i < idx->n_entries; i++) {
            const ck_index_entry *ie = &idx->entries[i];
            if (!ck->shards[ie->shard].ok)
                ck->entries[k++] = (ck_entry){.name = ie->key, .name_len = ie->key_len, .shard = ie->shard};
        }
    ck->n_entries = k;
    qsort(ck->entries, k, sizeof *ck->entries, entry_cmp);
    for (size_t i = 1; i < k; i++) {
        const ck_entry *a = &ck->entries[i - 1], *b = &ck->entries[i];
        if (!name_cmp(a->name, a->name_len, b->name, b->name_len))
            problem(ck, CK_E_FORMAT, ck->shards[b->shard].st.path, b->name, -1,
                    "tensor is also in shard %s (duplicate across shards)", ck->shards[a->shard].name);
    }
    return 0;
}

const ck_entry *ck_checkpoint_find(const ck_checkpoint *ck, const char *name)
{
    size_t len = strlen(name), lo = 0, hi = ck->n_entries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = name_cmp(ck->entries[mid].name, ck->entries[mid].name_len, name, len);
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo < ck->n_entries && !name_cmp(ck->entries[lo].name, ck->entries[lo].name_len, name, len))
        return &ck->entries[lo];
    return NULL;
}

/* ---- layouts ------------------------------------------------------------------------------ */

static int open_loose(ck_checkpoint *ck, ck_error *err)
{
    char **names;
    long n = list_st_files(ck->dir, &names, err);
    if (n < 0) return -1;
    if (n == 0) {
        free(names);
        return ck_error_set(err, CK_E_FORMAT, ck->path, NULL, -1,
                            "not a checkpoint: no " INDEX_NAME " and no *" ST_SUFFIX " files");
    }
    int rc = alloc_shards(ck, (size_t)n, err);
    bool *want = calloc((size_t)n, sizeof *want);
    if (!want && rc == 0) rc = ck_error_set(err, CK_E_NOMEM, ck->path, NULL, -1, "out of memory");
    for (long i = 0; rc == 0 && i < n; i++) {
        ck_shard *sh = &ck->shards[i];
        if ((rc = set_shard_name(ck, sh, names[i], err)) < 0) break;
        want[i] = shard_file_state(ck, sh->st.path) > 0;
    }
    free_names(names, n);
    if (rc == 0) rc = open_shards(ck, want, err);
    free(want);
    if (rc < 0) return -1;
    ck->layout = CK_LAYOUT_LOOSE;
    return build_catalog(ck, NULL, err);
}

/* The index against the shards: every key must be in the shard it names, every tensor of a
 * readable shard must be in the index, and total_size must add up. Both lists are sorted by
 * name, so one merge walk does it (O(n), no searches). */
static void cross_check(ck_checkpoint *ck, const ck_index *idx, const char *text, size_t len)
{
    bool all_ok = true;
    for (size_t s = 0; s < ck->n_shards; s++) all_ok &= ck->shards[s].ok;
    uint64_t sum = 0;
    size_t i = 0, j = 0;
    while (i < idx->n_entries || j < ck->n_entries) {
        const ck_index_entry *ie = i < idx->n_entries ? &idx->entries[i] : NULL;
        const ck_entry *e = j < ck->n_entries ? &ck->entries[j] : NULL;
        int r = !ie ? 1 : !e ? -1 : name_cmp(ie->key, ie->key_len, e->name, e->name_len);
        if (r > 0) { /* in a shard, not in the index */
            sum += e->nbytes;
            if (e->has_header)
                problem(ck, CK_E_FORMAT, ck->shards[e->shard].st.path, e->name, -1, "tensor is not listed in the index");
            j++;
            continue;
        }
        const ck_shard *sh = &ck->shards[ie->shard];
        if (r < 0) { /* in the index, in no readable shard */
            problem(ck, CK_E_FORMAT, sh->st.path, ie->key, -1, "the index puts this tensor here, but no shard has it");
            i++;
            continue;
        }
        /* Same name: the catalog may hold it more than once (duplicates across shards). */
        bool here = false;
        const ck_entry *first = e;
        for (; j < ck->n_entries && !name_cmp(ie->key, ie->key_len, ck->entries[j].name, ck->entries[j].name_len); j++) {
            sum += ck->entries[j].nbytes;
            here |= ck->entries[j].shard == ie->shard;
        }
        if (!here)
            problem(ck, CK_E_FORMAT, sh->st.path, ie->key, -1, "the index puts this tensor here, but it is in %s",
                    ck->shards[first->shard].name);
        i++;
    }
    if (all_ok && idx->has_total_size && sum != idx->total_size) {
        const char *p = memmem(text, len, "\"total_size\"", 12);
        problem(ck, CK_E_FORMAT, ck->index_path, "total_size", p ? p - text : -1,
                "metadata.total_size is %llu but the shards hold %llu bytes of tensor data",
                (unsigned long long)idx->total_size, (unsigned long long)sum);
    }
}

/* *.safetensors files beside the index that it does not name: leftovers of an earlier save. */
static void stray_files(ck_checkpoint *ck, const ck_index *idx)
{
    char **names;
    ck_error e;
    long n = list_st_files(ck->dir, &names, &e);
    if (n < 0) { add_problem(ck, &e); return; }
    for (long i = 0; i < n; i++)
        if (!bsearch(&names[i], idx->shards, idx->n_shards, sizeof *idx->shards, str_ptr_cmp)) {
            char *full = join(ck->dir, names[i]);
            problem(ck, CK_E_FORMAT, full ? full : names[i], NULL, -1,
                    "this file is not named by " INDEX_NAME " (left over from another save?)");
            free(full);
        }
    free_names(names, n);
}

static int open_indexed(ck_checkpoint *ck, unsigned flags, ck_error *err)
{
    ck->layout = CK_LAYOUT_INDEXED;
    char *text;
    size_t len;
    ck_error e;
    ck_index *idx = calloc(1, sizeof *idx);
    if (!idx) return ck_error_set(err, CK_E_NOMEM, ck->path, NULL, -1, "out of memory");
    if (ck_read_small_file(ck->index_path, &text, &len, &e) < 0 || ck_index_parse(ck->index_path, text, len, idx, &e) < 0) {
        /* Without a usable index, the shards beside it are still worth listing. */
        add_problem(ck, &e);
        free(text);
        free(idx);
        ck_error quiet;
        if (open_loose(ck, &quiet) < 0 && quiet.code == CK_E_NOMEM) { *err = quiet; return -1; }
        ck->layout = CK_LAYOUT_INDEXED;
        return 0;
    }
    ck->index_arena = idx;
    ck->index_total_size = idx->total_size;
    ck->index_has_total_size = idx->has_total_size;
    bool *want = calloc(idx->n_shards ? idx->n_shards : 1, sizeof *want);
    if (!want || alloc_shards(ck, idx->n_shards, err) < 0) {
        free(text);
        free(want);
        return ck_error_set(err, CK_E_NOMEM, ck->path, NULL, -1, "out of memory");
    }
    bool any_absent = false;
    for (size_t s = 0; s < idx->n_shards; s++) {
        ck_shard *sh = &ck->shards[s];
        if (set_shard_name(ck, sh, idx->shards[s], err) < 0) { free(text); free(want); return -1; }
        int state = shard_file_state(ck, sh->st.path);
        want[s] = state > 0;
        if (state == 0) {
            any_absent = true;
            if (!(flags & CK_OPEN_INDEX_ONLY))
                problem(ck, CK_E_IO, sh->st.path, NULL, -1, "shard named by " INDEX_NAME " is missing");
        }
    }
    int rc = open_shards(ck, want, err);
    free(want);
    if (rc < 0 || build_catalog(ck, idx, err) < 0) { free(text); return -1; }
    if (any_absent && (flags & CK_OPEN_INDEX_ONLY)) ck->layout = CK_LAYOUT_INDEX_ONLY;
    cross_check(ck, idx, text, len);
    stray_files(ck, idx);
    free(text);
    return 0;
}

static int open_single(ck_checkpoint *ck, const char *name, ck_error *err)
{
    ck->layout = CK_LAYOUT_FILE;
    if (alloc_shards(ck, 1, err) < 0 || set_shard_name(ck, &ck->shards[0], name, err) < 0) return -1;
    ck_error e;
    if (open_shard_quiet(&ck->shards[0], &e) < 0) {
        /* A broken model.safetensors is a checkpoint with a problem; a broken notes.txt is not one. */
        if (!ends_with(name, ST_SUFFIX)) { *err = e; return -1; }
        add_problem(ck, &e);
    }
    return build_catalog(ck, NULL, err);
}

static void load_side_file(ck_checkpoint *ck, ck_json_file *f, const char *name)
{
    char *full = join(ck->dir, name);
    if (!full) return;
    if (ck_json_file_load(full, f) < 0) add_problem(ck, &f->error);
    free(full);
}

int ck_checkpoint_open(const char *path, unsigned flags, ck_checkpoint *out, ck_error *err)
{
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(path, &st) < 0) return ck_error_set(err, CK_E_IO, path, NULL, -1, "cannot open: %s", strerror(errno));
    out->path = strdup(path);
    if (!out->path) return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory");

    /* Split into the directory and, for a file, its name; "dir/" and "dir" are the same. */
    char *copy = strdup(path);
    if (!copy) { ck_checkpoint_close(out); return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory"); }
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/') copy[--n] = '\0';
    const char *base = NULL;
    if (S_ISDIR(st.st_mode)) {
        out->dir = copy;
    } else {
        char *slash = strrchr(copy, '/');
        base = slash ? slash + 1 : copy;
        out->dir = slash == copy ? strdup("/") : slash ? strndup(copy, (size_t)(slash - copy)) : strdup(".");
    }
    int rc = 0;
    if (!out->dir) {
        rc = ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory");
    } else if (S_ISDIR(st.st_mode)) {
        out->index_path = join(out->dir, INDEX_NAME);
        struct stat ist;
        if (!out->index_path) rc = ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory");
        else if (stat(out->index_path, &ist) == 0) rc = open_indexed(out, flags, err);
        else {
            free(out->index_path);
            out->index_path = NULL;
            rc = open_loose(out, err);
        }
    } else if (!S_ISREG(st.st_mode)) {
        rc = ck_error_set(err, CK_E_FORMAT, path, NULL, -1, "not a checkpoint: neither a file nor a directory");
    } else if (ends_with(base, ".index.json")) {
        out->index_path = strdup(path);
        rc = out->index_path ? open_indexed(out, flags, err) : ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory");
    } else {
        rc = open_single(out, base, err);
    }
    if (copy != out->dir) free(copy);
    if (rc < 0) {
        ck_checkpoint_close(out);
        return -1;
    }
    load_side_file(out, &out->config, "config.json");
    load_side_file(out, &out->generation_config, "generation_config.json");
    load_side_file(out, &out->hf_quant_config, "hf_quant_config.json");
    return 0;
}

void ck_checkpoint_close(ck_checkpoint *ck)
{
    if (!ck) return;
    for (size_t s = 0; s < ck->n_shards; s++) {
        free(ck->shards[s].name);
        ck_st_close(&ck->shards[s].st);
    }
    free(ck->shards);
    free(ck->entries);
    free(ck->problems);
    ck_json_file_free(&ck->config);
    ck_json_file_free(&ck->generation_config);
    ck_json_file_free(&ck->hf_quant_config);
    if (ck->index_arena) {
        ck_index_free(ck->index_arena);
        free(ck->index_arena);
    }
    free(ck->index_path);
    free(ck->dir);
    free(ck->path);
    memset(ck, 0, sizeof *ck);
}
