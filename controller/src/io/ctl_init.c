//  ctl_init - `jadugar-controller init`: a new controller's data directory
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_init.h"
#include "ctl_agents.h"
#include "ctl_agents_repo.h"
#include "ctl_leader.h"
#include "ctl_store.h"
#include "jad_keys.h"
#include "jad_util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
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
    "#    windows        when deploys are allowed, e.g. \"Tue 09:00-17:00\" or\n"
    "#                   \"Mon-Fri 09:00-17:00\"; outside them only emergency deploys\n"
    "#                   (rollbacks always)\n"
    "#    timezone       IANA zone windows and schedule are read in, e.g.\n"
    "#                   Europe/Berlin (default: the controller's local time)\n"
    "#    schedule       tracked releases wait for a slot: \"daily 09:00\",\n"
    "#                   \"every 2 weeks Tue 10:00 from 2026-12-08\" (jadctl schedule)\n"
    "#    emergency_approvals  roles that must each approve an emergency deploy;\n"
    "#                   {role: security, when: security} only a security one\n"
    "#                   (jadctl deploy --emergency --security)\n"
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
    "#  How long history is kept: raw metric samples, 1-minute rollups; the\n"
    "#  audit log (at least 1d) and finished plans are kept forever unless set.\n"
    "retention:\n"
    "  metrics: 24h\n"
    "  rollups: 30d\n"
    "  # audit: 730d\n"
    "  # plans: 365d\n"
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
    "#  A rule on one of the controller's security series (refusals: bad\n"
    "#  signatures, unknown keys, stale epochs agents reported, ZAP denials,\n"
    "#  refused API calls, bad enrollment tokens; its value is how many came\n"
    "#  within the window) has no env; its transitions are security.* events.\n"
    "alerts:\n"
    "  - { metric: jadugar_security_refusals, above: 20, window: 5m, for: 0s }\n"
    "  # - { env: prod, metric: http_error_rate, above: 0.05, for: 60s, action: rollback }\n"
    "\n"
    "#  The mail relay email notifications go through (starttls: true, and\n"
    "#  user with password_file, to log in).\n"
    "smtp:\n"
    "  host: 127.0.0.1\n"
    "  port: 25\n"
    "  from: jadugar@localhost\n"
    "\n"
    "#  Contacts: who is told, by email, webhook (a JSON POST) and/or command\n"
    "#  (run with JADUGAR_EVENT and JADUGAR_EVENT_JSON). Put your security\n"
    "#  team's address here.\n"
    "contacts:\n"
    "  security: { email: root@localhost }\n"
    "  # devops:  { email: devops@example.com, webhook: https://chat.example.com/hooks/deploys }\n"
    "\n"
    "#  Notification routes: events (deploy.*, rollback.*, alert.*,\n"
    "#  approval.needed, plan.paused, security.*, incident.*; none: all) in\n"
    "#  environments (envs; none: all) go to contacts (to) or to a command,\n"
    "#  webhook or email of their own.\n"
    "notify:\n"
    "  - { to: [security], events: [\"security.*\"] }\n"
    "  # - { to: [devops], events: [\"deploy.*\", \"rollback.*\", approval.needed,\n"
    "  #     plan.paused], envs: [prod] }\n"
    "  # - webhook: https://chat.example.com/hooks/deploys\n";

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

//  A new store's first state: the admin operator and an enrollment token
//  (into `token`, 33 bytes). Returns 0 or -1 (logged).
static int s_init_state (ctl_store_t *store, const jad_keypair_t *admin,
                         const jad_keypair_t *admin_signing, char *token)
{
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
    if (ctl_agents_repo_operator_add (store, "admin", jad_keypair_public_txt (admin), "admin",
                                      jad_keypair_public_txt (admin_signing), now) != 0 ||
        ctl_agents_repo_token_add (store, &init_token, token_hash) != 0)
        return -1;
    return 0;
}

//  The key files of a controller, in the order export-keys writes them.
static const struct {
    const char *name;
    jad_key_kind_t kind;
} s_key_files[] = {
    {"signing.key", JAD_KEY_ED25519},
    {"curve.key", JAD_KEY_CURVE},
    {"admin.key", JAD_KEY_CURVE},
};
#define S_KEY_FILES   (sizeof s_key_files / sizeof s_key_files[0])
#define S_KEY_MARK    "--- "  //  starts the line naming each key file in an export
#define S_EXPORT_MAX  16384   //  an export is ~1 KB
#define S_EXPORT_HEAD "#  jadugar-controller keys (export-keys): secret, keep it 0600\n"

