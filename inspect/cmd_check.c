/* ckdoc check PATH: the doctor's command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckdoc.h"
#include "inspect/check.h"
#include "inspect/report_check.h"
#include "kernels/backend.h"
#include "repair/atomic.h"

static const char usage_text[] =
    "usage: ckdoc check PATH [--json] [--deep] [--index-only] [--reference PATH] [--fail-on error|warn|info]\n"
    "                        [--max-findings N] [--emit-plan FILE] [--family NAME] [--no-color]\n"
    "                        [--threads N] [--backend cpu|cuda|auto]\n"
    "       ckdoc check --families\n";

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "ckdoc check: %s%s%s\n%stry 'ckdoc check --help'\n", what, arg ? " " : "", arg ? arg : "", usage_text);
    return CK_EXIT_INPUT;
}

int ck_cmd_check(int argc, char **argv)
{
    const char *path = NULL, *plan_path = NULL, *ref_path = NULL;
    ck_backend_kind kind = CK_BACKEND_AUTO;
    bool json = false, no_color = false;
    ck_check_options opt = {0};
    ck_severity fail_on = CK_SEV_ERROR;
    size_t max_findings = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--deep")) opt.deep = true;
        else if (!strcmp(a, "--index-only")) opt.index_only = true;
        else if (!strcmp(a, "--no-color")) no_color = true;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(usage_text, stdout); return CK_EXIT_OK; }
        else if (!strcmp(a, "--families")) {
            for (size_t k = 0; k < ck_spec_count(); k++) printf("%s\n", ck_spec_family(k));
            return CK_EXIT_OK;
        } else if (!strcmp(a, "--fail-on") || !strcmp(a, "--max-findings") || !strcmp(a, "--emit-plan") ||
                   !strcmp(a, "--family") || !strcmp(a, "--reference") || !strcmp(a, "--threads") ||
                   !strcmp(a, "--backend")) {
            if (i + 1 >= argc) return usage_error("missing value after", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--fail-on")) {
                if (!ck_severity_parse(v, &fail_on)) return usage_error("--fail-on takes error, warn or info, not", v);
            } else if (!strcmp(a, "--max-findings")) {
                char *end;
                unsigned long long n = strtoull(v, &end, 10);
                if (*end || !*v) return usage_error("--max-findings takes a count, not", v);
                max_findings = (size_t)n;
            } else if (!strcmp(a, "--emit-plan")) {
                plan_path = v;
            } else if (!strcmp(a, "--family")) {
                if (!ck_spec_by_family(v, NULL)) return usage_error("no family spec named", v);
                opt.family = v;
            } else if (!strcmp(a, "--threads")) {
                char *end;
                long n = strtol(v, &end, 10);
                if (*end || n < 1 || n > 1024) return usage_error("--threads takes a number from 1 to 1024, not", v);
                opt.threads = (int)n;
            } else if (!strcmp(a, "--backend")) {
                if (!ck_backend_kind_parse(v, &kind)) return usage_error("--backend takes cpu, cuda or auto, not", v);
            } else {
                ref_path = v;
            }
        } else if (a[0] == '-' && a[1]) return usage_error("unknown option", a);
        else if (path) return usage_error("more than one PATH:", a);
        else path = a;
    }
    if (!path) return usage_error("no PATH given", NULL);

    ck_checkpoint ck;
    ck_error err;
    if (ck_checkpoint_open(path, opt.index_only ? CK_OPEN_INDEX_ONLY : 0, &ck, &err) < 0) {
        char line[1400];
        ck_error_format(&err, line, sizeof line);
        fprintf(stderr, "ckdoc: %s\n", line);
        return CK_EXIT_INPUT;
    }
    ck_checkpoint ref;
    bool have_ref = false;
    ck_deep_report deep = {0};
    if (ref_path) {
        if (ck_checkpoint_open(ref_path, 0, &ref, &err) < 0) {
            char line[1400];
            ck_error_format(&err, line, sizeof line);
            fprintf(stderr, "ckdoc: the reference: %s\n", line);
            ck_checkpoint_close(&ck);
            return CK_EXIT_INPUT;
        }
        have_ref = true;
        opt.reference = &ref;
    }
    {
        /* The back end decodes tensor data: --deep, --reference, and the sampled evidence about
         * square tensors. Creating it reads nothing. */
        char why[256] = "";
        opt.backend = ck_backend_create(kind, opt.threads, why, &err);
        if (!opt.backend) {
            char line[1400];
            ck_error_format(&err, line, sizeof line);
            fprintf(stderr, "ckdoc: %s\n", line);
            if (have_ref) ck_checkpoint_close(&ref);
            ck_checkpoint_close(&ck);
            return CK_EXIT_INPUT;
        }
        if (json && opt.deep) opt.deep_report = &deep;
    }
    ck_findings findings = {.max = max_findings};
    ck_expectation x;
    if (ck_check_run(&ck, &opt, &findings, &x, &err) < 0) {
        char line[1400];
        ck_error_format(&err, line, sizeof line);
        fprintf(stderr, "ckdoc: internal error: %s\n", line);
        ck_findings_free(&findings);
        ck_checkpoint_close(&ck);
        return CK_EXIT_INTERNAL;
    }
    ck_findings_sort(&findings);
    int status = CK_EXIT_OK;
    for (int s = fail_on; s <= CK_SEV_ERROR; s++)
        if (findings.by_severity[s]) status = CK_EXIT_FINDINGS;

    ck_report_info info = {path, x.family, x.layers, x.experts, x.quant_name, ck.n_entries, ck.n_shards, opt.deep};
    if (json) {
        ck_report_json(stdout, &info, &findings, opt.deep ? &deep : NULL, status);
    } else {
        bool colour = !no_color && isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
        ck_report_text(stdout, &info, &findings, colour);
    }
    if (plan_path) {
        char *plan = ck_plan_json(path, &findings);
        size_t len = plan ? strlen(plan) : 0;
        if (plan) plan[len] = '\0';
        if (!plan || ck_atomic_write_file(plan_path, plan, len, &err) < 0) {
            char line[1400];
            ck_error_format(&err, line, sizeof line);
            fprintf(stderr, "ckdoc: cannot write the plan: %s\n", plan ? line : "out of memory");
            status = CK_EXIT_INPUT;
        }
        free(plan);
    }
    fflush(stdout);
    ck_deep_report_free(&deep);
    if (opt.backend) ck_backend_destroy(opt.backend);
    if (have_ref) ck_checkpoint_close(&ref);
    ck_expectation_free(&x);
    ck_findings_free(&findings);
    ck_checkpoint_close(&ck);
    return status;
}
