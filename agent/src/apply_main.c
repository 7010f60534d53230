//  jadugar-apply - the agent's apply helper: applies one release, scrapes
//  a Prometheus endpoint
//  SPDX-License-Identifier: MPL-2.0
//
//  jadugar-agent runs this (from lib/jadugar/) so that the daemon itself
//  links neither libarchive nor libcurl; not meant to be run by hand.
//
//  jadugar-apply --apply --parent PID
//      one ApplyJob frame on stdin, ApplyEvent frames on stdout, a
//      one-byte go-ahead on stdin after each started step (agt_pipe.h)
//  jadugar-apply --scrape URL --timeout-ms N [--parent PID]
//      GET URL (http or https); print the body (Prometheus text, which is
//      what a `command:` metrics source prints too) and exit 0, or print
//      "prometheus URL: reason" and exit 1
//  jadugar-apply --smoke APP --version V --root DIR --env E --host H
//                [--hook-user USER] [--parent PID]
//      run the smoke checks of ROOT/APP's current release V again (hooks
//      as USER, as a deploy runs them); print "smoke APP V: N checks
//      passed" and exit 0, or "smoke APP V: why" and exit 1. The agent's
//      sampler runs this every `smoke_every` (the smoke_ok metric).
//
//  With --parent the helper dies with that process (PR_SET_PDEATHSIG) and
//  refuses to run if it is already gone.

#include "agt_apply.h"
#include "agt_pipe.h"
#include "jad_log.h"
#include "jad_util.h"
#include "jad_wire.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define USAGE                                                                                      \
    "usage: jadugar-apply --apply --parent PID\n"                                                  \
    "       jadugar-apply --scrape URL --timeout-ms N [--parent PID]\n"                            \
    "       jadugar-apply --smoke APP --version V --root DIR --env E --host H\n"                   \
    "                     [--hook-user USER] [--parent PID]\n"

#define S_MAX_BODY (4 << 20)  //  Prometheus endpoint response cap

typedef struct {
    int out;  //  events
    int in;   //  job, go-aheads
    bool broken;
} s_helper_t;

//  An event goes up the pipe; a started step waits for the daemon to
//  have recorded it.
static void s_emit (jad_apply_event_t **event_p, void *arg)
{
    s_helper_t *self = (s_helper_t *)arg;
    jad_apply_event_t *event = *event_p;
    bool started = event->kind == JAD_APPLY_EVENT_STEP && event->status == JAD_REPORT_STARTED;
    zchunk_t *frame = jad_apply_event_encode (event);
    jad_apply_event_destroy (event_p);
    if (!frame || agt_pipe_send (self->out, frame)) {
        //  the daemon is gone (we die with it) or we are out of memory
        jad_log_error ("apply: cannot pass an event to the agent: %s", strerror (errno));
        zchunk_destroy (&frame);
        exit (3);
    }
    zchunk_destroy (&frame);
    if (!started)
        return;
    char go = 0;
    ssize_t got;
    do
        got = read (self->in, &go, 1);
    while (got < 0 && errno == EINTR);
    if (got != 1 || go != AGT_PIPE_GO) {
        jad_log_error ("apply: no go-ahead from the agent; stopping");
        exit (3);
    }
}

static int s_apply (void)
{
    s_helper_t self = {.out = -1, .in = 0};
    //  events get a private fd; stray prints on stdout go to stderr
    self.out = fcntl (1, F_DUPFD_CLOEXEC, 3);
    if (self.out < 0 || dup2 (2, 1) < 0) {
        jad_log_error ("apply: cannot set up the event pipe: %s", strerror (errno));
        return 3;
    }
    //  a stopping agent lets the running job finish: so do we
    signal (SIGTERM, SIG_IGN);
    signal (SIGINT, SIG_IGN);
    signal (SIGHUP, SIG_IGN);
    signal (SIGPIPE, SIG_IGN);
    uint8_t *data = NULL;
    size_t size = 0;
    char err[JAD_ERR_LEN] = "";
    int rc = agt_pipe_read_frame (self.in, &data, &size, err, sizeof err);
    if (rc) {
        jad_log_error ("apply: %s", rc > 0 ? "no job on stdin" : err);
        return 3;
    }
    jad_apply_job_t *job = jad_apply_job_decode (data, size, err);
    free (data);
    if (!job) {
        jad_log_error ("apply: %s", err);
        return 3;
    }
    agt_apply_run (job, s_emit, &self);
    jad_apply_job_destroy (&job);
    close (self.out);
    return 0;
}

static int s_scrape (const char *url, long timeout_ms)
{
    CURL *curl = curl_easy_init ();
    if (!curl) {
        printf ("prometheus %s: cannot set up the request\n", url);
        return 1;
    }
    jad_body_t body = {.max = S_MAX_BODY};
    long status = 0;
    CURLcode rc = CURLE_OK;
    if (curl_easy_setopt (curl, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
        curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, jad_body_write) != CURLE_OK ||
        curl_easy_setopt (curl, CURLOPT_WRITEDATA, &body) != CURLE_OK)
        rc = CURLE_FAILED_INIT;
    else
        rc = curl_easy_perform (curl);
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup (curl);
    int result = 1;
    if (body.too_large)
        printf ("prometheus %s: response too large (more than %d bytes)\n", url, S_MAX_BODY);
    else if (rc != CURLE_OK)
        printf ("prometheus %s: %s\n", url, curl_easy_strerror (rc));
    else if (status != 200)
        printf ("prometheus %s: status %ld, expected 200\n", url, status);
    else {
        if (body.data && fwrite (body.data, 1, body.size, stdout) != body.size)
            fprintf (stderr, "prometheus %s: cannot write the body\n", url);
        else
            result = 0;
    }
    free (body.data);
    if (fflush (stdout))
        result = 1;
    return result;
}

