/* Parse JSON into a bump arena. cJSON allocates one node (and one string) per JSON value: a
 * 92,000-tensor safetensors header costs about a million malloc/free pairs, a third of the
 * header-reading time. While an arena is active on a thread, cJSON's allocation hooks take
 * memory from it, and the whole tree is released at once by ck_json_arena_free.
 *
 * Rule: a tree parsed into an arena is never given to cJSON_Delete; free the arena instead. */
#ifndef CK_JSON_ARENA_H
#define CK_JSON_ARENA_H

#include <stddef.h>

struct cJSON;

typedef struct ck_json_chunk ck_json_chunk;
typedef struct {
    ck_json_chunk *chunks;
    size_t size_hint; /* first chunk size: about what the tree will need */
} ck_json_arena;

/* Like cJSON_ParseWithLengthOpts (not NUL-terminated, *parse_end set on success and failure). */
struct cJSON *ck_json_parse_in_arena(ck_json_arena *arena, const char *text, size_t len,
                                     const char **parse_end);
void ck_json_arena_free(ck_json_arena *arena);

#endif
