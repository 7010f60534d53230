//  ctl_incidents - incidents: the operator's commands, the automatic
//  rollback's incident and the post-mortem report (DESIGN §11)
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_incidents.h"
#include "ctl_incidents_repo.h"
#include "ctl_json.h"
#include "jad_log.h"
#include "jad_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t ctl_incidents_open (ctl_store_t *store, ctl_notify_t *notify, const char *env,
                            const char *title, const char *by, const char *plan_id, int64_t since,
                            const char *note)
{
    int64_t now = jad_now_ms (), id = 0;
    if (ctl_store_begin (store))
        return -1;
    if (ctl_incidents_repo_open (store, env, title, by, plan_id, since, now, &id) != 0 ||
        (note && ctl_incidents_repo_note (store, id, by, note, now) != 0) ||
        ctl_store_commit (store)) {
        ctl_store_rollback (store);
        jad_log_error ("incidents: cannot open an incident env=%s", env);
        return -1;
    }
    jad_log_info ("incidents: opened incident=%lld env=%s by=%s plan=%s title=\"%s\"",
                  (long long)id, env, by, plan_id ? plan_id : "-", title);
    json_t *fields = json_pack ("{s:I, s:s, s:s, s:s, s:s?}", "incident", (json_int_t)id, "env",
                                env, "title", title, "by", by, "plan", plan_id);
    if (fields)
        ctl_notify_send (notify, "incident.opened", fields);
    json_decref (fields);
    return id;
}

//  --------------------------------------------------------------------------
//  The API

static json_t *s_incident_json (const ctl_incident_t *incident)
{
    return json_pack ("{s:I, s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:I}", "id",
                      (json_int_t)incident->id, "env", incident->env, "title", incident->title,
                      "state", incident->state, "since", ctl_json_time (incident->since, true),
                      "opened", ctl_json_time (incident->opened, true), "opened_by",
                      incident->opened_by, "closed",
                      ctl_json_time (incident->closed, incident->closed != 0), "closed_by",
                      ctl_json_text (incident->closed_by), "plan",
                      ctl_json_text (incident->plan_id), "notes", (json_int_t)incident->notes);
}

//  Incident id `given` (digits, as jadctl incident list shows it) into
//  *id. Returns 0 or 2 with why in err.
static int s_parse_id (const char *given, int64_t *id, char *err, size_t errlen)
{
    char *end = NULL;
    long long value = given && *given ? strtoll (given, &end, 10) : 0;
    if (!given || !*given || *end || value <= 0 || strlen (given) > 18) {
        snprintf (err, errlen,
                  "incident ID must be a number as jadctl incident list shows it (got "
                  "'%.32s')",
                  given ? given : "");
        return 2;
    }
    *id = value;
    return 0;
}

//  Text an operator gives (a title, a note): valid UTF-8, not empty, at
//  most CTL_INCIDENTS_TEXT_MAX bytes. Returns 0 or 2 with why in err.
static int s_check_text (const char *what, const char *text, char *err, size_t errlen)
{
    size_t len = text ? strlen (text) : 0;
    if (len == 0 || len > CTL_INCIDENTS_TEXT_MAX || !jad_utf8_valid (text, len)) {
        snprintf (err, errlen, "incident %s must be UTF-8 text of 1 to %d bytes", what,
                  CTL_INCIDENTS_TEXT_MAX);
        return 2;
    }
    return 0;
}

//  Incident id, or 2 with "no incident ID" in err (1 on a database error).
static int s_get (ctl_store_t *store, int64_t id, ctl_incident_t **incident, char *err,
                  size_t errlen)
{
    int rc = ctl_incidents_repo_get (store, id, incident);
    if (rc == 1)
        snprintf (err, errlen, "no incident %lld (see: jadctl incident list)", (long long)id);
    else if (rc < 0)
        snprintf (err, errlen, "database error while reading incident %lld", (long long)id);
    return rc == 0 ? 0 : rc == 1 ? 2 : 1;
}

static int s_open (ctl_store_t *store, ctl_notify_t *notify, const jad_controller_config_t *config,
                   const jad_api_request_t *request, const char *operator_name, json_t **result,
                   char *err, size_t errlen)
{
    const char *env = jad_api_request_arg (request, "env");
    const char *title = jad_api_request_arg (request, "title");
    const char *since = jad_api_request_arg (request, "since");
    if (!jad_name_valid (env)) {
        snprintf (err, errlen, "incident open needs --env ENV as a valid name");
        return 2;
    }
    if (!jad_controller_config_env (config, env)) {
        snprintf (err, errlen, "unknown environment '%s' (see controller.yaml)", env);
        return 2;
    }
    if (s_check_text ("title", title, err, errlen))
        return 2;
    uint32_t since_ms = 0;
    if (since && jad_duration_parse (since, &since_ms) != 0) {
        snprintf (err, errlen, "--since must be a duration like 30m or 2h (got '%.32s')", since);
        return 2;
    }
    int64_t id = ctl_incidents_open (store, notify, env, title, operator_name, NULL,
                                     jad_now_ms () - since_ms, NULL);
    if (id < 0) {
        snprintf (err, errlen, "database error while opening the incident");
        return 1;
    }
    ctl_incident_t *incident = NULL;
    int rc = s_get (store, id, &incident, err, errlen);
    if (rc == 0)
        *result = json_pack ("{s:o}", "incident", s_incident_json (incident));
    ctl_incident_destroy (&incident);
    return rc;
}

