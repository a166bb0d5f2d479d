/* `ckdoc PATH`: the browser. */
#ifndef CK_TUI_APP_H
#define CK_TUI_APP_H

/* argv[0] is the PATH (or an option); returns the process exit status. */
int ck_cmd_browse(int argc, char **argv);

#endif
