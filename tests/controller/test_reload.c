//  test_reload - SIGHUP with config edits while the HTTP pages are
//  scraped: the controller never crashes, and every reader (the status
//  page, /api/status, /metrics, `jadctl alerts`) sees the new file
//  without a restart (issue 13 items 1 and 2)
//  SPDX-License-Identifier: MPL-2.0
//
//  A real controller process (built with the sanitizers in CI: a read of
//  the freed configuration is a crash there); scrapes go on before,
//  during and after each reload.

#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define S_ROUNDS 6

TestSuite (reload, .timeout = 110);

//  GET path from the controller's HTTP port: its status code, the body in
//  *body (caller frees) if not NULL.
static int s_get (jt_fleet_t *fleet, const char *path, char **body)
{
    char *output = NULL;
    int rc = jt_run (&output, "curl -s --max-time 10 -w '\\n%%{http_code}' http://127.0.0.1:%d%s",
                     fleet->port + 3, path);
    int code = 0;
    char *last = output ? strrchr (output, '\n') : NULL;
    if (rc == 0 && last)
        code = atoi (last + 1);
    if (body && last) {
        *last = 0;
        *body = output;
        output = NULL;
    }
    free (output);
    return code;
}

static bool s_answers (void *arg)
{
    jt_fleet_t *fleet = arg;
    return jt_jadctl (fleet, NULL, "status") == 0 && s_get (fleet, "/", NULL) == 200;
}

//  Every page answers 200, and the controller is alive.
static void s_scrape_all (jt_fleet_t *fleet, int round)
{
    static const char *const paths[] = {"/", "/api/status", "/metrics"};
    for (size_t index = 0; index < 3; index++) {
        int code = s_get (fleet, paths[index], NULL);
        cr_assert_eq (code, 200, "round %d: GET %s answered %d (controller.log in %s)", round,
                      paths[index], code, fleet->dir);
    }
    cr_assert_eq (kill (fleet->controller, 0), 0, "round %d: the controller died", round);
}

static int s_log_count (jt_fleet_t *fleet, const char *needle)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/controller.log", fleet->dir);
    char *text = jt_read_file (path);
    int count = text ? jt_count (text, needle) : 0;
    free (text);
    return count;
}

//  controller.yaml's environments and alert rules of round `round`: the
//  environments dev and rROUND, and `round` rules on metrics mROUND_1...
static void s_write_config (jt_fleet_t *fleet, int round)
{
    char yaml[4096];
    size_t used = (size_t)snprintf (yaml, sizeof yaml,
                                    "environments:\n"
                                    "  dev: { strategy: all }\n"
                                    "  r%d: { strategy: all }\n"
                                    "alerts:\n",
                                    round);
    for (int rule = 1; rule <= round && used < sizeof yaml; rule++)
        used += (size_t)snprintf (yaml + used, sizeof yaml - used,
                                  "  - { env: r%d, metric: m%d_%d, above: %d, for: 10s }\n", round,
                                  round, rule, rule);
    jt_fleet_set_environments (fleet, yaml);
}

Test (reload, config_edits_between_scrapes_reach_every_reader_without_a_crash)
{
    jt_fleet_t *fleet = jt_fleet_new ();
    cr_assert (jt_wait_for (s_answers, fleet, 30000), "the controller does not answer");
    s_scrape_all (fleet, 0);
    for (int round = 1; round <= S_ROUNDS; round++) {
        s_write_config (fleet, round);
        s_scrape_all (fleet, round);
        int reloads = s_log_count (fleet, "configuration reloaded");
        cr_assert_eq (kill (fleet->controller, SIGHUP), 0);
        //  scrape while the reload happens, until it is done
        int64_t waited = 0;
        while (s_log_count (fleet, "configuration reloaded") == reloads) {
            s_scrape_all (fleet, round);
            cr_assert_lt (waited++, 400, "round %d: no reload within the deadline", round);
        }
        s_scrape_all (fleet, round);
        //  the HTTP pages know the new environments
        char *body = NULL;
        cr_assert_eq (s_get (fleet, "/api/status", &body), 200);
        char expected[64];
        snprintf (expected, sizeof expected, "\"name\": \"r%d\"", round);
        cr_assert (body && strstr (body, expected), "round %d: /api/status lacks r%d:\n%s", round,
                   round, body);
        if (round > 1) {
            snprintf (expected, sizeof expected, "\"name\": \"r%d\"", round - 1);
            cr_assert (!strstr (body, expected), "round %d: /api/status still has r%d", round,
                       round - 1);
        }
        free (body);
        //  ... and the rules, as do `jadctl alerts` and /metrics
        body = NULL;
        cr_assert_eq (s_get (fleet, "/metrics", &body), 200);
        char *alerts = NULL;
        cr_assert_eq (jt_jadctl (fleet, &alerts, "--json alerts"), 0, "%s", alerts);
        for (int rule = 1; rule <= round; rule++) {
            char metric[32];
            snprintf (metric, sizeof metric, "m%d_%d", round, rule);
            cr_assert (strstr (alerts, metric), "round %d: jadctl alerts lacks %s:\n%s", round,
                       metric, alerts);
            cr_assert (body && strstr (body, metric), "round %d: /metrics lacks %s", round, metric);
        }
        cr_assert_eq (jt_count (alerts, "\"origin\": \"config\""), round,
                      "round %d: rules of an older file stayed:\n%s", round, alerts);
        if (round > 1) {
            char metric[32];
            snprintf (metric, sizeof metric, "m%d_1", round - 1);
            cr_assert (!strstr (alerts, metric), "round %d: %s outlived its file", round, metric);
        }
        free (alerts);
        free (body);
    }
    jt_fleet_destroy (&fleet);  //  fails the test unless the controller exits 0
}
