#include "json_arena.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

struct ck_json_chunk {
    ck_json_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

static _Thread_local ck_json_arena *active;

static bool in_chunk(const ck_json_chunk *c, const void *p)
{
    return (uintptr_t)p >= (uintptr_t)c->data && (uintptr_t)p < (uintptr_t)(c->data + c->cap);
}

static void *hook_malloc(size_t size)
{
    if (!active) return malloc(size);
    size = (size + 15) & ~(size_t)15;
    ck_json_chunk *c = active->chunks;
    if (!c || c->cap - c->used < size) {
        size_t cap = active->size_hint > size ? active->size_hint : size;
        if (c && cap < 2 * c->cap) cap = 2 * c->cap;
        ck_json_chunk *n = malloc(sizeof *n + cap);
        if (!n) return NULL;
        n->next = c;
        n->used = 0;
        n->cap = cap;
        active->chunks = c = n;
    }
    void *p = c->data + c->used;
    c->used += size;
    return p;
}

static void hook_free(void *p)
{
    if (!p) return;
    /* cJSON frees partial trees on its own error paths while the arena is still active. */
    if (active)
        for (const ck_json_chunk *c = active->chunks; c; c = c->next)
            if (in_chunk(c, p)) return;
    free(p);
}

static void install_hooks(void)
{
    cJSON_Hooks hooks = {hook_malloc, hook_free};
    cJSON_InitHooks(&hooks);
}

struct cJSON *ck_json_parse_in_arena(ck_json_arena *arena, const char *text, size_t len, const char **parse_end)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install_hooks);
    /* About one 64-byte node per 8 bytes of JSON text for safetensors headers. */
    if (!arena->size_hint) arena->size_hint = len * 8 + 4096;
    active = arena;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, parse_end, 0);
    active = NULL;
    return root;
}

void ck_json_arena_free(ck_json_arena *arena)
{
    ck_json_chunk *c = arena->chunks;
    while (c) {
        ck_json_chunk *next = c->next;
        free(c);
        c = next;
    }
    arena->chunks = NULL;
}
