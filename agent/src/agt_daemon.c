//  agt_daemon - jadugar-agent run: the main loop
//  SPDX-License-Identifier: MPL-2.0
//
//  Life of a plan here: intake (agt_intake) stores it as accepted and acks
//  it; s_schedule picks the oldest accepted plan when idle, persists
//  "applying" and fetches the artifact (agt_fetch over the DEALER, or
//  skips when the release or the verified download is on disk); the
//  worker (agt_worker: agt_apply in the jadugar-apply helper process)
//  does the rest and sends events, which become outbox reports and state
//  here. A plan found "applying" at start
//  was interrupted: it is reported as such and applied again.

#include "agt_daemon.h"
#include "agt_config.h"
#include "agt_drops.h"
#include "agt_fetch.h"
#include "agt_intake.h"
#include "agt_link.h"
#include "agt_metrics.h"
#include "agt_mstream.h"
#include "agt_outbox.h"
#include "agt_policy.h"
#include "agt_store.h"
#include "agt_worker.h"
#include "jad_log.h"
#include "jad_policy.h"
#include "jad_reload.h"
#include "jad_util.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RESEND_MS        2000  //  unacknowledged reports go again
#define RESEND_BATCH     100   //  at most this many per round
#define FETCH_TICK_MS    250
#define METRICS_FLUSH_MS 1000  //  buffered samples go out this often
#define METRICS_BATCH    5000  //  samples per message
#define METRICS_WINDOW   8     //  batches sent and not acked, at most
#define METRICS_ACK_MS   3000  //  unacked batches go again after this
#define METRICS_DRAIN_MS 2000  //  at stop, wait this long for acks at most
#define STALE_TICK_MS    1000  //  how often the stale alarm is checked (at most)

struct _agt_daemon_t {
    char *data_dir;
    char downloads[PATH_MAX];  //  DATA/downloads
    jad_agent_config_t *config;
    jad_keypair_t *key;       //  our CURVE pair
    uint8_t signing_key[32];  //  pinned controller Ed25519 key
    agt_store_t *store;
    agt_outbox_t *outbox;
    agt_intake_t *intake;
    agt_drops_t *drops;
    agt_link_t *link;
    agt_worker_t *worker;    //  runs the apply helper
    int exit_timer;          //  kills a helper slow to exit, or -1
    char *helper;            //  its path, or NULL if not found
    zactor_t *metrics;       //  sampler thread
    agt_samples_t *samples;  //  samples waiting for the controller
    agt_mstream_t *mstream;  //  batches sent, waiting for their MetricAck
    bool connected;          //  the DEALER's handshake succeeded, not lost since
    zloop_t *loop;
    jad_plan_t *active;      //  plan being fetched or applied, or NULL
    agt_fetch_t *fetch;      //  running fetch of the active plan
    bool fetching_bundle;    //  that fetch is of its attestation bundle
    agt_policy_t *policy;    //  release checks here (policy-key), or NULL
    int64_t fetch_started;   //  mono ms
    bool hello_pending;      //  next Status says hello
    int heartbeat_timer;     //  zloop timer id of the heartbeat
    uint32_t peer_protocol;  //  other protocol version the controller spoke, logged once
    char enrolled[16];       //  last enrollment state the controller gave, or ""
    bool subscribed;         //  plan subscription connected since accepted
    bool beat_heard;         //  a signed heartbeat came on it since (logged once)
    char sha_hex[65];        //  of the active plan's artifact
    bool stale;              //  stale alarm raised: no signed traffic within stale-after
    uint64_t stale_alarms;   //  times it was raised since start
    //  the active plan's helper was lost after the switch and a rollback
    //  job runs; `lost` says how the helper was lost
    bool rolling_back;
    char lost[JAD_MAX_DETAIL / 2];
};

static void s_schedule (agt_daemon_t *self);
static void s_metrics_flush (agt_daemon_t *self, bool persist);
static void s_metrics_resend (agt_daemon_t *self);
static int s_on_helper (zloop_t *loop, zmq_pollitem_t *item, void *arg);
static void s_check_stale (agt_daemon_t *self);

//  --------------------------------------------------------------------------
//  Reports and status

static char *s_one_line (const char *text, size_t max)
{
    if (!text)
        return NULL;
    char *line = jad_text_sanitize (text, strlen (text), max);
    for (char *cursor = line; cursor && *cursor; cursor++)
        if (*cursor == '\n' || *cursor == '\t')
            *cursor = ' ';
    return line;
}

static int s_send_stored (uint64_t report_id, const uint8_t *data, size_t size, void *arg)
{
    (void)report_id;
    agt_daemon_t *self = (agt_daemon_t *)arg;
    return agt_link_send_bytes (self->link, data, size);
}

//  Queue a report in the outbox (durable), then try to send it now.
static void s_report (agt_daemon_t *self, const char *plan_id, const char *app, const char *version,
                      const char *step, uint32_t status, const char *detail, const char *output,
                      uint32_t duration_ms)
{
    jad_report_t report = {
        .plan_id = (char *)plan_id,
        .app = (char *)app,
        .version = (char *)version,
        .step = (char *)step,
        .status = status,
        .detail = s_one_line (detail, JAD_MAX_DETAIL - 1),
        .output = output ? jad_text_sanitize (output, strlen (output), JAD_MAX_OUTPUT - 1) : NULL,
        .time = jad_now_ms (),
        .duration_ms = duration_ms,
    };
    uint64_t report_id = agt_outbox_add (self->outbox, &report);
    if (status == JAD_REPORT_FAILED)
        jad_log_warning ("agent: report plan=%s step=%s status=%s detail=\"%s\"", plan_id, step,
                         jad_report_status_name (status), report.detail ? report.detail : "");
    else
        jad_log_info ("agent: report plan=%s step=%s status=%s detail=\"%s\"", plan_id, step,
                      jad_report_status_name (status), report.detail ? report.detail : "");
    free (report.detail);
    free (report.output);
    if (report_id == 0)
        return;  //  logged by the outbox
    uint8_t *data = NULL;
    size_t size = 0;
    if (agt_outbox_get (self->outbox, report_id, &data, &size) == 0)
        agt_link_send_bytes (self->link, data, size);
    free (data);
}

//  Refusal counters for a Status (intake by reason, dropped input).
typedef struct {
    jad_counter_t items[JAD_MAX_COUNTERS];
    size_t count;
} s_counters_t;

static void s_counter_add (const char *reason, uint64_t count, void *arg)
{
    s_counters_t *counters = (s_counters_t *)arg;
    if (counters->count < JAD_MAX_COUNTERS && jad_name_valid (reason)) {
        counters->items[counters->count].name = (char *)reason;
        counters->items[counters->count].value = count;
        counters->count++;
    }
}

//  Ask to be enrolled: the first message on every connection. The
//  controller answers with our state (accepted, pending or refused).
static void s_send_enroll (agt_daemon_t *self)
{
    jad_agent_msg_t msg = {.kind = JAD_AGENT_MSG_ENROLL};
    msg.enroll.name = self->config->name;
    msg.enroll.environment = self->config->environment;
    msg.enroll.token = self->config->token && *self->config->token ? self->config->token : NULL;
    if (agt_link_send (self->link, &msg))
        jad_log_debug ("agent: enrollment request not sent (sent again on reconnect)");
}

static void s_send_status (agt_daemon_t *self)
{
    jad_app_state_t *apps = NULL;
    size_t count = 0;
    if (agt_store_apps (self->store, &apps, &count))
        return;
    for (size_t index = 0; self->active && index < count; index++)
        if (streq (apps[index].app, self->active->app)) {
            char *applying = strdup ("applying");
            if (applying) {
                free (apps[index].health);
                apps[index].health = applying;
            }
        }
    jad_status_t status = {
        .name = self->config->name,
        .environment = self->config->environment,
        .last_sequence = agt_store_last_sequence (self->store),
        .incarnation = (char *)agt_store_incarnation (self->store),
        .hello = self->hello_pending,
        .apps = apps,
        .app_count = count,
        .agent_version = JADUGAR_VERSION,
    };
    s_counters_t counters = {.count = 0};
    agt_intake_each (self->intake, s_counter_add, &counters);
    agt_drops_each (self->drops, s_counter_add, &counters);
    status.refusals = counters.items;
    status.refusal_count = counters.count;
    status.stale = self->stale;
    status.stale_alarms = self->stale_alarms;
    jad_agent_msg_t msg = {.kind = JAD_AGENT_MSG_STATUS, .status = &status};
    if (agt_link_send (self->link, &msg) == 0 && self->hello_pending) {
        self->hello_pending = false;
        jad_log_info ("agent: hello sent name=%s env=%s last_sequence=%llu", status.name,
                      status.environment, (unsigned long long)status.last_sequence);
    }
    agt_store_apps_free (&apps, count);
}

