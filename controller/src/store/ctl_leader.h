//  ctl_leader - leadership among controllers sharing a PostgreSQL store
//  SPDX-License-Identifier: MPL-2.0
//
//  At most one controller of a shared store leads (DESIGN §9): it holds a
//  PostgreSQL advisory lock on a connection of its own (short TCP
//  keepalives and tcp_user_timeout, so a vanished host loses it within
//  seconds) and took a new epoch (meta's epoch + 1) when it took the lock.
//  Only the leader binds its sockets and runs timers; its store handle is
//  fenced by its epoch (ctl_store_fence), so a deposed leader's writes
//  change nothing. Standbys try the lock every CTL_LEADER_POLL_MS.
//
//  A leader renews a lease (leadership.renewed, by the server's clock)
//  every second from its lock connection. A leader frozen (SIGSTOP, a
//  stuck host with its TCP connections up) keeps its lock: a standby that
//  finds the lease older than CTL_LEADER_LEASE_MS ends the leader's two
//  sessions (pg_terminate_backend; the controllers share one role), which
//  frees the lock and aborts any transaction the frozen leader held open.
//  A leader that finds its lock connection gone, or its lease renewed by
//  no one (0 rows), has lost: the caller stops serving at once.
//
//  Every controller (leader or standby) records itself in table
//  controllers (its name, last seen) for `jadctl controllers`.

#ifndef CTL_LEADER_H_INCLUDED
#define CTL_LEADER_H_INCLUDED

#include "ctl_store.h"

#include <czmq.h>

#include <stdbool.h>
#include <stdint.h>

#define CTL_LEADER_POLL_MS  500   //  a standby tries the lock this often
#define CTL_LEADER_RENEW_MS 1000  //  a leader renews its lease this often
#define CTL_LEADER_LEASE_MS 4000  //  a lease older than this is a frozen leader's

typedef struct _ctl_leader_t ctl_leader_t;

//  A candidate for leadership of the PostgreSQL store at `target` (a
//  postgresql:// URL), named `name` (its endpoint, "ADDR:PORT"), with a
//  connection of its own. NULL on error (logged; the URL never is).
ctl_leader_t *ctl_leader_new (const char *target, const char *name);

//  Close the lock connection (which frees the lock); NULL-safe.
void ctl_leader_destroy (ctl_leader_t **self_p);

//  One attempt at leadership: returns 1 if this controller leads now (a
//  new epoch taken, `store` fenced by it), 0 if another controller leads
//  (a frozen one's sessions ended if its lease expired: the next attempt
//  may succeed), -1 on error (logged; try again later).
int ctl_leader_try (ctl_leader_t *self, ctl_store_t *store);

//  Try every CTL_LEADER_POLL_MS until this controller leads (0) or
//  *stop becomes non-zero (-1).
int ctl_leader_wait (ctl_leader_t *self, ctl_store_t *store, volatile int *stop);

//  The leader's check, for every pass of its loop; it never waits for the
//  store. The lock connection is alive, and every CTL_LEADER_RENEW_MS a
//  renewal of the lease under this epoch is sent; its answer is read by a
//  later check. Leadership is lost when the connection breaks, a renewal
//  fails or renews nothing, or no renewal succeeded for
//  CTL_LEADER_LEASE_MS - CTL_LEADER_RENEW_MS (a store that does not
//  answer: the leader stops before a standby may depose it). Returns 0
//  while this controller leads, -1 once it lost (logged once; it never
//  leads again with this handle).
int ctl_leader_check (ctl_leader_t *self);

//  True while a renewal sent by ctl_leader_check awaits its answer.
bool ctl_leader_renewing (ctl_leader_t *self);

//  The epoch this controller took (0 before it leads).
int64_t ctl_leader_epoch (ctl_leader_t *self);

//  True while this controller leads (ctl_leader_check has not failed).
bool ctl_leader_leads (ctl_leader_t *self);

//  --------------------------------------------------------------------------
//  The controllers of a store, as `jadctl controllers` shows them

//  One controller on record.
typedef struct {
    char *name;     //  its endpoint, "ADDR:PORT"
    bool leader;    //  it holds the lease (the others stand by)
    int64_t epoch;  //  the epoch it leads with; 0 for a standby
    int64_t seen;   //  when it was last seen (ms since the epoch, the store's clock)
} ctl_controller_t;

void ctl_controller_destroy (ctl_controller_t **self_p);

//  Every controller that ever ran on `store`, by name (none on SQLite,
//  whose one controller records nothing). A list of ctl_controller_t
//  the caller destroys; NULL on error (logged).
zlistx_t *ctl_leader_controllers (ctl_store_t *store);

#endif
