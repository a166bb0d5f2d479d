/* ckdoc repair PATH --plan PLAN -o OUT: apply a repair plan, writing a new checkpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckdoc.h"
#include "inspect/checkpoint.h"
#include "kernels/backend.h"
#include "repair/apply.h"
#include "repair/plan.h"

static const char usage_text[] =
    "usage: ckdoc repair PATH --plan PLAN.json -o OUTDIR [--dry-run] [--threads N] [--backend cpu|cuda|auto]\n";

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "ckdoc repair: %s%s%s\n%stry 'ckdoc repair --help'\n", what, arg ? " " : "", arg ? arg : "",
            usage_text);
    return CK_EXIT_INPUT;
}

static int report(const char *prefix, const ck_error *err)
{
    char line[1400];
    ck_error_format(err, line, sizeof line);
    fprintf(stderr, "ckdoc repair: %s%s\n", prefix, line);
    return err->code == CK_E_NOMEM ? CK_EXIT_INTERNAL : CK_EXIT_INPUT;
}

int ck_cmd_repair(int argc, char **argv)
{
    const char *path = NULL, *plan_path = NULL, *outdir = NULL;
    bool dry_run = false;
    int threads = 0;
    ck_backend_kind kind = CK_BACKEND_CPU;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            return CK_EXIT_OK;
        } else if (!strcmp(a, "--dry-run") || !strcmp(a, "-n")) {
            dry_run = true;
        } else if (!strcmp(a, "--plan") || !strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--threads") ||
                   !strcmp(a, "--backend")) {
            if (i + 1 >= argc) return usage_error("missing value after", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--plan")) plan_path = v;
            else if (!strcmp(a, "--threads")) {
                char *end;
                long n = strtol(v, &end, 10);
                if (*end || n < 1 || n > 1024) return usage_error("--threads takes a number from 1 to 1024, not", v);
                threads = (int)n;
            } else if (!strcmp(a, "--backend")) {
                if (!ck_backend_kind_parse(v, &kind)) return usage_error("--backend takes cpu, cuda or auto, not", v);
            } else outdir = v;
        } else if (a[0] == '-' && a[1]) return usage_error("unknown option", a);
        else if (path) return usage_error("more than one PATH:", a);
        else path = a;
    }
    if (!path) return usage_error("no PATH given", NULL);
    if (!plan_path) return usage_error("no --plan given", NULL);
    if (!outdir && !dry_run) return usage_error("no output directory given (-o OUTDIR)", NULL);

    ck_error err;
    ck_rplan plan;
    if (ck_rplan_load(plan_path, &plan, &err) < 0) return report("", &err);
    ck_checkpoint ck;
    if (ck_checkpoint_open(path, 0, &ck, &err) < 0) {
        ck_rplan_free(&plan);
        return report("", &err);
    }
    int status = CK_EXIT_OK;
    ck_repair *r = NULL;
    ck_backend *be = ck_backend_create(kind, threads, NULL, &err);
    if (!be) status = report("", &err);
    else if (ck_repair_build(&ck, &plan, be, &r, &err) < 0) status = report("", &err);
    else if (dry_run) {
        ck_repair_describe(r, outdir ? outdir : "(no output: --dry-run)", stdout);
        printf("dry run: nothing written\n");
    } else if (ck_repair_write(r, outdir, &err) < 0) {
        status = report("", &err);
    } else {
        ck_repair_summary s;
        ck_repair_summarize(r, &s);
        char esc[1200];
        ck_escape(esc, sizeof esc, outdir, strlen(outdir));
        printf("ckdoc repair: wrote %s: %zu shard%s rewritten (%zu tensor%s changed), %zu copied as they were, "
               "%zu other file%s copied%s\n",
               esc, s.shards_rewritten, s.shards_rewritten == 1 ? "" : "s", s.tensors_changed,
               s.tensors_changed == 1 ? "" : "s", s.shards_copied, s.files_copied, s.files_copied == 1 ? "" : "s",
               "");
    }
    fflush(stdout);
    ck_repair_free(r);
    if (be) ck_backend_destroy(be);
    ck_checkpoint_close(&ck);
    ck_rplan_free(&plan);
    return status;
}
