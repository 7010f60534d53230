//  ctl_notify - notifications: routes to contacts, commands, webhooks and
//  email
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_notify.h"
#include "ctl_curl.h"
#include "ctl_outbox_repo.h"
#include "jad_hook.h"
#include "jad_log.h"
#include "jad_util.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define S_QUEUE_MAX   256  //  events waiting for delivery
#define S_ATTEMPTS    3
#define S_TIMEOUT_MS  5000
#define S_RETRY_MS    1000  //  first pause; doubles
#define S_SUBJECT_MAX 200   //  bytes of an email's subject
#define S_LINE_MAX    900   //  an email line is broken past this (SMTP allows 998)
#define S_FIELD_MAX   8192  //  bytes of a string field in an email

typedef struct {
    size_t queue_max;      //  set before the actor starts
    char *outbox;          //  the shared store's target: events kept there; NULL: none
    atomic_bool stopping;  //  set before the actor is destroyed: a transfer in flight gives up
    atomic_uint_fast64_t delivered;
    atomic_uint_fast64_t failed;
    atomic_uint_fast64_t dropped;
    atomic_uint_fast64_t emails_sent;
    atomic_uint_fast64_t emails_failed;
} s_shared_t;

struct _ctl_notify_t {
    zactor_t *actor;
    s_shared_t shared;
    uint64_t queued;
    bool routed;  //  the configuration has at least one route
};

//  A route as the actor holds it: one target ("webhook URL", "command
//  PATH" or "email ADDRESS") for the events and environments matched
typedef struct {
    char **events;
    size_t event_count;
    char **envs;
    size_t env_count;
    char *target;
} s_route_t;

//  The relay, as the actor holds it (host NULL: none)
typedef struct {
    char *host;
    unsigned port;
    char *from;
    bool starttls;
    char *user;
    char *password_file;
    long timeout_ms;
} s_smtp_t;

typedef struct {
    char *id;  //  the event id (hex), in its JSON as "id"
    char *kind;
    char *json;
    char **targets;  //  where this event goes, each once
    size_t target_count;
    size_t target;                 //  next target to deliver to
    int attempts;                  //  failed attempts at this target
    int64_t due;                   //  mono ms
    bool lost;                     //  a target was given up
    struct _s_attempt_t *attempt;  //  the attempt in flight at its target, or NULL
    void *handle;                  //  its place in the actor's queue
} s_event_t;

//  One attempt at one target, in a thread of its own: a target that hangs
//  (a webhook that never answers, a command that runs to its timeout)
//  holds up only its own events. The thread has its own copies of what
//  it needs; it sends the outcome (as s_webhook returns) up its pipe.
typedef struct _s_attempt_t {
    zactor_t *thread;
    s_shared_t *shared;
    char *target;
    char *kind;
    char *json;
    s_smtp_t smtp;
} s_attempt_t;

static void s_strings_free (char ***items_p, size_t *count_p)
{
    for (size_t index = 0; *items_p && index < *count_p; index++)
        free ((*items_p)[index]);
    free (*items_p);
    *items_p = NULL;
    *count_p = 0;
}

//  Split space-separated words into a new array. Returns 0 or -1.
static int s_words (const char *text, char ***items_p, size_t *count_p)
{
    *items_p = NULL;
    *count_p = 0;
    char *copy = strdup (text ? text : "");
    size_t max = 1;
    for (const char *cursor = copy; cursor && *cursor; cursor++)
        max += *cursor == ' ';
    char **items = copy ? (char **)calloc (max, sizeof (char *)) : NULL;
    if (!items) {
        free (copy);
        return -1;
    }
    char *save = NULL;
    for (char *word = strtok_r (copy, " ", &save); word; word = strtok_r (NULL, " ", &save)) {
        if (!(items[*count_p] = strdup (word))) {
            *items_p = items;
            s_strings_free (items_p, count_p);
            free (copy);
            return -1;
        }
        (*count_p)++;
    }
    free (copy);
    *items_p = items;
    return 0;
}

static void s_route_free (void **item)
{
    s_route_t *route = (s_route_t *)*item;
    if (route) {
        s_strings_free (&route->events, &route->event_count);
        s_strings_free (&route->envs, &route->env_count);
        free (route->target);
        free (route);
    }
    *item = NULL;
}

static void s_smtp_clear (s_smtp_t *smtp)
{
    free (smtp->host);
    free (smtp->from);
    free (smtp->user);
    free (smtp->password_file);
    memset (smtp, 0, sizeof *smtp);
}