static void s_resend_outbox (agt_daemon_t *self)
{
    if (agt_outbox_each (self->outbox, 0, RESEND_BATCH, s_send_stored, self) < 0)
        jad_log_warning ("agent: cannot read the outbox");
}

//  --------------------------------------------------------------------------
//  Plan outcome

//  The active plan ended (fetch failure or worker DONE).
static void s_plan_finished (agt_daemon_t *self, uint32_t status, const char *current,
                             const char *detail)
{
    jad_plan_t *plan = self->active;
    bool healthy = status == JAD_REPORT_HEALTHY;
    s_report (self, plan->plan_id, plan->app, plan->version, AGT_STEP_DONE, status, detail, NULL,
              0);
    char *line = s_one_line (detail, JAD_MAX_DETAIL - 1);
    if (agt_store_set_plan_state (self->store, plan->plan_id,
                                  healthy ? AGT_PLAN_DONE : AGT_PLAN_FAILED, NULL, line))
        jad_log_error ("agent: cannot record plan outcome plan=%s", plan->plan_id);
    free (line);
    //  A failed plan that left the host on its previous release is not a
    //  broken host: say "rolled-back" so that status tells the two apart.
    const char *health = healthy                                        ? "healthy"
                         : (current && !streq (current, plan->version)) ? "rolled-back"
                                                                        : "failed";
    //  A task leaves the release as it was; only a failed verify says
    //  something about the app's health. A refused plan touched nothing:
    //  the app keeps the health it had.
    bool task = plan->action != JAD_PLAN_ACTION_APPLY;
    bool refused = status == JAD_REPORT_REFUSED;
    if (!refused && (!task || (plan->action == JAD_PLAN_ACTION_VERIFY && !healthy)) &&
        agt_store_app_set (self->store, plan->app, current, health, plan->plan_id))
        jad_log_error ("agent: cannot record app state app=%s", plan->app);
    //  the release is unpacked (or refused): the download is not needed
    char archive[PATH_MAX];
    jad_format (archive, sizeof archive, "%s/%s", self->downloads, self->sha_hex);
    unlink (archive);
    if (healthy)
        jad_log_info ("agent: plan finished plan=%s app=%s version=%s outcome=healthy",
                      plan->plan_id, plan->app, plan->version);
    else
        jad_log_warning ("agent: plan finished plan=%s app=%s version=%s outcome=%s"
                         " current=%s",
                         plan->plan_id, plan->app, plan->version, refused ? "refused" : "failed",
                         current ? current : "(none)");
    jad_plan_destroy (&self->active);
    agt_fetch_destroy (&self->fetch);
    if (agt_metrics_plan (self->metrics, NULL) && !zsys_interrupted)
        jad_log_warning ("agent: cannot tell the sampler the plan ended");
    s_send_status (self);
}

//  Version ROOT/APP/current points at, or NULL. Caller frees.
static char *s_current_version (agt_daemon_t *self, const char *app)
{
    char link[PATH_MAX], version[JAD_NAME_MAX + 1];
    if (jad_format (link, sizeof link, "%s/%s/current", self->config->root, app) != 0)
        return NULL;
    return jad_current_version (link, version) ? strdup (version) : NULL;
}

//  Events from the worker.
static void s_on_event (jad_apply_event_t **event_p, void *arg)
{
    agt_daemon_t *self = (agt_daemon_t *)arg;
    jad_apply_event_t *event = *event_p;
    jad_plan_t *plan = self->active;
    if (!plan || !event->plan_id || !streq (event->plan_id, plan->plan_id)) {
        agt_drops_hit (self->drops, "worker_stray", "event for plan %s",
                       event->plan_id ? event->plan_id : "-");
        jad_apply_event_destroy (event_p);
        return;
    }
    switch (event->kind) {
        case JAD_APPLY_EVENT_STEP:
            if (event->status == JAD_REPORT_STARTED &&
                agt_store_set_plan_state (self->store, plan->plan_id, AGT_PLAN_APPLYING,
                                          event->step, NULL))
                jad_log_error ("agent: cannot record step plan=%s", plan->plan_id);
            s_report (self, plan->plan_id, plan->app, plan->version, event->step, event->status,
                      event->detail, event->output, event->duration_ms);
            break;
        case JAD_APPLY_EVENT_RELEASE_ADDED:
            if (agt_store_release_add (self->store, plan->app, event->version, event->sha256_hex))
                jad_log_error ("agent: cannot record release app=%s", plan->app);
            break;
        case JAD_APPLY_EVENT_RELEASE_REMOVED:
            if (agt_store_release_remove (self->store, plan->app, event->version))
                jad_log_error ("agent: cannot record release removal app=%s", plan->app);
            break;
        case JAD_APPLY_EVENT_DONE:
            if (self->rolling_back) {
                //  the outcome of the rollback after a lost helper
                char detail[JAD_MAX_DETAIL];
                jad_format (detail, sizeof detail, "%s; %s", self->lost,
                            event->detail ? event->detail : "rollback ended");
                self->rolling_back = false;
                s_plan_finished (self, event->status, event->version, detail);
            } else
                s_plan_finished (self, event->status, event->version, event->detail);
            break;
    }
    jad_apply_event_destroy (event_p);
}

//  --------------------------------------------------------------------------
//  Fetch and apply

//  Run the active plan's `action` (its own, or AGT_ACTION_ROLLBACK) in
//  the apply helper; a helper that cannot start fails the plan.
static void s_start_apply (agt_daemon_t *self, const char *archive, bool release_known,
                           uint32_t action)
{
    jad_plan_t *plan = self->active;
    char problem[JAD_MAX_DETAIL - 64] = "out of memory";
    jad_apply_job_t *job = jad_apply_job_new ();
    if (!job)
        goto failed;
    job->plan_id = strdup (plan->plan_id);
    job->app = strdup (plan->app);
    job->version = strdup (plan->version);
    job->sha256_hex = strdup (self->sha_hex);
    job->artifact_length = plan->artifact_length;
    job->unpacked_size = plan->unpacked_size;
    job->archive = archive ? strdup (archive) : NULL;
    job->url = plan->artifact_url && *plan->artifact_url && !archive && !release_known
                   ? strdup (plan->artifact_url)
                   : NULL;
    job->release_known = release_known;
    job->previous_hint = agt_store_app_version (self->store, plan->app);
    job->environment = strdup (self->config->environment);
    job->host = strdup (self->config->name);
    job->root = strdup (self->config->root);
    job->downloads = strdup (self->downloads);
    job->hook_user = self->config->hook_user ? strdup (self->config->hook_user) : NULL;
    job->hook_timeout_ms =
        plan->hook_timeout_ms ? plan->hook_timeout_ms : self->config->hook_timeout_ms;
    job->step_deadline_ms = plan->step_deadline_ms;
    job->keep_releases = self->config->keep_releases;
    job->action = action;
    if (plan->migration_count > 0) {
        job->migrations = calloc (plan->migration_count, sizeof (char *));
        if (!job->migrations)
            goto failed;
        job->migration_count = plan->migration_count;
        for (size_t index = 0; index < plan->migration_count; index++)
            if (!(job->migrations[index] = strdup (plan->migrations[index])))
                goto failed;
    }
    if (!job->plan_id || !job->app || !job->version || !job->sha256_hex || !job->environment ||
        !job->host || !job->root || !job->downloads)
        goto failed;
    if (agt_worker_start (self->worker, job, problem, sizeof problem) == 0) {
        jad_apply_job_destroy (&job);
        zmq_pollitem_t item = {NULL, agt_worker_fd (self->worker), ZMQ_POLLIN, 0};
        if (zloop_poller (self->loop, &item, s_on_helper, self) == 0) {
            //  end of input shows as an error: our handler sees it
            zloop_poller_set_tolerant (self->loop, &item);
            return;
        }
        //  cannot watch it: let it finish, record what it said, fail the plan
        jad_log_error ("agent: cannot poll the apply helper");
        agt_worker_drain (self->worker, s_on_event, self);
        if (!self->active)
            return;
        jad_format (problem, sizeof problem, "agent: cannot poll the apply helper");
    }

failed:
    jad_apply_job_destroy (&job);
    char detail[JAD_MAX_DETAIL];
    jad_format (detail, sizeof detail, "agent: cannot start the apply helper: %s", problem);
    jad_log_error ("%s", detail);
    char *current = s_current_version (self, plan->app);
    if (self->rolling_back) {
        char final[JAD_MAX_DETAIL];
        jad_format (final, sizeof final, "%s; no rollback ran (%s): current -> releases/%s",
                    self->lost, detail, current ? current : "(none)");
        self->rolling_back = false;
        s_plan_finished (self, JAD_REPORT_FAILED, current, final);
    } else
        s_plan_finished (self, JAD_REPORT_FAILED, current, detail);
    free (current);
}

