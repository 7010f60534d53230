//  ctl_sql_pg - the PostgreSQL backend of the query layer (libpq)
//  SPDX-License-Identifier: MPL-2.0
//
//  Design notes
//  - The target is a libpq connection URL (postgresql://USER@HOST:PORT/DB
//    ?...), handed to libpq whole; it is never logged whole (a password may
//    be in it): log lines name the host and database only.
//  - Statements: one per SQL text per connection, found by the text's
//    address (texts are literals, ctl_sql.h). PostgreSQL fixes parameter
//    types when it prepares, so a statement is prepared once per
//    signature of bound types (int8 for integers, float8 for doubles,
//    "unknown" for text and NULL, which PostgreSQL types from the context,
//    as a literal) and kept: the hot paths bind the same types every time,
//    one parse per statement for the life of the connection.
//  - Results come as text and are converted as the layer expects: integers
//    with strtoll (numeric sums included), doubles with strtod, booleans
//    't'/'f' as 1/0. A statement whose rows hold a bytea column (seen when
//    it is prepared: PQdescribePrepared) gets them in binary instead, bytes
//    as they are (bytea's text form, hex, is twice their size on the wire
//    and in memory), when its other columns are of a type read here in
//    binary too (integers, booleans, float8, text); otherwise as text, bytea
//    decoded from its hex form. A query's rows are fetched whole when it
//    first steps. Bytes are bound in binary (bytea), every other parameter
//    as text.
//  - Transactions: the outermost begin is BEGIN, inner ones savepoints
//    (jad_1, jad_2 ...). A failed statement inside a transaction leaves it
//    aborted up to the innermost savepoint (PostgreSQL, unlike SQLite, does
//    not undo only the statement): the unit of work that failed rolls back
//    to its savepoint and the transaction goes on; a COMMIT of an aborted
//    transaction is a failure, never a silent rollback.
//  - Serialization failures (40001) and deadlocks (40P01) are retried where
//    this layer owns the whole transaction: a statement outside any
//    transaction, and each migration. Inside a caller's transaction the
//    failure is returned: the caller's unit of work rolls back.
//  - A connection found broken outside a transaction is reset once before
//    a statement runs again (a restarted server); statements are then
//    prepared again.
//  - Fencing (a leader's store, ctl_leader.h): the outermost BEGIN is sent
//    with a read of meta's epoch FOR SHARE, in one round trip; if the
//    epoch moved on, the transaction is rolled back and this connection
//    refuses everything after (a deposed leader's writes change 0 rows).
//    The share lock makes a new leader's epoch increment wait for a
//    transaction in flight. A statement outside a transaction runs in one.
//  - Schema: the version is the row of table jadugar_schema; migrations run
//    each in its own transaction under an advisory lock, so that two
//    controllers opening one empty database migrate it once.

#include "ctl_schema.h"
#include "ctl_sql.h"
#include "ctl_store.h"
#include "jad_log.h"
#include "jad_util.h"

#include <errno.h>
#include <limits.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  type oids (pg_type.h is a server header)
#define S_OID_UNKNOWN 0
#define S_OID_BOOL    16
#define S_OID_BYTEA   17
#define S_OID_INT8    20
#define S_OID_INT2    21
#define S_OID_INT4    23
#define S_OID_TEXT    25
#define S_OID_FLOAT8  701
#define S_OID_VARCHAR 1043

//  attempts of a statement or migration that met 40001 or 40P01
#define S_RETRIES 5

//  the key of the advisory lock the migrations run under ("jadugar" + 1)
#define S_MIGRATION_LOCK 0x6a616475676172LL

//  parameters a statement may have
#define S_PARAMS_MAX 100

//  bulk rows (s_copy_begin): the longest COPY command, and how many bytes
//  of rows are gathered before they are sent
#define S_COPY_COMMAND 512
#define S_COPY_CHUNK   (256 * 1024)

typedef struct _s_conn_t s_conn_t;

//  Bulk rows in progress (one per connection): COPY ... FROM STDIN in
//  binary, rows gathered in `buf` and sent in S_COPY_CHUNK pieces; the
//  COPY itself is sent with the first piece (no rows: no round trip).
typedef struct {
    s_conn_t *conn;
    char command[S_COPY_COMMAND];  //  COPY table (columns) FROM STDIN (FORMAT binary)
    const char *types;             //  one per column: 'i' int8, 'd' float8, 't' text
    uint8_t *buf;                  //  rows not sent yet
    size_t used, size;
    int64_t rows;  //  rows given
    bool active;   //  between begin and end
    bool started;  //  COPY sent: the connection is in COPY IN
} s_copy_t;

//  One prepared form of a statement: its bound types and server name.
typedef struct {
    char signature[S_PARAMS_MAX + 1];  //  'i' int8, 'd' float8, 'u' unknown
    char name[24];                     //  server-side statement name
    unsigned generation;               //  connection generation it was prepared on
    bool binary;                       //  its rows come in binary (a bytea column)
} s_form_t;

typedef struct {
    s_conn_t *conn;                    //  its connection
    const char *sql;                   //  the literal text (key)
    int params;                        //  highest $N in the text
    const char *values[S_PARAMS_MAX];  //  bound values (text), NULL for NULL
    char buffers[S_PARAMS_MAX][32];    //  integers and doubles as text
    int lengths[S_PARAMS_MAX];         //  bound bytes' sizes
    int formats[S_PARAMS_MAX];         //  1 for bytes (binary), 0 for text
    char signature[S_PARAMS_MAX + 1];  //  bound types
    uint8_t *blob;                     //  the last bytea column read from text, decoded
    s_form_t *forms;                   //  prepared forms
    size_t form_count;                 //  forms in use
    PGresult *result;                  //  the rows of the current run
    int row;                           //  next row to return
    bool run;                          //  ran since the last reset
} s_stmt_t;

