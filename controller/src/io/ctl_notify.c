//  ctl_notify - notifications: configured commands and webhooks
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_notify.h"
#include "jad_hook.h"
#include "jad_log.h"
#include "jad_util.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <string.h>

#define S_QUEUE_MAX  256  //  events waiting for delivery
#define S_ATTEMPTS   3
#define S_TIMEOUT_MS 5000
#define S_RETRY_MS   1000  //  first pause; doubles

typedef struct {
    size_t queue_max;  //  set before the actor starts
    atomic_uint_fast64_t delivered;
    atomic_uint_fast64_t failed;
    atomic_uint_fast64_t dropped;
} s_shared_t;

struct _ctl_notify_t {
    zactor_t *actor;
    s_shared_t shared;
    uint64_t queued;
};

typedef struct {
    char *kind;
    char *json;
    size_t target;  //  next target to deliver to
    int attempts;   //  failed attempts at this target
    int64_t due;    //  mono ms
} s_event_t;

static void s_event_free (s_event_t **event_p)
{
    if (*event_p) {
        free ((*event_p)->kind);
        free ((*event_p)->json);
        free (*event_p);
        *event_p = NULL;
    }
}

static size_t s_discard (char *data, size_t size, size_t count, void *arg)
{
    (void)data, (void)arg;
    return size * count;
}

static int s_webhook (const char *url, const char *json)
{
    CURL *curl = curl_easy_init ();
    if (!curl)
        return -1;
    struct curl_slist *headers = curl_slist_append (NULL, "Content-Type: application/json");
    long status = 0;
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, (long)S_TIMEOUT_MS);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (curl, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_discard);
    CURLcode rc = curl_easy_perform (curl);
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup (curl);
    curl_slist_free_all (headers);
    if (rc != CURLE_OK || status < 200 || status >= 300) {
        jad_log_warning ("notify: webhook failed url=%s status=%ld error=\"%s\"", url, status,
                         rc == CURLE_OK ? "bad status" : curl_easy_strerror (rc));
        return -1;
    }
    return 0;
}

static int s_command (const char *path, const char *kind, const char *json)
{
    char *event = jad_strdup_printf ("JADUGAR_EVENT=%s", kind);
    char *body = jad_strdup_printf ("JADUGAR_EVENT_JSON=%s", json);
    const char *env[] = {event, body, NULL};
    //  An absolute path is a path below "/" for the hook runner.
    jad_hook_spec_t spec = {.release_dir = "/",
                            .command = path + 1,
                            .env = env,
                            .timeout_ms = S_TIMEOUT_MS,
                            .max_output = 4096};
    jad_hook_result_t result = {0};
    int rc = event && body ? jad_hook_run (&spec, &result) : -1;
    if (rc) {
        char why[256];
        jad_log_warning ("notify: command failed path=%s result=\"%s\"", path,
                         jad_hook_describe (&result, why, sizeof why));
    }
    jad_hook_result_clear (&result);
    free (event);
    free (body);
    return rc;
}

//  A target: "webhook URL" or "command PATH" (the actor's own copy, so
//  that a reloaded configuration never pulls it away).
static int s_target_deliver (const char *target, s_event_t *event)
{
    if (strncmp (target, "webhook ", 8) == 0)
        return s_webhook (target + 8, event->json);
    if (strncmp (target, "command ", 8) == 0)
        return s_command (target + 8, event->kind, event->json);
    return -1;
}

//  Deliver the head of the queue to its next target. Returns true when
//  the event is done with (delivered everywhere or given up).
static bool s_deliver (s_shared_t *shared, zlistx_t *targets, s_event_t *event)
{
    while (event->target < zlistx_size (targets)) {
        const char *target = (const char *)zlistx_first (targets);
        for (size_t index = 0; index < event->target; index++)
            target = (const char *)zlistx_next (targets);
        if (s_target_deliver (target, event) == 0) {
            event->target++;
            event->attempts = 0;
            continue;
        }
        if (++event->attempts >= S_ATTEMPTS) {
            atomic_fetch_add (&shared->failed, 1);
            jad_log_warning ("notify: giving up event=%s target=%zu", event->kind,
                             event->target + 1);
            event->target++;
            event->attempts = 0;
            continue;
        }
        event->due = jad_mono_ms () + ((int64_t)S_RETRY_MS << (event->attempts - 1));
        return false;
    }
    atomic_fetch_add (&shared->delivered, 1);
    return true;
}

//  Handle one message from the pipe. Returns false on $TERM.
static bool s_actor_command (s_shared_t *shared, zsock_t *pipe, zlistx_t *queue, zlistx_t *targets)
{
    zmsg_t *msg = zmsg_recv (pipe);
    char *command = msg ? zmsg_popstr (msg) : NULL;
    bool stop = !command || streq (command, "$TERM");
    if (!stop && streq (command, "EVENT")) {
        s_event_t *event = (s_event_t *)calloc (1, sizeof (s_event_t));
        if (event) {
            event->kind = zmsg_popstr (msg);
            event->json = zmsg_popstr (msg);
        }
        if (event && event->kind && event->json) {
            //  a full queue drops its oldest event, even one being retried
            if (zlistx_size (queue) >= shared->queue_max) {
                s_event_t *oldest = (s_event_t *)zlistx_detach (queue, NULL);
                s_event_free (&oldest);
                atomic_fetch_add (&shared->dropped, 1);
            }
            zlistx_add_end (queue, event);
        } else
            s_event_free (&event);
    } else if (!stop && streq (command, "TARGETS")) {
        zlistx_purge (targets);
        for (char *target = zmsg_popstr (msg); target; target = zmsg_popstr (msg))
            zlistx_add_end (targets, target);
    }
    zstr_free (&command);
    zmsg_destroy (&msg);
    return !stop;
}