static int s_send_fetch (const uint8_t *sha256, uint64_t offset, uint32_t length, void *arg)
{
    agt_daemon_t *self = (agt_daemon_t *)arg;
    jad_agent_msg_t msg = {.kind = JAD_AGENT_MSG_FETCH};
    memcpy (msg.fetch.sha256, sha256, 32);
    msg.fetch.offset = offset;
    msg.fetch.length = length;
    return agt_link_send (self->link, &msg);
}

//  The fetch moved on: start the apply or fail the plan.
static void s_bundle_fetched (agt_daemon_t *self, agt_fetch_state_t state);

static void s_fetch_progress (agt_daemon_t *self, agt_fetch_state_t state)
{
    if (state == AGT_FETCH_RUNNING)
        return;
    if (self->fetching_bundle) {
        s_bundle_fetched (self, state);
        return;
    }
    jad_plan_t *plan = self->active;
    uint32_t duration = (uint32_t)(jad_mono_ms () - self->fetch_started);
    if (state == AGT_FETCH_DONE) {
        char detail[64];
        jad_format (detail, sizeof detail, "%llu bytes verified",
                    (unsigned long long)agt_fetch_received (self->fetch));
        s_report (self, plan->plan_id, plan->app, plan->version, "fetch", JAD_REPORT_OK, detail,
                  NULL, duration);
        char archive[PATH_MAX];
        jad_format (archive, sizeof archive, "%s", agt_fetch_path (self->fetch));
        agt_fetch_destroy (&self->fetch);
        s_start_apply (self, archive, false, plan->action);
        return;
    }
    char detail[JAD_MAX_DETAIL];
    jad_format (detail, sizeof detail, "%s", agt_fetch_error (self->fetch));
    s_report (self, plan->plan_id, plan->app, plan->version, "fetch", JAD_REPORT_FAILED, detail,
              NULL, duration);
    char final[JAD_MAX_DETAIL + 8];
    jad_format (final, sizeof final, "fetch: %s", detail);
    char *current = s_current_version (self, plan->app);
    s_plan_finished (self, JAD_REPORT_FAILED, current, final);
    free (current);
}

//  A verified download of this artifact is already on disk.
static bool s_download_ready (agt_daemon_t *self, const jad_plan_t *plan, char *path, size_t len)
{
    jad_format (path, len, "%s/%s", self->downloads, self->sha_hex);
    uint8_t sha[32];
    uint64_t size = 0;
    if (access (path, R_OK) || jad_sha256_file (path, sha, &size))
        return false;
    return size == plan->artifact_length && memcmp (sha, plan->artifact_sha256, 32) == 0;
}

//  The active plan's release: from disk, a verified download, its URL or
//  the controller's store (agt_fetch), then the worker.
static void s_start_release (agt_daemon_t *self)
{
    jad_plan_t *plan = self->active;
    //  these tasks work on releases already on disk: nothing to fetch
    if (plan->action == JAD_PLAN_ACTION_MIGRATE_DOWN || plan->action == JAD_PLAN_ACTION_VERIFY) {
        s_start_apply (self, NULL, true, plan->action);
        return;
    }
    char release_dir[PATH_MAX];
    jad_format (release_dir, sizeof release_dir, "%s/%s/releases/%s", self->config->root, plan->app,
                plan->version);
    struct stat info;
    bool on_disk = agt_store_release_known (self->store, plan->app, plan->version, self->sha_hex) &&
                   lstat (release_dir, &info) == 0 && S_ISDIR (info.st_mode);
    char archive[PATH_MAX];
    if (on_disk || s_download_ready (self, plan, archive, sizeof archive)) {
        s_report (self, plan->plan_id, plan->app, plan->version, "fetch", JAD_REPORT_STARTED, NULL,
                  NULL, 0);
        s_report (self, plan->plan_id, plan->app, plan->version, "fetch", JAD_REPORT_OK,
                  on_disk ? "release already on disk" : "artifact already downloaded", NULL, 0);
        s_start_apply (self, on_disk ? NULL : archive, on_disk, plan->action);
        return;
    }
    if (plan->artifact_url && *plan->artifact_url) {
        s_start_apply (self, NULL, false, plan->action);  //  the worker downloads it
        return;
    }
    s_report (self, plan->plan_id, plan->app, plan->version, "fetch", JAD_REPORT_STARTED, NULL,
              NULL, 0);
    self->fetch_started = jad_mono_ms ();
    self->fetch = agt_fetch_new (self->downloads, plan->artifact_sha256, plan->artifact_length,
                                 plan->step_deadline_ms, s_send_fetch, self);
    if (!self->fetch) {
        s_report (self, plan->plan_id, plan->app, plan->version, "fetch", JAD_REPORT_FAILED,
                  "cannot create the download file", NULL, 0);
        char *current = s_current_version (self, plan->app);
        s_plan_finished (self, JAD_REPORT_FAILED, current,
                         "fetch: cannot create the download file");
        free (current);
        return;
    }
    s_fetch_progress (self, agt_fetch_tick (self->fetch));
}

//  The release checks refused the active plan: counted (refused_policy),
//  logged, reported; nothing was fetched, unpacked or switched.
static void s_policy_refused (agt_daemon_t *self, const char *why)
{
    jad_plan_t *plan = self->active;
    agt_intake_refuse (self->intake, "policy", plan->plan_id, why);
    if (agt_intake_flush (self->intake))
        jad_log_warning ("agent: cannot store refusal counters");
    char detail[JAD_MAX_DETAIL];
    jad_format (detail, sizeof detail, "refused by release checks: %s", why);
    char *current = s_current_version (self, plan->app);
    s_plan_finished (self, JAD_REPORT_REFUSED, current, detail);
    free (current);
}

//  Judge the active plan over its bundle (NULL: it names none), then go on
//  to its release or refuse it.
static void s_policy_judge (agt_daemon_t *self, const uint8_t *bundle, size_t len)
{
    char why[JAD_MAX_DETAIL - 64];
    if (agt_policy_judge (self->policy, self->active, bundle, len, jad_now_ms (), why,
                          sizeof why) == 0) {
        jad_log_info ("agent: release checks met plan=%s app=%s version=%s", self->active->plan_id,
                      self->active->app, self->active->version);
        s_start_release (self);
    } else
        s_policy_refused (self, why);
}

//  The bundle's fetch ended: read and judge it, or refuse the plan.
static void s_bundle_fetched (agt_daemon_t *self, agt_fetch_state_t state)
{
    char path[PATH_MAX];
    jad_format (path, sizeof path, "%s", agt_fetch_path (self->fetch));
    char error[JAD_MAX_DETAIL / 2];
    jad_format (error, sizeof error, "%s", agt_fetch_error (self->fetch));
    agt_fetch_destroy (&self->fetch);
    self->fetching_bundle = false;
    if (state != AGT_FETCH_DONE) {
        char why[JAD_MAX_DETAIL - 64];
        jad_format (why, sizeof why, "attestation bundle: %s", error);
        s_policy_refused (self, why);
        return;
    }
    zchunk_t *bundle = zchunk_slurp (path, JAD_BUNDLE_MAX_BYTES);
    unlink (path);
    if (!bundle) {
        s_policy_refused (self, "attestation bundle: cannot read the verified download");
        return;
    }
    s_policy_judge (self, zchunk_data (bundle), zchunk_size (bundle));
    zchunk_destroy (&bundle);
}