typedef struct {
    int status;                   //  the DONE event's
    char detail[JAD_MAX_DETAIL];  //  and its detail
} s_smoke_t;

static void s_smoke_event (jad_apply_event_t **event_p, void *arg)
{
    s_smoke_t *self = (s_smoke_t *)arg;
    jad_apply_event_t *event = *event_p;
    if (event->kind == JAD_APPLY_EVENT_DONE) {
        self->status = (int)event->status;
        jad_format (self->detail, sizeof self->detail, "%s", event->detail ? event->detail : "");
    }
    jad_apply_event_destroy (event_p);
}

//  The smoke checks of the current release, again: agt_apply's VERIFY
//  task (the same checks, environment and hook user as a deploy's).
static int s_smoke (const char *app, const char *version, const char *root, const char *environment,
                    const char *host, const char *hook_user)
{
    if (!jad_name_valid (app) || !jad_name_valid (version)) {
        printf ("smoke: not an app and version name: %s %s\n", app, version);
        return 2;
    }
    jad_apply_job_t *job = jad_apply_job_new ();
    if (!job || !(job->plan_id = strdup ("smoke")) || !(job->app = strdup (app)) ||
        !(job->version = strdup (version)) || !(job->sha256_hex = strdup ("-")) ||
        !(job->environment = strdup (environment)) || !(job->host = strdup (host)) ||
        !(job->root = strdup (root)) || !(job->downloads = strdup (root)) ||
        (hook_user && !(job->hook_user = strdup (hook_user)))) {
        jad_apply_job_destroy (&job);
        printf ("smoke %s %s: out of memory\n", app, version);
        return 1;
    }
    job->action = JAD_PLAN_ACTION_VERIFY;
    s_smoke_t result = {.status = JAD_REPORT_FAILED, .detail = "no outcome"};
    int rc = agt_apply_run (job, s_smoke_event, &result);
    jad_apply_job_destroy (&job);
    bool healthy = rc == 0 && result.status == JAD_REPORT_HEALTHY;
    //  "verify done" says nothing to a reader: say what passed
    if (healthy)
        printf ("smoke %s %s: checks passed\n", app, version);
    else
        printf ("smoke %s %s: %s\n", app, version, result.detail);
    if (fflush (stdout))
        return 1;
    return healthy ? 0 : 1;
}

int main (int argc, char **argv)
{
    static const struct option long_options[] = {
        {"apply", no_argument, NULL, 'a'},
        {"scrape", required_argument, NULL, 's'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"parent", required_argument, NULL, 'p'},
        {"smoke", required_argument, NULL, 'S'},
        {"version", required_argument, NULL, 'v'},
        {"root", required_argument, NULL, 'r'},
        {"env", required_argument, NULL, 'e'},
        {"host", required_argument, NULL, 'h'},
        {"hook-user", required_argument, NULL, 'u'},
        {NULL, 0, NULL, 0},
    };
    bool apply = false;
    const char *url = NULL;
    const char *smoke = NULL, *version = NULL, *root = NULL, *environment = NULL, *host = NULL,
               *hook_user = NULL;
    long timeout_ms = 10000;
    long parent = 0;
    int option;
    opterr = 0;
    while ((option = getopt_long (argc, argv, "+", long_options, NULL)) != -1) {
        char *end = NULL;
        if (option == 'a')
            apply = true;
        else if (option == 's')
            url = optarg;
        else if (option == 'S')
            smoke = optarg;
        else if (option == 'v')
            version = optarg;
        else if (option == 'r')
            root = optarg;
        else if (option == 'e')
            environment = optarg;
        else if (option == 'h')
            host = optarg;
        else if (option == 'u')
            hook_user = optarg;
        else if (option == 't' || option == 'p') {
            errno = 0;
            long value = strtol (optarg, &end, 10);
            if (errno || !end || *end || value <= 0 || value > 86400000) {
                fprintf (stderr, "jadugar-apply: bad number: %s\n" USAGE, optarg);
                return 2;
            }
            if (option == 't')
                timeout_ms = value;
            else
                parent = value;
        } else {
            fprintf (stderr, "jadugar-apply: unknown option or missing value: %s\n" USAGE,
                     argv[optind - 1]);
            return 2;
        }
    }
    int modes = (apply ? 1 : 0) + (url ? 1 : 0) + (smoke ? 1 : 0);
    bool smoke_args = version && root && environment && host;
    if (optind < argc || modes != 1 || (apply && !parent) || (smoke && !smoke_args) ||
        (!smoke && (version || root || environment || host || hook_user))) {
        fprintf (stderr, USAGE);
        return 2;
    }
    if (parent && (prctl (PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid () != (pid_t)parent)) {
        fprintf (stderr, "jadugar-apply: parent %ld is gone\n", parent);
        return 3;
    }
    jad_log_init ("jadugar-apply", false);
    if (sodium_init () < 0 || curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf (stderr, "jadugar-apply: cannot initialise libsodium or libcurl\n");
        return 3;
    }
    int rc = apply   ? s_apply ()
             : smoke ? s_smoke (smoke, version, root, environment, host, hook_user)
                     : s_scrape (url, timeout_ms);
    curl_global_cleanup ();
    return rc;
}
