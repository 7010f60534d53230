//  ctl_store - the controller's store: its one handle, chosen backend,
//  transactions
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_schema.h"
#include "ctl_store.h"
#include "ctl_store_internal.h"
#include "jad_log.h"
#include "jad_util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct _ctl_store_t {
    ctl_sql_t *sql;                 //  the connection, through its backend
    const ctl_migration_t *schema;  //  the backend's migrations
};

//  Backends by the scheme of a target ("scheme:rest").
//  A backend that takes a URL is given the whole target (libpq parses
//  postgresql://... itself); SQLite the path after "sqlite:".
typedef struct {
    const char *scheme;
    const ctl_sql_ops_t *ops;
    const ctl_migration_t *schema;
    bool url;  //  the target is a URL, given whole
} s_backend_t;

static const s_backend_t s_backends[] = {
    {"sqlite", &ctl_sql_sqlite_ops, ctl_schema_sqlite, false},
    {"postgresql", &ctl_sql_pg_ops, ctl_schema_pg, true},
    {"postgres", &ctl_sql_pg_ops, ctl_schema_pg, true},
};

ctl_store_t *ctl_store_open (const char *target, int flags)
{
    if (!target || !*target) {
        jad_log_error ("store: no target to open");
        return NULL;
    }
    //  "scheme:rest" names a backend; a bare path (or one with a colon
    //  in a directory name) is SQLite's
    const s_backend_t *backend = &s_backends[0];
    const char *path = target;
    const char *colon = strchr (target, ':');
    if (colon && colon > target && !memchr (target, '/', (size_t)(colon - target))) {
        backend = NULL;
        for (size_t index = 0; index < sizeof s_backends / sizeof s_backends[0]; index++)
            if (strlen (s_backends[index].scheme) == (size_t)(colon - target) &&
                strncmp (s_backends[index].scheme, target, (size_t)(colon - target)) == 0)
                backend = &s_backends[index];
        if (!backend) {
            jad_log_error ("store: unknown backend in '%.*s:' (this controller has: sqlite, "
                           "postgresql)",
                           (int)(colon - target), target);
            return NULL;
        }
        path = backend->url ? target : colon + 1;
    }
    ctl_store_t *self = (ctl_store_t *)calloc (1, sizeof (ctl_store_t));
    if (!self)
        return NULL;
    self->schema = backend->schema;
    self->sql = ctl_sql_open (backend->ops, path, flags);
    if (!self->sql)
        ctl_store_destroy (&self);
    return self;
}

char *ctl_store_target (const char *data_dir, const char *store)
{
    if (store && !streq (store, "sqlite"))
        return strdup (store);
    return jad_strdup_printf ("%s/state.db", data_dir);
}

bool ctl_store_target_shared (const char *target)
{
    return target &&
           (strncmp (target, "postgresql:", 11) == 0 || strncmp (target, "postgres:", 9) == 0);
}

void ctl_store_destroy (ctl_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_store_t *self = *self_p;
    ctl_sql_destroy (&self->sql);
    free (self);
    *self_p = NULL;
}

ctl_sql_t *ctl_store_sql (ctl_store_t *self)
{
    return self->sql;
}

const char *ctl_store_backend (ctl_store_t *self)
{
    return ctl_sql_ops (self->sql)->scheme;
}

int ctl_store_schema_version (ctl_store_t *self)
{
    return ctl_sql_ops (self->sql)->schema_version (ctl_sql_conn (self->sql));
}

const char *ctl_store_migration_name (ctl_store_t *self, int version)
{
    for (int index = 0; version > 0 && self->schema[index].sql; index++)
        if (index + 1 == version)
            return self->schema[index].name;
    return NULL;
}

int ctl_store_begin (ctl_store_t *self)
{
    return ctl_sql_begin (self->sql);
}

int ctl_store_commit (ctl_store_t *self)
{
    return ctl_sql_commit (self->sql);
}

void ctl_store_rollback (ctl_store_t *self)
{
    ctl_sql_rollback (self->sql);
}

uint64_t ctl_store_next_sequence (ctl_store_t *self)
{
    int64_t value = 0;
    if (ctl_sql_int (self->sql, &value,
                     "UPDATE meta SET value = CAST (CAST (value AS BIGINT) + 1 AS TEXT) "
                     "WHERE key = 'sequence' RETURNING CAST (value AS BIGINT)",
                     "") != 0 ||
        value <= 0) {
        jad_log_error ("store: cannot take the next plan sequence");
        return 0;
    }
    return (uint64_t)value;
}

int64_t ctl_store_epoch (ctl_store_t *self)
{
    int64_t value = 0;
    if (ctl_sql_int (self->sql, &value,
                     "SELECT CAST (value AS BIGINT) FROM meta WHERE key = 'epoch'", "") != 0)
        return -1;
    return value;
}

int ctl_store_fence (ctl_store_t *self, int64_t epoch)
{
    return ctl_sql_fence (self->sql, epoch);
}

zlistx_t *ctl_store_list (zlistx_destructor_fn *destructor)
{
    zlistx_t *list = zlistx_new ();
    if (list)
        zlistx_set_destructor (list, destructor);
    return list;
}

zlistx_t *ctl_store_strings (ctl_store_t *self, const char *sql, const char *types, ...)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)zstr_free);
    if (!list)
        return NULL;
    ctl_query_t query;
    va_list args;
    va_start (args, types);
    int rc = ctl_sql_vquery (self->sql, &query, sql, types, args);
    va_end (args);
    while (rc == 0 && ctl_query_next (&query)) {
        char *text = ctl_query_strdup (&query, 0);
        if (text && !zlistx_add_end (list, text)) {
            free (text);
            query.failed = true;
            break;
        }
    }
    if (ctl_query_end (&query))
        zlistx_destroy (&list);
    return list;
}

void ctl_store_free_strings (char **first, ...)
{
    va_list args;
    va_start (args, first);
    for (char **field = first; field; field = va_arg (args, char **)) {
        free (*field);
        *field = NULL;
    }
    va_end (args);
}