struct _s_conn_t {
    PGconn *pg;            //  the connection
    s_stmt_t **stmts;      //  statements, by text
    size_t stmt_count;     //  statements in use
    size_t stmt_capacity;  //  statements allocated
    unsigned generation;   //  bumped at each reset: forms prepared again
    unsigned next_form;    //  names prepared statements
    int depth;             //  transaction depth (0 none)
    int64_t changes;       //  rows changed by the last change
    int64_t fence;         //  the leader's epoch every transaction checks (0 none)
    bool fenced;           //  the check failed: deposed, nothing runs again
    s_copy_t copy;         //  bulk rows (ctl_sql_copy_begin)
    char where[160];       //  host and database, for log lines
    char error[512];       //  the last error
};

static void s_set_error (s_conn_t *conn, const char *text)
{
    snprintf (conn->error, sizeof conn->error, "%s", text ? text : "unknown error");
    //  libpq's messages end in a newline (and may hold more lines)
    for (char *at = conn->error; *at; at++)
        if (*at == '\n' || *at == '\r')
            *at = (at[1] ? ' ' : 0);
}

//  A result's error with its SQLSTATE, kept as the connection's error.
static void s_result_error (s_conn_t *conn, const PGresult *result)
{
    const char *state = result ? PQresultErrorField (result, PG_DIAG_SQLSTATE) : NULL;
    const char *message =
        result ? PQresultErrorField (result, PG_DIAG_MESSAGE_PRIMARY) : PQerrorMessage (conn->pg);
    if (!message)
        message = PQerrorMessage (conn->pg);
    char text[480];
    snprintf (text, sizeof text, "%s%s%s", message ? message : "", state ? " sqlstate=" : "",
              state ? state : "");
    s_set_error (conn, text);
}

//  True if the result failed with a serialization failure or a deadlock.
static bool s_retryable (const PGresult *result)
{
    const char *state = result ? PQresultErrorField (result, PG_DIAG_SQLSTATE) : NULL;
    return state && (strcmp (state, "40001") == 0 || strcmp (state, "40P01") == 0);
}

