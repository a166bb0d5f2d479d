/* libFuzzer target: a hostile config.json against every built-in family spec. The input is parsed
 * as JSON; the spec that claims it (and, to reach every spec, each spec in turn) is expanded. The
 * expansion must either succeed with a sorted list of keys or fail with a message: never crash,
 * never run away with memory (the spec engine caps what a config can ask for). */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/spec.h"

static void expand(const ck_spec *spec, const cJSON *config)
{
    ck_expectation x;
    ck_error err;
    memset(&err, 0, sizeof err);
    if (ck_spec_expand(spec, config, NULL, &x, &err) == 0) {
        for (size_t i = 1; i < x.n_items; i++)
            if (strcmp(x.items[i - 1].key, x.items[i].key) > 0) __builtin_trap();
        ck_expectation_free(&x);
    } else if (!err.msg[0]) {
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *config = cJSON_ParseWithLength((const char *)data, size);
    if (!config) return 0;
    ck_error err;
    const ck_spec *own = ck_spec_for_config(config, &err);
    if (own) expand(own, config);
    /* Also each spec against this config, chosen by the first byte, so every spec's expressions
     * meet hostile values. */
    size_t n = ck_spec_count();
    if (n && size) expand(ck_spec_by_family(ck_spec_family(data[0] % n), &err), config);
    cJSON_Delete(config);
    return 0;
}