static int s_note (ctl_store_t *store, const jad_api_request_t *request, const char *operator_name,
                   json_t **result, char *err, size_t errlen)
{
    int64_t id = 0;
    const char *text = jad_api_request_arg (request, "text");
    if (s_parse_id (jad_api_request_arg (request, "id"), &id, err, errlen) ||
        s_check_text ("note", text, err, errlen))
        return 2;
    int rc = ctl_incidents_repo_note (store, id, operator_name, text, jad_now_ms ());
    if (rc == 1) {
        snprintf (err, errlen, "no incident %lld (see: jadctl incident list)", (long long)id);
        return 2;
    }
    if (rc < 0) {
        snprintf (err, errlen, "database error while adding the note");
        return 1;
    }
    ctl_incident_t *incident = NULL;
    rc = s_get (store, id, &incident, err, errlen);
    if (rc == 0)
        *result = json_pack ("{s:o}", "incident", s_incident_json (incident));
    ctl_incident_destroy (&incident);
    return rc;
}

static int s_close (ctl_store_t *store, ctl_notify_t *notify, const jad_api_request_t *request,
                    const char *operator_name, json_t **result, char *err, size_t errlen)
{
    int64_t id = 0;
    if (s_parse_id (jad_api_request_arg (request, "id"), &id, err, errlen))
        return 2;
    int rc = ctl_incidents_repo_close (store, id, operator_name, jad_now_ms ());
    if (rc < 0) {
        snprintf (err, errlen, "database error while closing incident %lld", (long long)id);
        return 1;
    }
    ctl_incident_t *incident = NULL;
    int found = s_get (store, id, &incident, err, errlen);
    if (found != 0)
        return found;
    if (rc == 2) {
        char when[32];
        snprintf (err, errlen, "incident %lld is already closed (by %s at %s)", (long long)id,
                  incident->closed_by ? incident->closed_by : "-",
                  jad_iso_time (incident->closed, when, sizeof when));
        ctl_incident_destroy (&incident);
        return 2;
    }
    jad_log_info ("incidents: closed incident=%lld by=%s", (long long)id, operator_name);
    json_t *fields = json_pack ("{s:I, s:s, s:s, s:s}", "incident", (json_int_t)id, "env",
                                incident->env, "title", incident->title, "by", operator_name);
    if (fields)
        ctl_notify_send (notify, "incident.closed", fields);
    json_decref (fields);
    *result = json_pack ("{s:o}", "incident", s_incident_json (incident));
    ctl_incident_destroy (&incident);
    return 0;
}

static int s_list (ctl_store_t *store, const jad_api_request_t *request, json_t **result, char *err,
                   size_t errlen)
{
    const char *env = jad_api_request_arg (request, "env");
    const char *open = jad_api_request_arg (request, "open");
    if (env && !jad_name_valid (env)) {
        snprintf (err, errlen, "--env must be a valid environment name");
        return 2;
    }
    zlistx_t *rows = ctl_incidents_repo_list (store, env, open && streq (open, "true"), 200);
    if (!rows) {
        snprintf (err, errlen, "database error while listing incidents");
        return 1;
    }
    json_t *list = json_array ();
    for (ctl_incident_t *row = zlistx_first (rows); list && row; row = zlistx_next (rows))
        json_array_append_new (list, s_incident_json (row));
    zlistx_destroy (&rows);
    *result = json_pack ("{s:o}", "incidents", list ? list : json_array ());
    return 0;
}

//  Text fit for a Markdown table cell or the title line: '|' and '\'
//  escaped with a backslash, line breaks and tabs as \n, \r, \t and
//  other control characters as \xHH, so that no note, title or reason can
//  start a line of its own (a forged timeline row); at most `max` bytes of
//  the text (cut on a UTF-8 boundary).
static void s_cell (FILE *out, const char *text, size_t max)
{
    size_t used = 0;
    for (const unsigned char *cursor = (const unsigned char *)(text ? text : "-"); *cursor;
         cursor++) {
        if (used >= max && (*cursor & 0xC0) != 0x80) {
            fputs ("...", out);
            return;
        }
        if (*cursor == '|' || *cursor == '\\')
            fprintf (out, "\\%c", *cursor);
        else if (*cursor == '\n')
            fputs ("\\n", out);
        else if (*cursor == '\r')
            fputs ("\\r", out);
        else if (*cursor == '\t')
            fputs ("\\t", out);
        else if (*cursor < 0x20 || *cursor == 0x7F)
            fprintf (out, "\\x%02X", *cursor);
        else
            fputc (*cursor, out);
        used++;
    }
}

