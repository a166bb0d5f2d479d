/* Subcommand entry points. Each parses its own arguments and returns the process exit status:
 * 0 clean, 1 findings at or above --fail-on, 2 could not run (bad input, usage), 3 internal. */
#ifndef CKDOC_H
#define CKDOC_H

#define CK_VERSION "0.1.0"

enum { CK_EXIT_OK = 0, CK_EXIT_FINDINGS = 1, CK_EXIT_INPUT = 2, CK_EXIT_INTERNAL = 3 };

int ck_cmd_ls(int argc, char **argv);
int ck_cmd_demo(int argc, char **argv);
int ck_cmd_stats(int argc, char **argv);
int ck_cmd_check(int argc, char **argv);
int ck_cmd_repair(int argc, char **argv);

#endif
