//  ctl_sql - the query layer under the repositories (private to store/)
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_sql.h"
#include "jad_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _ctl_sql_t {
    const ctl_sql_ops_t *ops;
    void *conn;
    uint64_t rollbacks;  //  rollbacks and failed commits (ctl_sql_rollbacks)
};

ctl_sql_t *ctl_sql_open (const ctl_sql_ops_t *ops, const char *target, int flags)
{
    ctl_sql_t *self = (ctl_sql_t *)calloc (1, sizeof (ctl_sql_t));
    if (!self)
        return NULL;
    self->ops = ops;
    self->conn = ops->open (target, flags);
    if (!self->conn)
        ctl_sql_destroy (&self);
    return self;
}

void ctl_sql_destroy (ctl_sql_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_sql_t *self = *self_p;
    if (self->conn)
        self->ops->close (self->conn);
    free (self);
    *self_p = NULL;
}

const ctl_sql_ops_t *ctl_sql_ops (ctl_sql_t *self)
{
    return self->ops;
}

void *ctl_sql_conn (ctl_sql_t *self)
{
    return self->conn;
}

//  First words of a SQL text for log lines (never whole statements).
static void s_head (const char *sql, char *buf, size_t len)
{
    size_t index = 0;
    while (sql && sql[index] && index + 1 < len && index < 48) {
        buf[index] = sql[index];
        index++;
    }
    buf[index] = 0;
}

static void s_failed (ctl_sql_t *self, const char *sql, const char *what)
{
    char head[64];
    s_head (sql, head, sizeof head);
    jad_log_error ("store: %s failed sql=\"%s...\" error=\"%s\"", what, head,
                   self->ops->error (self->conn));
}

int ctl_sql_prepare (ctl_sql_t *self, ctl_query_t *query, const char *sql)
{
    *query = (ctl_query_t){.sql = self, .text = sql};
    query->stmt = self->ops->statement (self->conn, sql);
    if (!query->stmt) {
        query->failed = true;
        return -1;
    }
    return 0;
}

//  Bind `types` arguments to a prepared query's statement.
static int s_bind (ctl_query_t *query, const char *types, va_list args)
{
    ctl_sql_t *self = query->sql;
    const char *sql = query->text;
    //  one argument per parameter: a mismatch is a programmer's error
    //  that must not reach a bind (the varargs would be read wrong)
    if (self->ops->param_count (query->stmt) != (int)(types ? strlen (types) : 0)) {
        char head[64];
        s_head (sql, head, sizeof head);
        jad_log_error ("store: %d parameters, %zu arguments sql=\"%s...\"",
                       self->ops->param_count (query->stmt), types ? strlen (types) : 0, head);
        query->failed = true;
        return -1;
    }
    int column = 1, rc = 0;
    for (const char *type = types; type && *type; type++, column++) {
        if (*type == 't') {
            const char *text = va_arg (args, const char *);
            rc |= text ? self->ops->bind_text (query->stmt, column, text)
                       : self->ops->bind_null (query->stmt, column);
        } else if (*type == 'i')
            rc |= self->ops->bind_int (query->stmt, column, va_arg (args, int64_t));
        else if (*type == 'd')
            rc |= self->ops->bind_double (query->stmt, column, va_arg (args, double));
        else if (*type == 'b')
            rc |= self->ops->bind_int (query->stmt, column, va_arg (args, int) ? 1 : 0);
        else if (*type == 'x') {
            const void *data = va_arg (args, const void *);
            size_t size = va_arg (args, size_t);
            rc |= self->ops->bind_blob (query->stmt, column, data, size);
        } else {
            jad_log_error ("store: unknown parameter type '%c'", *type);
            rc = -1;
        }
    }
    if (rc) {
        s_failed (self, sql, "bind");
        query->failed = true;
        return -1;
    }
    return 0;
}

int ctl_sql_vquery (ctl_sql_t *self, ctl_query_t *query, const char *sql, const char *types,
                    va_list args)
{
    if (ctl_sql_prepare (self, query, sql))
        return -1;
    return s_bind (query, types, args);
}

//  ctl_query_run with the arguments in a va_list.
static int64_t s_run (ctl_query_t *query, const char *types, va_list args)
{
    if (query->failed || !query->stmt)
        return -1;
    ctl_sql_t *self = query->sql;
    self->ops->reset (query->stmt);
    if (s_bind (query, types, args))
        return -1;
    while (ctl_query_next (query))
        ;
    if (query->failed)
        return -1;
    int64_t changed = self->ops->changes (self->conn);
    self->ops->reset (query->stmt);
    return changed;
}

int64_t ctl_query_run (ctl_query_t *query, const char *types, ...)
{
    va_list args;
    va_start (args, types);
    int64_t changed = s_run (query, types, args);
    va_end (args);
    return changed;
}

int ctl_sql_copy_begin (ctl_sql_t *self, ctl_copy_t *copy, const char *sql, const char *types)
{
    *copy = (ctl_copy_t){.sql = self, .types = types};
    if (!self->ops->copy_begin)
        copy->failed = ctl_sql_prepare (self, &copy->insert, sql) != 0;
    else {
        copy->bulk = self->ops->copy_begin (self->conn, sql, types);
        if (!copy->bulk)
            s_failed (self, sql, "bulk rows");
        copy->failed = copy->bulk == NULL;
    }
    return copy->failed ? -1 : 0;
}

