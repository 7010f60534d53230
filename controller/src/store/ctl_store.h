//  ctl_store - the controller's store: its one handle, chosen backend,
//  transactions
//  SPDX-License-Identifier: MPL-2.0
//
//  store/ is the only code in the controller that speaks SQL. Callers
//  name operations (the repositories: ctl_agents_repo.h, ...), never a
//  handle type: a ctl_store_t is opaque and the backend is chosen once,
//  when it is opened, from its target (DESIGN §8; in the manner of
//  Postfix's dict_open). A store handle belongs to one thread: the
//  controller's loop has one, the HTTP thread its own, read-only.

#ifndef CTL_STORE_H_INCLUDED
#define CTL_STORE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _ctl_store_t ctl_store_t;

//  ctl_store_open flags
#define CTL_STORE_CREATE   1  //  create the database if it does not exist
#define CTL_STORE_READONLY 2  //  read only; the schema is taken as it is

//  Open the store at `target`: "sqlite:PATH" or a bare PATH (SQLite), or a
//  libpq URL "postgresql://USER@HOST:PORT/DB?..." (PostgreSQL 15 or newer;
//  without CTL_STORE_CREATE a database holding no store is refused), and,
//  unless read-only, bring its schema up to date (a schema newer than this
//  controller is refused). Returns the handle or NULL (reason logged).
ctl_store_t *ctl_store_open (const char *target, int flags);

//  The target of a controller's store: `store` as controller.yaml's
//  `store:` key gives it (a postgresql:// URL), or DATA_DIR/state.db when
//  it is NULL or "sqlite". Caller frees; NULL if out of memory.
char *ctl_store_target (const char *data_dir, const char *store);

//  True if `target` is a PostgreSQL URL (a store shared between hosts).
bool ctl_store_target_shared (const char *target);

//  Close the store; NULL-safe, nulls *self_p.
void ctl_store_destroy (ctl_store_t **self_p);

//  The backend's name ("sqlite" or "postgresql").
const char *ctl_store_backend (ctl_store_t *self);

//  The schema version (migrations run so far), -1 on error.
int ctl_store_schema_version (ctl_store_t *self);

//  Name of migration `version` (1-based) of this backend, or NULL.
const char *ctl_store_migration_name (ctl_store_t *self, int version);

//  Transactions. They nest (savepoints): a caller wraps a burst of units
//  of work in one, and each unit commits or rolls back on its own inside
//  it; the outermost commit makes it durable. Return 0 or -1.
int ctl_store_begin (ctl_store_t *self);
int ctl_store_commit (ctl_store_t *self);
void ctl_store_rollback (ctl_store_t *self);

//  Next plan sequence number, persisted before it is used. 0 on error.
uint64_t ctl_store_next_sequence (ctl_store_t *self);

//  The leadership epoch on record (meta): incremented by each new leader
//  of a shared store (ctl_leader.h); 0 on SQLite, which has one
//  controller. -1 on error.
int64_t ctl_store_epoch (ctl_store_t *self);

//  Fence every later write of this handle by `epoch` (> 0), the epoch this
//  controller took as leader: a transaction (or a statement outside one)
//  first checks that the epoch on record is still it; once it is not,
//  everything this handle runs fails and changes nothing. A no-op on
//  SQLite. Returns 0 or -1.
int ctl_store_fence (ctl_store_t *self, int64_t epoch);

#endif
