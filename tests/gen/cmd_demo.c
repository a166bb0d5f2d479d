/* placeholder until the fixture generator lands */
#include <stdio.h>
#include "ckdoc.h"
int ck_cmd_demo(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "ckdoc: demo is not built yet\n"); return CK_EXIT_INPUT; }