static void s_start_plan (agt_daemon_t *self, jad_plan_t *plan)
{
    self->active = plan;
    jad_hex (plan->artifact_sha256, 32, self->sha_hex);
    jad_log_info ("agent: applying plan=%s app=%s version=%s action=%u", plan->plan_id, plan->app,
                  plan->version, plan->action);
    if (agt_store_set_plan_state (self->store, plan->plan_id, AGT_PLAN_APPLYING, "fetch", NULL)) {
        //  cannot persist "applying": do not start work we could not resume
        jad_plan_destroy (&self->active);
        return;
    }
    //  no smoke re-runs of the app until the plan ends (s_plan_finished)
    if (agt_metrics_plan (self->metrics, plan->app))
        jad_log_warning ("agent: cannot tell the sampler a plan begins app=%s", plan->app);
    if (!self->policy || !agt_policy_needed (plan)) {
        s_start_release (self);
        return;
    }
    //  release checks first: nothing of the release is fetched before
    if (!plan->has_bundle) {
        s_policy_judge (self, NULL, 0);
        return;
    }
    if (plan->bundle_length > JAD_BUNDLE_MAX_BYTES) {
        s_policy_refused (self, "attestation bundle larger than 16 MiB");
        return;
    }
    self->fetch = agt_fetch_new (self->downloads, plan->bundle_sha256, plan->bundle_length,
                                 plan->step_deadline_ms, s_send_fetch, self);
    if (!self->fetch) {
        s_policy_refused (self, "attestation bundle: cannot create the download file");
        return;
    }
    self->fetching_bundle = true;
    s_fetch_progress (self, agt_fetch_tick (self->fetch));
}

//  When idle, start the oldest accepted plan. The helper of the plan
//  that just ended may still be on its way out after its outcome: the
//  next plan starts when it is gone (s_on_helper schedules again).
static void s_schedule (agt_daemon_t *self)
{
    while (!self->active && !agt_worker_busy (self->worker)) {
        char *plan_id = agt_store_next_plan (self->store);
        if (!plan_id)
            return;
        jad_plan_t *plan = agt_store_load_plan (self->store, plan_id);
        if (!plan) {
            agt_store_set_plan_state (self->store, plan_id, AGT_PLAN_FAILED, NULL,
                                      "stored plan unreadable");
            free (plan_id);
            continue;
        }
        free (plan_id);
        s_start_plan (self, plan);
        if (!self->active)
            return;  //  could not persist: try again on the next tick
    }
}

//  --------------------------------------------------------------------------
//  Input

//  A known plan arrived again: re-queue its outcome if it has one.
static void s_requeue_outcome (agt_daemon_t *self, const jad_plan_t *plan)
{
    char *state = NULL, *step = NULL;
    if (agt_store_plan_state (self->store, plan->plan_id, &state, &step) == 0) {
        char *detail = agt_store_plan_detail (self->store, plan->plan_id);
        if (streq (state, AGT_PLAN_DONE))
            s_report (self, plan->plan_id, plan->app, plan->version, AGT_STEP_DONE,
                      JAD_REPORT_HEALTHY, detail, NULL, 0);
        else if (streq (state, AGT_PLAN_FAILED) || streq (state, AGT_PLAN_SUPERSEDED))
            s_report (self, plan->plan_id, plan->app, plan->version, AGT_STEP_DONE,
                      JAD_REPORT_FAILED, detail, NULL, 0);
        free (detail);
    }
    free (state);
    free (step);
}

static void s_intake (agt_daemon_t *self, const uint8_t *data, size_t size, const char *source)
{
    zlist_t *superseded = zlist_new ();
    jad_plan_t *plan = NULL;
    agt_intake_result_t result =
        agt_intake_plan (self->intake, data, size, jad_now_ms (), &plan, superseded);
    if (result == AGT_INTAKE_REFUSED) {
        zlist_destroy (&superseded);
        return;
    }
    s_check_stale (self);
    jad_log_info ("agent: plan accepted plan=%s app=%s version=%s sequence=%llu source=%s%s%s%s",
                  plan->plan_id, plan->app, plan->version, (unsigned long long)plan->sequence,
                  source, result == AGT_INTAKE_KNOWN ? " known=yes" : "",
                  plan->undoes ? " undoes=" : "", plan->undoes ? plan->undoes : "");
    jad_agent_msg_t ack = {.kind = JAD_AGENT_MSG_ACK};
    ack.ack.plan_id = plan->plan_id;
    ack.ack.sequence = plan->sequence;
    if (agt_link_send (self->link, &ack))
        jad_log_debug ("agent: ack not sent plan=%s (the controller re-sends)", plan->plan_id);

    for (char *older = superseded ? (char *)zlist_first (superseded) : NULL; older;
         older = (char *)zlist_next (superseded)) {
        char detail[128];
        jad_format (detail, sizeof detail, "superseded by plan %s", plan->plan_id);
        jad_plan_t *old_plan = agt_store_load_plan (self->store, older);
        s_report (self, older, plan->app, old_plan ? old_plan->version : plan->version,
                  AGT_STEP_DONE, JAD_REPORT_FAILED, detail, NULL, 0);
        jad_plan_destroy (&old_plan);
    }
    zlist_destroy (&superseded);
    if (result == AGT_INTAKE_KNOWN)
        s_requeue_outcome (self, plan);
    jad_plan_destroy (&plan);
    s_schedule (self);
}

//  A message in another protocol version came from the controller (or
//  it told us that we speak another one): say so once per version. `ours`
//  is the version we speak for that message (JAD_PLAN_PROTOCOL for plans).
static void s_peer_protocol (agt_daemon_t *self, uint32_t protocol, uint32_t ours, const char *said)
{
    agt_drops_hit (self->drops, "protocol", "controller protocol %u", protocol);
    if (self->peer_protocol == protocol)
        return;
    self->peer_protocol = protocol;
    jad_log_error ("agent: controller speaks protocol %u, this agent speaks %u; upgrade %s%s%s",
                   protocol, ours,
                   protocol > ours ? "this agent (jadugar-agent) to match the controller"
                                   : "the controller (jadugar-controller) to match",
                   said ? "; controller says: " : "", said ? said : "");
}

//  The protocol version of a frame if it is readable and not `ours`, else 0.
static uint32_t s_other_protocol (zframe_t *frame, uint32_t ours)
{
    uint32_t protocol = jad_wire_peek_protocol (zframe_data (frame), zframe_size (frame));
    return protocol == ours ? 0 : protocol;
}

static int s_on_sub (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    agt_daemon_t *self = (agt_daemon_t *)arg;
    if (!(zsock_events (reader) & ZMQ_POLLIN))
        return 0;  //  as s_on_dealer: never block the loop
    zmsg_t *msg = zmsg_recv (reader);
    if (!msg)
        return 0;
    char topic[128], beat[128];
    jad_format (topic, sizeof topic, "plan/%s/", self->config->environment);
    jad_format (beat, sizeof beat, "beat/%s/", self->config->environment);
    zframe_t *first = zmsg_first (msg);
    zframe_t *envelope = zmsg_next (msg);
    if (zmsg_size (msg) != 2)
        agt_drops_hit (self->drops, "sub_frames", "%zu frames", zmsg_size (msg));
    else if (zframe_streq (first, beat) && !s_other_protocol (envelope, JAD_PROTOCOL)) {
        if (agt_intake_heartbeat (self->intake, zframe_data (envelope), zframe_size (envelope),
                                  jad_now_ms ()) == 0) {
            //  the observable that the subscription is up (it carries
            //  heartbeats only since plans travel on the DEALER)
            if (!self->beat_heard)
                jad_log_info ("agent: first signed heartbeat on the subscription");
            self->beat_heard = true;
            s_check_stale (self);
        }
    } else if (!zframe_streq (first, topic) && !zframe_streq (first, beat))
        agt_drops_hit (self->drops, "sub_topic", "unexpected topic of %zu bytes",
                       zframe_size (first));
    else if (zframe_streq (first, beat))
        s_peer_protocol (self, s_other_protocol (envelope, JAD_PROTOCOL), JAD_PROTOCOL, NULL);
    else if (s_other_protocol (envelope, JAD_PLAN_PROTOCOL))
        s_peer_protocol (self, s_other_protocol (envelope, JAD_PLAN_PROTOCOL), JAD_PLAN_PROTOCOL,
                         NULL);
    else
        s_intake (self, zframe_data (envelope), zframe_size (envelope), "broadcast");
    zmsg_destroy (&msg);
    return 0;
}

