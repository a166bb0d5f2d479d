/* ckdoc: the command-line entry point. It only picks a subcommand and calls in. */
#include <stdio.h>
#include <string.h>

#include "ckdoc.h"
#include "tui/app.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
    const char *issue; /* for commands not built yet: where the work is tracked */
} ck_command;

static const ck_command commands[] = {
    {"ls", ck_cmd_ls, "ls PATH [--json] [--filter GLOB] [--sort key|size|shard]", NULL},
    {"demo", ck_cmd_demo, "demo DIR [NAME...] [--list]", NULL},
    {"check", ck_cmd_check, "check PATH [--json] [--deep] [--index-only] [--emit-plan FILE]", NULL},
    {"stats", ck_cmd_stats, "stats PATH [--filter GLOB] [--json] [--threads N] [--backend cpu|cuda|auto]", NULL},
    {"repair", ck_cmd_repair, "repair PATH --plan PLAN -o OUT [--dry-run]", NULL},
    {"convert", NULL, "convert SRC --to hf|mcore|torchtitan -o OUT", "the conversion issue"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: ckdoc COMMAND [ARGS]   (ckdoc PATH opens the browser)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  ckdoc %-58s%s\n", commands[i].usage, commands[i].run ? "" : " (not built yet)");
    fprintf(out, "\nexit status: 0 clean, 1 findings, 2 could not run, 3 internal error\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CK_EXIT_INPUT : CK_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("ckdoc %s\n", CK_VERSION);
        return CK_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (strcmp(argv[1], commands[i].name) != 0) continue;
        if (!commands[i].run) {
            fprintf(stderr, "ckdoc: '%s' is not built yet (tracked in %s)\n", commands[i].name, commands[i].issue);
            return CK_EXIT_INPUT;
        }
        return commands[i].run(argc - 1, argv + 1);
    }
    static const char *const browse_opts[] = {"--read-only", "--no-color", "--no-mouse", "--ascii", "--plan", "--keys"};
    for (size_t i = 0; i < sizeof browse_opts / sizeof *browse_opts; i++)
        if (!strcmp(argv[1], browse_opts[i])) return ck_cmd_browse(argc - 1, argv + 1);
    if (argv[1][0] == '-') {
        fprintf(stderr, "ckdoc: unknown option '%s'\n", argv[1]);
        usage(stderr);
        return CK_EXIT_INPUT;
    }
    return ck_cmd_browse(argc - 1, argv + 1);
}