static bool s_ok (const PGresult *result)
{
    ExecStatusType status = result ? PQresultStatus (result) : PGRES_FATAL_ERROR;
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

//  Run a command without parameters (simple protocol: a script may hold
//  several statements). Returns 0 or -1 (error kept).
static int s_command (s_conn_t *conn, const char *sql)
{
    PGresult *result = PQexec (conn->pg, sql);
    int rc = s_ok (result) ? 0 : -1;
    if (rc)
        s_result_error (conn, result);
    PQclear (result);
    return rc;
}

static void s_notice (void *arg, const char *message)
{
    (void)arg;
    jad_log_debug ("store: postgresql says \"%.200s\"", message);
}

//  Where a connection goes, for log lines: host, port and database, never
//  the user or a password.
static void s_where (s_conn_t *conn)
{
    const char *host = PQhost (conn->pg), *port = PQport (conn->pg), *db = PQdb (conn->pg);
    snprintf (conn->where, sizeof conn->where, "host=%s port=%s db=%s",
              host && *host ? host : "(local)", port && *port ? port : "5432",
              db && *db ? db : "?");
}

//  The highest $N of a SQL text, outside literals, quoted names and
//  comments (what the layer compares with the arguments given).
static int s_param_highest (const char *sql)
{
    int highest = 0;
    for (const char *at = sql; *at; at++) {
        if (*at == '\'' || *at == '"') {
            char quote = *at;
            for (at++; *at && *at != quote; at++)
                ;
            if (!*at)
                break;
        } else if (at[0] == '-' && at[1] == '-') {
            while (at[1] && at[1] != '\n')
                at++;
        } else if (*at == '$' && at[1] >= '1' && at[1] <= '9') {
            long number = strtol (at + 1, (char **)&at, 10);
            at--;
            if (number > highest)
                highest = number > S_PARAMS_MAX ? S_PARAMS_MAX + 1 : (int)number;
        }
    }
    return highest;
}

static void s_stmt_destroy (s_stmt_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_stmt_t *self = *self_p;
    PQclear (self->result);
    free (self->blob);
    free (self->forms);
    free (self);
    *self_p = NULL;
}

static void s_close (void *handle)
{
    s_conn_t *conn = (s_conn_t *)handle;
    if (!conn)
        return;
    for (size_t index = 0; index < conn->stmt_count; index++)
        s_stmt_destroy (&conn->stmts[index]);
    free (conn->stmts);
    free (conn->copy.buf);
    PQfinish (conn->pg);
    free (conn);
}

//  The schema version, or -1 (error kept). 0 for a database without one.
static int s_version (s_conn_t *conn)
{
    PGresult *result = PQexec (conn->pg, "SELECT to_regclass ('jadugar_schema') IS NOT NULL");
    if (!s_ok (result) || PQntuples (result) != 1) {
        s_result_error (conn, result);
        PQclear (result);
        return -1;
    }
    bool exists = PQgetvalue (result, 0, 0)[0] == 't';
    PQclear (result);
    if (!exists)
        return 0;
    result = PQexec (conn->pg, "SELECT version FROM jadugar_schema");
    if (!s_ok (result) || PQntuples (result) != 1) {
        if (s_ok (result))
            s_set_error (conn, "jadugar_schema has no single row");
        else
            s_result_error (conn, result);
        PQclear (result);
        return -1;
    }
    int version = atoi (PQgetvalue (result, 0, 0));
    PQclear (result);
    return version;
}

//  Bring the schema to `step` + 1 if it is at `step`, in one transaction
//  under the migration lock. Returns 0, 1 to retry, -1 on error.
static int s_migrate_step (s_conn_t *conn, int step)
{
    char lock[96];
    snprintf (lock, sizeof lock, "SELECT pg_advisory_xact_lock (%lld)",
              (long long)S_MIGRATION_LOCK);
    if (s_command (conn, "BEGIN") || s_command (conn, lock))
        goto failed;
    if (s_command (conn, "CREATE TABLE IF NOT EXISTS jadugar_schema (version INTEGER NOT NULL);"
                         "INSERT INTO jadugar_schema (version) SELECT 0 WHERE NOT EXISTS "
                         "(SELECT 1 FROM jadugar_schema)"))
        goto failed;
    int version = s_version (conn);
    if (version < 0)
        goto failed;
    if (version == step) {
        char update[80];
        snprintf (update, sizeof update, "UPDATE jadugar_schema SET version = %d", step + 1);
        if (s_command (conn, ctl_schema_pg[step].sql) || s_command (conn, update))
            goto failed;
    }
    PGresult *result = PQexec (conn->pg, "COMMIT");
    bool committed = s_ok (result) && strcmp (PQcmdStatus (result), "COMMIT") == 0;
    bool retry = s_retryable (result);
    if (!committed)
        s_result_error (conn, result);
    PQclear (result);
    return committed ? 0 : retry ? 1 : -1;

failed:;
    //  the error of the failed command, not of the rollback
    char error[sizeof conn->error];
    memcpy (error, conn->error, sizeof error);
    bool deadlock = strstr (error, "sqlstate=40001") || strstr (error, "sqlstate=40P01");
    PQclear (PQexec (conn->pg, "ROLLBACK"));
    memcpy (conn->error, error, sizeof error);
    return deadlock ? 1 : -1;
}

static int s_migrate (s_conn_t *conn, bool create)
{
    int count = 0;
    while (count < CTL_SCHEMA_PG_MAX && ctl_schema_pg[count].sql)
        count++;
    int version = s_version (conn);
    if (version < 0) {
        jad_log_error ("store: cannot read the schema version %s error=\"%s\"", conn->where,
                       conn->error);
        return -1;
    }
    if (version == 0 && !create) {
        jad_log_error ("store: no Jadugar store in this database %s (init creates one)",
                       conn->where);
        return -1;
    }
    if (version > count) {
        jad_log_error ("store: schema is newer than this program %s schema=%d known=%d",
                       conn->where, version, count);
        return -1;
    }
    for (int step = version; step < count; step++) {
        int rc = 1;
        for (int attempt = 0; rc == 1 && attempt < S_RETRIES; attempt++)
            rc = s_migrate_step (conn, step);
        if (rc != 0) {
            jad_log_error ("store: migration failed %s to=%d name=%s error=\"%s\"", conn->where,
                           step + 1, ctl_schema_pg[step].name, conn->error);
            return -1;
        }
    }
    return 0;
}

static void *s_open (const char *target, int flags)
{
    s_conn_t *conn = (s_conn_t *)calloc (1, sizeof (s_conn_t));
    if (!conn)
        return NULL;
    const char *keys[] = {"dbname", "fallback_application_name", NULL};
    const char *values[] = {target, "jadugar-controller", NULL};
    conn->pg = PQconnectdbParams (keys, values, 1);
    if (!conn->pg || PQstatus (conn->pg) != CONNECTION_OK) {
        s_set_error (conn, conn->pg ? PQerrorMessage (conn->pg) : "out of memory");
        //  libpq echoes a URL it cannot parse, and a password may be in it
        char *url = strstr (conn->error, target);
        if (url && *target)
            snprintf (url, sizeof conn->error - (size_t)(url - conn->error), "(the store URL)");
        jad_log_error ("store: cannot connect to postgresql error=\"%s\"", conn->error);
        s_close (conn);
        return NULL;
    }
    s_where (conn);
    PQsetNoticeProcessor (conn->pg, s_notice, NULL);
    if (PQserverVersion (conn->pg) < 150000) {
        jad_log_error ("store: postgresql 15 or newer needed %s version=%d", conn->where,
                       PQserverVersion (conn->pg));
        s_close (conn);
        return NULL;
    }
    //  the schema's words and numbers are read back as they were written
    if (s_command (conn, "SET client_encoding = 'UTF8'; SET extra_float_digits = 3; "
                         "SET bytea_output = 'hex'")) {
        jad_log_error ("store: cannot set up the session %s error=\"%s\"", conn->where,
                       conn->error);
        s_close (conn);
        return NULL;
    }
    if (flags & CTL_STORE_READONLY) {
        if (s_command (conn, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")) {
            jad_log_error ("store: cannot make the session read-only %s error=\"%s\"", conn->where,
                           conn->error);
            s_close (conn);
            return NULL;
        }
    } else if (s_migrate (conn, (flags & CTL_STORE_CREATE) != 0)) {
        s_close (conn);
        return NULL;
    }
    return conn;
}

//  Outside a transaction, a broken connection is reset (a restarted
//  server); the statements' forms are prepared again.
static void s_heal (s_conn_t *conn)
{
    if (conn->depth > 0 || PQstatus (conn->pg) == CONNECTION_OK)
        return;
    jad_log_warning ("store: connection to postgresql lost, reconnecting %s", conn->where);
    PQreset (conn->pg);
    conn->generation++;
    if (PQstatus (conn->pg) == CONNECTION_OK)
        PQclear (PQexec (conn->pg, "SET client_encoding = 'UTF8'; SET extra_float_digits = 3; "
                                   "SET bytea_output = 'hex'"));
}

static void *s_statement (void *handle, const char *sql)
{
    s_conn_t *conn = (s_conn_t *)handle;
    for (size_t index = 0; index < conn->stmt_count; index++)
        if (conn->stmts[index]->sql == sql)
            return conn->stmts[index];
    int params = s_param_highest (sql);
    if (params > S_PARAMS_MAX) {
        s_set_error (conn, "too many parameters");
        return NULL;
    }
    if (conn->stmt_count == conn->stmt_capacity) {
        size_t capacity = conn->stmt_capacity ? conn->stmt_capacity * 2 : 64;
        s_stmt_t **stmts = realloc (conn->stmts, capacity * sizeof (s_stmt_t *));
        if (!stmts) {
            s_set_error (conn, "out of memory");
            return NULL;
        }
        conn->stmts = stmts;
        conn->stmt_capacity = capacity;
    }
    s_stmt_t *stmt = (s_stmt_t *)calloc (1, sizeof (s_stmt_t));
    if (!stmt) {
        s_set_error (conn, "out of memory");
        return NULL;
    }
    stmt->conn = conn;
    stmt->sql = sql;
    stmt->params = params;
    conn->stmts[conn->stmt_count++] = stmt;
    return stmt;
}

static int s_bind_index (s_stmt_t *stmt, int n)
{
    return n >= 1 && n <= stmt->params ? n - 1 : -1;
}

//  Bound texts are the caller's, valid until the query ends (ctl_sql.h).
static int s_bind_text (void *handle, int n, const char *text)
{
    s_stmt_t *stmt = (s_stmt_t *)handle;
    int index = s_bind_index (stmt, n);
    if (index < 0)
        return -1;
    stmt->values[index] = text;
    stmt->formats[index] = 0;
    stmt->signature[index] = 'u';
    return 0;
}

static int s_bind_int (void *handle, int n, int64_t value)
{
    s_stmt_t *stmt = (s_stmt_t *)handle;
    int index = s_bind_index (stmt, n);
    if (index < 0)
        return -1;
    snprintf (stmt->buffers[index], sizeof stmt->buffers[index], "%lld", (long long)value);
    stmt->values[index] = stmt->buffers[index];
    stmt->formats[index] = 0;
    stmt->signature[index] = 'i';
    return 0;
}

static int s_bind_double (void *handle, int n, double value)
{
    s_stmt_t *stmt = (s_stmt_t *)handle;
    int index = s_bind_index (stmt, n);
    if (index < 0)
        return -1;
    //  17 significant digits read back as the same double
    snprintf (stmt->buffers[index], sizeof stmt->buffers[index], "%.17g", value);
    stmt->values[index] = stmt->buffers[index];
    stmt->formats[index] = 0;
    stmt->signature[index] = 'd';
    return 0;
}

static int s_bind_null (void *handle, int n)
{
    s_stmt_t *stmt = (s_stmt_t *)handle;
    int index = s_bind_index (stmt, n);
    if (index < 0)
        return -1;
    stmt->values[index] = NULL;
    stmt->formats[index] = 0;
    stmt->signature[index] = 'u';
    return 0;
}

//  Bytes go in binary: no escaping, no doubling on the wire.
static int s_bind_blob (void *handle, int n, const void *data, size_t size)
{
    s_stmt_t *stmt = (s_stmt_t *)handle;
    int index = s_bind_index (stmt, n);
    if (index < 0 || size > INT_MAX || (size && !data))
        return -1;
    stmt->values[index] = size ? (const char *)data : "";
    stmt->lengths[index] = (int)size;
    stmt->formats[index] = 1;
    stmt->signature[index] = 'x';
    return 0;
}

static int s_param_count (void *handle)
{
    return ((s_stmt_t *)handle)->params;
}

//  The server-side name of the statement prepared for its bound types,
//  prepared now if it was not. NULL on error (kept).
//  True if rows of this description are best read in binary: a bytea
//  column, and only columns whose binary form s_column_* read.
static bool s_rows_binary (const PGresult *description)
{
    bool bytes = false;
    for (int column = 0; column < PQnfields (description); column++) {
        Oid type = PQftype (description, column);
        if (type == S_OID_BYTEA)
            bytes = true;
        else if (type != S_OID_INT8 && type != S_OID_INT4 && type != S_OID_INT2 &&
                 type != S_OID_BOOL && type != S_OID_FLOAT8 && type != S_OID_TEXT &&
                 type != S_OID_VARCHAR)
            return false;
    }
    return bytes;
}

static const s_form_t *s_form (s_stmt_t *stmt)
{
    s_conn_t *conn = stmt->conn;
    stmt->signature[stmt->params] = 0;
    for (size_t index = 0; index < stmt->form_count; index++) {
        s_form_t *form = &stmt->forms[index];
        if (strcmp (form->signature, stmt->signature) == 0) {
            if (form->generation == conn->generation)
                return form;
            //  prepared on a connection since reset: prepare again, below
            stmt->forms[index] = stmt->forms[--stmt->form_count];
            break;
        }
    }
    Oid types[S_PARAMS_MAX];
    bool unknown = false;
    for (int index = 0; index < stmt->params; index++) {
        types[index] = stmt->signature[index] == 'i'   ? S_OID_INT8
                       : stmt->signature[index] == 'd' ? S_OID_FLOAT8
                       : stmt->signature[index] == 'x' ? S_OID_BYTEA
                                                       : S_OID_UNKNOWN;
        unknown |= types[index] == S_OID_UNKNOWN;
    }
    s_form_t *forms = realloc (stmt->forms, (stmt->form_count + 1) * sizeof (s_form_t));
    if (!forms) {
        s_set_error (conn, "out of memory");
        return NULL;
    }
    stmt->forms = forms;
    s_form_t *form = &forms[stmt->form_count];
    memcpy (form->signature, stmt->signature, (size_t)stmt->params + 1);
    snprintf (form->name, sizeof form->name, "jad_%u", conn->next_form++);
    form->generation = conn->generation;
    //  A parameter only ever tested for NULL ($1 IS NULL OR env = $1) has
    //  no type PostgreSQL can tell (42P08): those are text. Inside a
    //  transaction the first try runs under a savepoint, which its failure
    //  would otherwise abort.
    bool guarded = unknown && conn->depth > 0 && s_command (conn, "SAVEPOINT jad_prepare") == 0;
    PGresult *result = PQprepare (conn->pg, form->name, stmt->sql, stmt->params, types);
    const char *state = PQresultErrorField (result, PG_DIAG_SQLSTATE);
    if (unknown && !s_ok (result) && state && strcmp (state, "42P08") == 0 &&
        (!guarded || s_command (conn, "ROLLBACK TO SAVEPOINT jad_prepare") == 0)) {
        for (int index = 0; index < stmt->params; index++)
            if (types[index] == S_OID_UNKNOWN)
                types[index] = S_OID_TEXT;
        PQclear (result);
        result = PQprepare (conn->pg, form->name, stmt->sql, stmt->params, types);
    }
    bool prepared = s_ok (result);
    if (!prepared)
        s_result_error (conn, result);
    PQclear (result);
    form->binary = false;
    if (prepared) {
        //  what its rows hold: bytes are read in binary
        result = PQdescribePrepared (conn->pg, form->name);
        prepared = s_ok (result);
        if (prepared)
            form->binary = s_rows_binary (result);
        else
            s_result_error (conn, result);
        PQclear (result);
    }
    if (guarded) {
        //  a statement that does not prepare leaves the transaction as it was
        char error[sizeof conn->error];
        memcpy (error, conn->error, sizeof error);
        if ((!prepared && s_command (conn, "ROLLBACK TO SAVEPOINT jad_prepare")) ||
            s_command (conn, "RELEASE SAVEPOINT jad_prepare"))
            prepared = false;
        else
            memcpy (conn->error, error, sizeof error);
    }
    if (!prepared)
        return NULL;
    stmt->form_count++;
    return form;
}

//  Run the statement with its bound values; the rows stay in its result.
static int s_execute (s_stmt_t *stmt)
{
    s_conn_t *conn = stmt->conn;
    for (int attempt = 0; attempt < S_RETRIES; attempt++) {
        s_heal (conn);
        const s_form_t *form = s_form (stmt);
        if (!form)
            return -1;
        PQclear (stmt->result);
        stmt->result = PQexecPrepared (conn->pg, form->name, stmt->params, stmt->values,
                                       stmt->lengths, stmt->formats, form->binary ? 1 : 0);
        if (s_ok (stmt->result)) {
            const char *status = PQcmdStatus (stmt->result);
            if (strncmp (status, "INSERT", 6) == 0 || strncmp (status, "UPDATE", 6) == 0 ||
                strncmp (status, "DELETE", 6) == 0 || strncmp (status, "MERGE", 5) == 0)
                conn->changes = strtoll (PQcmdTuples (stmt->result), NULL, 10);
            return 0;
        }
        s_result_error (conn, stmt->result);
        bool retry = conn->depth == 0 && s_retryable (stmt->result);
        PQclear (stmt->result);
        stmt->result = NULL;
        if (!retry)
            return -1;
    }
    return -1;
}

static int s_begin (void *handle);
static int s_commit (void *handle);
static void s_rollback (void *handle);

//  Run the statement; on a fenced connection outside a transaction, in
//  one of its own (the epoch is checked first).
static int s_execute_fenced (s_stmt_t *stmt)
{
    s_conn_t *conn = stmt->conn;
    if (conn->fence == 0 || conn->depth > 0)
        return s_execute (stmt);
    if (s_begin (conn))
        return -1;
    if (s_execute (stmt)) {
        s_rollback (conn);
        return -1;
    }
    return s_commit (conn);
}

static int s_step (void *handle)
{
    s_stmt_t *stmt = (s_stmt_t *)handle;
    if (!stmt->run) {
        stmt->run = true;
        stmt->row = 0;
        if (s_execute_fenced (stmt))
            return -1;
    }
    if (!stmt->result)
        return -1;
    if (stmt->row >= PQntuples (stmt->result))
        return 0;
    stmt->row++;
    return 1;
}

//  The current row's value, NULL for NULL or outside the row.
static const char *s_value (s_stmt_t *stmt, int column)
{
    if (!stmt->result || stmt->row < 1 || stmt->row > PQntuples (stmt->result) || column < 0 ||
        column >= PQnfields (stmt->result) || PQgetisnull (stmt->result, stmt->row - 1, column))
        return NULL;
    return PQgetvalue (stmt->result, stmt->row - 1, column);
}

static const char *s_column_text (void *handle, int column)
{
    return s_value ((s_stmt_t *)handle, column);
}

//  A big-endian integer of `size` bytes (binary rows).
static uint64_t s_be (const char *data, int size)
{
    uint64_t value = 0;
    for (int index = 0; index < size; index++)
        value = value << 8 | (uint8_t)data[index];
    return value;
}

//  A column of binary rows (s_rows_binary) as a number: true with *value
//  set for a number or boolean, false for text (read as text).
static bool s_binary_number (s_stmt_t *stmt, int column, const char *data, double *real,
                             int64_t *integer)
{
    if (PQfformat (stmt->result, column) != 1)
        return false;
    int size = PQgetlength (stmt->result, stmt->row - 1, column);
    Oid type = PQftype (stmt->result, column);
    uint64_t bits = 0;
    if ((type == S_OID_INT8 || type == S_OID_FLOAT8) && size == 8)
        bits = s_be (data, 8);
    else if (type == S_OID_INT4 && size == 4)
        *integer = (int32_t)(uint32_t)s_be (data, 4);
    else if (type == S_OID_INT2 && size == 2)
        *integer = (int16_t)(uint16_t)s_be (data, 2);
    else if (type == S_OID_BOOL && size == 1)
        *integer = data[0] != 0;
    else
        return false;
    if (type == S_OID_INT8)
        *integer = (int64_t)bits;
    if (type == S_OID_FLOAT8) {
        memcpy (real, &bits, sizeof *real);
        //  truncated where an integer is read, as SQLite does
        *integer = (int64_t)*real;
    } else
        *real = (double)*integer;
    return true;
}

static int64_t s_column_int (void *handle, int column)
{
    const char *text = s_value ((s_stmt_t *)handle, column);
    if (!text)
        return 0;
    double real = 0;
    int64_t integer = 0;
    if (s_binary_number ((s_stmt_t *)handle, column, text, &real, &integer))
        return integer;
    if (text[0] == 't' && text[1] == 0)
        return 1;
    char *end = NULL;
    long long value = strtoll (text, &end, 10);
    //  a numeric or double where an integer is read: truncated, as SQLite does
    if (end && (*end == '.' || *end == 'e' || *end == 'E'))
        return (int64_t)strtod (text, NULL);
    return value;
}

static double s_column_double (void *handle, int column)
{
    const char *text = s_value ((s_stmt_t *)handle, column);
    double real = 0;
    int64_t integer = 0;
    if (text && s_binary_number ((s_stmt_t *)handle, column, text, &real, &integer))
        return real;
    return text ? strtod (text, NULL) : 0.0;
}

static bool s_column_null (void *handle, int column)
{
    return s_value ((s_stmt_t *)handle, column) == NULL;
}

//  In binary rows, bytea is its bytes (borrowed from the result). Its text
//  form is \x and two hex digits a byte (bytea_output hex, PostgreSQL's
//  default); it is decoded into the statement's buffer.
static const void *s_column_blob (void *handle, int column, size_t *size)
{
    s_stmt_t *stmt = (s_stmt_t *)handle;
    const char *text = s_value (stmt, column);
    *size = 0;
    if (!text)
        return NULL;
    if (PQfformat (stmt->result, column) == 1) {
        if (PQftype (stmt->result, column) != S_OID_BYTEA) {
            s_set_error (stmt->conn, "a column read as bytes is not bytea");
            return NULL;
        }
        *size = (size_t)PQgetlength (stmt->result, stmt->row - 1, column);
        return text;
    }
    size_t digits = strlen (text);
    if (digits < 2 || text[0] != '\\' || text[1] != 'x' || digits % 2) {
        s_set_error (stmt->conn, "a bytea column is not in hex form (bytea_output)");
        return NULL;
    }
    size_t bytes = (digits - 2) / 2;
    uint8_t *blob = realloc (stmt->blob, bytes ? bytes : 1);
    if (!blob) {
        s_set_error (stmt->conn, "out of memory");
        return NULL;
    }
    stmt->blob = blob;
    if (bytes && jad_unhex (text + 2, blob, bytes) != 0) {
        s_set_error (stmt->conn, "a bytea column has a character that is not hex");
        return NULL;
    }
    *size = bytes;
    return blob;
}

static void s_reset (void *handle)
{
    s_stmt_t *stmt = (s_stmt_t *)handle;
    PQclear (stmt->result);
    stmt->result = NULL;
    stmt->run = false;
    stmt->row = 0;
}

static int64_t s_changes (void *handle)
{
    return ((s_conn_t *)handle)->changes;
}

static const char *s_error (void *handle)
{
    return ((s_conn_t *)handle)->error;
}

//  BEGIN and check the epoch in one round trip. -1 (rolled back, error
//  kept) if the epoch moved on: the connection is fenced from then on.
static int s_begin_fenced (s_conn_t *conn)
{
    char sql[160];
    snprintf (sql, sizeof sql,
              "BEGIN; SELECT 1 FROM meta WHERE key = 'epoch' AND value = '%lld' FOR SHARE",
              (long long)conn->fence);
    PGresult *result = PQexec (conn->pg, sql);
    bool ok = s_ok (result);
    bool current = ok && PQntuples (result) == 1;
    if (!ok)
        s_result_error (conn, result);
    PQclear (result);
    if (current)
        return 0;
    PQclear (PQexec (conn->pg, "ROLLBACK"));
    if (ok) {
        conn->fenced = true;
        snprintf (conn->error, sizeof conn->error,
                  "fenced: epoch %lld is no longer the leader's; this controller writes nothing",
                  (long long)conn->fence);
        jad_log_error ("store: %s %s", conn->error, conn->where);
    }
    return -1;
}

static int s_begin (void *handle)
{
    s_conn_t *conn = (s_conn_t *)handle;
    if (conn->depth == 0) {
        if (conn->fenced) {
            s_set_error (conn, "fenced: another controller is the leader now");
            return -1;
        }
        s_heal (conn);
        if (conn->fence > 0) {
            if (s_begin_fenced (conn))
                return -1;
        } else if (s_command (conn, "BEGIN"))
            return -1;
    } else {
        char sql[48];
        snprintf (sql, sizeof sql, "SAVEPOINT jad_%d", conn->depth);
        if (s_command (conn, sql))
            return -1;
    }
    conn->depth++;
    return 0;
}

static int s_commit (void *handle)
{
    s_conn_t *conn = (s_conn_t *)handle;
    if (conn->depth == 0) {
        s_set_error (conn, "commit without a transaction");
        return -1;
    }
    if (conn->depth > 1) {
        //  an aborted unit is not released: its caller rolls it back
        char sql[48];
        snprintf (sql, sizeof sql, "RELEASE SAVEPOINT jad_%d", conn->depth - 1);
        if (s_command (conn, sql))
            return -1;
        conn->depth--;
        return 0;
    }
    //  COMMIT ends the transaction whatever it says: nothing is left to
    //  roll back, and an aborted one answers ROLLBACK, which is a failure
    conn->depth = 0;
    PGresult *result = PQexec (conn->pg, "COMMIT");
    bool committed = s_ok (result) && strcmp (PQcmdStatus (result), "COMMIT") == 0;
    if (!committed) {
        if (s_ok (result))
            s_set_error (conn, "transaction was aborted by an earlier error, rolled back");
        else
            s_result_error (conn, result);
    }
    PQclear (result);
    return committed ? 0 : -1;
}

static void s_rollback (void *handle)
{
    s_conn_t *conn = (s_conn_t *)handle;
    if (conn->depth == 0)
        return;
    //  keep the error that led here for the caller's log line
    char error[sizeof conn->error];
    memcpy (error, conn->error, sizeof error);
    if (conn->depth == 1) {
        PQclear (PQexec (conn->pg, "ROLLBACK"));
    } else {
        char sql[96];
        snprintf (sql, sizeof sql, "ROLLBACK TO SAVEPOINT jad_%d; RELEASE SAVEPOINT jad_%d",
                  conn->depth - 1, conn->depth - 1);
        PQclear (PQexec (conn->pg, sql));
    }
    conn->depth--;
    memcpy (conn->error, error, sizeof error);
}

static int s_schema_version (void *handle)
{
    return s_version ((s_conn_t *)handle);
}

static int s_fence (void *handle, int64_t epoch)
{
    s_conn_t *conn = (s_conn_t *)handle;
    if (conn->depth > 0 || epoch <= 0) {
        s_set_error (conn, "a fence is set outside a transaction, with an epoch > 0");
        return -1;
    }
    conn->fence = epoch;
    conn->fenced = false;
    return 0;
}

//  Room for `more` bytes of rows in the copy's buffer. 0 or -1.
static int s_copy_room (s_copy_t *copy, size_t more)
{
    if (copy->used + more <= copy->size)
        return 0;
    size_t size = copy->size ? copy->size : 4096;
    while (size < copy->used + more)
        size *= 2;
    uint8_t *buf = realloc (copy->buf, size);
    if (!buf) {
        s_set_error (copy->conn, "out of memory");
        return -1;
    }
    copy->buf = buf;
    copy->size = size;
    return 0;
}

static void s_copy_put (s_copy_t *copy, const void *data, size_t size)
{
    memcpy (copy->buf + copy->used, data, size);
    copy->used += size;
}

static void s_copy_int (s_copy_t *copy, int size, uint64_t value)
{
    uint8_t bytes[8];
    for (int index = size - 1; index >= 0; index--, value >>= 8)
        bytes[index] = (uint8_t)value;
    s_copy_put (copy, bytes, (size_t)size);
}

//  Send the rows gathered so far, with the COPY first if not sent yet.
//  0 or -1 (error kept).
static int s_copy_send (s_copy_t *copy)
{
    s_conn_t *conn = copy->conn;
    if (!copy->started) {
        PGresult *result = PQexec (conn->pg, copy->command);
        bool ready = PQresultStatus (result) == PGRES_COPY_IN;
        if (!ready)
            s_result_error (conn, result);
        PQclear (result);
        if (!ready)
            return -1;
        copy->started = true;
    }
    if (copy->used > INT_MAX ||
        PQputCopyData (conn->pg, (const char *)copy->buf, (int)copy->used) != 1) {
        s_set_error (conn, PQerrorMessage (conn->pg));
        return -1;
    }
    copy->used = 0;
    return 0;
}

//  `sql` is INSERT INTO table (columns) VALUES ($1, ..., $n): the COPY
//  takes its table and columns.
static void *s_copy_begin (void *handle, const char *sql, const char *types)
{
    s_conn_t *conn = (s_conn_t *)handle;
    s_copy_t *copy = &conn->copy;
    if (copy->active) {
        s_set_error (conn, "bulk rows already in progress");
        return NULL;
    }
    if (conn->depth == 0 || conn->fenced) {
        s_set_error (conn, conn->fenced ? "fenced: another controller is the leader now"
                                        : "bulk rows are written inside a transaction");
        return NULL;
    }
    const char *prefix = "INSERT INTO ";
    const char *values = strstr (sql, ") VALUES (");
    size_t fields = strlen (types);
    if (strncmp (sql, prefix, strlen (prefix)) != 0 || !values || strchr (sql, ';') ||
        fields == 0 || fields > S_PARAMS_MAX || strspn (types, "idt") != fields ||
        s_param_highest (sql) != (int)fields) {
        s_set_error (conn, "bulk rows need INSERT INTO table (columns) VALUES ($1, ...) "
                           "with one 'i', 'd' or 't' value per parameter");
        return NULL;
    }
    const char *table = sql + strlen (prefix);
    int length = snprintf (copy->command, sizeof copy->command,
                           "COPY %.*s) FROM STDIN (FORMAT binary)", (int)(values - table), table);
    if (length < 0 || (size_t)length >= sizeof copy->command) {
        s_set_error (conn, "bulk rows: the table and columns are too long");
        return NULL;
    }
    copy->conn = conn;
    copy->types = types;
    copy->used = 0;
    copy->rows = 0;
    copy->started = false;
    //  the binary format's header: signature, flags, no extension
    if (s_copy_room (copy, 19))
        return NULL;
    s_copy_put (copy, "PGCOPY\n\377\r\n\0", 11);
    s_copy_int (copy, 4, 0);
    s_copy_int (copy, 4, 0);
    copy->active = true;
    return copy;
}

static int s_copy_row (void *handle, va_list args)
{
    s_copy_t *copy = (s_copy_t *)handle;
    size_t fields = strlen (copy->types);
    //  a field count, then each field: its length and its bytes
    size_t size = 2 + fields * 12;
    if (s_copy_room (copy, size))
        return -1;
    s_copy_int (copy, 2, fields);
    for (const char *type = copy->types; *type; type++) {
        if (*type == 'i') {
            s_copy_int (copy, 4, 8);
            s_copy_int (copy, 8, (uint64_t)va_arg (args, int64_t));
        } else if (*type == 'd') {
            double value = va_arg (args, double);
            uint64_t bits = 0;
            memcpy (&bits, &value, sizeof bits);
            s_copy_int (copy, 4, 8);
            s_copy_int (copy, 8, bits);
        } else {
            const char *text = va_arg (args, const char *);
            size_t length = text ? strlen (text) : 0;
            if (length > INT32_MAX / 2 || s_copy_room (copy, length + 4))
                return -1;
            s_copy_int (copy, 4, text ? (uint32_t)length : UINT32_MAX);
            s_copy_put (copy, text ? text : "", length);
        }
    }
    copy->rows++;
    if (copy->used >= S_COPY_CHUNK && s_copy_send (copy))
        return -1;
    return 0;
}

static int64_t s_copy_end (void *handle, bool abort)
{
    s_copy_t *copy = (s_copy_t *)handle;
    s_conn_t *conn = copy->conn;
    copy->active = false;
    if (!copy->started && (abort || copy->rows == 0)) {
        conn->changes = 0;
        return abort ? -1 : 0;
    }
    bool sent = !abort && s_copy_room (copy, 2) == 0;
    if (sent) {
        s_copy_int (copy, 2, UINT16_MAX);  //  the trailer: a field count of -1
        sent = s_copy_send (copy) == 0;
    }
    if (!copy->started)
        return -1;
    //  a COPY given up on is ended with an error: the server drops its rows
    //  and fails the transaction, which the caller rolls back
    char error[sizeof conn->error];
    memcpy (error, conn->error, sizeof error);
    if (PQputCopyEnd (conn->pg, sent ? NULL : "bulk rows given up") != 1)
        sent = false;
    int64_t rows = -1;
    PGresult *result;
    while ((result = PQgetResult (conn->pg))) {
        ExecStatusType status = PQresultStatus (result);
        if (status == PGRES_COMMAND_OK && sent)
            rows = strtoll (PQcmdTuples (result), NULL, 10);
        else if (sent) {
            s_result_error (conn, result);
            sent = false;
        }
        PQclear (result);
        //  still in COPY IN (the end could not be sent): libpq would
        //  answer the same forever; the connection is lost anyway
        if (status == PGRES_COPY_IN)
            break;
    }
    if (!sent) {
        if (abort)
            memcpy (conn->error, error, sizeof error);
        return -1;
    }
    if (rows != copy->rows) {
        s_set_error (conn, "COPY wrote another number of rows than it was given");
        return -1;
    }
    conn->changes = rows;
    return rows;
}

const ctl_sql_ops_t ctl_sql_pg_ops = {
    .scheme = "postgresql",
    .open = s_open,
    .close = s_close,
    .statement = s_statement,
    .bind_text = s_bind_text,
    .bind_int = s_bind_int,
    .bind_double = s_bind_double,
    .bind_null = s_bind_null,
    .bind_blob = s_bind_blob,
    .param_count = s_param_count,
    .step = s_step,
    .column_text = s_column_text,
    .column_int = s_column_int,
    .column_double = s_column_double,
    .column_null = s_column_null,
    .column_blob = s_column_blob,
    .reset = s_reset,
    .changes = s_changes,
    .error = s_error,
    .begin = s_begin,
    .commit = s_commit,
    .rollback = s_rollback,
    .schema_version = s_schema_version,
    .fence = s_fence,
    .copy_begin = s_copy_begin,
    .copy_row = s_copy_row,
    .copy_end = s_copy_end,
};