static int s_smtp_copy (s_smtp_t *copy, const s_smtp_t *smtp)
{
    *copy = *smtp;
    copy->host = smtp->host ? strdup (smtp->host) : NULL;
    copy->from = smtp->from ? strdup (smtp->from) : NULL;
    copy->user = smtp->user ? strdup (smtp->user) : NULL;
    copy->password_file = smtp->password_file ? strdup (smtp->password_file) : NULL;
    if ((smtp->host && !copy->host) || (smtp->from && !copy->from) || (smtp->user && !copy->user) ||
        (smtp->password_file && !copy->password_file)) {
        s_smtp_clear (copy);
        return -1;
    }
    return 0;
}

static void s_attempt_destroy (s_attempt_t **attempt_p);

static void s_event_free (s_event_t **event_p)
{
    if (*event_p) {
        s_attempt_destroy (&(*event_p)->attempt);
        free ((*event_p)->id);
        free ((*event_p)->kind);
        free ((*event_p)->json);
        s_strings_free (&(*event_p)->targets, &(*event_p)->target_count);
        free (*event_p);
        *event_p = NULL;
    }
}

//  libcurl's progress callback: a transfer in flight gives up (at the
//  latest a second later) once the actor is told to stop.
static int s_progress (void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return atomic_load (&((s_shared_t *)arg)->stopping) ? 1 : 0;
}

//  A transfer that gives up when the actor stops (s_progress).
static void s_stoppable (CURL *curl, s_shared_t *shared)
{
    curl_easy_setopt (curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt (curl, CURLOPT_XFERINFOFUNCTION, s_progress);
    curl_easy_setopt (curl, CURLOPT_XFERINFODATA, shared);
}

//  True if a transfer ended with rc because the actor stops.
static bool s_stopped (s_shared_t *shared, CURLcode rc)
{
    return rc == CURLE_ABORTED_BY_CALLBACK && atomic_load (&shared->stopping);
}

//  Deliveries return 0 (delivered), -1 (failed: tried again later) or
//  S_STOPPED (abandoned because the actor stops: not an attempt).
#define S_STOPPED 1

static int s_webhook (s_shared_t *shared, const char *url, const char *json)
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
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, jad_body_discard);
    s_stoppable (curl, shared);
    CURLcode rc = curl_easy_perform (curl);
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup (curl);
    curl_slist_free_all (headers);
    if (s_stopped (shared, rc))
        return S_STOPPED;
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

//  --------------------------------------------------------------------------
//  Email

//  A field's value on one line: strings as they are (control characters,
//  newlines included, become spaces), the rest as JSON.
static char *s_field_text (json_t *value)
{
    char *text =
        json_is_string (value)
            ? jad_text_sanitize (json_string_value (value), json_string_length (value), S_FIELD_MAX)
            : json_dumps (value, JSON_ENCODE_ANY | JSON_COMPACT | JAD_JSON_REAL);
    for (char *cursor = text; cursor && *cursor; cursor++)
        if ((unsigned char)*cursor < ' ' || *cursor == 0x7f)
            *cursor = ' ';
    return text;
}

//  Append text to a zchunk, breaking lines longer than SMTP allows.
static void s_append_wrapped (zchunk_t *chunk, const char *text)
{
    size_t len = strlen (text), done = 0;
    while (len - done > S_LINE_MAX) {
        zchunk_extend (chunk, text + done, S_LINE_MAX);
        zchunk_extend (chunk, "\r\n  ", 4);
        done += S_LINE_MAX;
    }
    zchunk_extend (chunk, text + done, len - done);
    zchunk_extend (chunk, "\r\n", 2);
}