//  Read a keys export: a regular file neither group nor others may read,
//  at most S_EXPORT_MAX bytes. Caller wipes (sodium_memzero) and frees.
//  NULL with the error printed.
static char *s_export_read (const char *path, size_t *size_p)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat info;
    char *text = NULL;
    if (fd < 0 || fstat (fd, &info) != 0) {
        fprintf (stderr, "jadugar-controller: --join %s: %s\n", path, strerror (errno));
        goto done;
    }
    if (!S_ISREG (info.st_mode) || info.st_size > S_EXPORT_MAX) {
        fprintf (stderr,
                 "jadugar-controller: --join %s: not a keys export (export-keys writes one)\n",
                 path);
        goto done;
    }
    if (info.st_mode & (S_IRWXG | S_IRWXO)) {
        fprintf (stderr,
                 "jadugar-controller: --join %s: mode %04o is accessible by group or others; "
                 "chmod 600 %s\n",
                 path, (unsigned)(info.st_mode & 07777), path);
        goto done;
    }
    text = (char *)calloc (1, (size_t)info.st_size + 1);
    size_t length = 0;
    while (text && length < (size_t)info.st_size) {
        ssize_t got = read (fd, text + length, (size_t)info.st_size - length);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            fprintf (stderr, "jadugar-controller: --join %s: %s\n", path,
                     got < 0 ? strerror (errno) : "shorter than its size");
            sodium_memzero (text, (size_t)info.st_size + 1);
            free (text);
            text = NULL;
            break;
        }
        length += (size_t)got;
    }
    if (text)
        *size_p = length;
done:
    if (fd >= 0)
        close (fd);
    return text;
}

//  Write the key files of a keys export into DATA/keys and load each (its
//  kind checked). Returns 0, or -1 (error printed, naming the file).
static int s_join_keys (const char *join, const char *data_dir)
{
    size_t size = 0;
    char *text = s_export_read (join, &size);
    if (!text)
        return -1;
    int rc = -1;
    size_t found = 0;
    for (size_t index = 0; index < S_KEY_FILES; index++) {
        //  "--- NAME\n" then the key file's text, up to the next mark
        char mark[64];
        snprintf (mark, sizeof mark, "\n" S_KEY_MARK "%s\n", s_key_files[index].name);
        char *start = strstr (text, mark);
        if (!start) {
            fprintf (stderr,
                     "jadugar-controller: --join %s: no %s in it (export-keys writes "
                     "every key)\n",
                     join, s_key_files[index].name);
            goto done;
        }
        start += strlen (mark);
        char *end = strstr (start, "\n" S_KEY_MARK);
        size_t length = end ? (size_t)(end - start) + 1 : strlen (start);
        char path[PATH_MAX], err[512];
        snprintf (path, sizeof path, "%s/keys/%s", data_dir, s_key_files[index].name);
        if (jad_file_write_atomic (path, start, length, 0600) != 0) {
            fprintf (stderr, "jadugar-controller: cannot write %s: %s\n", path, strerror (errno));
            goto done;
        }
        jad_keypair_t *pair = jad_keypair_load (path, err, sizeof err);
        bool right = pair && jad_keypair_kind (pair) == s_key_files[index].kind;
        jad_keypair_destroy (&pair);
        if (!right) {
            fprintf (stderr, "jadugar-controller: --join %s: its %s is no %s key%s%s\n", join,
                     s_key_files[index].name,
                     s_key_files[index].kind == JAD_KEY_ED25519 ? "signing" : "CURVE",
                     *err ? ": " : "", err);
            goto done;
        }
        found++;
    }
    rc = found == S_KEY_FILES ? 0 : -1;
done:
    sodium_memzero (text, size);
    free (text);
    return rc;
}

