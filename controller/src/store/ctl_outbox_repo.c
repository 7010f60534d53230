//  ctl_outbox_repo - notifications not yet delivered (table notify_outbox)
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_outbox_repo.h"
#include "ctl_store_internal.h"

#include <stdlib.h>

void ctl_outbox_event_destroy (ctl_outbox_event_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_outbox_event_t *self = *self_p;
    ctl_store_free_strings (&self->id, &self->env, &self->kind, &self->body, NULL);
    free (self);
    *self_p = NULL;
}

int ctl_outbox_repo_put (ctl_store_t *store, const char *id, const char *env, const char *kind,
                         const char *body, int64_t now)
{
    return ctl_sql_exec (ctl_store_sql (store),
                         "INSERT INTO notify_outbox (id, env, kind, body, created) "
                         "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
                         "tttti", id, env ? env : "", kind, body, now) < 0
               ? -1
               : 0;
}

int ctl_outbox_repo_done (ctl_store_t *store, const char *id)
{
    return ctl_sql_exec (ctl_store_sql (store), "DELETE FROM notify_outbox WHERE id = $1", "t",
                         id) < 0
               ? -1
               : 0;
}

zlistx_t *ctl_outbox_repo_pending (ctl_store_t *store, int64_t limit)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_outbox_event_destroy);
    if (!list)
        return NULL;
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT id, env, kind, body FROM notify_outbox "
                            "ORDER BY created, id LIMIT $1",
                            "i", limit);
    while (rc == 0 && ctl_query_next (&query)) {
        ctl_outbox_event_t *event = calloc (1, sizeof *event);
        if (event) {
            event->id = ctl_query_strdup (&query, 0);
            event->env = ctl_query_strdup (&query, 1);
            event->kind = ctl_query_strdup (&query, 2);
            event->body = ctl_query_strdup (&query, 3);
        }
        if (!event || !event->id || !event->env || !event->kind || !event->body ||
            !zlistx_add_end (list, event)) {
            ctl_outbox_event_destroy (&event);
            query.failed = true;
            break;
        }
    }
    if (ctl_query_end (&query) || rc)
        zlistx_destroy (&list);
    return list;
}
