/* Toy checkpoints for tests and `ckdoc demo`: small, deterministic, one per model family and one per
 * breakage the doctor must find, plus sparse "full-size" ones (real header shapes, data as holes). */
#ifndef CK_FIXTURES_H
#define CK_FIXTURES_H

#include <stddef.h>
#include "../../inspect/error.h"

typedef struct {
    const char *name;     /* e.g. "gpt_oss", "gpt_oss-square-transposed", "deepseek_v3-full-sparse" */
    const char *family;   /* model_type written to config.json */
    const char *summary;  /* one line: what it is, and for broken ones what is wrong */
    int is_broken;        /* a variant the doctor must flag */
    int is_sparse;        /* full-size shapes with data as file holes */
} ck_fixture_info;

size_t ck_fixture_count(void);
const ck_fixture_info *ck_fixture_at(size_t i);
const ck_fixture_info *ck_fixture_find(const char *name);

/* Write fixture `name` into directory `dir` (created; must not already hold a checkpoint). */
int ck_fixture_write(const char *name, const char *dir, ck_error *err);

#endif