static void s_on_chunk (agt_daemon_t *self, jad_ctl_msg_t *msg)
{
    if (!self->fetch) {
        agt_drops_hit (self->drops, "chunk_unexpected", "no fetch running");
        return;
    }
    agt_fetch_state_t state =
        agt_fetch_chunk (self->fetch, msg->chunk.sha256, msg->chunk.offset, msg->chunk.data,
                         msg->chunk.data_size, msg->chunk.total, msg->chunk.error);
    s_fetch_progress (self, state);
}

//  Accepted: the enrollment token has done its work. Take it out of
//  agent.yaml (a token left on a host could enroll other keys) and out of
//  memory; this agent's key is what the controller knows it by now.
static void s_erase_token (agt_daemon_t *self)
{
    char err[JAD_MAX_DETAIL];
    int rc = *self->config->token ? agt_config_erase_token (self->data_dir, err, sizeof err) : 0;
    if (rc == 1)
        jad_log_info ("agent: enrollment token erased from agent.yaml (accepted)");
    else if (rc < 0)
        jad_log_warning ("agent: enrollment token not erased: %s", err);
    sodium_memzero (self->config->token, strlen (self->config->token));
    free (self->config->token);
    self->config->token = NULL;
}

static void s_on_enroll_reply (agt_daemon_t *self, jad_ctl_msg_t *msg)
{
    const char *state = msg->enroll_reply.state;
    bool changed = !streq (self->enrolled, state);
    if (changed && streq (state, "accepted"))
        jad_log_info ("agent: enrolled name=%s state=accepted",
                      msg->enroll_reply.name ? msg->enroll_reply.name : self->config->name);
    else if (changed && streq (state, "pending"))
        jad_log_warning ("agent: enrollment pending name=%s: an operator must run "
                         "'jadctl agents accept %s' (or give this agent the enrollment token)",
                         self->config->name, self->config->name);
    else if (changed)
        jad_log_error ("agent: enrollment %s name=%s detail=\"%s\"", state, self->config->name,
                       msg->enroll_reply.detail ? msg->enroll_reply.detail : "");
    if (changed && streq (state, "accepted") && *self->enrolled) {
        //  accepted after waiting: say hello so that the controller catches us up
        self->hello_pending = true;
        s_send_status (self);
    }
    snprintf (self->enrolled, sizeof self->enrolled, "%s", state);
    if (streq (state, "accepted") && self->config->token)
        s_erase_token (self);
    //  The plan subscription was refused while we were not accepted, and
    //  libzmq does not retry a refused connection: connect it again.
    if (streq (state, "accepted") && !self->subscribed) {
        self->subscribed = agt_link_resubscribe (self->link) == 0;
        self->beat_heard = false;
    }
}

//  A MetricAck or ReportAck: free what it covers (and send what the
//  metric window now has room for). False for any other message.
static bool s_on_ack (agt_daemon_t *self, const jad_ctl_msg_t *msg)
{
    if (msg->kind == JAD_CTL_MSG_METRIC_ACK) {
        agt_mstream_ack (self->mstream, msg->metric_ack.stream, msg->metric_ack.seq);
        s_metrics_flush (self, false);
        return true;
    }
    if (msg->kind == JAD_CTL_MSG_REPORT_ACK) {
        if (agt_outbox_ack (self->outbox, msg->report_ack.incarnation, msg->report_ack.report_ids,
                            msg->report_ack.report_id_count) < 0)
            jad_log_warning ("agent: cannot delete acknowledged reports");
        return true;
    }
    return false;
}

static int s_on_dealer (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    agt_daemon_t *self = (agt_daemon_t *)arg;
    //  never block the loop: the poll's readiness may be gone by now (a
    //  handler before this one in the same turn read or reconnected it)
    if (!(zsock_events (reader) & ZMQ_POLLIN))
        return 0;
    zmsg_t *msg = zmsg_recv (reader);
    if (!msg)
        return 0;
    if (zmsg_size (msg) != 1) {
        agt_drops_hit (self->drops, "dealer_frames", "%zu frames", zmsg_size (msg));
        zmsg_destroy (&msg);
        return 0;
    }
    zframe_t *frame = zmsg_first (msg);
    char err[JAD_ERR_LEN] = "";
    jad_ctl_msg_t *decoded = jad_ctl_msg_decode (zframe_data (frame), zframe_size (frame), err);
    uint32_t protocol = jad_wire_peek_protocol (zframe_data (frame), zframe_size (frame));
    //  (a message that carries a plan speaks JAD_PLAN_PROTOCOL and decodes;
    //  any other of a version not ours is a controller of another version)
    if (!decoded && protocol != 0 && protocol != JAD_PROTOCOL)
        s_peer_protocol (self, protocol, JAD_PROTOCOL, NULL);
    else if (!decoded)
        agt_drops_hit (self->drops, "dealer_malformed", "%s", err);
    else if (decoded->kind == JAD_CTL_MSG_PROTOCOL_ERROR)
        //  the controller speaks our version but not this one of ours
        jad_log_error ("agent: controller refuses our protocol %u (it speaks %u): %s",
                       decoded->protocol_error.agent_protocol,
                       decoded->protocol_error.controller_protocol,
                       decoded->protocol_error.message ? decoded->protocol_error.message : "-");
    else if (decoded->kind == JAD_CTL_MSG_PLAN && decoded->plan) {
        zchunk_t *bytes = jad_envelope_encode (decoded->plan);
        if (bytes)
            s_intake (self, zchunk_data (bytes), zchunk_size (bytes), "direct");
        else
            agt_drops_hit (self->drops, "dealer_plan", "envelope does not re-encode");
        zchunk_destroy (&bytes);
    } else if (decoded->kind == JAD_CTL_MSG_CHUNK)
        s_on_chunk (self, decoded);
    else if (decoded->kind == JAD_CTL_MSG_ENROLL_REPLY)
        s_on_enroll_reply (self, decoded);
    else if (!s_on_ack (self, decoded))
        agt_drops_hit (self->drops, "dealer_kind", "kind %d", (int)decoded->kind);
    jad_ctl_msg_destroy (&decoded);
    zmsg_destroy (&msg);
    return 0;
}

static int s_on_monitor (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    (void)reader;
    agt_daemon_t *self = (agt_daemon_t *)arg;
    agt_link_event_t event = agt_link_monitor_recv (self->link);
    if (event == AGT_LINK_CONNECTED) {
        jad_log_info ("agent: connected controller=%s", self->config->controller);
        self->hello_pending = true;
        s_send_enroll (self);
        s_send_status (self);
        self->connected = true;
        s_resend_outbox (self);
        s_metrics_resend (self);
        s_metrics_flush (self, false);
        if (self->fetch)
            s_fetch_progress (self, agt_fetch_tick (self->fetch));
    } else if (event == AGT_LINK_DISCONNECTED) {
        jad_log_info ("agent: disconnected controller=%s", self->config->controller);
        self->hello_pending = true;
        self->subscribed = false;
        self->connected = false;
    } else if (event == AGT_LINK_REFUSED) {
        //  the controller lets unknown keys in to enroll: it refuses only
        //  rejected and removed agents, and libzmq does not try again
        jad_log_error ("agent: the controller refuses this agent's key (an operator removed or"
                       " rejected %s): it stays disconnected; to bring it back, enroll it anew"
                       " with a fresh key ('jadugar-agent init' in an empty data dir)",
                       self->config->name);
        self->connected = false;
    }
    return 0;
}

