//  ctl_init - `jadugar-controller init`: a new controller's data directory
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_init.h"
#include "ctl_agents.h"
#include "ctl_agents_repo.h"
#include "ctl_store.h"
#include "jad_keys.h"
#include "jad_util.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  The configuration a new controller starts with: DESIGN §5's three
//  environments, windows commented out so that it deploys at any time.
static const char s_config_template[] =
    "#  controller.yaml - Jadugar controller configuration\n"
    "#  Check it with: jadugar-controller check --data DIR\n"
    "\n"
    "#  Address the sockets bind to, and the base port: BASE plan broadcast,\n"
    "#  BASE+1 agents, BASE+2 operator API, BASE+3 HTTP.\n"
    "listen: %s\n"
    "port: %d\n"
    "\n"
    "#  Agents heartbeat this often; three missed heartbeats = offline.\n"
    "heartbeat: 5s\n"
    "#  A signed heartbeat goes to every environment this often (0s: off);\n"
    "#  agents raise a stale alarm after their stale-after without one.\n"
    "signed-heartbeat: 5s\n"
    "#  An unacknowledged plan is sent again this often.\n"
    "resend: 2s\n"
    "#  How long a signed plan envelope stays valid.\n"
    "plan-ttl: 10m\n"
    "#  A host that does not finish a step within this fails the plan.\n"
    "step-deadline: 10m\n"
    "#  A plan with no report from any host for this long fails.\n"
    "progress-deadline: 30m\n"
    "\n"
    "#  Environments. Keys:\n"
    "#    track          branch pattern (shell glob) this environment follows\n"
    "#    auto_deploy    deploy a release added with a tracked --branch at once\n"
    "#    requires       a version must have succeeded in this environment first\n"
    "#    strategy       all | rolling | canary\n"
    "#    batch          hosts per batch for rolling and canary: N or N%%\n"
    "#    canary         hosts in the canary batch\n"
    "#    bake           how long the canary batch must stay healthy\n"
    "#    windows        when deploys are allowed, e.g. \"Tue 09:00-17:00\"; outside\n"
    "#                   them only emergency deploys (rollbacks always)\n"
    "#    emergency_approvals  roles that must each approve an emergency deploy\n"
    "#    emergency_skips      rules an emergency deploy also skips: requires, bake\n"
    "#                   (it always skips windows; by default it skips nothing else)\n"
    "#    concurrency    most hosts switching at once (0 = no limit)\n"
    "#    max_failures   failed hosts (N or N%%) a deploy goes on without, after its\n"
    "#                   canaries (default 0: the first failure rolls the plan back)\n"
    "environments:\n"
    "  dev:     { track: develop,     auto_deploy: true, strategy: all }\n"
    "  staging: { track: \"release/*\", auto_deploy: true, strategy: rolling, batch: 50%% }\n"
    "  prod:\n"
    "    track: main\n"
    "    requires: staging\n"
    "    strategy: canary\n"
    "    canary: 1\n"
    "    bake: 10m\n"
    "    batch: 25%%\n"
    "    # windows: [\"Tue 09:00-17:00\", \"Thu 09:00-17:00\"]\n"
    "    emergency_approvals: [tech-lead, product-owner]\n"
    "    # emergency_skips: [requires, bake]\n"
    "\n"
    "#  Metrics: raw samples are kept this long, 1-minute rollups this long.\n"
    "metrics-retention: 24h\n"
    "rollup-retention: 30d\n"
    "#  What one agent or one release may cost the controller (refusals are\n"
    "#  counted and logged): metric series per agent, series of one metric\n"
    "#  name per agent, apps per agent, a release's unpacked size (MiB) and\n"
    "#  its ratio to the archive's size.\n"
    "# limits:\n"
    "#   series-per-agent: 10000\n"
    "#   label-sets-per-metric: 1000\n"
    "#   apps-per-agent: 256\n"
    "#   release-unpacked-mib: 4096\n"
    "#   release-ratio: 100\n"
    "#  A rollback rule acts when it fires within this long after a deploy.\n"
    "watch: 30m\n"
    "#  Status page, /api/status and /metrics on BASE+3 bind here (read-only,\n"
    "#  no authentication: keep it on loopback or behind a proxy).\n"
    "http-listen: 127.0.0.1\n"
    "#  A Prometheus server for rules with a PromQL `query`, and how long one\n"
    "#  query may take (queries run beside the controller's loop, never in it).\n"
    "# prometheus: http://127.0.0.1:9090\n"
    "# prometheus-timeout: 10s\n"
    "\n"
    "#  Alert rules: a metric aggregated over an environment's hosts, above or\n"
    "#  below a threshold for a duration; action rollback rolls the environment\n"
    "#  back when the rule fires after a deploy. Keys: env, metric, above|below,\n"
    "#  for, aggregate (avg, max, sum, p95; default avg), window (default the\n"
    "#  longer of for and 60s), min_samples (fewer is inconclusive; default 3),\n"
    "#  action (rollback), query (PromQL read from `prometheus`). During a\n"
    "#  canary's bake a rule also judges the canary hosts on their own: canary\n"
    "#  (host: each one, the default; aggregate: together; off), and compare:\n"
    "#  baseline with ratio or difference against the hosts still on the\n"
    "#  previous release.\n"
    "# alerts:\n"
    "#   - { env: prod, metric: http_error_rate, above: 0.05, for: 60s, action: rollback }\n"
    "\n"
    "#  Notifications on deploy start/finish, rollback and alert transitions:\n"
    "#  commands get JADUGAR_EVENT and JADUGAR_EVENT_JSON, webhooks a JSON POST.\n"
    "# notify:\n"
    "#   - command: /usr/local/bin/jadugar-notify\n"
    "#   - webhook: https://chat.example.com/hooks/deploys\n";