int ctl_notify_email_format (const char *from, const char *to, const char *json, char **subject_p,
                             char **message_p)
{
    *subject_p = NULL;
    *message_p = NULL;
    json_t *event = json_loads (json, 0, NULL);
    if (!json_is_object (event)) {
        json_decref (event);
        return -1;
    }
    //  "[jadugar] deploy.finished prod web 1.4.2 succeeded": the event and
    //  what it is about, ASCII only (never a header of its own)
    char subject[S_SUBJECT_MAX + 1];
    size_t used = (size_t)snprintf (subject, sizeof subject, "[jadugar] %s",
                                    json_string_value (json_object_get (event, "event"))
                                        ? json_string_value (json_object_get (event, "event"))
                                        : "event");
    static const char *const about[] = {"env", "app", "version", "metric", "state", "to"};
    for (size_t index = 0; index < sizeof about / sizeof *about && used < S_SUBJECT_MAX; index++) {
        const char *value = json_string_value (json_object_get (event, about[index]));
        if (value && *value)
            used += (size_t)snprintf (subject + used, sizeof subject - used, " %s", value);
    }
    if (used > S_SUBJECT_MAX)
        used = S_SUBJECT_MAX;
    subject[used] = 0;
    for (char *cursor = subject; *cursor; cursor++)
        if ((unsigned char)*cursor < ' ' || (unsigned char)*cursor >= 0x7f)
            *cursor = '?';
    char date[64], id[33];
    time_t now = time (NULL);
    struct tm tm;
    gmtime_r (&now, &tm);
    strftime (date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    jad_random_id (16, id);
    zchunk_t *chunk = zchunk_new (NULL, 4096);
    char *head = jad_strdup_printf ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\n"
                                    "Message-ID: <%s@jadugar>\r\nMIME-Version: 1.0\r\n"
                                    "Content-Type: text/plain; charset=utf-8\r\n"
                                    "Content-Transfer-Encoding: 8bit\r\n\r\n",
                                    from, to, subject, date, id);
    bool ok = chunk && head;
    if (ok)
        zchunk_extend (chunk, head, strlen (head));
    free (head);
    //  the event and its time first, then the fields as they came
    const char *key;
    json_t *value;
    for (int pass = 0; pass < 2; pass++)
        json_object_foreach (event, key, value)
        {
            bool first = streq (key, "event") || streq (key, "time");
            if (pass == 0 ? !first : first)
                continue;
            char *text = ok ? s_field_text (value) : NULL;
            char *line = text ? jad_strdup_printf ("%s: %s", key, text) : NULL;
            if (line)
                s_append_wrapped (chunk, line);
            else
                ok = false;
            free (line);
            free (text);
        }
    json_decref (event);
    if (ok) {
        zchunk_extend (chunk, "", 1);
        *subject_p = strdup (subject);
        *message_p = strdup ((const char *)zchunk_data (chunk));
    }
    zchunk_destroy (&chunk);
    if (!*subject_p || !*message_p) {
        free (*subject_p);
        free (*message_p);
        *subject_p = *message_p = NULL;
        return -1;
    }
    return 0;
}

typedef struct {
    const char *data;
    size_t size;
    size_t sent;
} s_upload_t;

static size_t s_upload_read (char *buffer, size_t size, size_t count, void *arg)
{
    s_upload_t *upload = (s_upload_t *)arg;
    size_t len = size * count;
    if (len > upload->size - upload->sent)
        len = upload->size - upload->sent;
    memcpy (buffer, upload->data + upload->sent, len);
    upload->sent += len;
    return len;
}

//  The AUTH password: the first line of the file. NULL if unreadable
//  (logged). Caller wipes and frees.
static char *s_password (const char *path)
{
    size_t size = 0;
    char *text = jad_file_read (path, 4096, &size);
    if (!text) {
        jad_log_warning ("notify: cannot read smtp password_file path=%s error=\"%s\"", path,
                         strerror (errno));
        return NULL;
    }
    text[strcspn (text, "\r\n")] = 0;
    return text;
}

static int s_email (s_shared_t *shared, const s_smtp_t *smtp, const char *to, const char *json)
{
    if (!smtp->host || !smtp->from) {
        jad_log_warning ("notify: email failed to=%s error=\"no smtp relay configured\"", to);
        return -1;
    }
    char *subject = NULL, *message = NULL;
    if (ctl_notify_email_format (smtp->from, to, json, &subject, &message) != 0)
        return -1;
    char *url = jad_strdup_printf (strchr (smtp->host, ':') ? "smtp://[%s]:%u" : "smtp://%s:%u",
                                   smtp->host, smtp->port);
    char *mail_from = jad_strdup_printf ("<%s>", smtp->from);
    char *rcpt_to = jad_strdup_printf ("<%s>", to);
    struct curl_slist *rcpt = rcpt_to ? curl_slist_append (NULL, rcpt_to) : NULL;
    char *password = smtp->user ? s_password (smtp->password_file) : NULL;
    CURL *curl = url && mail_from && rcpt && (password || !smtp->user) ? curl_easy_init () : NULL;
    s_upload_t upload = {.data = message, .size = strlen (message)};
    char error[CURL_ERROR_SIZE] = "";
    CURLcode rc = CURLE_FAILED_INIT;
    if (curl) {
        curl_easy_setopt (curl, CURLOPT_URL, url);
        curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "smtp");
        curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, smtp->timeout_ms);
        curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, error);
        curl_easy_setopt (curl, CURLOPT_MAIL_FROM, mail_from);
        curl_easy_setopt (curl, CURLOPT_MAIL_RCPT, rcpt);
        curl_easy_setopt (curl, CURLOPT_READFUNCTION, s_upload_read);
        curl_easy_setopt (curl, CURLOPT_READDATA, &upload);
        curl_easy_setopt (curl, CURLOPT_UPLOAD, 1L);
        if (smtp->starttls)
            curl_easy_setopt (curl, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
        if (smtp->user) {
            curl_easy_setopt (curl, CURLOPT_USERNAME, smtp->user);
            curl_easy_setopt (curl, CURLOPT_PASSWORD, password);
        }
        s_stoppable (curl, shared);
        rc = curl_easy_perform (curl);
        curl_easy_cleanup (curl);
    }
    if (rc != CURLE_OK && !s_stopped (shared, rc))
        jad_log_warning ("notify: email failed to=%s relay=%s:%u subject=\"%s\" error=\"%s\"", to,
                         smtp->host, smtp->port, subject, *error ? error : curl_easy_strerror (rc));
    if (password) {
        explicit_bzero (password, strlen (password));
        free (password);
    }
    curl_slist_free_all (rcpt);
    free (rcpt_to);
    free (mail_from);
    free (url);
    free (subject);
    free (message);
    return rc == CURLE_OK ? 0 : s_stopped (shared, rc) ? S_STOPPED : -1;
}