//  The helper exited without an outcome (it crashed, or was killed): the
//  plan failed. If it had switched `current` to the new release, a new
//  helper rolls the host back exactly as a failing step would (see
//  AGT_ACTION_ROLLBACK) and the outcome says so; only if that one is lost
//  too (or cannot start) does the host stay where it is, and the outcome
//  says that instead.
static void s_helper_lost (agt_daemon_t *self)
{
    jad_plan_t *plan = self->active;
    if (!plan)
        return;
    const char *detail = agt_worker_lost_detail (self->worker);
    const char *step = agt_worker_step (self->worker);
    jad_log_error ("agent: %s plan=%s", detail, plan->plan_id);
    s_report (self, plan->plan_id, plan->app, plan->version, step ? step : "apply",
              JAD_REPORT_FAILED, detail, NULL, 0);
    char *current = s_current_version (self, plan->app);
    bool switched = plan->action == JAD_PLAN_ACTION_APPLY && current &&
                    streq (current, plan->version) && step &&
                    (streq (step, "switch") || streq (step, "activate") || streq (step, "smoke") ||
                     streq (step, "rollback"));
    char final[JAD_MAX_DETAIL];
    if (self->rolling_back) {
        //  the rollback's own helper was lost
        jad_format (final, sizeof final,
                    "%s; the rollback was lost too (%s): current -> releases/%s", self->lost,
                    detail, current ? current : "(none)");
        self->rolling_back = false;
    } else if (switched) {
        jad_format (self->lost, sizeof self->lost, "%s", detail);
        self->rolling_back = true;
        jad_log_warning ("agent: rolling back plan=%s app=%s from version=%s", plan->plan_id,
                         plan->app, plan->version);
        free (current);
        s_start_apply (self, NULL, true, AGT_ACTION_ROLLBACK);
        return;
    } else
        jad_format (final, sizeof final, "%s", detail);
    s_plan_finished (self, JAD_REPORT_FAILED, current, final);
    free (current);
}

//  The helper is reaped: the worker is idle again.
static void s_helper_ended (agt_daemon_t *self, agt_worker_state_t state)
{
    if (self->exit_timer >= 0) {
        zloop_timer_end (self->loop, self->exit_timer);
        self->exit_timer = -1;
    }
    if (state == AGT_WORKER_LOST)
        s_helper_lost (self);
    s_schedule (self);
}

//  The helper's time to exit is up: it is killed now.
static int s_on_helper_due (zloop_t *loop, int timer_id, void *arg)
{
    (void)timer_id;
    agt_daemon_t *self = (agt_daemon_t *)arg;
    self->exit_timer = -1;
    zmq_pollitem_t item = {NULL, agt_worker_fd (self->worker), ZMQ_POLLIN, 0};
    agt_worker_state_t state = agt_worker_read (self->worker, s_on_event, self);
    if (state == AGT_WORKER_EXITING) {
        //  not due yet by the worker's clock: look again shortly
        self->exit_timer = zloop_timer (loop, 100, 1, s_on_helper_due, self);
        return 0;
    }
    zloop_poller_end (loop, &item);
    s_helper_ended (self, state);
    return 0;
}

static int s_on_helper (zloop_t *loop, zmq_pollitem_t *item, void *arg);

//  The helper closed its events but has not exited: its next plan waits
//  (s_schedule) while the loop goes on; its exit, or its exit-due time,
//  ends the wait.
static void s_watch_exit (agt_daemon_t *self)
{
    zmq_pollitem_t item = {NULL, agt_worker_fd (self->worker), ZMQ_POLLIN, 0};
    int64_t left = agt_worker_exit_due (self->worker) - jad_mono_ms ();
    self->exit_timer =
        zloop_timer (self->loop, left > 0 ? (size_t)left : 1, 1, s_on_helper_due, self);
    if (self->exit_timer >= 0 && zloop_poller (self->loop, &item, s_on_helper, self) == 0) {
        zloop_poller_set_tolerant (self->loop, &item);
        return;
    }
    jad_log_error ("agent: cannot watch the apply helper's exit; waiting for it");
    s_helper_ended (self, agt_worker_drain (self->worker, s_on_event, self));
}

static int s_on_helper (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    agt_daemon_t *self = (agt_daemon_t *)arg;
    agt_worker_state_t state = agt_worker_read (self->worker, s_on_event, self);
    if (state == AGT_WORKER_RUNNING)
        return 0;
    //  (its pidfd may have the number its event pipe had: tell the two
    //  apart by the timer, which is set only while its exit is watched)
    if (state == AGT_WORKER_EXITING && self->exit_timer >= 0)
        return 0;  //  already watching its exit
    zloop_poller_end (loop, item);
    if (state == AGT_WORKER_EXITING)
        s_watch_exit (self);
    else
        s_helper_ended (self, state);
    return 0;
}

//  Raise the stale alarm when no signed heartbeat or plan was accepted
//  within stale-after (a controller that is gone, or traffic held back:
//  a freeze), and clear it when signed traffic comes again. Each edge is
//  logged once and sent at once in a Status.
static void s_check_stale (agt_daemon_t *self)
{
    int64_t quiet = jad_mono_ms () - agt_intake_last_signed (self->intake);
    bool stale = quiet > (int64_t)self->config->stale_after_ms;
    if (stale == self->stale)
        return;
    self->stale = stale;
    if (stale) {
        self->stale_alarms++;
        jad_log_warning ("agent: stale: no signed heartbeat or plan from the controller for "
                         "%lld ms (stale-after %u ms); plans may be held back",
                         (long long)quiet, self->config->stale_after_ms);
    } else
        jad_log_info ("agent: signed controller traffic again; stale alarm cleared");
    s_send_status (self);
}

static int s_on_stale_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_check_stale ((agt_daemon_t *)arg);
    return 0;
}

static int s_on_heartbeat (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    agt_daemon_t *self = (agt_daemon_t *)arg;
    s_send_status (self);
    if (agt_intake_flush (self->intake))
        jad_log_warning ("agent: cannot store refusal counters");
    return 0;
}

static int s_on_resend (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    agt_daemon_t *self = (agt_daemon_t *)arg;
    s_resend_outbox (self);
    s_schedule (self);
    return 0;
}

//  Append ",name" (or "name") to a bounded list of keys.
static void s_key_list (char *list, size_t len, const char *name)
{
    size_t used = strlen (list);
    jad_format (list + used, len - used, "%s%s", used ? "," : "", name);
}