//  The Markdown report of `incident` with its timeline. Caller frees;
//  NULL if out of memory.
static char *s_report (const ctl_incident_t *incident, zlistx_t *timeline, int64_t until, bool cut)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        return NULL;
    char since[32], opened[32], closed[32], end[32];
    jad_iso_time (incident->since, since, sizeof since);
    jad_iso_time (incident->opened, opened, sizeof opened);
    jad_iso_time (until, end, sizeof end);
    fprintf (out, "# Incident %lld: ", (long long)incident->id);
    s_cell (out, incident->title, CTL_INCIDENTS_TEXT_MAX);
    fprintf (out, "\n\n");
    fprintf (out, "- environment: %s\n", incident->env);
    fprintf (out, "- state: %s\n", incident->state);
    fprintf (out, "- opened: %s by %s\n", opened, incident->opened_by);
    if (incident->closed)
        fprintf (out, "- closed: %s by %s\n",
                 jad_iso_time (incident->closed, closed, sizeof closed),
                 incident->closed_by ? incident->closed_by : "-");
    if (incident->plan_id)
        fprintf (out, "- opened by the automatic rollback plan %s (jadctl plan show %s)\n",
                 incident->plan_id, incident->plan_id);
    char took[32];
    fprintf (out, "- window: %s to %s%s (%s)\n", since, end,
             incident->closed ? "" : " (still open)",
             jad_duration_format ((uint64_t)(until - incident->since), took, sizeof took));
    fprintf (out, "\n## Timeline\n\n");
    if (zlistx_size (timeline) == 0)
        fprintf (out, "Nothing was recorded about %s in this window.\n", incident->env);
    else {
        fprintf (out, "| time (UTC) | what | subject | detail |\n");
        fprintf (out, "| --- | --- | --- | --- |\n");
    }
    for (ctl_timeline_entry_t *entry = zlistx_first (timeline); entry;
         entry = zlistx_next (timeline)) {
        char when[32];
        fprintf (out, "| %s | %s | ", jad_iso_time (entry->time, when, sizeof when), entry->what);
        s_cell (out, entry->subject, 128);
        fprintf (out, " | ");
        s_cell (out, entry->text, 600);
        fprintf (out, " |\n");
    }
    if (cut)
        fprintf (out, "\nThe timeline stops at its first %d entries.\n",
                 CTL_INCIDENTS_TIMELINE_MAX);
    if (fclose (out) != 0) {
        free (text);
        return NULL;
    }
    return text;
}

static int s_report_command (ctl_store_t *store, const jad_api_request_t *request, json_t **result,
                             char *err, size_t errlen)
{
    int64_t id = 0;
    if (s_parse_id (jad_api_request_arg (request, "id"), &id, err, errlen))
        return 2;
    ctl_incident_t *incident = NULL;
    int rc = s_get (store, id, &incident, err, errlen);
    if (rc != 0)
        return rc;
    int64_t until = incident->closed ? incident->closed : jad_now_ms ();
    zlistx_t *timeline = ctl_incidents_repo_timeline (store, id, incident->env, incident->since,
                                                      until, CTL_INCIDENTS_TIMELINE_MAX + 1);
    char *report = NULL;
    if (timeline) {
        bool cut = zlistx_size (timeline) > CTL_INCIDENTS_TIMELINE_MAX;
        if (cut) {
            zlistx_last (timeline);
            zlistx_delete (timeline, zlistx_cursor (timeline));
        }
        report = s_report (incident, timeline, until, cut);
    }
    json_t *entries = json_array ();
    for (ctl_timeline_entry_t *entry = timeline ? zlistx_first (timeline) : NULL; entry && entries;
         entry = zlistx_next (timeline))
        json_array_append_new (
            entries, json_pack ("{s:o, s:s, s:o, s:o}", "time", ctl_json_time (entry->time, true),
                                "what", entry->what, "subject", ctl_json_text (entry->subject),
                                "text", ctl_json_text (entry->text)));
    if (!timeline || !report || !entries) {
        snprintf (err, errlen, "database error while reading the timeline of incident %lld",
                  (long long)id);
        rc = 1;
        json_decref (entries);
    } else
        *result = json_pack ("{s:o, s:o, s:s}", "incident", s_incident_json (incident), "timeline",
                             entries, "report", report);
    free (report);
    zlistx_destroy (&timeline);
    ctl_incident_destroy (&incident);
    return rc;
}

int ctl_incidents_api (ctl_store_t *store, ctl_notify_t *notify,
                       const jad_controller_config_t *config, const jad_api_request_t *request,
                       const char *operator_name, json_t **result, char *err, size_t errlen)
{
    const char *command = request->command ? request->command : "";
    if (streq (command, "incident.open"))
        return s_open (store, notify, config, request, operator_name, result, err, errlen);
    if (streq (command, "incident.note"))
        return s_note (store, request, operator_name, result, err, errlen);
    if (streq (command, "incident.close"))
        return s_close (store, notify, request, operator_name, result, err, errlen);
    if (streq (command, "incident.list"))
        return s_list (store, request, result, err, errlen);
    if (streq (command, "incident.report"))
        return s_report_command (store, request, result, err, errlen);
    snprintf (err, errlen, "unknown incident command '%.32s'", command);
    return 2;
}
