/* A tiny JSON writer for the fixtures' side files, byte for byte what Python's
 * json.dumps(indent=2) writes (the way Hugging Face saves config.json), ending in a newline.
 * Numbers that must look like the real files' ("1e-05", "10000.0") are passed as raw literals.
 * A NULL key is for array elements and the top-level object. */
#ifndef CKG_JSON_OUT_H
#define CKG_JSON_OUT_H

#include <stdbool.h>
#include <stddef.h>

#define CKG_JSON_MAX_DEPTH 16

typedef struct {
    char *buf;
    size_t len, cap;
    int depth;
    bool empty[CKG_JSON_MAX_DEPTH]; /* nothing written yet at this depth */
    bool failed;
} ckg_json;

void ckg_j_init(ckg_json *j);
void ckg_j_obj(ckg_json *j, const char *key);   /* open an object */
void ckg_j_arr(ckg_json *j, const char *key);   /* open an array */
void ckg_j_end_obj(ckg_json *j);
void ckg_j_end_arr(ckg_json *j);
void ckg_j_int(ckg_json *j, const char *key, long long v);
void ckg_j_raw(ckg_json *j, const char *key, const char *literal);
void ckg_j_str(ckg_json *j, const char *key, const char *s);
void ckg_j_bool(ckg_json *j, const char *key, bool v);
void ckg_j_null(ckg_json *j, const char *key);
/* Arrays of strings or integers in one call. */
void ckg_j_strs(ckg_json *j, const char *key, const char *const *items, size_t n);
void ckg_j_ints(ckg_json *j, const char *key, const int *items, size_t n);
/* The text (malloc'd, caller frees), or NULL after an allocation failure or unbalanced nesting. */
char *ckg_j_finish(ckg_json *j);

#endif