int ctl_init_export_keys (const char *data_dir, const char *out_path)
{
    if (!data_dir || !out_path) {
        fprintf (stderr, "jadugar-controller: export-keys needs --data DIR and --out FILE\n");
        return 2;
    }
    int status = 1;
    int fd = -1;
    size_t size = 64 * 1024;
    char *text = (char *)sodium_malloc (size);
    if (!text) {
        fprintf (stderr, "jadugar-controller: out of memory\n");
        return 1;
    }
    size_t length = (size_t)snprintf (text, size,
                                      S_EXPORT_HEAD "#  from %s; for: jadugar-controller init "
                                                    "--data DIR --store URL --join FILE\n",
                                      data_dir);
    for (size_t index = 0; index < S_KEY_FILES; index++) {
        char path[PATH_MAX], err[512];
        snprintf (path, sizeof path, "%s/keys/%s", data_dir, s_key_files[index].name);
        //  loaded first: only a valid key file of the right kind is exported
        jad_keypair_t *pair = jad_keypair_load (path, err, sizeof err);
        bool right = pair && jad_keypair_kind (pair) == s_key_files[index].kind;
        jad_keypair_destroy (&pair);
        if (!right) {
            fprintf (stderr, "jadugar-controller: %s\n", *err ? err : "wrong kind of key");
            goto done;
        }
        size_t got = 0;
        char *key = jad_file_read (path, 8192, &got);
        if (!key || length + got + 64 >= size) {
            fprintf (stderr, "jadugar-controller: cannot read %s: %s\n", path,
                     key ? "too large" : strerror (errno));
            if (key)
                sodium_memzero (key, got);
            free (key);
            goto done;
        }
        length += (size_t)snprintf (text + length, size - length, S_KEY_MARK "%s\n",
                                    s_key_files[index].name);
        memcpy (text + length, key, got);
        length += got;
        if (text[length - 1] != '\n')
            text[length++] = '\n';
        sodium_memzero (key, got);
        free (key);
    }
    //  a new file only, created 0600: an export never replaces anything
    fd = open (out_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        fprintf (stderr, "jadugar-controller: --out %s: %s\n", out_path, strerror (errno));
        status = errno == EEXIST ? 2 : 1;
        goto done;
    }
    if (fchmod (fd, 0600) != 0 || jad_write_all (fd, text, length) != 0 || fsync (fd) != 0) {
        fprintf (stderr, "jadugar-controller: cannot write %s: %s\n", out_path, strerror (errno));
        close (fd);
        fd = -1;
        unlink (out_path);
        goto done;
    }
    printf ("keys: %s\n", out_path);
    status = 0;
done:
    if (fd >= 0)
        close (fd);
    sodium_free (text);
    return status;
}

//  True if `host` (length bytes) can be an address in the client file's
//  comma-separated `controller:` list: a name or an IP address, nothing a
//  store row could smuggle into the YAML (commas, quotes, newlines).
static bool s_endpoint_host_ok (const char *host, size_t length)
{
    if (length == 0 || length > 255)
        return false;
    for (size_t at = 0; at < length; at++)
        if (!isalnum ((unsigned char)host[at]) && !strchr (".-_:[]", host[at]))
            return false;
    return true;
}

//  "ADDR:API," (API: the base port + 2) for every controller of the store
//  but this one (listen:port), the leader first; NULL if none or on error.
//  A row whose name is not HOST:PORT is left out, and said so.
static char *s_client_endpoints (ctl_store_t *store, const char *listen, int port)
{
    zlistx_t *controllers = ctl_leader_controllers (store);
    if (!controllers)
        return NULL;
    char self[300];
    snprintf (self, sizeof self, "%s:%d", listen, port);
    char *list = NULL;
    for (int leaders = 1; leaders >= 0; leaders--)
        for (ctl_controller_t *row = zlistx_first (controllers); row;
             row = zlistx_next (controllers)) {
            if (row->leader != (leaders == 1) || (row->name && streq (row->name, self)))
                continue;
            const char *colon = row->name ? strrchr (row->name, ':') : NULL;
            char *end = NULL;
            long base = colon ? strtol (colon + 1, &end, 10) : 0;
            if (!colon || end == colon + 1 || *end || base < 1 || base > 65532 ||
                !s_endpoint_host_ok (row->name, (size_t)(colon - row->name))) {
                fputs ("jadugar-controller: note: the store names a controller '", stderr);
                const char *name = row->name ? row->name : "";
                for (const char *at = name; *at && at - name < 80; at++)
                    fputc (isprint ((unsigned char)*at) ? *at : '?', stderr);
                fputs ("', not HOST:PORT; it is not in the client file\n", stderr);
                continue;
            }
            char *longer = jad_strdup_printf ("%s%.*s:%d,", list ? list : "",
                                              (int)(colon - row->name), row->name, (int)base + 2);
            free (list);
            list = longer;
            if (!list)
                break;
        }
    zlistx_destroy (&controllers);
    return list;
}

int ctl_init_run (const char *data_dir, const char *listen, int port, const char *store_url,
                  FILE *out)
{
    return ctl_init_join (data_dir, listen, port, store_url, NULL, out);
}

