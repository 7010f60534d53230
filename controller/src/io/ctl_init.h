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

//  As ctl_init_run, and with `join` (a file export-keys wrote, or NULL)
//  a controller that joins the cluster of `store` (required then): its
//  keys are the export's (each checked, the admin key against the store's
//  admin operator), the store is neither created nor changed, and no
//  enrollment token is made (none is printed). Returns 0, 1 or 2 as
//  ctl_init_run.
int ctl_init_join (const char *data_dir, const char *listen, int port, const char *store,
                   const char *join, FILE *out);

//  `jadugar-controller export-keys`: write the keys of the controller in
//  `data_dir` (signing, CURVE, admin), each checked, into a new file
//  `out_path` (mode 0600; an existing file is refused) for `init --join`
//  on another host. Prints `keys: FILE`. Returns 0, 1 (error printed), or
//  2 (bad argument, or the file exists).
int ctl_init_export_keys (const char *data_dir, const char *out_path);

#endif