//  --------------------------------------------------------------------------
//  The actor

typedef struct {
    s_shared_t *shared;
    zsock_t *pipe;
    zlistx_t *queue;
    zlistx_t *routes;
    s_smtp_t smtp;
    ctl_store_t *store;  //  the outbox's store (a shared store), or NULL
    bool resumed;        //  the outbox's events were taken in (after the first CONFIG)
    zpoller_t *poller;   //  the pipe and the attempts in flight
} s_actor_t;

//  The event is done with (delivered, given up, dropped): out of the outbox.
static void s_event_done (s_actor_t *actor, s_event_t **event_p)
{
    if (actor->store && (*event_p)->id && ctl_outbox_repo_done (actor->store, (*event_p)->id))
        jad_log_error ("notify: cannot mark event=%s id=%s done in the store", (*event_p)->kind,
                       (*event_p)->id);
    s_event_free (event_p);
}

//  A target: "webhook URL", "command PATH" or "email ADDRESS". Returns as
//  s_webhook. A command runs to its end or its timeout.
static int s_target_deliver (s_shared_t *shared, const s_smtp_t *smtp, const char *target,
                             const char *kind, const char *json)
{
    if (strncmp (target, "webhook ", 8) == 0)
        return s_webhook (shared, target + 8, json);
    if (strncmp (target, "command ", 8) == 0)
        return s_command (target + 8, kind, json);
    if (strncmp (target, "email ", 6) == 0) {
        int rc = s_email (shared, smtp, target + 6, json);
        if (rc == 0)
            atomic_fetch_add (&shared->emails_sent, 1);
        return rc;
    }
    return -1;
}

static void s_attempt_thread (zsock_t *pipe, void *args)
{
    s_attempt_t *attempt = (s_attempt_t *)args;
    zsock_signal (pipe, 0);
    int rc = s_target_deliver (attempt->shared, &attempt->smtp, attempt->target, attempt->kind,
                               attempt->json);
    zsock_send (pipe, "i", rc);
    //  then wait to be ended (s_attempt_destroy)
    char *command = zstr_recv (pipe);
    zstr_free (&command);
    ctl_curl_thread_end ();
}

static void s_attempt_destroy (s_attempt_t **attempt_p)
{
    s_attempt_t *attempt = *attempt_p;
    if (!attempt)
        return;
    zactor_destroy (&attempt->thread);  //  waits for the thread
    free (attempt->target);
    free (attempt->kind);
    free (attempt->json);
    s_smtp_clear (&attempt->smtp);
    free (attempt);
    *attempt_p = NULL;
}

//  Start an attempt at the event's next target. Returns 0, or -1 if it
//  could not start (out of memory or threads: counts as a failed attempt).
static int s_attempt_start (s_actor_t *actor, s_event_t *event)
{
    s_attempt_t *attempt = (s_attempt_t *)calloc (1, sizeof (s_attempt_t));
    if (!attempt)
        return -1;
    attempt->shared = actor->shared;
    attempt->target = strdup (event->targets[event->target]);
    attempt->kind = strdup (event->kind);
    attempt->json = strdup (event->json);
    if (!attempt->target || !attempt->kind || !attempt->json ||
        s_smtp_copy (&attempt->smtp, &actor->smtp) != 0 ||
        !(attempt->thread = zactor_new (s_attempt_thread, attempt)) ||
        zpoller_add (actor->poller, attempt->thread) != 0) {
        jad_log_error ("notify: cannot start a delivery event=%s target=\"%s\"", event->kind,
                       event->targets[event->target]);
        s_attempt_destroy (&attempt);
        return -1;
    }
    event->attempt = attempt;
    return 0;
}

