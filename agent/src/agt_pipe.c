//  agt_pipe - the apply helper's pipe protocol: jobs and events as
//  length-prefixed ApplyJob / ApplyEvent frames
//  SPDX-License-Identifier: MPL-2.0

#include "agt_pipe.h"
#include "jad_util.h"
#include "jad_wire.h"
#include "jadugar.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

agt_job_t *agt_job_new (void)
{
    return (agt_job_t *)calloc (1, sizeof (agt_job_t));
}

void agt_job_destroy (agt_job_t **self_p)
{
    if (self_p && *self_p) {
        agt_job_t *self = *self_p;
        free (self->plan_id);
        free (self->app);
        free (self->version);
        free (self->sha256_hex);
        free (self->archive);
        free (self->url);
        free (self->previous_hint);
        free (self->environment);
        free (self->host);
        free (self->root);
        free (self->downloads);
        free (self->hook_user);
        if (self->migrations)
            for (size_t index = 0; index < self->migration_count; index++)
                free (self->migrations[index]);
        free (self->migrations);
        free (self);
        *self_p = NULL;
    }
}

agt_event_t *agt_event_new (agt_event_kind_t kind)
{
    agt_event_t *self = (agt_event_t *)calloc (1, sizeof (agt_event_t));
    if (self)
        self->kind = kind;
    return self;
}

