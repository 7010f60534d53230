//  agt_outbox - reports waiting for the controller's ReportAck
//  SPDX-License-Identifier: MPL-2.0

#include "agt_outbox.h"
#include "jad_db.h"
#include "jad_log.h"

#include <stdlib.h>
#include <string.h>

struct _agt_outbox_t {
    sqlite3 *db;        //  borrowed from agt_store
    char *incarnation;  //  stamped on every report
};

agt_outbox_t *agt_outbox_new (sqlite3 *db, const char *incarnation)
{
    assert (db);
    assert (incarnation);
    agt_outbox_t *self = (agt_outbox_t *)calloc (1, sizeof (agt_outbox_t));
    if (!self)
        return NULL;
    self->db = db;
    self->incarnation = strdup (incarnation);
    if (!self->incarnation)
        agt_outbox_destroy (&self);
    return self;
}

void agt_outbox_destroy (agt_outbox_t **self_p)
{
    if (self_p && *self_p) {
        agt_outbox_t *self = *self_p;
        free (self->incarnation);
        free (self);
        *self_p = NULL;
    }
}

uint64_t agt_outbox_add (agt_outbox_t *self, const jad_report_t *report)
{
    assert (self);
    assert (report);
    sqlite3_stmt *stmt = NULL;
    zchunk_t *encoded = NULL;
    if (jad_db_begin (self->db))
        return 0;
    //  the id is the row id, so insert first and fill the payload after
    if (jad_db_exec (self->db, "INSERT INTO outbox (payload) VALUES (NULL)"))
        goto failed;
    uint64_t report_id = (uint64_t)sqlite3_last_insert_rowid (self->db);

    jad_report_t stamped = *report;
    stamped.report_id = report_id;
    stamped.incarnation = self->incarnation;
    jad_agent_msg_t msg = {.kind = JAD_AGENT_MSG_REPORT, .report = &stamped};
    encoded = jad_agent_msg_encode (&msg);
    if (!encoded) {
        jad_log_error ("agent: cannot encode report plan=%s step=%s", report->plan_id,
                       report->step);
        goto failed;
    }
    stmt = jad_db_prepare (self->db, "UPDATE outbox SET payload = ? WHERE id = ?");
    if (!stmt)
        goto failed;
    sqlite3_bind_blob (stmt, 1, zchunk_data (encoded), (int)zchunk_size (encoded),
                       SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 2, (sqlite3_int64)report_id);
    if (sqlite3_step (stmt) != SQLITE_DONE) {
        jad_log_error ("agent: cannot queue report error=\"%s\"", sqlite3_errmsg (self->db));
        goto failed;
    }
    sqlite3_finalize (stmt);
    zchunk_destroy (&encoded);
    if (jad_db_commit (self->db)) {
        jad_db_rollback (self->db);
        return 0;
    }
    return report_id;

failed:
    sqlite3_finalize (stmt);
    zchunk_destroy (&encoded);
    jad_db_rollback (self->db);
    return 0;
}

int agt_outbox_each (agt_outbox_t *self, uint64_t after, int limit, agt_outbox_fn *fn, void *arg)
{
    assert (self);
    sqlite3_stmt *stmt = jad_db_prepare (self->db, "SELECT id, payload FROM outbox WHERE id > ?"
                                                   " AND payload IS NOT NULL ORDER BY id LIMIT ?");
    if (!stmt)
        return -1;
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64)after);
    sqlite3_bind_int (stmt, 2, limit);
    int visited = 0;
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        uint64_t report_id = (uint64_t)sqlite3_column_int64 (stmt, 0);
        const uint8_t *data = (const uint8_t *)sqlite3_column_blob (stmt, 1);
        size_t size = (size_t)sqlite3_column_bytes (stmt, 1);
        visited++;
        if (fn (report_id, data, size, arg))
            break;
    }
    sqlite3_finalize (stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return -1;
    return visited;
}

int agt_outbox_get (agt_outbox_t *self, uint64_t report_id, uint8_t **data_p, size_t *size_p)
{
    assert (self);
    *data_p = NULL;
    *size_p = 0;
    sqlite3_stmt *stmt = jad_db_prepare (self->db, "SELECT payload FROM outbox WHERE id = ?"
                                                   " AND payload IS NOT NULL");
    if (!stmt)
        return -1;
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64)report_id);
    int rc = sqlite3_step (stmt);
    int result = rc == SQLITE_DONE ? 1 : -1;
    if (rc == SQLITE_ROW) {
        size_t size = (size_t)sqlite3_column_bytes (stmt, 0);
        uint8_t *data = (uint8_t *)malloc (size ? size : 1);
        if (data) {
            memcpy (data, sqlite3_column_blob (stmt, 0), size);
            *data_p = data;
            *size_p = size;
            result = 0;
        }
    }
    sqlite3_finalize (stmt);
    return result;
}

int agt_outbox_ack (agt_outbox_t *self, const char *incarnation, const uint64_t *ids, size_t count)
{
    assert (self);
    if (!incarnation || strcmp (incarnation, self->incarnation) != 0)
        return 0;  //  an ack for a previous database: nothing of ours
    sqlite3_stmt *stmt = jad_db_prepare (self->db, "DELETE FROM outbox WHERE id = ?");
    if (!stmt)
        return -1;
    if (jad_db_begin (self->db)) {
        sqlite3_finalize (stmt);
        return -1;
    }
    int deleted = 0;
    for (size_t index = 0; index < count; index++) {
        sqlite3_reset (stmt);
        sqlite3_bind_int64 (stmt, 1, (sqlite3_int64)ids[index]);
        if (sqlite3_step (stmt) != SQLITE_DONE) {
            jad_log_error ("agent: cannot delete acked report error=\"%s\"",
                           sqlite3_errmsg (self->db));
            sqlite3_finalize (stmt);
            jad_db_rollback (self->db);
            return -1;
        }
        deleted += sqlite3_changes (self->db);
    }
    sqlite3_finalize (stmt);
    if (jad_db_commit (self->db)) {
        jad_db_rollback (self->db);
        return -1;
    }
    return deleted;
}

int64_t agt_outbox_size (agt_outbox_t *self)
{
    assert (self);
    int64_t count = 0;
    if (jad_db_get_int (self->db, "SELECT count(*) FROM outbox", NULL, &count) != 0)
        return -1;
    return count;
}
