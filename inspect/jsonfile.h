/* Strict JSON for the small files around the weights (config.json, generation_config.json,
 * hf_quant_config.json, model.safetensors.index.json). cJSON alone is lenient: it takes raw
 * control characters and broken UTF-8 inside strings, cuts strings at an escaped NUL, and stops
 * quietly before trailing bytes. Two ranks writing config.json at once leave exactly that kind of
 * file behind, so every rule is checked and the first broken byte is reported. */
#ifndef CK_JSONFILE_H
#define CK_JSONFILE_H

#include <stddef.h>

#include "checkpoint.h"
#include "error.h"
#include "json_arena.h"

struct cJSON;

#define CK_JSON_FILE_MAX (256u << 20) /* side files are kilobytes; the biggest index is ~10 MB */

/* Offset of the first byte strict JSON cannot hold: a raw control character other than tab,
 * LF and CR, a byte that breaks UTF-8, or a \u0000 escape (a C string cannot carry it, and a cut
 * name would alias another). Returns len if there is none, with *why naming the rule otherwise. */
size_t ck_json_prescan(const char *text, size_t len, const char **why);

/* 1-based line and column (in bytes) of byte `offset`. */
void ck_json_line_col(const char *text, size_t len, size_t offset, unsigned *line, unsigned *col);

/* Parse one JSON value that must fill `text` (whitespace aside). With `arena` the tree lives in
 * it (free the arena, never cJSON_Delete); without, free it with cJSON_Delete. On failure returns
 * NULL with `err` holding the offset of the first bad byte and "line L, column C" in its message;
 * a text that simply stops early is reported at its end, as truncated. */
struct cJSON *ck_json_parse_strict(const char *path, const char *text, size_t len,
                                   ck_json_arena *arena, ck_error *err);

/* Read a whole regular file (symlinks followed) into a NUL-terminated buffer. */
int ck_read_small_file(const char *path, char **text, size_t *len, ck_error *err);

/* Load a side file. Returns 0 when it is absent (present = false) or parsed, -1 when it is
 * present but unreadable or not valid JSON (json = NULL, `error` says where). */
int ck_json_file_load(const char *path, ck_json_file *f);
void ck_json_file_free(ck_json_file *f);

#endif
