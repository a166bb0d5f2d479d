/* st_dump: print what ckdoc's safetensors reader sees, for the interop tests to compare with the
 * reference implementation.
 *   st_dump FILE
 * prints JSON lines: first {"header_len":N,"data_start":D,"file_size":S,"metadata":{...}|null},
 * then one line per tensor in name byte order:
 *   {"name":..,"dtype":..,"shape":[..],"begin":B,"end":E,"fnv1a64":"16 hex digits"}
 * The digest is 64-bit FNV-1a (offset basis 0xcbf29ce484222325, prime 0x100000001b3) over the
 * tensor's data bytes: a test fingerprint, not a product checksum. Exit 0, or 2 with the reader's
 * error on stderr. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/safetensors.h"

static uint64_t fnv1a64(const uint8_t *p, uint64_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint64_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static const ck_st_file *sort_file;

static int by_name(const void *pa, const void *pb)
{
    const ck_st_tensor *a = &sort_file->tensors[*(const size_t *)pa];
    const ck_st_tensor *b = &sort_file->tensors[*(const size_t *)pb];
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int r = memcmp(a->name, b->name, n);
    return r ? r : (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

/* Numbers as JSON integers: cJSON would print a double, which loses digits past 2^53. */
static void add_u64(cJSON *obj, const char *key, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    cJSON_AddItemToObject(obj, key, cJSON_CreateRaw(buf));
}

static void print_line(cJSON *obj)
{
    char *s = cJSON_PrintUnformatted(obj);
    puts(s);
    free(s);
    cJSON_Delete(obj);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: st_dump FILE.safetensors\n");
        return 2;
    }
    ck_st_file f;
    ck_error err = {0};
    if (ck_st_open(argv[1], &f, &err) < 0) {
        char line[1400];
        ck_error_format(&err, line, sizeof line);
        fprintf(stderr, "st_dump: %s\n", line);
        return 2;
    }
    cJSON *head = cJSON_CreateObject();
    add_u64(head, "header_len", f.header_len);
    add_u64(head, "data_start", f.data_start);
    add_u64(head, "file_size", f.file_size);
    if (f.has_metadata) {
        cJSON *m = cJSON_AddObjectToObject(head, "metadata");
        for (size_t i = 0; i < f.n_metadata; i++) cJSON_AddStringToObject(m, f.metadata[i].key, f.metadata[i].value);
    } else {
        cJSON_AddNullToObject(head, "metadata");
    }
    print_line(head);

    size_t *order = malloc((f.n_tensors ? f.n_tensors : 1) * sizeof *order);
    for (size_t i = 0; i < f.n_tensors; i++) order[i] = i;
    sort_file = &f;
    qsort(order, f.n_tensors, sizeof *order, by_name);
    int rc = 0;
    for (size_t k = 0; k < f.n_tensors; k++) {
        const ck_st_tensor *t = &f.tensors[order[k]];
        const uint8_t *p = t->end > t->begin ? ck_st_data(&f, order[k], &err) : NULL;
        if (t->end > t->begin && !p) {
            char line[1400];
            ck_error_format(&err, line, sizeof line);
            fprintf(stderr, "st_dump: %s\n", line);
            rc = 2;
            break;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", t->name);
        cJSON_AddStringToObject(o, "dtype", ck_dtype_name(t->dtype));
        cJSON *shape = cJSON_AddArrayToObject(o, "shape");
        for (int d = 0; d < t->ndim; d++) {
            char buf[32];
            snprintf(buf, sizeof buf, "%llu", (unsigned long long)t->shape[d]);
            cJSON_AddItemToArray(shape, cJSON_CreateRaw(buf));
        }
        add_u64(o, "begin", t->begin);
        add_u64(o, "end", t->end);
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)fnv1a64(p, t->end - t->begin));
        cJSON_AddStringToObject(o, "fnv1a64", hex);
        print_line(o);
    }
    free(order);
    ck_st_close(&f);
    return rc;
}