//  SIGHUP: take heartbeat, hook-timeout, hook-user, keep-releases and
//  stale-after from agent.yaml; the rest needs a restart. A file with
//  problems is refused.
//  A running hook keeps the settings it started with.
static void s_reload (agt_daemon_t *self)
{
    jad_problems_t *problems = jad_problems_new ();
    if (!problems)
        return;
    jad_agent_config_t *fresh = agt_config_load (self->data_dir, problems, NULL);
    if (!fresh) {
        for (size_t index = 0; index < jad_problems_count (problems); index++)
            jad_log_error ("agent: %s", jad_problems_get (problems, index));
        jad_log_error ("agent: reload refused problems=%zu; the running configuration stays",
                       jad_problems_count (problems));
        jad_problems_destroy (&problems);
        return;
    }
    jad_problems_destroy (&problems);
    jad_agent_config_t *running = self->config;
    char changed[128] = "", restart[160] = "";
    if (!jad_str_equal (running->name, fresh->name))
        s_key_list (restart, sizeof restart, "name");
    if (!jad_str_equal (running->environment, fresh->environment))
        s_key_list (restart, sizeof restart, "environment");
    if (!jad_str_equal (running->controller, fresh->controller))
        s_key_list (restart, sizeof restart, "controller");
    if (!jad_str_equal (running->controller_key, fresh->controller_key))
        s_key_list (restart, sizeof restart, "controller-key");
    if (!jad_str_equal (running->signing_key, fresh->signing_key))
        s_key_list (restart, sizeof restart, "signing-key");
    if (!jad_str_equal (running->token, fresh->token))
        s_key_list (restart, sizeof restart, "token");
    if (!jad_str_equal (running->root, fresh->root))
        s_key_list (restart, sizeof restart, "root");
    if (!jad_str_equal (running->key_file, fresh->key_file))
        s_key_list (restart, sizeof restart, "key-file");
    if (!jad_str_equal (running->policy_key, fresh->policy_key))
        s_key_list (restart, sizeof restart, "policy-key");
    if (restart[0])
        jad_log_warning ("agent: changed keys need a restart keys=%s", restart);

    if (running->heartbeat_ms != fresh->heartbeat_ms) {
        uint32_t heartbeat = fresh->heartbeat_ms ? fresh->heartbeat_ms : 5000;
        int timer = zloop_timer (self->loop, heartbeat, 0, s_on_heartbeat, self);
        if (timer < 0)
            jad_log_error ("agent: cannot change the heartbeat; keeping the old one");
        else {
            zloop_timer_end (self->loop, self->heartbeat_timer);
            self->heartbeat_timer = timer;
            running->heartbeat_ms = fresh->heartbeat_ms;
            s_key_list (changed, sizeof changed, "heartbeat");
        }
    }
    if (running->hook_timeout_ms != fresh->hook_timeout_ms) {
        running->hook_timeout_ms = fresh->hook_timeout_ms;
        s_key_list (changed, sizeof changed, "hook-timeout");
    }
    if (running->stale_after_ms != fresh->stale_after_ms) {
        running->stale_after_ms = fresh->stale_after_ms;
        s_key_list (changed, sizeof changed, "stale-after");
    }
    if (running->keep_releases != fresh->keep_releases) {
        running->keep_releases = fresh->keep_releases;
        s_key_list (changed, sizeof changed, "keep-releases");
    }
    if (!jad_str_equal (running->hook_user, fresh->hook_user)) {
        char *swap = running->hook_user;
        running->hook_user = fresh->hook_user;
        fresh->hook_user = swap;
        s_key_list (changed, sizeof changed, "hook-user");
    }
    jad_agent_config_destroy (&fresh);
    jad_log_info ("agent: configuration reloaded changed=%s", changed[0] ? changed : "nothing");
}

static int s_send_bytes (const uint8_t *data, size_t size, void *arg)
{
    return agt_link_send_bytes (((agt_daemon_t *)arg)->link, data, size);
}

//  Samples dropped so far: by the buffer and by the stream's queue.
static uint64_t s_metrics_dropped (agt_daemon_t *self)
{
    return agt_samples_dropped (self->samples) + agt_mstream_dropped (self->mstream);
}

//  Move metric samples on, oldest first. While connected and the window
//  of unacked batches has room, queued samples (durable, see agt_mstream)
//  and then buffered ones are numbered and sent; a batch numbered waits
//  in the stream for its ack. With `persist`, what is left in the buffer
//  is queued durably, so a stop or a kill -9 loses at most what came in
//  since the last flush tick.
static void s_metrics_flush (agt_daemon_t *self, bool persist)
{
    while (self->connected && !agt_mstream_full (self->mstream)) {
        int64_t now = jad_mono_ms ();
        if (agt_mstream_queued_samples (self->mstream) > 0) {
            if (agt_mstream_send_queued (self->mstream, METRICS_BATCH, s_metrics_dropped (self),
                                         now, s_send_bytes, self) < 0)
                break;
            continue;
        }
        jad_metric_batch_t *batch = agt_samples_peek (self->samples, METRICS_BATCH);
        if (!batch)
            break;
        size_t count = batch->sample_count;
        batch->dropped = s_metrics_dropped (self);
        int rc = agt_mstream_send (self->mstream, batch, now, s_send_bytes, self);
        jad_metric_batch_destroy (&batch);
        if (rc < 0)
            break;  //  not stored: keep them (the buffer is bounded)
        agt_samples_consume (self->samples, count);
    }
    while (persist && agt_samples_count (self->samples) > 0) {
        jad_metric_batch_t *batch = agt_samples_peek (self->samples, METRICS_BATCH);
        if (!batch)
            break;
        size_t count = batch->sample_count;
        int rc = agt_mstream_queue (self->mstream, batch);
        jad_metric_batch_destroy (&batch);
        if (rc)
            break;  //  logged by the stream; they wait in memory
        agt_samples_consume (self->samples, count);
    }
}

//  Every unacked batch again, in order (the link is back, or acks are late).
static void s_metrics_resend (agt_daemon_t *self)
{
    size_t sent = agt_mstream_resend (self->mstream, jad_mono_ms (), s_send_bytes, self);
    if (sent)
        jad_log_debug ("agent: metric batches sent again count=%zu stream=%s", sent,
                       agt_mstream_id (self->mstream));
}

//  Stopping: queue what the buffer holds, send what the window takes and
//  wait a bounded time for the acks. What is not acked by then stays in
//  metric_outbox for the next start (the same stream resumes). Only acks
//  are served here; plans wait for the next start (the controller
//  re-sends).
static void s_metrics_drain (agt_daemon_t *self)
{
    s_metrics_flush (self, true);
    int64_t deadline = jad_mono_ms () + METRICS_DRAIN_MS;
    zsock_t *dealer = agt_link_dealer (self->link);
    while (self->connected && agt_mstream_unacked (self->mstream) > 0) {
        int64_t left = deadline - jad_mono_ms ();
        if (left <= 0)
            break;
        zmq_pollitem_t item = {zsock_resolve (dealer), 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, (long)left) <= 0)
            continue;                            //  EINTR (another signal) or the deadline
        zframe_t *frame = zframe_recv (dealer);  //  ready: does not block
        char err[JAD_ERR_LEN];
        jad_ctl_msg_t *msg =
            frame ? jad_ctl_msg_decode (zframe_data (frame), zframe_size (frame), err) : NULL;
        if (msg)
            s_on_ack (self, msg);
        jad_ctl_msg_destroy (&msg);
        zframe_destroy (&frame);
    }
    //  the buffer is empty unless the database refused it
    uint64_t kept =
        agt_mstream_unacked_samples (self->mstream) + agt_mstream_queued_samples (self->mstream);
    if (agt_samples_count (self->samples) > 0)
        jad_log_warning ("agent: stopping with metric samples not stored samples=%zu (lost)",
                         agt_samples_count (self->samples));
    if (kept)
        jad_log_info ("agent: metric samples kept for the next start samples=%llu stream=%s",
                      (unsigned long long)kept, agt_mstream_id (self->mstream));
}

static int s_on_metrics (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    (void)reader;
    agt_daemon_t *self = (agt_daemon_t *)arg;
    if (agt_metrics_recv (self->metrics, self->samples) < 0)
        agt_drops_hit (self->drops, "metrics_pipe", "not a metrics batch");
    else if (agt_samples_count (self->samples) >= METRICS_BATCH)
        s_metrics_flush (self, true);
    return 0;
}

static int s_on_metrics_flush (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    agt_daemon_t *self = (agt_daemon_t *)arg;
    if (self->connected && agt_mstream_overdue (self->mstream, jad_mono_ms (), METRICS_ACK_MS))
        s_metrics_resend (self);
    s_metrics_flush (self, true);
    return 0;
}

static int s_on_fetch_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    agt_daemon_t *self = (agt_daemon_t *)arg;
    if (jad_reload_requested ())
        s_reload (self);
    if (self->fetch)
        s_fetch_progress (self, agt_fetch_tick (self->fetch));
    return 0;
}

//  --------------------------------------------------------------------------
//  Start-up and shutdown