//  What an attempt at the event's next target came to (rc as s_webhook).
//  Returns true when the event is done with (delivered everywhere or
//  given up); false when a target is still to go (at once, or when it is
//  due after a failure), or the actor stops (it stays in the outbox).
static bool s_attempted (s_actor_t *actor, s_event_t *event, int rc)
{
    const char *target = event->targets[event->target];
    if (rc == 0) {
        event->target++;
        event->attempts = 0;
        event->due = 0;
    } else if (rc == S_STOPPED) {
        jad_log_info ("notify: delivery abandoned, stopping event=%s id=%s target=\"%s\" kept=%s",
                      event->kind, event->id, target, actor->store ? "yes" : "no");
        return false;
    } else if (++event->attempts >= S_ATTEMPTS) {
        atomic_fetch_add (&actor->shared->failed, 1);
        if (strncmp (target, "email ", 6) == 0)
            atomic_fetch_add (&actor->shared->emails_failed, 1);
        jad_log_error ("notify: giving up event=%s target=\"%s\" attempts=%d", event->kind, target,
                       S_ATTEMPTS);
        event->target++;
        event->attempts = 0;
        event->due = 0;
        event->lost = true;
    } else
        event->due = jad_mono_ms () + ((int64_t)S_RETRY_MS << (event->attempts - 1));
    if (event->target < event->target_count)
        return false;
    if (!event->lost)
        atomic_fetch_add (&actor->shared->delivered, 1);
    return true;
}

//  Take the outcome of the event's attempt (waiting for it if it is still
//  under way), and let the event go if it is done with.
static void s_attempt_finish (s_actor_t *actor, s_event_t *event)
{
    int rc = -1;
    if (zsock_recv (event->attempt->thread, "i", &rc) != 0)
        rc = -1;
    zpoller_remove (actor->poller, event->attempt->thread);
    s_attempt_destroy (&event->attempt);
    if (s_attempted (actor, event, rc)) {
        zlistx_detach (actor->queue, event->handle);
        s_event_done (actor, &event);
    }
}

//  The event whose attempt runs in thread `which` (NULL: any attempt), or
//  NULL if none.
static s_event_t *s_in_flight (s_actor_t *actor, void *which)
{
    for (s_event_t *event = (s_event_t *)zlistx_first (actor->queue); event;
         event = (s_event_t *)zlistx_next (actor->queue))
        if (event->attempt && (!which || event->attempt->thread == which))
            return event;
    return NULL;
}

//  The event to work on next, or NULL when none can go now. Each target
//  gets events in the order they came: an event waits while one before it
//  still has its next target to go to (an attempt in flight included). Of
//  the others, the first due goes (a failing target's pause between
//  attempts, or a hanging transfer, holds up only that target).
static s_event_t *s_next_event (s_actor_t *actor)
{
    zhashx_t *claimed = zhashx_new ();  //  targets an earlier event still has to go to
    s_event_t *next = NULL;
    for (s_event_t *event = (s_event_t *)zlistx_first (actor->queue); event;
         event = (s_event_t *)zlistx_next (actor->queue)) {
        if (!event->attempt &&
            (!claimed || !zhashx_lookup (claimed, event->targets[event->target])) &&
            (!next || event->due < next->due))
            next = event;
        if (!claimed)  //  out of memory: in order, one at a time
            return event->attempt ? NULL : next;
        for (size_t index = event->target; index < event->target_count; index++)
            zhashx_insert (claimed, event->targets[index], (void *)"");
    }
    zhashx_destroy (&claimed);
    return next;
}

//  The targets of the routes that take `event` about `env`, each once.
//  Returns 0 or -1.
static int s_event_route (s_actor_t *actor, s_event_t *event, const char *env)
{
    size_t max = zlistx_size (actor->routes);
    event->targets = (char **)calloc (max + 1, sizeof (char *));
    if (!event->targets)
        return -1;
    for (s_route_t *route = (s_route_t *)zlistx_first (actor->routes); route;
         route = (s_route_t *)zlistx_next (actor->routes)) {
        jad_notify_config_t view = {.events = route->events,
                                    .event_count = route->event_count,
                                    .envs = route->envs,
                                    .env_count = route->env_count};
        if (!jad_notify_route_matches (&view, event->kind, env))
            continue;
        bool seen = false;
        for (size_t index = 0; index < event->target_count && !seen; index++)
            seen = streq (event->targets[index], route->target);
        if (seen)
            continue;
        if (!(event->targets[event->target_count] = strdup (route->target)))
            return -1;
        event->target_count++;
    }
    return 0;
}

