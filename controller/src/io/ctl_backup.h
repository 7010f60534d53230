//  ctl_backup - `jadugar-controller backup` and `restore`
//  SPDX-License-Identifier: MPL-2.0
//
//  A backup is one gzip'd tar (mode 0600: it holds the secret keys) of
//  what a controller needs to run again: controller.yaml, admin.jadctl.yaml,
//  keys/, an online consistent copy of state.db (ctl_snapshot) and the
//  release archives (artifacts/, content-addressed, written once: every
//  archive the copy names is there when the copy was taken first).
//  A PostgreSQL store is backed up with pg_dump: backup says how.

#ifndef CTL_BACKUP_H_INCLUDED
#define CTL_BACKUP_H_INCLUDED

//  Back the controller in `data_dir` up into a new file `out_path`, while
//  it runs. Prints `backup: FILE`. Returns 0, 1 (error printed), or 2
//  (bad argument, the file exists, or a PostgreSQL store: how to back it
//  up printed).
int ctl_backup_run (const char *data_dir, const char *out_path);

//  Restore a backup made by ctl_backup_run into `data_dir`, which must be
//  missing or empty; the result is checked (configuration, keys, the
//  database's integrity and schema) and removed if it fails. Prints
//  `restored: DIR`. Returns 0, 1 (error printed) or 2 (bad argument).
int ctl_restore_run (const char *data_dir, const char *from_path);

#endif
