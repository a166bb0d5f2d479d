/* Findings: what `ckdoc check` reports. A finding is a value: a stable code, a severity, the key it
 * is about, a one-line message, evidence (numbers, as a JSON object) and, where one exists, a
 * suggested fix as a repair-plan action (a JSON object). Findings are collected, never fatal. */
#ifndef CK_FINDINGS_H
#define CK_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

typedef enum { CK_SEV_INFO, CK_SEV_WARN, CK_SEV_ERROR } ck_severity;

/* The stable codes. Append only: scripts match on these strings. */
#define CK_FINDING_CODES(X)                                                                        \
    X(CONFIG_MISSING) X(CONFIG_INVALID) X(HEADER_INVALID) X(INDEX_MISMATCH) X(UNKNOWN_FAMILY)     \
    X(INDEX_ONLY) X(MISSING_KEY) X(UNEXPECTED_KEY) X(SHAPE_MISMATCH) X(TRANSPOSED)               \
    X(SQUARE_AMBIGUOUS) X(MISSING_EXPERTS) X(DUPLICATE_EXPERTS) X(EXPERT_BIAS_MISSING)            \
    X(QUANT_SCALE_MISSING) X(QUANT_SCALE_SHAPE) X(QUANT_SCALE_INVALID) X(QUANT_CONFIG_MISMATCH)   \
    X(QUANT_UNSUPPORTED) X(TIED_WEIGHTS) X(DTYPE_MISMATCH) X(NONFINITE) X(ALL_ZERO)              \
    X(OTHER_COMPONENT)

typedef enum {
#define CK_CODE_ENUM(name) CK_F_##name,
    CK_FINDING_CODES(CK_CODE_ENUM)
#undef CK_CODE_ENUM
    CK_F_COUNT
} ck_code;

extern const char *const ck_code_names[CK_F_COUNT];

typedef struct {
    ck_code code;
    ck_severity severity;
    char *key;                 /* the tensor or file it is about ("" if none) */
    int layer;                 /* -1 if none: for grouping */
    char *message;             /* one line, no trailing newline */
    struct cJSON *evidence;    /* object or NULL */
    struct cJSON *fix;         /* repair-plan action object or NULL */
} ck_finding;

typedef struct {
    ck_finding *items;
    size_t n, cap;
    size_t max;                /* --max-findings: 0 = no cap */
    size_t counts[CK_F_COUNT]; /* every finding counted, kept or not */
    size_t by_severity[3];
    size_t dropped;            /* over the cap */
} ck_findings;

/* Add a finding (message printf-style). Takes ownership of evidence and fix (either may be NULL).
 * Never fails visibly: out of memory drops the finding but still counts it. */
void ck_finding_add(ck_findings *f, ck_code code, ck_severity sev, const char *key, int layer,
                    struct cJSON *evidence, struct cJSON *fix, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

/* Order findings for output: severity (errors first), then layer, then key, then code; stable for
 * equal entries, so output is a function of the input alone. */
void ck_findings_sort(ck_findings *f);
void ck_findings_free(ck_findings *f);

const char *ck_severity_name(ck_severity s);
bool ck_severity_parse(const char *s, ck_severity *out);

#endif
