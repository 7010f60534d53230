//  ctl_leader - leadership among controllers sharing a PostgreSQL store
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_leader.h"
#include "ctl_store_internal.h"
#include "jad_log.h"
#include "jad_util.h"

#include <czmq.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  the advisory lock of leadership ("jadugar" + 2; + 1 is the migrations')
#define S_LEADER_LOCK "29943431625662835"

//  the server's clock in ms, the one clock every lease is read by
#define S_NOW_MS "CAST (extract (epoch FROM clock_timestamp ()) * 1000 AS BIGINT)"

struct _ctl_leader_t {
    PGconn *pg;          //  the lock connection
    char *name;          //  this controller's endpoint
    int64_t epoch;       //  the epoch taken (0 before leading)
    bool leads;          //  holds the lock and has not lost it
    bool lost;           //  lost it: never leads again
    int64_t renewed_at;  //  mono ms a renewal that succeeded was sent
    bool renewing;       //  a renewal is on its way (sent, no answer yet)
    int64_t sent_at;     //  mono ms the renewal on its way was sent
    int64_t down_at;     //  mono ms a standby's lock connection went down (0: up)
    int64_t down_told;   //  mono ms that was last logged
    char error[256];     //  the last error
};

//  A standby whose lock connection stays down (the database restarting or
//  out of reach) says so when it goes down and then once a minute, not at
//  every try.
#define S_DOWN_REPEAT_MS 60000

//  A leader whose last renewal that succeeded was sent this long ago stops
//  serving: a standby deposes it only once the lease, renewed by the
//  server's clock after that sending, is CTL_LEADER_LEASE_MS old, so the
//  leader stops first.
#define S_FENCE_MS (CTL_LEADER_LEASE_MS - CTL_LEADER_RENEW_MS)

static void s_error (ctl_leader_t *self, const PGresult *result)
{
    const char *message =
        result ? PQresultErrorField (result, PG_DIAG_MESSAGE_PRIMARY) : PQerrorMessage (self->pg);
    if (!message)
        message = PQerrorMessage (self->pg);
    snprintf (self->error, sizeof self->error, "%s", message ? message : "unknown error");
    for (char *at = self->error; *at; at++)
        if (*at == '\n' || *at == '\r')
            *at = at[1] ? ' ' : 0;
}

//  Run `sql` with text parameters; the result if it succeeded, else NULL
//  (error kept).
static PGresult *s_exec (ctl_leader_t *self, const char *sql, int count, const char *const *values)
{
    PGresult *result = PQexecParams (self->pg, sql, count, NULL, values, NULL, NULL, 0);
    ExecStatusType status = result ? PQresultStatus (result) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
        return result;
    s_error (self, result);
    PQclear (result);
    return NULL;
}

//  The first value of a one-row result (NULL if none).
static const char *s_value (const PGresult *result)
{
    return result && PQntuples (result) > 0 && !PQgetisnull (result, 0, 0)
               ? PQgetvalue (result, 0, 0)
               : NULL;
}

//  (Re)connect the lock connection with its session settings. 0 or -1.
static int s_connect (ctl_leader_t *self, const char *target)
{
    //  a host that vanishes is noticed through keepalives and the user
    //  timeout only: both short, so a lost lock is known within seconds
    const char *keys[] = {"dbname",           "fallback_application_name", "keepalives",
                          "keepalives_idle",  "keepalives_interval",       "keepalives_count",
                          "tcp_user_timeout", "connect_timeout",           NULL};
    const char *values[] = {target, "jadugar-controller", "1", "1", "1", "2", "3000", "3", NULL};
    self->pg = PQconnectdbParams (keys, values, 1);
    if (!self->pg || PQstatus (self->pg) != CONNECTION_OK) {
        snprintf (self->error, sizeof self->error, "%s",
                  self->pg ? PQerrorMessage (self->pg) : "out of memory");
        //  libpq may echo the URL, and a password may be in it
        char *url = *target ? strstr (self->error, target) : NULL;
        if (url)
            snprintf (url, sizeof self->error - (size_t)(url - self->error), "(the store URL)");
        for (char *at = self->error; *at; at++)
            if (*at == '\n' || *at == '\r')
                *at = at[1] ? ' ' : 0;
        return -1;
    }
    //  no query of the lock connection may hang the leader's loop
    PGresult *result = PQexec (self->pg, "SET lock_timeout = '2s'; SET statement_timeout = '3s'");
    bool ok = result && PQresultStatus (result) == PGRES_COMMAND_OK;
    if (!ok)
        s_error (self, result);
    PQclear (result);
    return ok ? 0 : -1;
}

