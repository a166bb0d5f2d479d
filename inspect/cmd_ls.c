/* placeholder until the ls command lands */
#include <stdio.h>
#include "ckdoc.h"
int ck_cmd_ls(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "ckdoc: ls is not built yet\n"); return CK_EXIT_INPUT; }