int ctl_init_join (const char *data_dir, const char *listen, int port, const char *store_url,
                   const char *join, FILE *out)
{
    char path[PATH_MAX];
    if (join && !store_url) {
        fprintf (stderr, "jadugar-controller: --join needs --store URL: the store the first "
                         "controller keeps its state in\n");
        return 2;
    }
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
    jad_keypair_t *signing = NULL, *curve = NULL, *admin = NULL;
    //  the admin's approvals key, beside its CURVE key as jadctl keygen
    //  writes them (DESIGN §10); a joining controller has the first's admin
    jad_keypair_t *admin_signing = NULL;
    ctl_store_t *store = NULL;
    char *target = NULL;
    char *text = NULL;
    char *endpoints = NULL;  //  "ADDR:API," for each controller on record
    char token[33] = "";
    ctl_operator_t *admin_before = NULL;
    if (join) {
        //  the first controller's keys: this one signs and answers as it
        if (s_join_keys (join, data_dir) != 0)
            goto done;
        char err[512] = "";
        const char *names[] = {"signing.key", "curve.key", "admin.key"};
        jad_keypair_t **pairs[] = {&signing, &curve, &admin};
        for (size_t index = 0; index < 3; index++) {
            snprintf (path, sizeof path, "%s/keys/%s", data_dir, names[index]);
            *pairs[index] = jad_keypair_load (path, err, sizeof err);
            if (!*pairs[index]) {
                fprintf (stderr, "jadugar-controller: %s\n", err);
                goto done;
            }
        }
    } else {
        signing = jad_keypair_new (JAD_KEY_ED25519);
        curve = jad_keypair_new (JAD_KEY_CURVE);
        admin = jad_keypair_new (JAD_KEY_CURVE);
        admin_signing = jad_keypair_new (JAD_KEY_ED25519);
        snprintf (path, sizeof path, "%s/keys/signing.key", data_dir);
        if (s_save_key (signing, path))
            goto done;
        snprintf (path, sizeof path, "%s/keys/curve.key", data_dir);
        if (s_save_key (curve, path))
            goto done;
        snprintf (path, sizeof path, "%s/keys/admin.key", data_dir);
        if (s_save_key (admin, path))
            goto done;
        snprintf (path, sizeof path, "%s/keys/admin.key.signing", data_dir);
        if (s_save_key (admin_signing, path))
            goto done;
    }

    target = ctl_store_target (data_dir, store_url);
    store = target ? ctl_store_open (target, join ? 0 : CTL_STORE_CREATE) : NULL;
    if (!store) {
        if (store_url)
            fprintf (stderr, "jadugar-controller: cannot open the --store database "
                             "(the log line above says why)\n");
        goto done;
    }
    //  0 found, 1 none
    if (ctl_agents_repo_operator_by_name (store, "admin", &admin_before) < 0) {
        fprintf (stderr, "jadugar-controller: cannot read the --store database\n");
        goto done;
    }
    if (!join && admin_before) {
        fprintf (stderr, "jadugar-controller: the --store database already holds a "
                         "controller's state: use an empty database, or join it with "
                         "--join FILE (export-keys of its first controller)\n");
        goto done;
    }
    if (join) {
        //  the keys must be this store's: its admin operator is the export's
        if (!admin_before || !admin_before->public_key ||
            strcmp (admin_before->public_key, jad_keypair_public_txt (admin)) != 0) {
            fprintf (stderr,
                     "jadugar-controller: --join %s: these keys are not the --store "
                     "database's (its admin operator has another key)\n",
                     join);
            goto done;
        }
    } else if (s_init_state (store, admin, admin_signing, token) != 0)
        goto done;

    //  A joined controller's client file names the controllers on record
    //  first (the leader, then those standing by) and itself last: the
    //  operator's jadctl reaches whichever leads.
    endpoints = join ? s_client_endpoints (store, listen, port) : NULL;
    char absolute[PATH_MAX];
    if (!realpath (data_dir, absolute)) {
        fprintf (stderr, "jadugar-controller: cannot resolve %s: %s\n", data_dir, strerror (errno));
        goto done;
    }
    text = jad_strdup_printf ("#  jadctl client file for the operator 'admin'\n"
                              "#  Use it with: export JADUGAR_CONFIG=%s/admin.jadctl.yaml\n"
                              "controller: %s%s:%d\n"
                              "controller-key: '%s'\n"
                              "key: keys/admin.key\n",
                              absolute, endpoints ? endpoints : "", listen, port + 2,
                              jad_keypair_public_txt (curve));
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
    if (*token)
        fprintf (out, "enroll-token: %s\n", token);
    fprintf (out, "endpoint: %s:%d\n", listen, port);
    fprintf (out, "admin-config: %s/admin.jadctl.yaml\n", absolute);
    status = 0;

done:
    if (status != 0) {
        //  no key stays behind a failed init (a database not reachable
        //  yet left fresh keys that export-keys then exported), nor
        //  anything of the export behind a failed join
        for (size_t index = 0; index < S_KEY_FILES; index++) {
            snprintf (path, sizeof path, "%s/keys/%s", data_dir, s_key_files[index].name);
            unlink (path);
        }
        snprintf (path, sizeof path, "%s/keys/admin.key.signing", data_dir);
        unlink (path);
    }
    ctl_operator_destroy (&admin_before);
    free (text);
    free (endpoints);
    ctl_store_destroy (&store);
    free (target);
    jad_keypair_destroy (&admin);
    jad_keypair_destroy (&admin_signing);
    jad_keypair_destroy (&curve);
    jad_keypair_destroy (&signing);
    return status;
}