ctl_leader_t *ctl_leader_new (const char *target, const char *name)
{
    if (!target || !name || !*name)
        return NULL;
    ctl_leader_t *self = (ctl_leader_t *)calloc (1, sizeof (ctl_leader_t));
    if (!self)
        return NULL;
    self->name = strdup (name);
    if (!self->name || s_connect (self, target) != 0) {
        jad_log_error ("leader: cannot open the lock connection error=\"%s\"", self->error);
        ctl_leader_destroy (&self);
    }
    return self;
}

void ctl_leader_destroy (ctl_leader_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_leader_t *self = *self_p;
    if (self->pg)
        PQfinish (self->pg);
    free (self->name);
    free (self);
    *self_p = NULL;
}

//  Record this controller in table controllers (best effort).
static void s_seen (ctl_leader_t *self)
{
    const char *values[] = {self->name};
    PQclear (s_exec (self,
                     "INSERT INTO controllers (name, seen) VALUES ($1, " S_NOW_MS ") "
                     "ON CONFLICT (name) DO UPDATE SET seen = excluded.seen",
                     1, values));
}

//  Another controller holds the lock: if its lease expired (a frozen
//  leader), end its sessions so that the lock is free at the next try.
static void s_expire (ctl_leader_t *self)
{
    char lease[32];
    snprintf (lease, sizeof lease, "%d", CTL_LEADER_LEASE_MS);
    const char *values[] = {lease};
    PGresult *result = s_exec (self,
                               "SELECT holder, lock_pid, store_pid, " S_NOW_MS " - renewed "
                               "FROM leadership WHERE id = 1 AND renewed IS NOT NULL AND " S_NOW_MS
                               " - renewed > CAST ($1 AS BIGINT)",
                               1, values);
    if (result && PQntuples (result) == 1) {
        jad_log_warning ("leader: the leader's lease expired holder=%s age_ms=%s; ending its "
                         "sessions lock_pid=%s store_pid=%s",
                         PQgetvalue (result, 0, 0), PQgetvalue (result, 0, 3),
                         PQgetvalue (result, 0, 1), PQgetvalue (result, 0, 2));
        //  only sessions as old as the lease (a pid is not reused while
        //  its session lives)
        PQclear (s_exec (self,
                         "SELECT pg_terminate_backend (a.pid) FROM pg_stat_activity a, "
                         "leadership l WHERE l.id = 1 AND a.pid IN (l.lock_pid, l.store_pid) "
                         "AND a.pid <> pg_backend_pid () "
                         "AND a.backend_start <= to_timestamp (l.renewed / 1000.0)",
                         0, NULL));
    } else if (!result)
        jad_log_warning ("leader: cannot read the leader's lease error=\"%s\"", self->error);
    PQclear (result);
}

int ctl_leader_try (ctl_leader_t *self, ctl_store_t *store)
{
    if (self->lost) {
        snprintf (self->error, sizeof self->error, "this controller lost its leadership");
        return -1;
    }
    if (self->leads)
        return 1;
    if (PQstatus (self->pg) != CONNECTION_OK)
        PQreset (self->pg);
    int64_t now = jad_mono_ms ();
    if (PQstatus (self->pg) != CONNECTION_OK) {
        s_error (self, NULL);
        if (!self->down_at || now - self->down_told >= S_DOWN_REPEAT_MS) {
            jad_log_warning ("leader: lock connection down error=\"%s\"; trying again every "
                             "%d ms",
                             self->error, CTL_LEADER_POLL_MS);
            self->down_told = now;
        }
        if (!self->down_at)
            self->down_at = now;
        return -1;
    }
    if (self->down_at) {
        jad_log_info ("leader: lock connection up again after %lld ms",
                      (long long)(now - self->down_at));
        self->down_at = 0;
    }
    s_seen (self);
    PGresult *result = s_exec (self, "SELECT pg_try_advisory_lock (" S_LEADER_LOCK ")", 0, NULL);
    const char *locked = s_value (result);
    bool got = locked && streq (locked, "t");
    PQclear (result);
    if (!result) {
        jad_log_warning ("leader: cannot try the lock error=\"%s\"", self->error);
        return -1;
    }
    if (!got) {
        s_expire (self);
        return 0;
    }
    //  the store's own session, which a successor ends if this one freezes
    int64_t store_pid = 0;
    if (ctl_sql_int (ctl_store_sql (store), &store_pid, "SELECT pg_backend_pid ()", "") != 0) {
        PQclear (s_exec (self, "SELECT pg_advisory_unlock (" S_LEADER_LOCK ")", 0, NULL));
        return -1;
    }
    char pid_text[32];
    snprintf (pid_text, sizeof pid_text, "%lld", (long long)store_pid);
    //  A new epoch, and the lease, in one transaction. The epoch update
    //  waits for a transaction of the deposed leader in flight (its fence
    //  holds the row), bounded by lock_timeout.
    const char *values[] = {self->name, pid_text};
    result = s_exec (self,
                     "WITH e AS (UPDATE meta SET value = CAST (CAST (value AS BIGINT) + 1 AS TEXT) "
                     "WHERE key = 'epoch' RETURNING CAST (value AS BIGINT) AS epoch), "
                     "l AS (UPDATE leadership SET holder = $1, lock_pid = pg_backend_pid (), "
                     "store_pid = CAST ($2 AS BIGINT), renewed = " S_NOW_MS " WHERE id = 1) "
                     "SELECT epoch FROM e",
                     2, values);
    const char *epoch = s_value (result);
    self->epoch = epoch ? strtoll (epoch, NULL, 10) : 0;
    PQclear (result);
    if (self->epoch <= 0 || ctl_store_fence (store, self->epoch) != 0) {
        jad_log_error ("leader: cannot take a new epoch error=\"%s\"", self->error);
        self->epoch = 0;
        PQclear (s_exec (self, "SELECT pg_advisory_unlock (" S_LEADER_LOCK ")", 0, NULL));
        return -1;
    }
    //  from here on the lock connection is read and written from the
    //  leader's loop without ever waiting (ctl_leader_check)
    if (PQsetnonblocking (self->pg, 1) != 0) {
        s_error (self, NULL);
        jad_log_error ("leader: cannot make the lock connection non-blocking error=\"%s\"",
                       self->error);
        self->epoch = 0;
        PQclear (s_exec (self, "SELECT pg_advisory_unlock (" S_LEADER_LOCK ")", 0, NULL));
        return -1;
    }
    self->leads = true;
    self->renewed_at = jad_mono_ms ();
    jad_log_info ("leader: this controller leads name=%s epoch=%lld", self->name,
                  (long long)self->epoch);
    return 1;
}

