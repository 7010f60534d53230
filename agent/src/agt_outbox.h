//  agt_outbox - reports waiting for the controller's ReportAck
//  SPDX-License-Identifier: MPL-2.0
//
//  A report is written to the outbox table before it is sent and deleted
//  only when the controller acknowledges its id, so none is lost across
//  agent or controller restarts. The report id is the row id: unique per
//  incarnation, increasing, never reused (AUTOINCREMENT). Rows hold the
//  encoded AgentMsg, ready to send again.

#ifndef AGT_OUTBOX_H_INCLUDED
#define AGT_OUTBOX_H_INCLUDED

#include "jad_wire.h"

#include <sqlite3.h>
#include <stdint.h>

typedef struct _agt_outbox_t agt_outbox_t;

//  Called for each queued message, oldest first; return 0 to go on.
typedef int (agt_outbox_fn) (uint64_t report_id, const uint8_t *data, size_t size, void *arg);

//  Outbox on an open agent database (borrowed; see agt_store) for reports
//  of `incarnation` (copied).
agt_outbox_t *agt_outbox_new (sqlite3 *db, const char *incarnation);
void agt_outbox_destroy (agt_outbox_t **self_p);

//  Store a report; its report_id and incarnation are assigned here (the
//  caller's struct is not changed). Returns the new id, 0 on error.
uint64_t agt_outbox_add (agt_outbox_t *self, const jad_report_t *report);

//  Visit up to `limit` queued messages with id > after, oldest first.
//  Returns how many were visited, -1 on error.
int agt_outbox_each (agt_outbox_t *self, uint64_t after, int limit, agt_outbox_fn *fn, void *arg);

//  One queued message by id; caller frees *data_p. Returns 0, 1 if gone,
//  -1 on error.
int agt_outbox_get (agt_outbox_t *self, uint64_t report_id, uint8_t **data_p, size_t *size_p);

//  The controller stored these reports: delete them. Acks for another
//  incarnation are ignored. Returns how many rows went, -1 on error.
int agt_outbox_ack (agt_outbox_t *self, const char *incarnation, const uint64_t *ids, size_t count);

//  Number of queued reports, -1 on error.
int64_t agt_outbox_size (agt_outbox_t *self);

#endif
