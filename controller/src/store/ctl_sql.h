//  ctl_sql - the query layer under the repositories (private to store/)
//  SPDX-License-Identifier: MPL-2.0
//
//  Repositories are written once, in SQL both SQLite and PostgreSQL accept:
//  numbered parameters ($1, $2 ...), ON CONFLICT instead of INSERT OR
//  REPLACE/IGNORE, explicit id and sequence columns instead of rowid, no
//  engine-only functions (group_concat, json_extract, scalar min/max) and
//  no boolean-valued select expressions (CASE ... THEN 1 ELSE 0 END). Under
//  this layer a backend is a small table of operations (ctl_sql_ops_t),
//  chosen once when the store is opened; only the schema (migrations) is
//  written per backend.
//
//  Every SQL text given here must be a literal: statements are prepared
//  once per connection and kept (the backend's statement cache), which is
//  what keeps the hot paths (a burst of reports, acks and metric batches)
//  at one parse per statement for the life of the controller. A query
//  must be ended (ctl_query_end) before the same SQL runs again, and no
//  repository calls out of store/ while a query runs: it collects rows
//  into plain structs and returns.

#ifndef CTL_SQL_H_INCLUDED
#define CTL_SQL_H_INCLUDED

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _ctl_sql_t ctl_sql_t;

//  What a backend provides. Connections and statements are the backend's
//  own (void *); everything returns 0 / -1 unless said otherwise.
typedef struct {
    const char *scheme;  //  "sqlite", "postgresql"
    //  Open the database at `target` (flags: CTL_STORE_CREATE,
    //  CTL_STORE_READONLY) and, unless read-only, bring its schema up to
    //  date. NULL on error (logged).
    void *(*open) (const char *target, int flags);
    void (*close) (void *conn);
    //  The statement for `sql`, prepared once per connection (NULL, logged).
    void *(*statement) (void *conn, const char *sql);
    //  Bind parameter $n (from 1).
    int (*bind_text) (void *stmt, int n, const char *text);
    int (*bind_int) (void *stmt, int n, int64_t value);
    int (*bind_double) (void *stmt, int n, double value);
    int (*bind_null) (void *stmt, int n);
    //  Bind bytes (size may be 0); the bytes are the caller's until the
    //  query ends.
    int (*bind_blob) (void *stmt, int n, const void *data, size_t size);
    //  How many distinct parameters the statement has.
    int (*param_count) (void *stmt);
    //  Next row: 1 a row, 0 done, -1 error.
    int (*step) (void *stmt);
    const char *(*column_text) (void *stmt, int column);
    int64_t (*column_int) (void *stmt, int column);
    double (*column_double) (void *stmt, int column);
    bool (*column_null) (void *stmt, int column);
    //  The current row's bytes (a BLOB or bytea column) and their size;
    //  borrowed until the next row. NULL (size 0) for NULL or on error.
    const void *(*column_blob) (void *stmt, int column, size_t *size);
    //  Done with the statement (it stays prepared for the next use).
    void (*reset) (void *stmt);
    //  Rows changed by the last statement.
    int64_t (*changes) (void *conn);
    const char *(*error) (void *conn);
    //  Transactions as savepoints: they nest; the outermost one commits.
    int (*begin) (void *conn);
    int (*commit) (void *conn);
    void (*rollback) (void *conn);
    //  Schema version (migrations run), -1 on error.
    int (*schema_version) (void *conn);
    //  Fence every later write by `epoch` (the leader's, > 0): each
    //  transaction first checks that meta's epoch is still it, and holds
    //  it (a new leader's takeover waits for the transaction); a statement
    //  outside a transaction runs in one. Once the check fails, every
    //  statement fails: the store belongs to a deposed leader. NULL for a
    //  backend with one controller (SQLite).
    int (*fence) (void *conn, int64_t epoch);
    //  Bulk rows (ctl_sql_copy_begin), NULL for a backend that runs the
    //  INSERT once per row: start rows for the INSERT `sql` with values of
    //  `types` (NULL, logged, on error); add one row (0 / -1); end it,
    //  returning the rows written or -1 (abort: give up, nothing written;
    //  a backend that had begun sending leaves the transaction failed).
    void *(*copy_begin) (void *conn, const char *sql, const char *types);
    int (*copy_row) (void *copy, va_list args);
    int64_t (*copy_end) (void *copy, bool abort);
} ctl_sql_ops_t;

extern const ctl_sql_ops_t ctl_sql_sqlite_ops;
extern const ctl_sql_ops_t ctl_sql_pg_ops;

//  A running query, on the caller's stack.
typedef struct {
    ctl_sql_t *sql;
    void *stmt;
    const char *text;  //  its SQL, for log lines
    bool failed;
} ctl_query_t;

//  Open `target` with the backend `ops`. NULL on error (logged).
ctl_sql_t *ctl_sql_open (const ctl_sql_ops_t *ops, const char *target, int flags);
void ctl_sql_destroy (ctl_sql_t **self_p);
const ctl_sql_ops_t *ctl_sql_ops (ctl_sql_t *self);
//  The backend's connection (for the backend's own helpers).
void *ctl_sql_conn (ctl_sql_t *self);

