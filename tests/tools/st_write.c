/* st_write: drive ckdoc's safetensors writer from a JSON spec, for the interop tests.
 *   st_write SPEC.json OUT.safetensors        one file (ck_st_write_file)
 *   st_write --sharded MAX SPEC.json OUTDIR    a sharded checkpoint (ck_st_write_sharded)
 * SPEC is {"metadata": {"k": "v", ...} (optional; keys kept in order),
 *          "tensors": [{"name": .., "dtype": "F32", "shape": [..], "data_hex": "..",
 *                       "stream": true}, ...]}
 * data_hex given: the bytes (from memory, or through the read callback when "stream" is true);
 * data_hex absent: an all-zero tensor, written as a hole. Exit 0; 1 if the writer refused (its
 * error on stderr); 2 for a bad spec or usage. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repair/st_writer.h"

static int die(const char *msg, const char *what)
{
    fprintf(stderr, "st_write: %s%s%s\n", msg, what ? ": " : "", what ? what : "");
    return 2;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    if (fread(p, 1, (size_t)n, f) != (size_t)n) n = 0;
    p[n] = '\0';
    fclose(f);
    return p;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

typedef struct {
    const uint8_t *bytes;
    uint64_t len;
} mem_src;

static int mem_read(void *ctx, uint64_t offset, void *buf, size_t len, ck_error *err)
{
    const mem_src *m = ctx;
    if (offset > m->len || len > m->len - offset)
        return ck_error_set(err, CK_E_USAGE, "spec", NULL, (int64_t)offset, "read past the data_hex bytes");
    memcpy(buf, m->bytes + offset, len);
    return 0;
}

int main(int argc, char **argv)
{
    int sharded = argc == 5 && strcmp(argv[1], "--sharded") == 0;
    if (argc != 3 && !sharded)
        return die("usage: st_write SPEC.json OUT | st_write --sharded MAX SPEC.json OUTDIR", NULL);
    const char *spec_path = argv[sharded ? 3 : 1], *out = argv[sharded ? 4 : 2];
    char *text = slurp(spec_path);
    if (!text) return die("cannot read", spec_path);
    cJSON *spec = cJSON_Parse(text);
    free(text);
    if (!spec) return die("spec is not JSON", spec_path);

    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(spec, "tensors");
    const cJSON *jm = cJSON_GetObjectItemCaseSensitive(spec, "metadata");
    size_t n = (size_t)cJSON_GetArraySize(jt), n_meta = jm && cJSON_IsObject(jm) ? (size_t)cJSON_GetArraySize(jm) : 0;
    ck_st_source *src = calloc(n + 1, sizeof *src);
    uint64_t (*shapes)[CK_MAX_DIMS + 1] = calloc(n + 1, sizeof *shapes);
    mem_src *mems = calloc(n + 1, sizeof *mems);
    uint8_t **bufs = calloc(n + 1, sizeof *bufs);
    ck_kv *meta = calloc(n_meta + 1, sizeof *meta);

    int rc = 2;
    size_t i = 0;
    const cJSON *e;
    const cJSON *meta_obj = jm && cJSON_IsObject(jm) ? jm : NULL;
    cJSON_ArrayForEach(e, meta_obj) {
        if (!cJSON_IsString(e)) { die("metadata values must be strings", e->string); goto out; }
        meta[i].key = e->string;
        meta[i].value = e->valuestring;
        i++;
    }
    i = 0;
    cJSON_ArrayForEach(e, jt) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
        const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
        const cJSON *hex = cJSON_GetObjectItemCaseSensitive(e, "data_hex");
        if (!cJSON_IsString(name) || !cJSON_IsString(dtype) || !cJSON_IsArray(shape)) { die("bad tensor entry", NULL); goto out; }
        ck_dtype dt;
        if (!ck_dtype_from_name(dtype->valuestring, strlen(dtype->valuestring), &dt)) { die("unknown dtype", dtype->valuestring); goto out; }
        int nd = cJSON_GetArraySize(shape);
        if (nd > CK_MAX_DIMS + 1) { die("too many dims", name->valuestring); goto out; }
        for (int d = 0; d < nd; d++) shapes[i][d] = (uint64_t)cJSON_GetArrayItem(shape, d)->valuedouble;
        src[i] = (ck_st_source){.name = name->valuestring, .dtype = dt, .ndim = nd, .shape = shapes[i]};
        if (cJSON_IsString(hex)) {
            size_t len = strlen(hex->valuestring) / 2;
            bufs[i] = malloc(len + 1);
            for (size_t k = 0; k < len; k++) {
                int hi = hexval(hex->valuestring[2 * k]), lo = hexval(hex->valuestring[2 * k + 1]);
                if (hi < 0 || lo < 0) { die("bad data_hex", name->valuestring); goto out; }
                bufs[i][k] = (uint8_t)(hi << 4 | lo);
            }
            uint64_t nbytes;
            if (ck_tensor_size(dt, shapes[i], nd, NULL, &nbytes) == 0 && nbytes != len) {
                die("data_hex length does not match dtype and shape", name->valuestring);
                goto out;
            }
            mems[i] = (mem_src){bufs[i], len};
            if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "stream"))) {
                src[i].read = mem_read;
                src[i].read_ctx = &mems[i];
            } else {
                src[i].data = bufs[i];
            }
        }
        i++;
    }

    ck_error err = {0};
    int wrc = sharded ? ck_st_write_sharded(out, src, n, strtoull(argv[2], NULL, 10), &err)
                      : ck_st_write_file(out, src, n, meta_obj ? meta : NULL, n_meta, &err);
    if (wrc < 0) {
        char line[1400];
        ck_error_format(&err, line, sizeof line);
        fprintf(stderr, "st_write: %s\n", line);
        rc = 1;
    } else {
        rc = 0;
    }
out:
    for (size_t k = 0; k < n; k++) free(bufs[k]);
    free(bufs);
    free(mems);
    free(shapes);
    free(src);
    free(meta);
    cJSON_Delete(spec);
    return rc;
}