//  Queue an event (owned) about env: routed, kept in the outbox unless it
//  comes from there (kept), the oldest dropped from a full queue.
static void s_event_queue (s_actor_t *actor, s_event_t *event, const char *env, bool kept)
{
    if (!event->kind || !event->json || !event->id || !env ||
        s_event_route (actor, event, env) != 0) {
        jad_log_error ("notify: event lost: out of memory");
        atomic_fetch_add (&actor->shared->dropped, 1);
        s_event_free (&event);
        return;
    }
    if (event->target_count == 0) {
        //  no route takes it
        if (kept)
            s_event_done (actor, &event);
        else
            s_event_free (&event);
        return;
    }
    if (!kept && actor->store &&
        ctl_outbox_repo_put (actor->store, event->id, env, event->kind, event->json,
                             jad_now_ms ()) != 0)
        jad_log_error ("notify: cannot keep event=%s id=%s in the store: it is sent, but not "
                       "again by another controller",
                       event->kind, event->id);
    //  a full queue (of events waiting: not those being delivered) drops
    //  its oldest waiting event, even one being retried
    size_t waiting = 0;
    s_event_t *oldest = NULL;
    for (s_event_t *queued = (s_event_t *)zlistx_first (actor->queue); queued;
         queued = (s_event_t *)zlistx_next (actor->queue))
        if (!queued->attempt && waiting++ == 0)
            oldest = queued;
    if (oldest && waiting >= actor->shared->queue_max) {
        zlistx_detach (actor->queue, oldest->handle);
        jad_log_error ("notify: queue full, dropping event=%s id=%s", oldest->kind, oldest->id);
        s_event_done (actor, &oldest);
        atomic_fetch_add (&actor->shared->dropped, 1);
    }
    event->handle = zlistx_add_end (actor->queue, event);
    if (!event->handle) {
        jad_log_error ("notify: event lost: out of memory");
        atomic_fetch_add (&actor->shared->dropped, 1);
        s_event_done (actor, &event);
    }
}

static void s_actor_event (s_actor_t *actor, zmsg_t *msg)
{
    s_event_t *event = (s_event_t *)calloc (1, sizeof (s_event_t));
    char *env = zmsg_popstr (msg);
    if (event) {
        event->kind = zmsg_popstr (msg);
        event->json = zmsg_popstr (msg);
        event->id = zmsg_popstr (msg);
        s_event_queue (actor, event, env, false);
    } else {
        jad_log_error ("notify: event lost: out of memory");
        atomic_fetch_add (&actor->shared->dropped, 1);
    }
    zstr_free (&env);
}

//  With a shared store: take in the events a previous leader (or this
//  controller before a restart) kept and had not delivered, to send them
//  again under their ids, by the routes configured now.
static void s_actor_resume (s_actor_t *actor)
{
    actor->resumed = true;
    if (!actor->shared->outbox)
        return;
    actor->store = ctl_store_open (actor->shared->outbox, 0);
    zlistx_t *kept = actor->store
                         ? ctl_outbox_repo_pending (actor->store, (int64_t)actor->shared->queue_max)
                         : NULL;
    if (!kept) {
        jad_log_error ("notify: cannot read the events kept in the store: those are not sent "
                       "again");
        return;
    }
    if (zlistx_size (kept))
        jad_log_info ("notify: sending again events=%zu kept undelivered in the store",
                      zlistx_size (kept));
    for (ctl_outbox_event_t *row = zlistx_first (kept); row; row = zlistx_next (kept)) {
        s_event_t *event = (s_event_t *)calloc (1, sizeof (s_event_t));
        if (!event) {
            jad_log_error ("notify: event lost: out of memory");
            continue;
        }
        event->id = strdup (row->id);
        event->kind = strdup (row->kind);
        event->json = strdup (row->body);
        s_event_queue (actor, event, row->env, true);
    }
    zlistx_destroy (&kept);
}

static char *s_popstr_or_null (zmsg_t *msg)
{
    char *text = zmsg_popstr (msg);
    if (text && !*text)
        zstr_free (&text);
    return text;
}