void agt_event_destroy (agt_event_t **self_p)
{
    if (self_p && *self_p) {
        agt_event_t *self = *self_p;
        free (self->plan_id);
        free (self->app);
        free (self->version);
        free (self->sha256_hex);
        free (self->step);
        free (self->detail);
        free (self->output);
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Encoding: NULL strings travel as "" (proto3)

static char *s_out (const char *text)
{
    return (char *)(text ? text : "");
}

static zchunk_t *s_frame (const ProtobufCMessage *message)
{
    size_t size = protobuf_c_message_get_packed_size (message);
    if (size > AGT_PIPE_MAX_FRAME)
        return NULL;
    zchunk_t *frame = zchunk_new (NULL, size + 4);
    if (!frame)
        return NULL;
    uint8_t *data = zchunk_data (frame);
    data[0] = (uint8_t)(size >> 24);
    data[1] = (uint8_t)(size >> 16);
    data[2] = (uint8_t)(size >> 8);
    data[3] = (uint8_t)size;
    protobuf_c_message_pack (message, data + 4);
    zchunk_set (frame, data, size + 4);
    return frame;
}

zchunk_t *agt_pipe_job_encode (const agt_job_t *job)
{
    assert (job);
    Jadugar__ApplyJob message = JADUGAR__APPLY_JOB__INIT;
    message.protocol = JAD_PROTOCOL;
    message.plan_id = s_out (job->plan_id);
    message.app = s_out (job->app);
    message.version = s_out (job->version);
    message.sha256_hex = s_out (job->sha256_hex);
    message.artifact_length = job->artifact_length;
    message.archive = s_out (job->archive);
    message.url = s_out (job->url);
    message.release_known = job->release_known;
    message.previous_hint = s_out (job->previous_hint);
    message.environment = s_out (job->environment);
    message.host = s_out (job->host);
    message.root = s_out (job->root);
    message.downloads = s_out (job->downloads);
    message.hook_user = s_out (job->hook_user);
    message.hook_timeout_ms = job->hook_timeout_ms;
    message.step_deadline_ms = job->step_deadline_ms;
    message.keep_releases = job->keep_releases;
    message.action = job->action;
    message.n_migrations = job->migration_count;
    message.migrations = job->migrations;
    message.unpacked_size = job->unpacked_size;
    return s_frame (&message.base);
}

zchunk_t *agt_pipe_event_encode (const agt_event_t *event)
{
    assert (event);
    Jadugar__ApplyEvent message = JADUGAR__APPLY_EVENT__INIT;
    message.protocol = JAD_PROTOCOL;
    message.kind = (uint32_t)event->kind;
    message.plan_id = s_out (event->plan_id);
    message.app = s_out (event->app);
    message.version = s_out (event->version);
    message.sha256_hex = s_out (event->sha256_hex);
    message.step = s_out (event->step);
    message.status = event->status;
    message.detail = s_out (event->detail);
    message.output = s_out (event->output);
    message.duration_ms = event->duration_ms;
    return s_frame (&message.base);
}

//  --------------------------------------------------------------------------
//  Decoding: "" becomes NULL; every string must be UTF-8 without NUL

//  Copy a decoded string (NULL for ""), checking it. Returns 0 or -1.
static int s_in (const char *text, size_t max, char **copy)
{
    *copy = NULL;
    if (!text || !*text)
        return 0;
    size_t size = strlen (text);
    if (size > max || !jad_utf8_valid (text, size))
        return -1;
    *copy = strdup (text);
    return *copy ? 0 : -1;
}

agt_job_t *agt_pipe_job_decode (const uint8_t *data, size_t size, char *err, size_t len)
{
    Jadugar__ApplyJob *message = jadugar__apply_job__unpack (NULL, size, data);
    if (!message) {
        snprintf (err, len, "job: not an ApplyJob");
        return NULL;
    }
    agt_job_t *job = agt_job_new ();
    const char *problem = NULL;
    if (!job)
        problem = "out of memory";
    else if (message->protocol != JAD_PROTOCOL)
        problem = "protocol version differs";
    else if (s_in (message->plan_id, 64, &job->plan_id) || s_in (message->app, 64, &job->app) ||
             s_in (message->version, 64, &job->version) ||
             s_in (message->sha256_hex, 64, &job->sha256_hex) ||
             s_in (message->archive, 4096, &job->archive) || s_in (message->url, 4096, &job->url) ||
             s_in (message->previous_hint, 64, &job->previous_hint) ||
             s_in (message->environment, 64, &job->environment) ||
             s_in (message->host, 64, &job->host) || s_in (message->root, 4096, &job->root) ||
             s_in (message->downloads, 4096, &job->downloads) ||
             s_in (message->hook_user, 256, &job->hook_user))
        problem = "a string is too long or not UTF-8";
    else if (!job->plan_id || !jad_name_valid (job->app) || !jad_name_valid (job->version) ||
             !job->sha256_hex || !job->environment || !job->host || !job->root || !job->downloads)
        problem = "a required field is missing or invalid";
    else if (message->n_migrations > JAD_MAX_APPS * 16)
        problem = "too many migrations";
    if (!problem && message->n_migrations > 0) {
        job->migrations = (char **)calloc (message->n_migrations, sizeof (char *));
        if (!job->migrations)
            problem = "out of memory";
        else
            job->migration_count = message->n_migrations;
        for (size_t index = 0; !problem && index < message->n_migrations; index++)
            if (!jad_name_valid (message->migrations[index]) ||
                s_in (message->migrations[index], 64, &job->migrations[index]))
                problem = "a migration version is invalid";
    }
    if (!problem) {
        job->artifact_length = message->artifact_length;
        job->release_known = message->release_known;
        job->hook_timeout_ms = message->hook_timeout_ms;
        job->step_deadline_ms = message->step_deadline_ms;
        job->keep_releases = message->keep_releases;
        job->action = message->action;
        job->unpacked_size = message->unpacked_size;
    }
    jadugar__apply_job__free_unpacked (message, NULL);
    if (problem) {
        snprintf (err, len, "job: %s", problem);
        agt_job_destroy (&job);
    }
    return job;
}

agt_event_t *agt_pipe_event_decode (const uint8_t *data, size_t size, char *err, size_t len)
{
    Jadugar__ApplyEvent *message = jadugar__apply_event__unpack (NULL, size, data);
    if (!message) {
        snprintf (err, len, "event: not an ApplyEvent");
        return NULL;
    }
    const char *problem = NULL;
    agt_event_t *event = NULL;
    if (message->protocol != JAD_PROTOCOL)
        problem = "protocol version differs";
    else if (message->kind < AGT_EVENT_STEP || message->kind > AGT_EVENT_DONE)
        problem = "unknown kind";
    else if (!(event = agt_event_new ((agt_event_kind_t)message->kind)))
        problem = "out of memory";
    else if (s_in (message->plan_id, 64, &event->plan_id) || s_in (message->app, 64, &event->app) ||
             s_in (message->version, 64, &event->version) ||
             s_in (message->sha256_hex, 64, &event->sha256_hex) ||
             s_in (message->step, 64, &event->step) ||
             s_in (message->detail, JAD_MAX_DETAIL * 4, &event->detail) ||
             s_in (message->output, JAD_MAX_OUTPUT * 4, &event->output))
        problem = "a string is too long or not UTF-8";
    else if (!event->plan_id || (event->kind == AGT_EVENT_STEP && !event->step) ||
             (event->kind != AGT_EVENT_STEP && event->kind != AGT_EVENT_DONE && !event->version))
        problem = "a required field is missing";
    if (event) {
        event->status = message->status;
        event->duration_ms = message->duration_ms;
    }
    jadugar__apply_event__free_unpacked (message, NULL);
    if (problem) {
        snprintf (err, len, "event: %s", problem);
        agt_event_destroy (&event);
    }
    return event;
}

//  --------------------------------------------------------------------------
//  Blocking I/O

int agt_pipe_write (int fd, const void *data, size_t size)
{
    const uint8_t *cursor = (const uint8_t *)data;
    while (size > 0) {
        ssize_t done = write (fd, cursor, size);
        if (done < 0 && errno == EINTR)
            continue;
        if (done <= 0)
            return -1;
        cursor += done;
        size -= (size_t)done;
    }
    return 0;
}

//  Read exactly size bytes. Returns 0, 1 at EOF before any byte, -1.
static int s_read_all (int fd, uint8_t *data, size_t size)
{
    size_t got = 0;
    while (got < size) {
        ssize_t done = read (fd, data + got, size - got);
        if (done < 0 && errno == EINTR)
            continue;
        if (done < 0)
            return -1;
        if (done == 0)
            return got == 0 ? 1 : -1;
        got += (size_t)done;
    }
    return 0;
}

int agt_pipe_read_frame (int fd, uint8_t **data_p, size_t *size_p, char *err, size_t len)
{
    *data_p = NULL;
    *size_p = 0;
    uint8_t prefix[4];
    int rc = s_read_all (fd, prefix, 4);
    if (rc == 1)
        return 1;
    if (rc) {
        snprintf (err, len, "frame: cannot read the length: %s", errno ? strerror (errno) : "EOF");
        return -1;
    }
    size_t size = (size_t)prefix[0] << 24 | (size_t)prefix[1] << 16 | (size_t)prefix[2] << 8 |
                  (size_t)prefix[3];
    if (size > AGT_PIPE_MAX_FRAME) {
        snprintf (err, len, "frame: %zu bytes, more than %d", size, AGT_PIPE_MAX_FRAME);
        return -1;
    }
    uint8_t *data = (uint8_t *)malloc (size ? size : 1);
    if (!data) {
        snprintf (err, len, "frame: out of memory");
        return -1;
    }
    if (s_read_all (fd, data, size) != 0) {
        snprintf (err, len, "frame: truncated (%zu bytes announced)", size);
        free (data);
        return -1;
    }
    *data_p = data;
    *size_p = size;
    return 0;
}