//  Start `sql` with its parameters bound from the arguments, one per
//  character of `types`: 't' text (const char *, NULL binds NULL), 'i'
//  int64_t, 'd' double, 'b' bool (passed as int, stored 0 or 1), 'x'
//  bytes (two arguments: const void *, size_t).
//  Returns 0, or -1 (logged; *query is then safe to end).
int ctl_sql_query (ctl_sql_t *self, ctl_query_t *query, const char *sql, const char *types, ...);
int ctl_sql_vquery (ctl_sql_t *self, ctl_query_t *query, const char *sql, const char *types,
                    va_list args);
//  Next row: true if there is one; false at the end or on an error
//  (remembered for ctl_query_end).
bool ctl_query_next (ctl_query_t *query);
//  Columns of the current row (from 0). Text is borrowed until the next
//  row; ctl_query_strdup copies it (NULL for NULL or out of memory).
const char *ctl_query_text (ctl_query_t *query, int column);
char *ctl_query_strdup (ctl_query_t *query, int column);
int64_t ctl_query_int (ctl_query_t *query, int column);
double ctl_query_double (ctl_query_t *query, int column);
bool ctl_query_null (ctl_query_t *query, int column);
//  Bytes of a BLOB (SQLite) or bytea (PostgreSQL) column, borrowed until
//  the next row, with their size in *size; NULL for NULL.
const void *ctl_query_blob (ctl_query_t *query, int column, size_t *size);
//  End the query. Returns 0, or -1 if it failed on the way (logged).
int ctl_query_end (ctl_query_t *query);

//  Start `sql` without binding it, for a statement run many times in a
//  row (a batch of rows): ctl_query_run for each, then ctl_query_end.
//  Returns 0 or -1 (logged).
int ctl_sql_prepare (ctl_sql_t *self, ctl_query_t *query, const char *sql);

//  Bind the arguments (as ctl_sql_query) to a prepared query and run it
//  to its end, ready for the next. Returns rows changed, or -1 (logged;
//  the query is then failed).
int64_t ctl_query_run (ctl_query_t *query, const char *types, ...);

//  Bulk rows for one statement of exactly the shape `INSERT INTO table
//  (column, ...) VALUES ($1, ..., $n)` (a literal, as every SQL text
//  here): ctl_sql_copy_begin, ctl_copy_row for each row (its values as
//  ctl_sql_query binds them; types 'i', 'd' and 't' only), then
//  ctl_copy_end, always. A backend with a bulk path sends the rows in one
//  statement (PostgreSQL: COPY in binary, so 'i' columns must be BIGINT
//  and 'd' ones DOUBLE PRECISION); SQLite runs the INSERT once per row.
//  Nothing else may run on the store between begin and end. Write inside
//  a transaction (PostgreSQL refuses otherwise): a failure leaves rows
//  written or not, and the caller rolls its transaction back.
typedef struct {
    ctl_sql_t *sql;
    ctl_query_t insert;  //  the INSERT run per row (no bulk path)
    void *bulk;          //  the backend's bulk rows in progress
    const char *types;
    int64_t rows;  //  rows written per row (no bulk path)
    bool failed;
} ctl_copy_t;

//  Returns 0, or -1 (logged; the copy is then failed, safe to end).
int ctl_sql_copy_begin (ctl_sql_t *self, ctl_copy_t *copy, const char *sql, const char *types);
//  One row, one argument per type given to begin. Returns 0 or -1
//  (logged; the copy is then failed).
int ctl_copy_row (ctl_copy_t *copy, ...);
//  End the rows: the number written, or -1 if any step failed (logged).
int64_t ctl_copy_end (ctl_copy_t *copy);

//  How many times a transaction or savepoint was rolled back, or a commit
//  failed, on this connection: what was written since may be gone, and
//  with it whatever a repository cached of it.
uint64_t ctl_sql_rollbacks (ctl_sql_t *self);

//  Run `sql` (binds as ctl_sql_query) to its end. Returns the number of
//  rows changed, or -1 (logged).
int64_t ctl_sql_exec (ctl_sql_t *self, const char *sql, const char *types, ...);

//  One-value queries: 0 with the first column of the first row in
//  *value (text: caller frees, NULL for NULL), 1 if no row, -1 on error.
int ctl_sql_int (ctl_sql_t *self, int64_t *value, const char *sql, const char *types, ...);
int ctl_sql_text (ctl_sql_t *self, char **value, const char *sql, const char *types, ...);

//  Transactions (savepoints, nesting). Return 0 or -1.
int ctl_sql_begin (ctl_sql_t *self);
int ctl_sql_commit (ctl_sql_t *self);
void ctl_sql_rollback (ctl_sql_t *self);

//  Fence the connection by `epoch` (ctl_sql_ops_t.fence; 0 on a backend
//  without one). Returns 0 or -1.
int ctl_sql_fence (ctl_sql_t *self, int64_t epoch);

#endif