static void s_actor (zsock_t *pipe, void *args)
{
    s_shared_t *shared = (s_shared_t *)args;
    zlistx_t *queue = zlistx_new ();
    zlistx_t *targets = zlistx_new ();
    zpoller_t *poller = zpoller_new (pipe, NULL);
    if (targets)
        zlistx_set_destructor (targets, (zlistx_destructor_fn *)zstr_free);
    zsock_signal (pipe, 0);
    bool running = queue && targets && poller;
    while (running) {
        //  take in everything waiting first, so that the bound holds
        while (running && (zsock_events (pipe) & ZMQ_POLLIN))
            running = s_actor_command (shared, pipe, queue, targets);
        if (!running)
            break;
        s_event_t *head = (s_event_t *)zlistx_first (queue);
        int64_t wait = head ? head->due - jad_mono_ms () : -1;
        if (!head || wait > 0) {
            void *which = zpoller_wait (poller, head ? (int)wait : -1);
            if (!which && zpoller_terminated (poller))
                break;
            continue;
        }
        if (s_deliver (shared, targets, head)) {
            zlistx_detach (queue, NULL);
            s_event_free (&head);
        }
    }
    while (queue && zlistx_size (queue)) {
        s_event_t *event = (s_event_t *)zlistx_detach (queue, NULL);
        s_event_free (&event);
    }
    zlistx_destroy (&queue);
    zlistx_destroy (&targets);
    zpoller_destroy (&poller);
}

ctl_notify_t *ctl_notify_new (const jad_controller_config_t *config, size_t queue_max)
{
    ctl_notify_t *self = (ctl_notify_t *)calloc (1, sizeof (ctl_notify_t));
    if (!self)
        return NULL;
    self->shared.queue_max = queue_max ? queue_max : S_QUEUE_MAX;
    if (ctl_notify_configure (self, config) != 0) {
        ctl_notify_destroy (&self);
        return NULL;
    }
    return self;
}

int ctl_notify_configure (ctl_notify_t *self, const jad_controller_config_t *config)
{
    if (!self->actor && config->notify_count == 0)
        return 0;
    if (!self->actor) {
        self->actor = zactor_new (s_actor, &self->shared);
        if (!self->actor)
            return -1;
        //  never block the controller: a full pipe drops the event
        zsock_set_sndtimeo (zactor_sock (self->actor), 0);
    }
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "TARGETS");
    for (size_t index = 0; index < config->notify_count; index++) {
        const jad_notify_config_t *target = &config->notify[index];
        char *text = target->webhook ? jad_strdup_printf ("webhook %s", target->webhook)
                                     : jad_strdup_printf ("command %s", target->command);
        if (text)
            zmsg_addstr (msg, text);
        free (text);
    }
    //  this one may wait: targets must not get lost
    zsock_set_sndtimeo (zactor_sock (self->actor), 1000);
    int rc = zmsg_send (&msg, self->actor);
    zsock_set_sndtimeo (zactor_sock (self->actor), 0);
    zmsg_destroy (&msg);
    return rc;
}

void ctl_notify_destroy (ctl_notify_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zactor_destroy (&(*self_p)->actor);
    free (*self_p);
    *self_p = NULL;
}

void ctl_notify_send (ctl_notify_t *self, const char *kind, json_t *fields)
{
    if (!self || !self->actor)
        return;
    json_t *event = fields ? json_deep_copy (fields) : json_object ();
    if (!event)
        return;
    char time[32];
    jad_iso_time (jad_now_ms (), time, sizeof time);
    json_object_set_new (event, "event", json_string (kind));
    json_object_set_new (event, "time", json_string (time));
    char *text = json_dumps (event, JSON_COMPACT | JAD_JSON_REAL);
    json_decref (event);
    if (!text)
        return;
    if (zsock_send (self->actor, "sss", "EVENT", kind, text) == 0)
        self->queued++;
    else
        atomic_fetch_add (&self->shared.dropped, 1);
    free (text);
}

uint64_t ctl_notify_queued (const ctl_notify_t *self)
{
    return self ? self->queued : 0;
}

uint64_t ctl_notify_delivered (ctl_notify_t *self)
{
    return self ? atomic_load (&self->shared.delivered) : 0;
}

uint64_t ctl_notify_failed (ctl_notify_t *self)
{
    return self ? atomic_load (&self->shared.failed) : 0;
}

uint64_t ctl_notify_dropped (ctl_notify_t *self)
{
    return self ? atomic_load (&self->shared.dropped) : 0;
}