//  CONFIG: the relay, then routes as (events, envs, target) triples
static void s_actor_config (s_actor_t *actor, zmsg_t *msg)
{
    s_smtp_clear (&actor->smtp);
    actor->smtp.host = s_popstr_or_null (msg);
    char *port = zmsg_popstr (msg), *timeout = NULL, *starttls = NULL;
    actor->smtp.port = port ? (unsigned)atoi (port) : 25;
    actor->smtp.from = s_popstr_or_null (msg);
    starttls = zmsg_popstr (msg);
    actor->smtp.starttls = starttls && streq (starttls, "1");
    actor->smtp.user = s_popstr_or_null (msg);
    actor->smtp.password_file = s_popstr_or_null (msg);
    timeout = zmsg_popstr (msg);
    actor->smtp.timeout_ms = timeout ? atol (timeout) : S_TIMEOUT_MS;
    zstr_free (&port);
    zstr_free (&starttls);
    zstr_free (&timeout);
    zlistx_purge (actor->routes);
    while (zmsg_size (msg) >= 3) {
        char *events = zmsg_popstr (msg), *envs = zmsg_popstr (msg);
        s_route_t *route = (s_route_t *)calloc (1, sizeof (s_route_t));
        if (route && s_words (events, &route->events, &route->event_count) == 0 &&
            s_words (envs, &route->envs, &route->env_count) == 0 &&
            (route->target = zmsg_popstr (msg)))
            zlistx_add_end (actor->routes, route);
        else {
            jad_log_error ("notify: route lost: out of memory");
            void *item = route;
            s_route_free (&item);
        }
        zstr_free (&events);
        zstr_free (&envs);
    }
}

//  Handle one message from the pipe. Returns false on $TERM.
static bool s_actor_command (s_actor_t *actor)
{
    zmsg_t *msg = zmsg_recv (actor->pipe);
    char *command = msg ? zmsg_popstr (msg) : NULL;
    bool stop = !command || streq (command, "$TERM");
    if (!stop && streq (command, "EVENT"))
        s_actor_event (actor, msg);
    else if (!stop && streq (command, "CONFIG")) {
        s_actor_config (actor, msg);
        if (!actor->resumed)
            s_actor_resume (actor);
    }
    zstr_free (&command);
    zmsg_destroy (&msg);
    return !stop;
}

static void s_actor (zsock_t *pipe, void *args)
{
    s_actor_t actor = {.shared = (s_shared_t *)args, .pipe = pipe};
    actor.queue = zlistx_new ();
    actor.routes = zlistx_new ();
    actor.poller = zpoller_new (pipe, NULL);
    if (actor.routes)
        zlistx_set_destructor (actor.routes, s_route_free);
    zsock_signal (pipe, 0);
    bool running = actor.queue && actor.routes && actor.poller;
    while (running) {
        //  take in everything waiting first, so that the bound holds
        while (running && (zsock_events (pipe) & ZMQ_POLLIN))
            running = s_actor_command (&actor);
        if (!running)
            break;
        //  start every attempt that can go now; told to stop: no new one,
        //  only the $TERM to come
        bool stopping = atomic_load (&actor.shared->stopping);
        s_event_t *next = stopping ? NULL : s_next_event (&actor);
        while (next && next->due <= jad_mono_ms ()) {
            if (s_attempt_start (&actor, next) != 0 && s_attempted (&actor, next, -1)) {
                zlistx_detach (actor.queue, next->handle);
                s_event_done (&actor, &next);
            }
            next = s_next_event (&actor);
        }
        int64_t wait = next ? next->due - jad_mono_ms () : -1;
        void *which = zpoller_wait (actor.poller, next ? (int)(wait > 0 ? wait : 0) : -1);
        if (!which && zpoller_terminated (actor.poller))
            break;
        s_event_t *ended = which && which != pipe ? s_in_flight (&actor, which) : NULL;
        if (ended)
            s_attempt_finish (&actor, ended);
    }
    //  attempts in flight give up (stopping) or end at their timeout: an
    //  event delivered meanwhile is done with; events left stay in the
    //  outbox, for whoever leads next
    for (s_event_t *event; actor.queue && (event = s_in_flight (&actor, NULL));)
        s_attempt_finish (&actor, event);
    while (actor.queue && zlistx_size (actor.queue)) {
        s_event_t *event = (s_event_t *)zlistx_detach (actor.queue, NULL);
        s_event_free (&event);
    }
    zlistx_destroy (&actor.queue);
    zlistx_destroy (&actor.routes);
    s_smtp_clear (&actor.smtp);
    ctl_store_destroy (&actor.store);
    zpoller_destroy (&actor.poller);
    ctl_curl_thread_end ();
}

ctl_notify_t *ctl_notify_new (const jad_controller_config_t *config, size_t queue_max)
{
    ctl_notify_t *self = (ctl_notify_t *)calloc (1, sizeof (ctl_notify_t));
    if (!self)
        return NULL;
    self->shared.queue_max = queue_max ? queue_max : S_QUEUE_MAX;
    atomic_init (&self->shared.stopping, false);
    if (ctl_store_target_shared (config->store) &&
        !(self->shared.outbox = strdup (config->store))) {
        ctl_notify_destroy (&self);
        return NULL;
    }
    if (ctl_notify_configure (self, config) != 0) {
        ctl_notify_destroy (&self);
        return NULL;
    }
    return self;
}

