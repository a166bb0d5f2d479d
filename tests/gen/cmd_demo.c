/* `ckdoc demo`: write the bundled toy checkpoints (tests/gen) so that every other command has
 * something to look at. Only this file prints; the generator returns ck_error values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckdoc.h"
#include "fixtures.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ckdoc demo DIR             write the 'demo' checkpoint into DIR\n"
            "       ckdoc demo DIR NAME        write fixture NAME into DIR itself\n"
            "       ckdoc demo DIR NAME...     (two or more) write each fixture into DIR/NAME\n"
            "       ckdoc demo DIR --all       write every fixture into DIR/NAME\n"
            "       ckdoc demo --list          list the fixtures and what each one is (or what is wrong with it)\n"
            "A target directory must not already hold a checkpoint.\n");
}

static void list(void)
{
    for (size_t i = 0; i < ck_fixture_count(); i++) {
        const ck_fixture_info *f = ck_fixture_at(i);
        printf("%-34s %-6s %-12s %s\n", f->name, f->is_sparse ? "sparse" : f->is_broken ? "broken" : "clean",
               f->family, f->summary);
    }
}

static int write_one(const char *name, const char *dir)
{
    ck_error err;
    if (ck_fixture_write(name, dir, &err) != 0) {
        char msg[1400];
        ck_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "ckdoc demo: %s: %s\n", name, msg);
        return err.code == CK_E_NOMEM ? CK_EXIT_INTERNAL : CK_EXIT_INPUT;
    }
    printf("wrote %-34s -> %s\n", name, dir);
    return CK_EXIT_OK;
}

int ck_cmd_demo(int argc, char **argv)
{
    const char *dir = NULL;
    const char **names = calloc((size_t)argc + 1, sizeof *names);
    size_t n_names = 0;
    int all = 0, rc = CK_EXIT_OK;
    if (!names) return CK_EXIT_INTERNAL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--list")) {
            list();
            goto out;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            goto out;
        } else if (!strcmp(argv[i], "--all")) {
            all = 1;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "ckdoc demo: unknown option '%s'\n", argv[i]);
            usage(stderr);
            rc = CK_EXIT_INPUT;
            goto out;
        } else if (!dir) {
            dir = argv[i];
        } else {
            names[n_names++] = argv[i];
        }
    }
    if (!dir || (all && n_names)) {
        usage(stderr);
        rc = CK_EXIT_INPUT;
        goto out;
    }
    /* Check every name before writing anything: a typo should not leave half a set behind. */
    for (size_t i = 0; i < n_names; i++)
        if (!ck_fixture_find(names[i])) {
            fprintf(stderr, "ckdoc demo: no fixture called '%s' (ckdoc demo --list shows them)\n", names[i]);
            rc = CK_EXIT_INPUT;
            goto out;
        }
    if (!all && n_names <= 1) {
        rc = write_one(n_names ? names[0] : "demo", dir);
        goto out;
    }
    size_t n = all ? ck_fixture_count() : n_names;
    for (size_t i = 0; i < n && rc == CK_EXIT_OK; i++) {
        const char *name = all ? ck_fixture_at(i)->name : names[i];
        char *sub;
        if (asprintf(&sub, "%s/%s", dir, name) < 0) {
            rc = CK_EXIT_INTERNAL;
            break;
        }
        rc = write_one(name, sub);
        free(sub);
    }
out:
    free(names);
    return rc;
}