//  Plans a crash cut short: report the step as interrupted, apply again.
static void s_recover (agt_daemon_t *self)
{
    zlist_t *applying = agt_store_applying_plans (self->store);
    if (!applying)
        return;
    for (char *line = (char *)zlist_first (applying); line; line = (char *)zlist_next (applying)) {
        char *tab = strchr (line, '\t');
        if (!tab)
            continue;
        *tab = 0;
        const char *step = tab + 1;
        jad_plan_t *plan = agt_store_load_plan (self->store, line);
        if (!plan) {
            agt_store_set_plan_state (self->store, line, AGT_PLAN_FAILED, NULL,
                                      "stored plan unreadable");
            continue;
        }
        char detail[128];
        jad_format (detail, sizeof detail, "agent restarted during step %s; applying again", step);
        jad_log_warning ("agent: plan interrupted plan=%s step=%s", plan->plan_id, step);
        s_report (self, plan->plan_id, plan->app, plan->version, step, JAD_REPORT_INTERRUPTED,
                  detail, NULL, 0);
        if (agt_store_set_plan_state (self->store, plan->plan_id, AGT_PLAN_ACCEPTED, NULL, NULL))
            jad_log_error ("agent: cannot requeue plan=%s", plan->plan_id);
        jad_plan_destroy (&plan);
    }
    zlist_destroy (&applying);
}

agt_daemon_t *agt_daemon_new (const char *data_dir)
{
    agt_daemon_t *self = (agt_daemon_t *)calloc (1, sizeof (agt_daemon_t));
    if (!self)
        return NULL;
    self->exit_timer = -1;
    self->data_dir = strdup (data_dir);
    jad_format (self->downloads, sizeof self->downloads, "%s/downloads", data_dir);
    jad_problems_t *problems = jad_problems_new ();
    if (!self->data_dir || !problems)
        goto failed;
    self->config = agt_config_load (data_dir, problems, &self->key);
    if (!self->config) {
        for (size_t index = 0; index < jad_problems_count (problems); index++)
            jad_log_error ("agent: %s", jad_problems_get (problems, index));
        goto failed;
    }
    jad_problems_destroy (&problems);
    if (jad_key_from_hex (self->config->signing_key, self->signing_key))
        goto failed;

    char path[PATH_MAX];
    jad_format (path, sizeof path, "%s/state.db", data_dir);
    self->store = agt_store_new (path, true);
    if (!self->store)
        goto failed;
    self->outbox = agt_outbox_new (agt_store_db (self->store), agt_store_incarnation (self->store));
    self->intake = agt_intake_new (self->store, self->signing_key, self->config->environment,
                                   self->config->name);
    self->drops = agt_drops_new ();
    if (!self->outbox || !self->intake || !self->drops)
        goto failed;
    if (self->config->policy_key) {
        uint8_t policy_key[32];
        if (jad_key_from_hex (self->config->policy_key, policy_key))
            goto failed;
        self->policy = agt_policy_new (self->store, policy_key, self->config->environment);
        if (!self->policy)
            goto failed;
        jad_log_info ("agent: release checks on policy_version=%llu",
                      (unsigned long long)agt_policy_version (self->policy));
    }
    if (jad_mkdirs (self->downloads, 0700)) {
        jad_log_error ("agent: cannot create dir=%s error=\"%s\"", self->downloads,
                       strerror (errno));
        goto failed;
    }
    self->link = agt_link_new (self->config, self->key);
    if (!self->link)
        goto failed;
    char missing[JAD_MAX_DETAIL] = "";
    self->helper = agt_worker_helper_path (missing, sizeof missing);
    if (!self->helper)
        jad_log_error ("agent: %s; plans fail until it is installed", missing);
    self->worker = agt_worker_new (self->helper, missing);
    agt_metrics_config_t metrics = {.root = self->config->root,
                                    .helper = self->helper,
                                    .environment = self->config->environment,
                                    .host = self->config->name,
                                    .hook_user = self->config->hook_user,
                                    .interval_ms = self->config->metrics_interval_ms};
    self->metrics = zactor_new (agt_metrics_actor, &metrics);
    self->samples = agt_samples_new (self->config->metrics_buffer);
    self->mstream =
        agt_mstream_open (agt_store_db (self->store), METRICS_WINDOW, self->config->metrics_buffer);
    self->loop = zloop_new ();
    if (!self->worker || !self->metrics || !self->samples || !self->mstream || !self->loop)
        goto failed;
    self->hello_pending = true;
    return self;

failed:
    jad_problems_destroy (&problems);
    agt_daemon_destroy (&self);
    return NULL;
}

void agt_daemon_destroy (agt_daemon_t **self_p)
{
    if (self_p && *self_p) {
        agt_daemon_t *self = *self_p;
        zloop_destroy (&self->loop);
        if (agt_worker_busy (self->worker)) {
            //  let the running job finish (the helper ignores SIGTERM and
            //  SIGINT) and record what it reports; a helper that dies now
            //  leaves the plan "applying": the next start reports it
            //  interrupted and applies it again
            jad_log_info ("agent: waiting for the running apply job");
            if (agt_worker_drain (self->worker, s_on_event, self) == AGT_WORKER_LOST)
                jad_log_warning ("agent: %s; applied again at the next start",
                                 agt_worker_lost_detail (self->worker));
        }
        agt_worker_destroy (&self->worker);
        free (self->helper);
        zactor_destroy (&self->metrics);
        agt_samples_destroy (&self->samples);
        agt_mstream_destroy (&self->mstream);
        agt_fetch_destroy (&self->fetch);
        jad_plan_destroy (&self->active);
        agt_link_destroy (&self->link);
        if (self->intake && agt_intake_flush (self->intake))
            jad_log_warning ("agent: cannot store refusal counters");
        agt_intake_destroy (&self->intake);
        agt_policy_destroy (&self->policy);
        agt_drops_destroy (&self->drops);
        agt_outbox_destroy (&self->outbox);
        agt_store_destroy (&self->store);
        jad_keypair_destroy (&self->key);
        jad_agent_config_destroy (&self->config);
        free (self->data_dir);
        free (self);
        *self_p = NULL;
    }
}

//  Check often enough to raise the alarm within a quarter of the window.
static size_t s_stale_tick (agt_daemon_t *self)
{
    uint32_t tick = self->config->stale_after_ms / 4;
    return tick < 100 ? 100 : tick > STALE_TICK_MS ? STALE_TICK_MS : tick;
}

int agt_daemon_run (agt_daemon_t *self)
{
    assert (self);
    uint32_t heartbeat = self->config->heartbeat_ms ? self->config->heartbeat_ms : 5000;
    if (zloop_reader (self->loop, agt_link_sub (self->link), s_on_sub, self) ||
        zloop_reader (self->loop, agt_link_dealer (self->link), s_on_dealer, self) ||
        zloop_reader (self->loop, agt_link_monitor (self->link), s_on_monitor, self) ||
        zloop_reader (self->loop, (zsock_t *)self->metrics, s_on_metrics, self) ||
        zloop_timer (self->loop, METRICS_FLUSH_MS, 0, s_on_metrics_flush, self) < 0 ||
        (self->heartbeat_timer = zloop_timer (self->loop, heartbeat, 0, s_on_heartbeat, self)) <
            0 ||
        zloop_timer (self->loop, RESEND_MS, 0, s_on_resend, self) < 0 ||
        zloop_timer (self->loop, FETCH_TICK_MS, 0, s_on_fetch_tick, self) < 0 ||
        zloop_timer (self->loop, s_stale_tick (self), 0, s_on_stale_tick, self) < 0) {
        jad_log_error ("agent: cannot set up the main loop");
        return -1;
    }
    if (jad_reload_catch ())
        jad_log_warning ("agent: cannot catch SIGHUP; reload needs a restart");
    jad_log_info ("agent: started name=%s env=%s controller=%s incarnation=%s", self->config->name,
                  self->config->environment, self->config->controller,
                  agt_store_incarnation (self->store));
    if (agt_mstream_unacked (self->mstream) || agt_mstream_queued_samples (self->mstream))
        jad_log_info ("agent: metric stream resumed stream=%s unacked=%zu queued_samples=%llu",
                      agt_mstream_id (self->mstream), agt_mstream_unacked (self->mstream),
                      (unsigned long long)agt_mstream_queued_samples (self->mstream));
    s_recover (self);
    s_schedule (self);
    //  zloop returns on any interrupted poll: a SIGHUP is reloaded here,
    //  SIGTERM and SIGINT (zsys_interrupted) stop
    while (zloop_start (self->loop) == 0 && !zsys_interrupted && jad_reload_requested ())
        s_reload (self);
    jad_log_info ("agent: stopping name=%s", self->config->name);
    s_metrics_drain (self);
    return 0;
}