//  One (events, envs, target) triple of a CONFIG message
static void s_route_add (zmsg_t *msg, const jad_notify_config_t *route, const char *kind,
                         const char *value)
{
    char *events = NULL, *envs = NULL;
    size_t events_len = 0, envs_len = 0;
    FILE *events_stream = open_memstream (&events, &events_len);
    FILE *envs_stream = open_memstream (&envs, &envs_len);
    for (size_t index = 0; events_stream && index < route->event_count; index++)
        fprintf (events_stream, "%s%s", index ? " " : "", route->events[index]);
    for (size_t index = 0; envs_stream && index < route->env_count; index++)
        fprintf (envs_stream, "%s%s", index ? " " : "", route->envs[index]);
    if (events_stream)
        fclose (events_stream);
    if (envs_stream)
        fclose (envs_stream);
    char *target = jad_strdup_printf ("%s %s", kind, value);
    zmsg_addstr (msg, events ? events : "");
    zmsg_addstr (msg, envs ? envs : "");
    zmsg_addstr (msg, target ? target : "none");
    free (target);
    free (events);
    free (envs);
}

int ctl_notify_configure (ctl_notify_t *self, const jad_controller_config_t *config)
{
    self->routed = config->notify_count > 0;
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
    char port[16], timeout[16];
    snprintf (port, sizeof port, "%u", config->smtp_port);
    snprintf (timeout, sizeof timeout, "%u", config->smtp_timeout_ms);
    zmsg_addstr (msg, "CONFIG");
    zmsg_addstr (msg, config->smtp_host ? config->smtp_host : "");
    zmsg_addstr (msg, port);
    zmsg_addstr (msg, config->smtp_from ? config->smtp_from : "");
    zmsg_addstr (msg, config->smtp_starttls ? "1" : "0");
    zmsg_addstr (msg, config->smtp_user ? config->smtp_user : "");
    zmsg_addstr (msg, config->smtp_password_file ? config->smtp_password_file : "");
    zmsg_addstr (msg, timeout);
    for (size_t index = 0; index < config->notify_count; index++) {
        const jad_notify_config_t *route = &config->notify[index];
        if (route->command)
            s_route_add (msg, route, "command", route->command);
        if (route->webhook)
            s_route_add (msg, route, "webhook", route->webhook);
        if (route->email)
            s_route_add (msg, route, "email", route->email);
        for (size_t to = 0; to < route->to_count; to++) {
            const jad_contact_config_t *contact =
                jad_controller_config_contact (config, route->to[to]);
            if (contact && contact->command)
                s_route_add (msg, route, "command", contact->command);
            if (contact && contact->webhook)
                s_route_add (msg, route, "webhook", contact->webhook);
            if (contact && contact->email)
                s_route_add (msg, route, "email", contact->email);
        }
    }
    //  this one may wait: routes must not get lost
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
    //  a delivery in flight gives up rather than wait out its timeout
    atomic_store (&(*self_p)->shared.stopping, true);
    zactor_destroy (&(*self_p)->actor);
    free ((*self_p)->shared.outbox);
    free (*self_p);
    *self_p = NULL;
}

void ctl_notify_send (ctl_notify_t *self, const char *kind, json_t *fields)
{
    if (!self || !self->actor || !self->routed)
        return;
    json_t *event = fields ? json_deep_copy (fields) : json_object ();
    if (!event)
        return;
    char time[32], id[33];
    jad_iso_time (jad_now_ms (), time, sizeof time);
    jad_random_id (16, id);
    json_object_set_new (event, "id", json_string (id));
    json_object_set_new (event, "event", json_string (kind));
    json_object_set_new (event, "time", json_string (time));
    char *text = json_dumps (event, JSON_COMPACT | JAD_JSON_REAL);
    json_decref (event);
    if (!text)
        return;
    const char *env = json_string_value (json_object_get (fields, "env"));
    if (zsock_send (self->actor, "sssss", "EVENT", env ? env : "", kind, text, id) == 0)
        self->queued++;
    else {
        jad_log_error ("notify: delivery thread busy, dropping event=%s", kind);
        atomic_fetch_add (&self->shared.dropped, 1);
    }
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

uint64_t ctl_notify_emails_sent (ctl_notify_t *self)
{
    return self ? atomic_load (&self->shared.emails_sent) : 0;
}

uint64_t ctl_notify_emails_failed (ctl_notify_t *self)
{
    return self ? atomic_load (&self->shared.emails_failed) : 0;
}
