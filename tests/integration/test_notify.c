//  test_notify - notifications of a real controller: a delivery that hangs
//  (a webhook, a mail relay) never holds up a stop or a reload, and what it
//  had not delivered is sent after the restart (a real PostgreSQL store,
//  real HTTP sinks, a relay that never greets)
//  SPDX-License-Identifier: MPL-2.0

#include "jad_testlib.h"
#include "jad_testpg.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

JT_PG_SERVER ()

static jt_fleet_t *fleet;

static void s_setup (void)
{
    //  the notification outbox is kept in a shared store only
    setenv ("JADUGAR_TEST_STORE", "postgresql", 1);
    fleet = jt_fleet_new ();
}

static void s_teardown (void)
{
    jt_fleet_destroy (&fleet);
}

TestSuite (notify, .init = s_setup, .fini = s_teardown, .timeout = 300);

//  In controller.yaml, replace the line that follows `after` (whole
//  lines, "\n" at both ends) by `line`.
static void s_config_replace (const char *after, const char *line)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/controller/controller.yaml", fleet->dir);
    char *config = jt_read_file (path);
    cr_assert_not_null (config);
    char *at = strstr (config, after);
    cr_assert_not_null (at, "no %s in %s", after, path);
    char *first = at + strlen (after);
    char *rest = strchr (first, '\n');
    cr_assert_not_null (rest);
    *first = 0;
    char *updated = NULL;
    cr_assert (asprintf (&updated, "%s%s%s", config, line, rest) > 0);
    jt_write_file (path, updated, 0600);
    free (updated);
    free (config);
}

//  Route every incident.* event to the sink's webhook instead of the first
//  route of controller.yaml (init's, or one set here before).
static void s_route_to (jt_sink_t *sink)
{
    char line[256];
    snprintf (line, sizeof line,
              "  - { webhook: 'http://127.0.0.1:%d/hook', events: [incident.*] }",
              jt_sink_port (sink));
    s_config_replace ("\nnotify:\n", line);
}

static bool s_sink_holds (void *arg)
{
    return jt_sink_holding ((jt_sink_t *)arg) > 0;
}

typedef struct {
    jt_sink_t *sink;
    int count;
} s_count_wait_t;

static bool s_sink_has (void *arg)
{
    s_count_wait_t *wait = arg;
    return jt_sink_count (wait->sink) >= wait->count;
}

//  The event id of the first request a sink read ("id":"HEX").
static void s_first_id (jt_sink_t *sink, char id[33])
{
    char *bodies = jt_sink_bodies (sink);
    const char *at = bodies ? strstr (bodies, "\"id\":\"") : NULL;
    cr_assert_not_null (at, "no event id in %s", bodies ? bodies : "(nothing)");
    snprintf (id, 33, "%.32s", at + 6);
    cr_assert_eq (strspn (id, "0123456789abcdef"), 32, "id %s", id);
    free (bodies);
}