static int s_write_text (const char *path, const char *text, int mode)
{
    if (jad_file_write_atomic (path, text, strlen (text), mode) != 0) {
        fprintf (stderr, "jadugar-controller: cannot write %s: %s\n", path, strerror (errno));
        return -1;
    }
    return 0;
}

static int s_save_key (jad_keypair_t *pair, const char *path)
{
    char err[512];
    if (!pair || jad_keypair_save (pair, path, err, sizeof err) != 0) {
        fprintf (stderr, "jadugar-controller: cannot write key %s: %s\n", path,
                 pair ? err : "out of memory");
        return -1;
    }
    return 0;
}

int ctl_init_run (const char *data_dir, const char *listen, int port, const char *store_url,
                  FILE *out)
{
    char path[PATH_MAX];
    if (port < 1 || port > 65532) {
        fprintf (stderr, "jadugar-controller: --port %d is out of range (1-65532)\n", port);
        return 2;
    }
    //  the URL is not echoed: a password may be in it
    if (store_url && (!ctl_store_target_shared (store_url) || strpbrk (store_url, " \t\n\r'"))) {
        fprintf (stderr, "jadugar-controller: --store is not a PostgreSQL URL "
                         "(postgresql://USER@HOST:PORT/DB)\n");
        return 2;
    }
    snprintf (path, sizeof path, "%s/controller.yaml", data_dir);
    if (access (path, F_OK) == 0) {
        fprintf (stderr,
                 "jadugar-controller: %s exists: %s is already initialised "
                 "(remove it to start over)\n",
                 path, data_dir);
        return 2;
    }
    snprintf (path, sizeof path, "%s/keys", data_dir);
    if (jad_mkdirs (data_dir, 0700) != 0 || jad_mkdirs (path, 0700) != 0 ||
        chmod (data_dir, 0700) != 0) {
        fprintf (stderr, "jadugar-controller: cannot create %s: %s\n", path, strerror (errno));
        return 1;
    }
    int status = 1;
    jad_keypair_t *signing = jad_keypair_new (JAD_KEY_ED25519);
    jad_keypair_t *curve = jad_keypair_new (JAD_KEY_CURVE);
    jad_keypair_t *admin = jad_keypair_new (JAD_KEY_CURVE);
    ctl_store_t *store = NULL;
    char *target = NULL;
    char *text = NULL;
    snprintf (path, sizeof path, "%s/keys/signing.key", data_dir);
    if (s_save_key (signing, path))
        goto done;
    snprintf (path, sizeof path, "%s/keys/curve.key", data_dir);
    if (s_save_key (curve, path))
        goto done;
    snprintf (path, sizeof path, "%s/keys/admin.key", data_dir);
    if (s_save_key (admin, path))
        goto done;

    target = ctl_store_target (data_dir, store_url);
    store = target ? ctl_store_open (target, CTL_STORE_CREATE) : NULL;
    if (!store) {
        if (store_url)
            fprintf (stderr, "jadugar-controller: cannot open the --store database "
                             "(the log line above says why)\n");
        goto done;
    }
    ctl_operator_t *admin_before = NULL;
    if (ctl_agents_repo_operator_by_name (store, "admin", &admin_before) == 0 && admin_before) {
        ctl_operator_destroy (&admin_before);
        fprintf (stderr, "jadugar-controller: the --store database already holds a "
                         "controller's state: use an empty database\n");
        goto done;
    }
    char token[33];
    jad_random_id (16, token);
    //  Only a hash is stored: the token is printed once, below. It
    //  enrolls into any environment for 24 h; later ones come from
    //  `jadctl agents token create`, scoped.
    char token_hash[65];
    ctl_agents_token_hash (token, token_hash);
    int64_t now = jad_now_ms ();
    ctl_enroll_token_t init_token = {.id = "init",
                                     .envs = "*",
                                     .expires = now + CTL_INIT_TOKEN_TTL_MS,
                                     .uses_left = -1,
                                     .created_by = "init",
                                     .created = now};
    if (ctl_agents_repo_operator_add (store, "admin", jad_keypair_public_txt (admin), "admin", NULL,
                                      now) != 0 ||
        ctl_agents_repo_token_add (store, &init_token, token_hash) != 0)
        goto done;

    char absolute[PATH_MAX];
    if (!realpath (data_dir, absolute)) {
        fprintf (stderr, "jadugar-controller: cannot resolve %s: %s\n", data_dir, strerror (errno));
        goto done;
    }
    text = jad_strdup_printf ("#  jadctl client file for the operator 'admin'\n"
                              "#  Use it with: export JADUGAR_CONFIG=%s/admin.jadctl.yaml\n"
                              "controller: %s:%d\n"
                              "controller-key: '%s'\n"
                              "key: keys/admin.key\n",
                              absolute, listen, port + 2, jad_keypair_public_txt (curve));
    snprintf (path, sizeof path, "%s/admin.jadctl.yaml", data_dir);
    if (!text || s_write_text (path, text, 0600))
        goto done;
    free (text);
    text = jad_strdup_printf (s_config_template, listen, port);
    if (text && store_url) {
        //  after the port line, where the start-up settings are
        char *after = strstr (text, "\nport: ");
        after = after ? strchr (after + 1, '\n') : NULL;
        char *with_store = after
                               ? jad_strdup_printf ("%.*s\n#  The store: this PostgreSQL database "
                                                    "(docs/operations.md, \"PostgreSQL store\").\n"
                                                    "store: '%s'\n%s",
                                                    (int)(after - text), text, store_url, after + 1)
                               : NULL;
        free (text);
        text = with_store;
    }
    //  The config goes last: its presence marks an initialised directory.
    snprintf (path, sizeof path, "%s/controller.yaml", data_dir);
    if (!text || s_write_text (path, text, 0600))
        goto done;

    fprintf (out, "signing-key: %s\n", jad_keypair_public_txt (signing));
    fprintf (out, "curve-key: %s\n", jad_keypair_public_txt (curve));
    fprintf (out, "enroll-token: %s\n", token);
    fprintf (out, "endpoint: %s:%d\n", listen, port);
    fprintf (out, "admin-config: %s/admin.jadctl.yaml\n", absolute);
    status = 0;

done:
    free (text);
    ctl_store_destroy (&store);
    free (target);
    jad_keypair_destroy (&admin);
    jad_keypair_destroy (&curve);
    jad_keypair_destroy (&signing);
    return status;
}
