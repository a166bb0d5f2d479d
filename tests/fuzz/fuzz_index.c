/* libFuzzer target: the model.safetensors.index.json parser (ck_index_parse). The text is copied
 * into a buffer of exactly its length, not NUL-terminated, so any read past it is an ASan report.
 * On success the documented invariants are checked: entries sorted by key without duplicates,
 * shard indices in range, shard names distinct, sorted, and confined to the directory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/index.h"

static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int r = memcmp(a, b, al < bl ? al : bl);
    return r ? r : (al > bl) - (al < bl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    if (!text) return 0;
    if (size) memcpy(text, data, size);
    ck_index idx;
    ck_error err;
    memset(&err, 0, sizeof err);
    int rc = ck_index_parse("fuzz/model.safetensors.index.json", text, size, &idx, &err);
    if (rc == 0) {
        for (size_t i = 0; i < idx.n_entries; i++) {
            const ck_index_entry *e = &idx.entries[i];
            if (e->shard >= idx.n_shards) __builtin_trap();
            if (i && bytes_cmp(idx.entries[i - 1].key, idx.entries[i - 1].key_len, e->key, e->key_len) >= 0)
                __builtin_trap(); /* sorted, no duplicates */
        }
        for (size_t s = 0; s < idx.n_shards; s++) {
            const char *name = idx.shards[s];
            if (!name[0] || name[0] == '/' || strchr(name, '/') || !strcmp(name, "..") || !strcmp(name, "."))
                __builtin_trap(); /* stays inside the directory */
            for (const char *p = name; *p; p++)
                if ((unsigned char)*p < 0x20) __builtin_trap();
            if (s && strcmp(idx.shards[s - 1], name) >= 0) __builtin_trap();
        }
        ck_index_free(&idx);
    } else {
        if (rc != -1 || err.msg[0] == '\0') __builtin_trap();
        for (const char *p = err.key; *p; p++)
            if ((unsigned char)*p < 0x20) __builtin_trap();
        if (err.offset < -1 || (err.offset >= 0 && (uint64_t)err.offset > size)) __builtin_trap();
    }
    free(text);
    return 0;
}