int ctl_leader_wait (ctl_leader_t *self, ctl_store_t *store, volatile int *stop)
{
    bool told = false;
    while (!*stop) {
        int rc = ctl_leader_try (self, store);
        if (rc == 1)
            return 0;
        if (rc == 0 && !told) {
            //  who holds the lease, as it wrote it (NULL: not known yet)
            PGresult *result = s_exec (
                self, "SELECT holder FROM leadership WHERE id = 1 AND holder IS NOT NULL", 0, NULL);
            const char *holder = s_value (result);
            jad_log_info ("leader: standing by name=%s; controller %s leads", self->name,
                          holder ? holder : "(unknown)");
            PQclear (result);
            told = true;
        }
        if (self->lost)
            return -1;
        zclock_sleep (CTL_LEADER_POLL_MS);
    }
    return -1;
}

//  Leadership lost: say so once, and never lead again.
static int s_lost (ctl_leader_t *self, const char *why)
{
    if (!self->lost)
        jad_log_error ("leader: leadership lost epoch=%lld reason=\"%s\"; this controller stops "
                       "serving (self-fenced)",
                       (long long)self->epoch, why);
    self->lost = true;
    self->leads = false;
    return -1;
}

//  Read what the lock connection's socket holds, without waiting. 0, or
//  -1 if the connection is broken or closed.
static int s_drain (ctl_leader_t *self)
{
    for (int count = 0; count < 16; count++) {
        if (PQconsumeInput (self->pg) == 0 || PQstatus (self->pg) != CONNECTION_OK)
            return -1;
        struct pollfd ready = {.fd = PQsocket (self->pg), .events = POLLIN};
        if (ready.fd < 0 || poll (&ready, 1, 0) <= 0 || !(ready.revents & (POLLIN | POLLHUP)))
            break;
    }
    return 0;
}

//  Send the renewal (without waiting for it). 0 or -1 (error kept).
static int s_renew_send (ctl_leader_t *self, int64_t now)
{
    char epoch[32];
    snprintf (epoch, sizeof epoch, "%lld", (long long)self->epoch);
    const char *values[] = {epoch, self->name};
    //  A lost lock is silent until a query: this one runs on the lock's
    //  connection and renews nothing unless the lease is still this
    //  session's and epoch's; the same statement records this controller
    //  as seen.
    if (!PQsendQueryParams (self->pg,
                            "WITH r AS (UPDATE leadership SET renewed = " S_NOW_MS " FROM meta m "
                            "WHERE leadership.id = 1 AND leadership.lock_pid = pg_backend_pid () "
                            "AND m.key = 'epoch' AND m.value = $1 RETURNING leadership.id), "
                            "s AS (INSERT INTO controllers (name, seen) SELECT $2, " S_NOW_MS
                            " FROM r "
                            "ON CONFLICT (name) DO UPDATE SET seen = excluded.seen) "
                            "SELECT count(*) FROM r",
                            2, NULL, values, NULL, NULL, 0)) {
        s_error (self, NULL);
        return -1;
    }
    self->renewing = true;
    self->sent_at = now;
    return 0;
}

