//  ctl_retention_repo - retention: the audit log and finished plans past
//  their time, in bounded slices
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_retention_repo.h"
#include "ctl_agents_repo.h"
#include "ctl_store_internal.h"
#include "jad_log.h"

#include <stdio.h>
#include <stdlib.h>

//  Plans one slice looks at, at most
#define S_PLANS_PER_SLICE 64

int ctl_retention_repo_audit (ctl_store_t *store, int64_t before, int64_t now, int64_t *rows)
{
    ctl_sql_t *sql = ctl_store_sql (store);
    if (rows)
        *rows = 0;
    if (ctl_sql_begin (sql))
        return -1;
    //  the bound first: the database lets nothing newer go
    if (ctl_sql_exec (sql,
                      "UPDATE meta SET value = CAST ($1 AS TEXT) WHERE key = 'audit_prune_before'",
                      "i", before) != 1)
        goto failed;
    int64_t deleted = ctl_sql_exec (sql,
                                    "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE "
                                    "time < $1 ORDER BY id LIMIT $2)",
                                    "ii", before, (int64_t)CTL_RETENTION_SLICE);
    if (deleted < 0)
        goto failed;
    if (deleted > 0) {
        char args[80];
        snprintf (args, sizeof args, "before=%lld rows=%lld", (long long)before,
                  (long long)deleted);
        if (ctl_agents_repo_audit_append (store, "controller", "audit.pruned", args, "ok", now))
            goto failed;
    }
    if (ctl_sql_commit (sql))
        goto failed;
    if (rows)
        *rows = deleted;
    return deleted >= CTL_RETENTION_SLICE ? 1 : 0;

failed:
    ctl_sql_rollback (sql);
    jad_log_error ("retention: audit prune failed before=%lld", (long long)before);
    return -1;
}

//  Up to S_PLANS_PER_SLICE ids of plans that may go (see the header),
//  oldest first, into ids[]. Returns how many, or -1.
static int s_prunable (ctl_sql_t *sql, int64_t before, char *ids[S_PLANS_PER_SLICE])
{
    ctl_query_t query;
    int rc = ctl_sql_query (
        sql, &query,
        "SELECT p.id FROM plans p WHERE p.state IN ('succeeded', 'failed') AND p.finished > 0 "
        "AND p.finished < $1 "
        //  not the newest deploy or rollback of its app in its environment
        "AND (p.kind NOT IN ('deploy', 'rollback') OR EXISTS (SELECT 1 FROM plans n WHERE "
        "n.app = p.app AND n.env = p.env AND n.kind IN ('deploy', 'rollback') AND n.state != "
        "'approval' AND (n.created > p.created OR (n.created = p.created AND coalesce (n.seq, 0) "
        "> coalesce (p.seq, 0))))) "
        //  not the newest success of its app, version and environment
        "AND (p.state != 'succeeded' OR p.kind NOT IN ('deploy', 'rollback') OR EXISTS (SELECT 1 "
        "FROM plans n WHERE n.app = p.app AND n.env = p.env AND n.version = p.version AND n.kind "
        "= p.kind AND n.state = 'succeeded' AND (n.created > p.created OR (n.created = p.created "
        "AND coalesce (n.seq, 0) > coalesce (p.seq, 0))))) "
        //  no incident names it or has it in its window
        "AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.plan_id = p.id OR (i.env = p.env AND "
        "i.since <= p.finished AND (i.closed IS NULL OR i.closed = 0 OR i.closed >= p.created))) "
        //  no rollback or task in flight refers to it
        "AND NOT EXISTS (SELECT 1 FROM plans r WHERE (r.undoes = p.id OR r.parent = p.id OR "
        "r.task = p.id) AND "
        "r.state IN ('approval', 'running')) "
        "ORDER BY p.finished, p.id LIMIT $2",
        "ii", before, (int64_t)S_PLANS_PER_SLICE);
    int count = 0;
    while (rc == 0 && count < S_PLANS_PER_SLICE && ctl_query_next (&query)) {
        ids[count] = ctl_query_strdup (&query, 0);
        if (!ids[count]) {
            query.failed = true;
            break;
        }
        count++;
    }
    if (ctl_query_end (&query) || rc) {
        for (int index = 0; index < count; index++)
            free (ids[index]);
        return -1;
    }
    return count;
}

//  Delete what is left of plan `id` within *budget rows. Returns 1 if the
//  plan is gone, 0 if the budget ran out first, -1 on error.
static int s_plan_delete (ctl_sql_t *sql, const char *id, int64_t *budget)
{
    int64_t rows = ctl_sql_exec (sql,
                                 "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE "
                                 "plan_id = $1 LIMIT $2)",
                                 "ti", id, *budget);
    if (rows < 0)
        return -1;
    *budget -= rows + 1;
    if (*budget <= 0)
        return 0;
    rows = ctl_sql_exec (sql,
                         "DELETE FROM plan_hosts WHERE plan_id = $1 AND agent IN (SELECT agent "
                         "FROM plan_hosts WHERE plan_id = $1 LIMIT $2)",
                         "ti", id, *budget);
    if (rows < 0)
        return -1;
    *budget -= rows + 1;
    if (*budget <= 0)
        return 0;
    //  a handful each: operators, rules
    int64_t approvals = ctl_sql_exec (sql, "DELETE FROM approvals WHERE plan_id = $1", "t", id);
    int64_t decisions = ctl_sql_exec (sql, "DELETE FROM decisions WHERE plan_id = $1", "t", id);
    int64_t canaries = ctl_sql_exec (sql, "DELETE FROM canary_states WHERE plan_id = $1", "t", id);
    int64_t plan = ctl_sql_exec (sql, "DELETE FROM plans WHERE id = $1", "t", id);
    if (approvals < 0 || decisions < 0 || canaries < 0 || plan < 0)
        return -1;
    *budget -= approvals + decisions + canaries + plan + 4;
    return 1;
}

int ctl_retention_repo_plans (ctl_store_t *store, int64_t before, int64_t now, int64_t *plans)
{
    ctl_sql_t *sql = ctl_store_sql (store);
    if (plans)
        *plans = 0;
    if (ctl_sql_begin (sql))
        return -1;
    char *ids[S_PLANS_PER_SLICE];
    int count = s_prunable (sql, before, ids);
    if (count < 0)
        goto failed;
    int64_t budget = CTL_RETENTION_SLICE, deleted = 0;
    bool more = count == S_PLANS_PER_SLICE;
    int rc = 1;
    for (int index = 0; index < count; index++) {
        if (rc == 1 && budget > 0) {
            rc = s_plan_delete (sql, ids[index], &budget);
            if (rc == 1)
                deleted++;
            else if (rc == 0)
                more = true;
        }
        free (ids[index]);
    }
    if (rc < 0)
        goto failed;
    if (budget <= 0)
        more = true;
    if (deleted > 0) {
        char args[80];
        snprintf (args, sizeof args, "before=%lld plans=%lld", (long long)before,
                  (long long)deleted);
        if (ctl_agents_repo_audit_append (store, "controller", "plans.pruned", args, "ok", now))
            goto failed;
    }
    if (ctl_sql_commit (sql))
        goto failed;
    if (plans)
        *plans = deleted;
    return more ? 1 : 0;

failed:
    ctl_sql_rollback (sql);
    jad_log_error ("retention: plans prune failed before=%lld", (long long)before);
    return -1;
}
