//  ctl_init - `jadugar-controller init`: a new controller's data directory
//  SPDX-License-Identifier: MPL-2.0

#ifndef CTL_INIT_H_INCLUDED
#define CTL_INIT_H_INCLUDED

#include <stdio.h>

//  How long the enrollment token init prints stays valid: 24 h.
#define CTL_INIT_TOKEN_TTL_MS (24LL * 3600 * 1000)

//  Create DIR/controller.yaml, DIR/state.db, DIR/keys/ (Ed25519 signing
//  pair, CURVE pair, the admin operator's key), DIR/admin.jadctl.yaml and
//  an enrollment token for any environment valid 24 h, and print `key:
//  value` lines to out. With `store` (a postgresql:// URL, or NULL) the
//  state goes into that database instead of DIR/state.db, and
//  controller.yaml says `store: URL`; a database that already holds a
//  controller's state is refused. Refuses an initialised DIR. Returns 0,
//  or 1 (error printed to stderr), or 2 (bad argument).
int ctl_init_run (const char *data_dir, const char *listen, int port, const char *store, FILE *out);

#endif