int ctl_copy_row (ctl_copy_t *copy, ...)
{
    if (copy->failed)
        return -1;
    va_list args;
    va_start (args, copy);
    if (copy->bulk) {
        if (copy->sql->ops->copy_row (copy->bulk, args)) {
            s_failed (copy->sql, "COPY", "bulk row");
            copy->failed = true;
        }
    } else {
        int64_t changed = s_run (&copy->insert, copy->types, args);
        if (changed == 1)
            copy->rows++;
        else
            copy->failed = true;
    }
    va_end (args);
    return copy->failed ? -1 : 0;
}

int64_t ctl_copy_end (ctl_copy_t *copy)
{
    if (!copy->bulk) {
        if (ctl_query_end (&copy->insert))
            copy->failed = true;
        return copy->failed ? -1 : copy->rows;
    }
    int64_t rows = copy->sql->ops->copy_end (copy->bulk, copy->failed);
    copy->bulk = NULL;
    if (rows < 0 && !copy->failed)
        s_failed (copy->sql, "COPY", "bulk rows");
    return copy->failed ? -1 : rows;
}

uint64_t ctl_sql_rollbacks (ctl_sql_t *self)
{
    return self->rollbacks;
}

int ctl_sql_query (ctl_sql_t *self, ctl_query_t *query, const char *sql, const char *types, ...)
{
    va_list args;
    va_start (args, types);
    int rc = ctl_sql_vquery (self, query, sql, types, args);
    va_end (args);
    return rc;
}

bool ctl_query_next (ctl_query_t *query)
{
    if (query->failed || !query->stmt)
        return false;
    int rc = query->sql->ops->step (query->stmt);
    if (rc < 0) {
        s_failed (query->sql, query->text, "query");
        query->failed = true;
    }
    return rc == 1;
}

const char *ctl_query_text (ctl_query_t *query, int column)
{
    return query->sql->ops->column_text (query->stmt, column);
}

char *ctl_query_strdup (ctl_query_t *query, int column)
{
    const char *text = query->sql->ops->column_text (query->stmt, column);
    return text ? strdup (text) : NULL;
}

int64_t ctl_query_int (ctl_query_t *query, int column)
{
    return query->sql->ops->column_int (query->stmt, column);
}

double ctl_query_double (ctl_query_t *query, int column)
{
    return query->sql->ops->column_double (query->stmt, column);
}

bool ctl_query_null (ctl_query_t *query, int column)
{
    return query->sql->ops->column_null (query->stmt, column);
}

const void *ctl_query_blob (ctl_query_t *query, int column, size_t *size)
{
    *size = 0;
    return query->sql->ops->column_blob (query->stmt, column, size);
}

int ctl_query_end (ctl_query_t *query)
{
    if (query->stmt)
        query->sql->ops->reset (query->stmt);
    query->stmt = NULL;
    return query->failed ? -1 : 0;
}

int64_t ctl_sql_exec (ctl_sql_t *self, const char *sql, const char *types, ...)
{
    ctl_query_t query;
    va_list args;
    va_start (args, types);
    int rc = ctl_sql_vquery (self, &query, sql, types, args);
    va_end (args);
    if (rc == 0)
        while (ctl_query_next (&query))
            ;
    if (ctl_query_end (&query))
        return -1;
    return self->ops->changes (self->conn);
}

int ctl_sql_int (ctl_sql_t *self, int64_t *value, const char *sql, const char *types, ...)
{
    ctl_query_t query;
    va_list args;
    va_start (args, types);
    int rc = ctl_sql_vquery (self, &query, sql, types, args);
    va_end (args);
    int found = 1;
    if (rc == 0 && ctl_query_next (&query)) {
        *value = ctl_query_int (&query, 0);
        found = 0;
    }
    return ctl_query_end (&query) ? -1 : found;
}

int ctl_sql_text (ctl_sql_t *self, char **value, const char *sql, const char *types, ...)
{
    ctl_query_t query;
    va_list args;
    va_start (args, types);
    int rc = ctl_sql_vquery (self, &query, sql, types, args);
    va_end (args);
    int found = 1;
    *value = NULL;
    if (rc == 0 && ctl_query_next (&query)) {
        *value = ctl_query_strdup (&query, 0);
        found = 0;
    }
    if (ctl_query_end (&query)) {
        free (*value);
        *value = NULL;
        return -1;
    }
    return found;
}

int ctl_sql_begin (ctl_sql_t *self)
{
    return self->ops->begin (self->conn);
}

int ctl_sql_commit (ctl_sql_t *self)
{
    int rc = self->ops->commit (self->conn);
    if (rc)
        self->rollbacks++;
    return rc;
}

void ctl_sql_rollback (ctl_sql_t *self)
{
    self->rollbacks++;
    self->ops->rollback (self->conn);
}

int ctl_sql_fence (ctl_sql_t *self, int64_t epoch)
{
    return self->ops->fence ? self->ops->fence (self->conn, epoch) : 0;
}