//  The renewal's answer has come (PQisBusy is false): 0 if the lease was
//  renewed, -1 if not (why kept).
static int s_renew_read (ctl_leader_t *self)
{
    bool renewed = false, failed = false;
    PGresult *result;
    while ((result = PQgetResult (self->pg))) {
        ExecStatusType status = PQresultStatus (result);
        if (status == PGRES_TUPLES_OK) {
            const char *count = s_value (result);
            renewed = count && streq (count, "1");
        } else if (!failed) {
            s_error (self, result);
            failed = true;
        }
        PQclear (result);
    }
    self->renewing = false;
    if (failed)
        return -1;
    if (!renewed) {
        snprintf (self->error, sizeof self->error, "another controller took a newer epoch");
        return -1;
    }
    self->renewed_at = self->sent_at;
    return 0;
}

int ctl_leader_check (ctl_leader_t *self)
{
    if (!self->leads)
        return -1;
    //  a terminated or broken connection shows at once, without a query:
    //  read all the socket holds (the server's last message, then its
    //  end, take two reads)
    if (s_drain (self) != 0) {
        s_error (self, NULL);
        return s_lost (self, self->error);
    }
    //  the rest of a renewal the socket could not take at once
    if (PQflush (self->pg) < 0) {
        s_error (self, NULL);
        return s_lost (self, self->error);
    }
    if (self->renewing && !PQisBusy (self->pg) && s_renew_read (self) != 0)
        return s_lost (self, self->error);
    int64_t now = jad_mono_ms ();
    //  A renewal unanswered: the store may be out of reach, and a standby
    //  may take over once the lease is CTL_LEADER_LEASE_MS old. Stop
    //  serving S_FENCE_MS after the last renewal that succeeded was sent
    //  (or, after a pass of the loop so long that the renewal went out
    //  late, S_FENCE_MS after it was due).
    int64_t since = self->renewed_at;
    if (self->renewing && self->sent_at - CTL_LEADER_RENEW_MS > since)
        since = self->sent_at - CTL_LEADER_RENEW_MS;
    if (self->renewing && now - since >= S_FENCE_MS) {
        char why[96];
        snprintf (why, sizeof why, "the store did not answer a lease renewal for %lld ms",
                  (long long)(now - self->sent_at));
        return s_lost (self, why);
    }
    if (!self->renewing && now - self->renewed_at >= CTL_LEADER_RENEW_MS &&
        s_renew_send (self, now) != 0)
        return s_lost (self, self->error);
    return 0;
}

bool ctl_leader_renewing (ctl_leader_t *self)
{
    return self->renewing;
}

int64_t ctl_leader_epoch (ctl_leader_t *self)
{
    return self->epoch;
}

bool ctl_leader_leads (ctl_leader_t *self)
{
    return self->leads;
}

void ctl_controller_destroy (ctl_controller_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->name);
    free (*self_p);
    *self_p = NULL;
}

zlistx_t *ctl_leader_controllers (ctl_store_t *store)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_controller_destroy);
    ctl_query_t query;
    //  the holder of the lease leads with the epoch on record
    int rc = list ? ctl_sql_query (ctl_store_sql (store), &query,
                                   "SELECT c.name, c.seen, CASE WHEN c.name = l.holder THEN 1 "
                                   "ELSE 0 END, m.value FROM controllers c LEFT JOIN leadership "
                                   "l ON l.id = 1 LEFT JOIN meta m ON m.key = 'epoch' "
                                   "ORDER BY c.name",
                                   "")
                  : -1;
    if (rc)
        goto failed;
    while (ctl_query_next (&query)) {
        ctl_controller_t *controller = (ctl_controller_t *)calloc (1, sizeof (ctl_controller_t));
        if (controller) {
            controller->name = ctl_query_strdup (&query, 0);
            controller->seen = ctl_query_int (&query, 1);
            controller->leader = ctl_query_int (&query, 2) == 1;
            const char *epoch = ctl_query_text (&query, 3);
            if (controller->leader && epoch)
                controller->epoch = strtoll (epoch, NULL, 10);
        }
        if (!controller || !controller->name || !zlistx_add_end (list, controller)) {
            ctl_controller_destroy (&controller);
            query.failed = true;
            break;
        }
    }
    if (ctl_query_end (&query) == 0)
        return list;
failed:
    zlistx_destroy (&list);
    return NULL;
}