Test (notify, a_hanging_webhook_holds_up_neither_reload_nor_stop_and_nothing_is_lost)
{
    char log[PATH_MAX];
    snprintf (log, sizeof log, "%s/controller.log", fleet->dir);
    //  a receiver that takes the request and never answers
    jt_sink_t *stuck = jt_sink_new (0), *sink = jt_sink_new (0);
    jt_sink_hold (stuck, true);
    s_route_to (stuck);
    jt_fleet_restart_controller (fleet);
    char *output = NULL;
    int rc = jt_jadctl (fleet, &output, "incident open --env dev 'checkout is slow'");
    cr_assert_eq (rc, 0, "%s", output);
    free (output);
    cr_assert (jt_wait_for (s_sink_holds, stuck, 30000), "the webhook never got the event");
    char id[33];
    s_first_id (stuck, id);

    //  a reload while the delivery hangs: taken, and the delivery goes on
    s_route_to (sink);
    cr_assert_eq (kill (fleet->controller, SIGHUP), 0);
    cr_assert (jt_wait_file_has (log, "configuration reloaded changed=notify", 30000),
               "no reload in %s", log);
    rc = jt_jadctl (fleet, &output, "status");
    cr_assert_eq (rc, 0, "the controller does not answer after the reload: %s", output);
    free (output);
    cr_assert_eq (jt_sink_holding (stuck), 1, "the delivery did not go on through the reload");
    cr_assert_not (jt_file_has (log, "notify: delivery abandoned"),
                   "a reload abandoned the delivery (%s)", log);

    //  a stop while it hangs: the controller exits, with the delivery
    //  abandoned rather than timed out (the wait is longer than the
    //  webhook's timeout only so that a slow machine gets there)
    cr_assert_eq (kill (fleet->controller, SIGTERM), 0);
    int status = jt_wait_exit (fleet->controller, 10000);
    if (status == -2)
        jt_kill9 (fleet->controller);
    fleet->controller = 0;
    cr_assert_eq (status, 0, "the controller did not stop cleanly (%d, see %s)", status, log);
    cr_assert (jt_file_has (log, "notify: delivery abandoned, stopping event=incident.opened"),
               "the delivery was not abandoned at the stop (%s)", log);
    cr_assert (jt_file_has (log, "kept=yes"), "the abandoned event is not kept (%s)", log);
    cr_assert_not (jt_file_has (log, "notify: webhook failed"),
                   "the stop waited for the webhook's timeout (%s)", log);

    //  restarted with a receiver that answers: the event comes once, same id
    jt_fleet_start_controller (fleet);
    s_count_wait_t first = {sink, 1};
    cr_assert (jt_wait_for (s_sink_has, &first, 60000), "the kept event was not sent again");
    char again[33];
    s_first_id (sink, again);
    cr_assert_str_eq (again, id, "the kept event came under another id");
    //  a later event comes after it (one queue, in order): by then a
    //  second copy of the first would have come too
    rc = jt_jadctl (fleet, &output, "incident open --env dev 'still slow'");
    cr_assert_eq (rc, 0, "%s", output);
    free (output);
    s_count_wait_t second = {sink, 2};
    cr_assert (jt_wait_for (s_sink_has, &second, 30000), "the second event never came");
    char *bodies = jt_sink_bodies (sink);
    cr_assert_eq (jt_count (bodies, id), 1, "the kept event came %d times:\n%s",
                  jt_count (bodies, id), bodies);
    cr_assert (strstr (bodies, "checkout is slow") && strstr (bodies, "still slow"), "%s", bodies);
    cr_assert_eq (jt_sink_count (sink), 2, "%s", bodies);
    free (bodies);
    jt_sink_hold (stuck, false);
    jt_sink_destroy (&stuck);
    jt_sink_destroy (&sink);
}

//  A mail relay that takes the connection and never greets: a listening
//  socket; the test accepts the controller's connection and holds it.
static bool s_connecting (void *arg)
{
    struct pollfd item = {.fd = *(int *)arg, .events = POLLIN};
    return poll (&item, 1, 0) == 1;
}

Test (notify, a_mail_relay_that_never_greets_does_not_hold_up_a_stop)
{
    char log[PATH_MAX], line[128];
    snprintf (log, sizeof log, "%s/controller.log", fleet->dir);
    int relay = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    socklen_t len = sizeof address;
    cr_assert (relay >= 0 && bind (relay, (struct sockaddr *)&address, sizeof address) == 0 &&
               listen (relay, 4) == 0 &&
               getsockname (relay, (struct sockaddr *)&address, &len) == 0);
    //  one delivery may take 30 s: longer than the wait for the exit below
    snprintf (line, sizeof line, "  port: %d\n  timeout: 30s", ntohs (address.sin_port));
    s_config_replace ("\nsmtp:\n  host: 127.0.0.1\n", line);
    s_config_replace ("\nnotify:\n", "  - { email: ops@example.com, events: [incident.*] }");
    jt_fleet_restart_controller (fleet);
    char *output = NULL;
    int rc = jt_jadctl (fleet, &output, "incident open --env dev 'mail is slow'");
    cr_assert_eq (rc, 0, "%s", output);
    free (output);
    cr_assert (jt_wait_for (s_connecting, &relay, 30000), "the controller never called the relay");
    int held = accept (relay, NULL, NULL);
    cr_assert (held >= 0);
    //  stopped while it waits for the greeting: it exits before the
    //  delivery's 30 s are up, the event kept
    cr_assert_eq (kill (fleet->controller, SIGTERM), 0);
    int status = jt_wait_exit (fleet->controller, 10000);
    if (status == -2)
        jt_kill9 (fleet->controller);
    fleet->controller = 0;
    cr_assert_eq (status, 0, "the controller did not stop within 10 s (%d, see %s)", status, log);
    cr_assert (jt_file_has (log, "notify: delivery abandoned, stopping event=incident.opened"),
               "the delivery was not abandoned at the stop (%s)", log);
    cr_assert (jt_file_has (log, "kept=yes"), "the abandoned event is not kept (%s)", log);
    close (held);
    close (relay);
}
