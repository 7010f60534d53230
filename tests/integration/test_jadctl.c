//  test_jadctl - the operator's command line as scripts and people meet it:
//  output into a pipe, one --json shape per thing, a controller that is
//  not there, --version, help, did-you-mean, and remote text that must
//  not reach the terminal raw
//  SPDX-License-Identifier: MPL-2.0
//
//  Real controller and agent processes on loopback (jt_fleet_*), jadctl
//  run as a separate process exactly as a shell runs it.

#include "jad_testlib.h"
#include "jad_wire.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_BIN_JADCTL JAD_BIN_DIR "/controller/jadctl"

static jt_fleet_t *fleet;

static void s_teardown (void)
{
    jt_fleet_destroy (&fleet);
}

TestSuite (jadctl, .fini = s_teardown, .timeout = 180);

//  --------------------------------------------------------------------------
//  Helpers

//  A fleet with one agent web-1 in dev, online.
static void s_fleet_with_agent (void)
{
    fleet = jt_fleet_new ();
    jt_fleet_add_agent (fleet, "web-1", "dev");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000),
               "web-1 did not come online");
}

//  Add release web VERSION; with a gate, its pre_activate hook waits until
//  the file GATE exists, so that the plan stays running until the test
//  lets it go on. Extra jadctl arguments (e.g. --notes FILE) in `extra`.
static void s_add_release (const char *version, const char *gate, const char *extra)
{
    char name[64], hook[512];
    snprintf (name, sizeof name, "web-%s", version);
    snprintf (hook, sizeof hook, "#!/bin/sh\nwhile [ ! -e '%s' ]; do sleep 0.05; done\n",
              gate ? gate : "/");
    const char *files[] = {"jadugar.yaml", "hooks:\n  pre_activate: ./hooks/prepare.sh\n",
                           "hooks/prepare.sh", hook, NULL};
    char *archive = jt_make_release (fleet->dir, name, files);
    char *output = NULL;
    int rc = jt_jadctl (fleet, &output, "release add web %s %s %s", version, archive,
                        extra ? extra : "");
    cr_assert_eq (rc, 0, "release add %s: %s", version, output);
    free (output);
    free (archive);
}

//  Parse jadctl's --json output; fails the test unless it is one object.
static json_t *s_parse (const char *output)
{
    json_error_t error;
    json_t *root = json_loads (output ? output : "", 0, &error);
    cr_assert (json_is_object (root), "not one JSON object (%s): %s", error.text, output);
    return root;
}

//  Run jadctl --json ARGS, expect exit `code`, return the parsed object.
static json_t *s_json (int code, const char *args)
{
    char *output = NULL;
    int rc = jt_jadctl (fleet, &output, "--json %s", args);
    cr_assert_eq (rc, code, "jadctl --json %s: exit %d: %s", args, rc, output);
    json_t *root = s_parse (output);
    free (output);
    return root;
}

//  The member names of an object, sorted, as one string.
static char *s_keys (json_t *object)
{
    json_t *names = json_array ();
    const char *key;
    json_t *value;
    json_object_foreach (object, key, value) json_array_append_new (names, json_string (key));
    char *text = json_dumps (names, JSON_COMPACT);
    json_decref (names);
    return text;
}

//  The one shape of a plan: {"plan": PLAN} with every member of a full
//  plan; returns the plan's member names (caller frees) for comparison.
static char *s_expect_plan (json_t *root, const char *what)
{
    json_t *plan = json_object_get (root, "plan");
    cr_assert (json_is_object (plan), "%s: no \"plan\" object", what);
    cr_expect (json_is_string (json_object_get (plan, "id")), "%s: plan without id", what);
    const char *full[] = {"hosts", "events", "approvals", "decisions", "state", "outcome", NULL};
    for (size_t index = 0; full[index]; index++)
        cr_expect (json_object_get (plan, full[index]) != NULL, "%s: the plan lacks \"%s\"", what,
                   full[index]);
    return s_keys (plan);
}

typedef struct {
    const char *plan_id;
    const char *needle;
} s_plan_wait_t;

static bool s_plan_has (void *arg)
{
    s_plan_wait_t *wait = arg;
    char *output = NULL;
    jt_jadctl (fleet, &output, "--json plan show %s", wait->plan_id);
    bool found = output && strstr (output, wait->needle);
    free (output);
    return found;
}

//  Read one line from fd into line (at most size-1 bytes) before the
//  deadline (monotonic ms). Returns true if a whole line came.
static bool s_read_line (int fd, char *line, size_t size, int64_t deadline)
{
    size_t used = 0;
    while (used + 1 < size) {
        struct timespec now;
        clock_gettime (CLOCK_MONOTONIC, &now);
        int64_t left = deadline - ((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
        if (left <= 0)
            break;
        struct pollfd item = {.fd = fd, .events = POLLIN};
        int ready = poll (&item, 1, (int)left);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            break;
        char byte;
        if (read (fd, &byte, 1) != 1)
            break;
        if (byte == '\n') {
            line[used] = 0;
            return true;
        }
        line[used++] = byte;
    }
    line[used] = 0;
    return false;
}

static int64_t s_in_ms (int ms)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + ms;
}

//  Start jadctl ARGV... (admin client file) with stdout into a pipe, whose
//  read end is returned in *fd; stderr goes to DIR/jadctl.err.
static pid_t s_spawn_piped (int *fd, char *const args[])
{
    int ends[2];
    cr_assert_eq (pipe (ends), 0);
    char err[PATH_MAX];
    snprintf (err, sizeof err, "%s/jadctl.err", fleet->dir);
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        dup2 (ends[1], 1);
        int log = open (err, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (log >= 0)
            dup2 (log, 2);
        close (ends[0]);
        char *argv[16] = {S_BIN_JADCTL, "--config", fleet->admin_config};
        int count = 3;
        for (int index = 0; args[index] && count < 15; index++)
            argv[count++] = args[index];
        argv[count] = NULL;
        execv (argv[0], argv);
        _exit (127);
    }
    close (ends[1]);
    *fd = ends[0];
    return pid;
}

//  The rest of what jadctl (pid) writes into the pipe fd, once it exits
//  (a minute without a line ends it); the pipe is closed and the exit
//  status in *status. Caller frees.
static char *s_read_to_end (int fd, pid_t pid, int *status)
{
    char *rest = NULL, line[1024];
    size_t size = 0;
    FILE *stream = open_memstream (&rest, &size);
    cr_assert (stream);
    while (s_read_line (fd, line, sizeof line, s_in_ms (60000)))
        fprintf (stream, "%s\n", line);
    fclose (stream);
    close (fd);
    cr_assert_eq (waitpid (pid, status, 0), pid);
    return rest;
}

//  True if text holds a byte a terminal acts on: a C0 control other than
//  newline, DEL, or a C1 control (UTF-8 C2 80..C2 9F).
static bool s_has_control (const char *text, char *where, size_t len)
{
    for (const unsigned char *cursor = (const unsigned char *)text; *cursor; cursor++) {
        bool control = (*cursor < 0x20 && *cursor != '\n') || *cursor == 0x7F ||
                       (*cursor == 0xC2 && cursor[1] >= 0x80 && cursor[1] <= 0x9F);
        if (control) {
            const char *start = (const char *)cursor - ((const char *)cursor - text > 20 ? 20 : 0);
            snprintf (where, len, "byte 0x%02x near \"%.40s\"", *cursor, start);
            return true;
        }
    }
    return false;
}

//  A line of text that starts with needle (a forged line).
static bool s_line_starts (const char *text, const char *needle)
{
    for (const char *line = text; line; line = strchr (line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp (line, needle, strlen (needle)) == 0)
            return true;
    }
    return false;
}

//  A TCP port on 127.0.0.1 held by a socket of ours: bound and not
//  listening (a connection is refused), or listening but never accepting
//  (a connection is made and nothing ever answers). *fd keeps it.
static int s_port (bool listening, int *fd)
{
    *fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq (*fd, 0);
    struct sockaddr_in address = {.sin_family = AF_INET};
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t len = sizeof address;
    cr_assert_eq (bind (*fd, (struct sockaddr *)&address, sizeof address), 0);
    cr_assert_eq (getsockname (*fd, (struct sockaddr *)&address, &len), 0);
    if (listening)
        cr_assert_eq (listen (*fd, 8), 0);
    return ntohs (address.sin_port);
}

//  A client file for 127.0.0.1:port with a real operator key; returns
//  its path (caller frees).
static char *s_client_file (const char *dir, int port)
{
    char *output = NULL;
    cr_assert_eq (jt_run (&output, "%s keygen %s/op.key", S_BIN_JADCTL, dir), 0, "%s", output);
    free (output);
    char *path = NULL;
    cr_assert_geq (asprintf (&path, "%s/client.yaml", dir), 0);
    char text[512];
    snprintf (
        text, sizeof text,
        "controller: 127.0.0.1:%d\ncontroller-key: 'rq:rM>}U?@Lns47E1%%kR.o@n%%FcmmsL/@{H8]yf7'"
        "\nkey: op.key\n",
        port);
    jt_write_file (path, text, 0600);
    return path;
}

//  --------------------------------------------------------------------------
//  Issue 13 item 3: a CI log shows the plan id and every event at once

Test (jadctl, deploy_wait_into_a_pipe_shows_each_line_as_it_happens)
{
    s_fleet_with_agent ();
    char gate[PATH_MAX];
    snprintf (gate, sizeof gate, "%s/gate", fleet->dir);
    s_add_release ("1.0", gate, NULL);

    int fd = -1;
    char *args[] = {"deploy", "web", "1.0", "--env", "dev", "--wait", NULL};
    pid_t pid = s_spawn_piped (&fd, args);
    //  the plan cannot end before the gate opens: whatever arrives now
    //  was flushed line by line, not at exit
    char line[1024];
    cr_assert (s_read_line (fd, line, sizeof line, s_in_ms (30000)),
               "no first line from jadctl deploy --wait into a pipe (got \"%s\")", line);
    cr_expect (strstr (line, ": deploy web 1.0 to dev"), "first line: %s", line);
    char plan_id[16] = "";
    cr_assert_eq (sscanf (line, "plan %15[0-9a-f]:", plan_id), 1, "no plan id in: %s", line);
    cr_assert (s_read_line (fd, line, sizeof line, s_in_ms (30000)),
               "no event line while the plan runs (got \"%s\")", line);
    //  an event: "HH:MM:SS  HOST  STEP  STATUS  DETAIL"
    cr_expect (line[2] == ':' && line[5] == ':', "not an event line: %s", line);
    s_plan_wait_t running = {plan_id, "\"state\": \"running\""};
    cr_assert (s_plan_has (&running), "the plan is not running any more: the gate is shut");
    cr_assert_eq (access (gate, F_OK), -1);

    jt_write_file (gate, "go\n", 0644);
    int status = 0;
    char *rest = s_read_to_end (fd, pid, &status);
    cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0, "jadctl exited %d:\n%s", status,
               rest);
    char done[64];
    snprintf (done, sizeof done, "plan %s succeeded", plan_id);
    cr_expect (strstr (rest, done), "no \"%s\" in:\n%s", done, rest);
    free (rest);
}

//  A controller restart in the middle of the plan: --wait says it lost
//  the controller, tries again, and still exits with the plan's outcome.
Test (jadctl, deploy_wait_rides_out_a_controller_restart)
{
    s_fleet_with_agent ();
    char gate[PATH_MAX], err[PATH_MAX];
    snprintf (gate, sizeof gate, "%s/gate", fleet->dir);
    snprintf (err, sizeof err, "%s/jadctl.err", fleet->dir);
    s_add_release ("1.0", gate, NULL);

    int fd = -1;
    char *args[] = {"deploy", "web", "1.0", "--env", "dev", "--wait", NULL};
    pid_t pid = s_spawn_piped (&fd, args);
    char line[1024], plan_id[16] = "";
    cr_assert (s_read_line (fd, line, sizeof line, s_in_ms (30000)), "no first line: %s", line);
    cr_assert_eq (sscanf (line, "plan %15[0-9a-f]:", plan_id), 1, "no plan id in: %s", line);

    //  down long enough for jadctl to notice, then up again
    cr_assert_eq (jt_stop (fleet->controller), 0);
    fleet->controller = 0;
    cr_assert (jt_wait_file_has (err, "note: lost the controller at 127.0.0.1:", 30000),
               "jadctl did not say it lost the controller");
    jt_fleet_start_controller (fleet);
    cr_assert (jt_wait_file_has (err, "note: the controller at 127.0.0.1:", 60000),
               "jadctl did not find the controller again");
    jt_write_file (gate, "go\n", 0644);

    int status = 0;
    char *rest = s_read_to_end (fd, pid, &status);
    char *errors = jt_read_file (err);
    cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0, "jadctl exited %d:\n%s\n%s", status,
               rest, errors);
    char done[64];
    snprintf (done, sizeof done, "plan %s succeeded", plan_id);
    cr_expect (strstr (rest, done), "no \"%s\" in:\n%s", done, rest);
    cr_expect (!strstr (errors, "jadctl: "), "an error line on the way:\n%s", errors);
    free (errors);
    free (rest);
}

//  A wrong controller-key: the controller cannot read jadctl's hello and
//  hangs up, again and again. jadctl says so (not "refused this operator
//  key", not a wait for --timeout) and exits 3.
Test (jadctl, a_wrong_controller_key_is_named_at_once)
{
    fleet = jt_fleet_new ();
    char *text = jt_read_file (fleet->admin_config);
    cr_assert (text);
    char *key = strstr (text, "controller-key: ");
    cr_assert (key, "%s", text);
    key += strlen ("controller-key: ");
    if (*key == '\'' || *key == '"')
        key++;
    //  another valid Z85 key: the first character changed
    *key = *key == '0' ? '1' : '0';
    //  beside the admin's client file: its key path is relative to it
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s", fleet->admin_config);
    cr_assert (strrchr (path, '/'));
    snprintf (strrchr (path, '/'), sizeof path - (size_t)(strrchr (path, '/') - path),
              "/wrong.jadctl.yaml");
    jt_write_file (path, text, 0600);
    free (text);

    char *output = NULL;
    int rc = jt_run (&output, "%s --config %s --timeout 60s status", S_BIN_JADCTL, path);
    cr_expect_eq (rc, 3, "%s", output);
    cr_expect (output && strstr (output, "the handshake with the controller at 127.0.0.1:") &&
                   strstr (output, "failed 3 times in a row") && strstr (output, "controller-key"),
               "%s", output);
    cr_expect (output && !strstr (output, "refused this operator key"), "%s", output);
    free (output);
}

//  --------------------------------------------------------------------------
//  Issue 13 item 6: one --json shape per thing

Test (jadctl, json_prints_one_shape_per_thing)
{
    s_fleet_with_agent ();
    char gate[PATH_MAX];
    snprintf (gate, sizeof gate, "%s/gate", fleet->dir);

    //  a release: {"release": RELEASE, "exists": BOOL, "auto_deploy": [...]}
    const char *files[] = {"jadugar.yaml", "hooks: {}\n", NULL};
    char *archive = jt_make_release (fleet->dir, "web-1.0", files);
    char args[PATH_MAX + 64];
    snprintf (args, sizeof args, "release add web 1.0 %s", archive);
    json_t *added = s_json (0, args);
    json_t *release = json_object_get (added, "release");
    cr_assert (json_is_object (release), "release add: no \"release\" object");
    cr_expect_str_eq (json_string_value (json_object_get (release, "version")), "1.0");
    cr_expect (json_is_false (json_object_get (added, "exists")));
    cr_expect (json_is_array (json_object_get (added, "auto_deploy")));
    char *release_keys = s_keys (release);
    json_decref (added);
    added = s_json (0, args);  //  the same release again
    cr_expect (json_is_true (json_object_get (added, "exists")), "a second add is not \"exists\"");
    char *again_keys = s_keys (json_object_get (added, "release"));
    cr_expect_str_eq (again_keys, release_keys, "a release has two shapes");
    free (again_keys);
    json_decref (added);
    json_t *list = s_json (0, "release list web");
    char *listed_keys = s_keys (json_array_get (json_object_get (list, "releases"), 0));
    cr_expect_str_eq (listed_keys, release_keys, "release list shows a release otherwise");
    free (listed_keys);
    free (release_keys);
    json_decref (list);
    free (archive);

    //  a plan: {"plan": PLAN} from deploy, deploy --wait, plan show,
    //  pause, resume, rollback
    json_t *waited = s_json (0, "deploy web 1.0 --env dev --wait");
    char *plan_keys = s_expect_plan (waited, "deploy --wait");
    json_t *plan = json_object_get (waited, "plan");
    cr_expect_str_eq (json_string_value (json_object_get (plan, "state")), "succeeded");
    cr_expect_gt (json_array_size (json_object_get (plan, "events")), 0, "--wait without events");
    char first_id[16];
    snprintf (first_id, sizeof first_id, "%s", json_string_value (json_object_get (plan, "id")));
    json_decref (waited);
    snprintf (args, sizeof args, "plan show %s", first_id);
    json_t *shown = s_json (0, args);
    char *keys = s_expect_plan (shown, "plan show");
    cr_expect_str_eq (keys, plan_keys, "plan show and deploy --wait print two shapes");
    free (keys);
    json_decref (shown);

    s_add_release ("2.0", gate, NULL);
    json_t *started = s_json (0, "deploy web 2.0 --env dev");
    keys = s_expect_plan (started, "deploy");
    cr_expect_str_eq (keys, plan_keys, "deploy and deploy --wait print two shapes");
    free (keys);
    char second_id[16];
    snprintf (second_id, sizeof second_id, "%s",
              json_string_value (json_object_get (json_object_get (started, "plan"), "id")));
    json_decref (started);
    const char *controls[] = {"pause", "resume"};
    for (size_t index = 0; index < 2; index++) {
        snprintf (args, sizeof args, "plan %s %s", controls[index], second_id);
        json_t *controlled = s_json (0, args);
        keys = s_expect_plan (controlled, controls[index]);
        cr_expect_str_eq (keys, plan_keys, "plan %s prints another shape", controls[index]);
        free (keys);
        json_decref (controlled);
    }
    jt_write_file (gate, "go\n", 0644);
    s_plan_wait_t done = {second_id, "\"state\": \"succeeded\""};
    cr_assert (jt_wait_for (s_plan_has, &done, 60000), "plan %s did not succeed", second_id);
    json_t *rollback = s_json (0, "rollback web --env dev --to 1.0");
    keys = s_expect_plan (rollback, "rollback");
    cr_expect_str_eq (keys, plan_keys, "rollback prints another shape");
    free (keys);
    cr_expect_str_eq (
        json_string_value (json_object_get (json_object_get (rollback, "plan"), "kind")),
        "rollback");
    char rollback_id[16];
    snprintf (rollback_id, sizeof rollback_id, "%s",
              json_string_value (json_object_get (json_object_get (rollback, "plan"), "id")));
    json_decref (rollback);
    s_plan_wait_t rolled = {rollback_id, "\"state\": \"succeeded\""};
    cr_assert (jt_wait_for (s_plan_has, &rolled, 60000), "rollback %s did not succeed",
               rollback_id);
    json_t *plans = s_json (0, "plans");
    cr_expect_eq (json_array_size (json_object_get (plans, "plans")), 3);
    json_decref (plans);

    //  abort prints the plan it failed
    char gate3[PATH_MAX];
    snprintf (gate3, sizeof gate3, "%s/gate3", fleet->dir);
    s_add_release ("3.0", gate3, NULL);
    started = s_json (0, "deploy web 3.0 --env dev");
    snprintf (args, sizeof args, "plan abort %s",
              json_string_value (json_object_get (json_object_get (started, "plan"), "id")));
    json_decref (started);
    json_t *aborted = s_json (0, args);
    jt_write_file (gate3, "go\n", 0644);  //  the hook ends; the agent rolls back
    keys = s_expect_plan (aborted, "plan abort");
    cr_expect_str_eq (keys, plan_keys, "plan abort prints another shape");
    free (keys);
    cr_expect_str_eq (
        json_string_value (json_object_get (json_object_get (aborted, "plan"), "state")), "failed");
    json_decref (aborted);

    //  one of anything else is under its name
    char *output = NULL;
    cr_assert_eq (jt_run (&output, "%s --json keygen %s/bob.key", S_BIN_JADCTL, fleet->dir), 0);
    json_t *key = s_parse (output);
    free (output);
    const char *public_key = json_string_value (json_object_get (key, "public_key"));
    cr_assert_not_null (public_key, "keygen --json has no public_key");
    char file[PATH_MAX];
    snprintf (file, sizeof file, "%s/bob.pub", fleet->dir);
    jt_write_file (file, public_key, 0600);
    snprintf (args, sizeof args, "operator add bob --role viewer --public-key \"$(cat %s)\"", file);
    json_t *registered = s_json (0, args);
    cr_expect_str_eq (
        json_string_value (json_object_get (json_object_get (registered, "operator"), "name")),
        "bob");
    json_decref (registered);
    json_decref (key);
    json_t *alert = s_json (0, "alert add --env dev --metric errors --above 1 --for 30s");
    json_t *rule = json_object_get (alert, "alert");
    cr_assert (json_is_object (rule), "alert add: no \"alert\" object");
    cr_expect_str_eq (json_string_value (json_object_get (rule, "metric")), "errors");
    snprintf (args, sizeof args, "alert rm %s", json_string_value (json_object_get (rule, "id")));
    json_decref (alert);
    json_t *removed = s_json (0, args);
    cr_expect (json_is_string (json_object_get (removed, "removed")), "alert rm: no \"removed\"");
    json_decref (removed);
    //  the lists, each under its plural name
    const struct {
        const char *args;
        const char *member;
    } lists[] = {{"status", "agents"},
                 {"agents", "agents"},
                 {"alerts", "alerts"},
                 {"operator list", "operators"},
                 {"audit", "audit"},
                 {"release list", "releases"},
                 {"metrics --env dev", "series"},
                 {"controllers", "controllers"},
                 {"status", "controllers"}};
    for (size_t index = 0; index < sizeof lists / sizeof lists[0]; index++) {
        json_t *listed = s_json (0, lists[index].args);
        cr_expect (json_is_array (json_object_get (listed, lists[index].member)),
                   "%s: no \"%s\" list", lists[index].args, lists[index].member);
        json_decref (listed);
    }
    //  one controller: the one answering leads, epoch 0 on SQLite (1 on
    //  PostgreSQL, where the first leader takes epoch 1)
    json_t *controllers = s_json (0, "controllers");
    json_t *only = json_array_get (json_object_get (controllers, "controllers"), 0);
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "127.0.0.1:%d", fleet->port);
    cr_expect_eq (json_array_size (json_object_get (controllers, "controllers")), 1);
    cr_expect_str_eq (json_string_value (json_object_get (only, "endpoint")), endpoint);
    cr_expect_str_eq (json_string_value (json_object_get (only, "role")), "leader");
    cr_expect_eq (json_integer_value (json_object_get (only, "epoch")), fleet->store ? 1 : 0);
    cr_expect_str_eq (json_string_value (json_object_get (only, "state")), "up");
    json_decref (controllers);
    char *table = NULL;
    cr_expect_eq (jt_jadctl (fleet, &table, "controllers"), 0);
    cr_expect (table && strstr (table, endpoint) && strstr (table, " leader "),
               "controllers table: %s", table);
    free (table);
    json_t *floor = s_json (0, "release floor web 1.0");
    cr_expect_str_eq (json_string_value (json_object_get (floor, "version")), "1.0");
    json_decref (floor);
    json_t *version = s_json (0, "--version");
    cr_expect_str_eq (json_string_value (json_object_get (version, "jadctl")), JADUGAR_VERSION);
    cr_expect_str_eq (
        json_string_value (json_object_get (json_object_get (version, "controller"), "version")),
        JADUGAR_VERSION);
    json_decref (version);
    //  last, as it cuts web-1 off: one agent under "agent"
    json_t *agent = s_json (0, "agents remove web-1");
    cr_expect_str_eq (
        json_string_value (json_object_get (json_object_get (agent, "agent"), "state")), "removed");
    json_decref (agent);
    free (plan_keys);
}

//  --------------------------------------------------------------------------
//  Issue 13 item 13: unreachable, --timeout, --version, help, did-you-mean

Test (jadctl, a_refused_connection_fails_at_once_naming_the_endpoint)
{
    char *dir = jt_tempdir ("jadctl-unreachable");
    int fd = -1;
    int port = s_port (false, &fd);
    char *client = s_client_file (dir, port);
    char *output = NULL;
    //  a long --timeout: only the refusal itself can end this quickly, and
    //  the message says which way it ended
    int rc = jt_run (&output, "%s --config %s --timeout 120s status", S_BIN_JADCTL, client);
    cr_expect_eq (rc, 3, "exit %d: %s", rc, output);
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "controller at 127.0.0.1:%d", port);
    cr_expect (output && strstr (output, endpoint), "the endpoint is not named: %s", output);
    cr_expect (output && strstr (output, "Connection refused"), "%s", output);
    cr_expect (output && strstr (output, client), "the client file is not named: %s", output);
    free (output);
    close (fd);
    free (client);
    jt_rmtree (dir);
    free (dir);
}

Test (jadctl, a_silent_controller_fails_after_timeout)
{
    char *dir = jt_tempdir ("jadctl-silent");
    int fd = -1;
    int port = s_port (true, &fd);  //  TCP connects, nothing ever answers
    char *client = s_client_file (dir, port);
    char *output = NULL;
    int rc = jt_run (&output, "%s --config %s --timeout 1s status", S_BIN_JADCTL, client);
    cr_expect_eq (rc, 3, "exit %d: %s", rc, output);
    char expected[96];
    snprintf (expected, sizeof expected,
              "no answer from the controller at 127.0.0.1:%d within 1.0s", port);
    cr_expect (output && strstr (output, expected), "%s", output);
    free (output);
    rc = jt_run (&output, "%s --config %s --timeout soon status", S_BIN_JADCTL, client);
    cr_expect_eq (rc, 2);
    cr_expect (output && strstr (output, "--timeout 'soon' is not a duration"), "%s", output);
    free (output);
    close (fd);
    free (client);
    jt_rmtree (dir);
    free (dir);
}

Test (jadctl, version_names_client_and_controller)
{
    s_fleet_with_agent ();
    char *output = NULL;
    int rc = jt_jadctl (fleet, &output, "--version");
    cr_expect_eq (rc, 0, "%s", output);
    char expected[128];
    snprintf (expected, sizeof expected, "jadctl %s\ncontroller %s at 127.0.0.1:%d (protocol",
              JADUGAR_VERSION, JADUGAR_VERSION, fleet->port + 2);
    cr_expect (output && strstr (output, expected), "%s", output);
    free (output);
    //  without a client file: the client's version, and why nothing more
    rc = jt_run (&output, "HOME=/nonexistent JADUGAR_CONFIG= %s --version", S_BIN_JADCTL);
    cr_expect_eq (rc, 0, "%s", output);
    snprintf (expected, sizeof expected, "jadctl %s\n", JADUGAR_VERSION);
    cr_expect (output && strncmp (output, expected, strlen (expected)) == 0, "%s", output);
    cr_expect (output && strstr (output, "no client file"), "%s", output);
    free (output);
}

Test (jadctl, help_command_and_did_you_mean)
{
    const struct {
        const char *args;
        int code;
        const char *says;
    } cases[] = {
        {"help deploy", 0, "usage: jadctl deploy APP VERSION --env E"},
        {"help rollback", 0, "[--to VERSION | --version VERSION]"},
        {"deploy --help", 0, "usage: jadctl deploy APP VERSION --env E"},
        {"help", 0, "  plan show|abort|pause|resume|approve ID\n"},
        {"help deplyo", 2, "unknown command 'deplyo'; did you mean 'deploy'?"},
        {"statsu", 2, "unknown command 'statsu'; did you mean 'status'?"},
        {"frobnicate", 2, "unknown command 'frobnicate' (valid: status, agents, release"},
        {"--verison", 2, "unknown option '--verison'; did you mean '--version'?"},
        {"deploy web 1.0 --evn dev", 2, "deploy: unknown option '--evn'; did you mean '--env'?"},
        {"deploy web 1.0 --env dev --skip", 2, "did you mean '--skip-offline'?"},
        {"deploy web 1.0 --env dev --colour", 2, "(valid: --env, --strategy, --batch"},
        {"rollback web --env dev --ot 1.0", 2, "did you mean '--to'?"},
        {"plan shwo 1234abcd", 2, "plan: unknown action 'shwo'; did you mean 'show'?"},
        {"agents acept web-1", 2, "agents: unknown action 'acept'; did you mean 'accept'?"},
        {"release lsit", 2, "release: unknown action 'lsit'; did you mean 'list'?"},
        {"operator add bob --roel viewer", 2, "did you mean '--role'?"},
        {"rollback web --env dev --to 1.0 --version 2.0", 2, "--to '1.0' and --version '2.0'"},
        {"deploy web", 2, "usage: jadctl deploy APP VERSION"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        char *output = NULL;
        //  none of these needs (or may reach) a controller
        int rc = jt_run (&output, "%s --config /nonexistent/client.yaml %s", S_BIN_JADCTL,
                         cases[index].args);
        cr_expect_eq (rc, cases[index].code, "jadctl %s: exit %d: %s", cases[index].args, rc,
                      output);
        cr_expect (output && strstr (output, cases[index].says), "jadctl %s: no \"%s\" in: %s",
                   cases[index].args, cases[index].says, output);
        free (output);
    }
}

Test (jadctl, rollback_takes_version_as_to)
{
    s_fleet_with_agent ();
    s_add_release ("1.0", NULL, NULL);
    s_add_release ("2.0", NULL, NULL);
    char *output = NULL;
    const char *versions[] = {"1.0", "2.0"};
    for (size_t index = 0; index < 2; index++) {
        int rc = jt_jadctl (fleet, &output, "deploy web %s --env dev --wait", versions[index]);
        cr_assert_eq (rc, 0, "%s", output);
        free (output);
    }
    int rc = jt_jadctl (fleet, &output, "rollback web --env dev --version 1.0 --wait");
    cr_expect_eq (rc, 0, "%s", output);
    cr_expect (output && strstr (output, "roll back web 1.0 to dev"), "%s", output);
    free (output);
    char *root = jt_fleet_root (fleet, 0);
    char current[PATH_MAX], target[64] = "";
    snprintf (current, sizeof current, "%s/web/current", root);
    ssize_t size = readlink (current, target, sizeof target - 1);
    target[size > 0 ? size : 0] = 0;
    cr_expect_str_eq (target, "releases/1.0");
    free (root);
}

//  --------------------------------------------------------------------------
//  Issue 17: canary keys and security series from the command line, and
//  completion words from the controller

Test (jadctl, alert_add_takes_canary_keys_and_the_controllers_series)
{
    s_fleet_with_agent ();
    json_t *alerts = s_json (0, "alerts");
    size_t before = json_array_size (json_object_get (alerts, "alerts"));
    json_decref (alerts);
    json_t *added = s_json (0, "alert add --env dev --metric errors --above 1 --for 30s "
                               "--compare baseline --ratio 1.5");
    json_t *rule = json_object_get (added, "alert");
    cr_assert (json_is_object (rule), "alert add: no \"alert\" object");
    cr_expect_str_eq (json_string_value (json_object_get (rule, "canary")), "host");
    cr_expect_str_eq (json_string_value (json_object_get (rule, "compare")), "baseline");
    cr_expect_eq (json_number_value (json_object_get (rule, "ratio")), 1.5);
    cr_expect (json_is_null (json_object_get (rule, "difference")));
    json_decref (added);
    added = s_json (0, "alert add --env dev --metric latency --above 900 --for 30s --canary "
                       "aggregate --compare baseline --difference 0.25");
    rule = json_object_get (added, "alert");
    cr_expect_str_eq (json_string_value (json_object_get (rule, "canary")), "aggregate");
    cr_expect_eq (json_number_value (json_object_get (rule, "difference")), 0.25);
    cr_expect (json_is_null (json_object_get (rule, "ratio")));
    json_decref (added);
    //  the controller's own series: no environment, one sample, no canary
    added = s_json (0, "alert add --metric jadugar_security_bad_token --above 5 --for 0s");
    rule = json_object_get (added, "alert");
    cr_expect_str_eq (json_string_value (json_object_get (rule, "env")), "");
    cr_expect_eq (json_integer_value (json_object_get (rule, "min_samples")), 1);
    cr_expect (json_is_null (json_object_get (rule, "canary")));
    json_decref (added);
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "alerts"), 0, "%s", output);
    cr_expect (output && strstr (output, "CANARY"), "%s", output);
    cr_expect (output && strstr (output, "host vs baseline x1.5"), "%s", output);
    cr_expect (output && strstr (output, "aggregate vs baseline +0.25"), "%s", output);
    cr_expect (output && strstr (output, " -        ok "), "security rule has no env: %s", output);
    free (output);
    //  each mistake named, nothing added
    const struct {
        const char *args;
        const char *says;
    } refused[] = {
        {"--env dev --metric jadugar_security_bad_token --above 5 --for 0s",
         "controller's own series"},
        {"--metric jadugar_security_nonsense --above 5 --for 0s", "is not a controller series"},
        {"--metric errors --above 1 --for 30s", "--env must name an environment"},
        {"--env dev --metric errors --above 1 --for 30s --compare baseline",
         "exactly one of --ratio"},
        {"--env dev --metric errors --above 1 --for 30s --ratio 2", "--ratio needs --compare"},
        {"--env dev --metric errors --above 1 --for 30s --compare baseline --ratio 0",
         "--ratio '0' is not a number above 0"},
        {"--env dev --metric errors --above 1 --for 30s --compare baseline --difference -1",
         "--difference '-1' is not a number of 0 or more"},
        {"--env dev --metric errors --above 1 --for 30s --canary off --compare baseline --ratio 2",
         "not with --canary off"},
        {"--env dev --metric errors --above 1 --for 30s --canary sometimes",
         "--canary must be host, aggregate or off"},
        {"--env dev --metric errors --above 1 --for 30s --compare others --ratio 2",
         "--compare must be baseline"},
    };
    for (size_t index = 0; index < sizeof refused / sizeof refused[0]; index++) {
        int rc = jt_jadctl (fleet, &output, "alert add %s", refused[index].args);
        cr_expect_eq (rc, 2, "alert add %s: exit %d: %s", refused[index].args, rc, output);
        cr_expect (output && strstr (output, refused[index].says), "alert add %s: no \"%s\" in %s",
                   refused[index].args, refused[index].says, output);
        free (output);
    }
    alerts = s_json (0, "alerts");
    cr_expect_eq (json_array_size (json_object_get (alerts, "alerts")), before + 3);
    json_decref (alerts);
}

Test (jadctl, completion_words_come_from_the_controller)
{
    s_fleet_with_agent ();
    s_add_release ("1.0", NULL, NULL);
    s_add_release ("2.0", NULL, NULL);
    char *output = NULL;
    int rc = jt_jadctl (fleet, &output, "--json deploy web 1.0 --env dev");
    cr_assert_eq (rc, 0, "%s", output);
    json_t *started = s_parse (output);
    free (output);
    char plan[64];
    snprintf (plan, sizeof plan, "%s\n",
              json_string_value (json_object_get (json_object_get (started, "plan"), "id")));
    json_decref (started);
    const struct {
        const char *args;
        const char *says;
    } cases[] = {{"__complete envs", "dev\n"},
                 {"__complete apps", "web\n"},
                 {"__complete versions web", "1.0\n2.0\n"},
                 {"__complete plans", plan}};
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        rc = jt_jadctl (fleet, &output, "%s", cases[index].args);
        cr_expect_eq (rc, 0, "%s: %s", cases[index].args, output);
        cr_expect (output && strstr (output, cases[index].says), "%s: no %s in: %s",
                   cases[index].args, cases[index].says, output);
        free (output);
    }
    //  silent on errors: an unknown WHAT, an app without releases
    rc = jt_jadctl (fleet, &output, "__complete versions");
    cr_expect_eq (rc, 2);
    cr_expect_str_eq (output ? output : "", "");
    free (output);
    rc = jt_jadctl (fleet, &output, "__complete versions no-such-app");
    cr_expect_str_eq (output ? output : "", "", "%d", rc);
    free (output);
    //  and it is not a command `help` lists
    rc = jt_jadctl (fleet, &output, "help");
    cr_expect (output && !strstr (output, "__complete"), "%s", output);
    free (output);
    //  bash completion asks with the line's own --config
    rc = jt_run (&output,
                 "bash -c '. %s/deploy/bash-completion/jadctl; "
                 "COMP_WORDS=(%s --config %s deploy web \"\"); COMP_CWORD=5; _jadctl; "
                 "echo \"${COMPREPLY[*]}\"; "
                 "COMP_WORDS=(%s --config %s plans --env d); COMP_CWORD=5; _jadctl; "
                 "echo \"${COMPREPLY[*]}\"; "
                 "COMP_WORDS=(%s --config %s plan show \"\"); COMP_CWORD=5; _jadctl; "
                 "echo \"${COMPREPLY[*]}\"'",
                 JAD_SOURCE_DIR, S_BIN_JADCTL, fleet->admin_config, S_BIN_JADCTL,
                 fleet->admin_config, S_BIN_JADCTL, fleet->admin_config);
    cr_expect_eq (rc, 0, "%s", output);
    cr_expect (output && strstr (output, "1.0 2.0"), "%s", output);
    cr_expect (output && strstr (output, "\ndev\n"), "%s", output);
    plan[strlen (plan) - 1] = 0;
    cr_expect (output && strstr (output, plan), "%s", output);
    free (output);
}

//  --------------------------------------------------------------------------
//  Issue 12 item 8 (SECURITY-TESTS row 37): remote text in tables is
//  escaped; nothing can forge a line or drive the terminal

Test (jadctl, tables_escape_control_characters_in_remote_text)
{
    fleet = jt_fleet_new ();
    jt_fleet_set_environments (fleet,
                               "environments:\n"
                               "  dev: { strategy: all, emergency_approvals: [tech-lead] }\n");
    jt_fleet_restart_controller (fleet);
    jt_fleet_add_agent (fleet, "web-1", "dev");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000));
    //  release notes that clear the screen and forge a line
    char notes[PATH_MAX], args[PATH_MAX + 32];
    snprintf (notes, sizeof notes, "%s/notes.txt", fleet->dir);
    jt_write_file (notes,
                   "fix \033[2J\033[H\xc2\x9b"
                   "31m all good\r\nFORGED NOTE\n"
                   "\xe2\x80\xae reversed\n",
                   0644);
    snprintf (args, sizeof args, "--notes %s", notes);
    s_add_release ("1.0", NULL, args);
    //  an emergency reason with a terminal title, a bell and a newline
    char *output = NULL;
    int rc = jt_jadctl (fleet, &output,
                        "deploy web 1.0 --env dev --emergency --reason "
                        "\"$(printf 'db down\\033]0;pwned\\007\\nFORGED REASON')\"");
    cr_assert_eq (rc, 0, "%s", output);
    char plan_id[16] = "";
    cr_assert_eq (sscanf (output, "plan %15[0-9a-f]:", plan_id), 1, "%s", output);
    free (output);

    char where[128];
    const char *views[] = {"plans", "plan show %s", "release list", "audit", "status", "agents"};
    for (size_t index = 0; index < sizeof views / sizeof views[0]; index++) {
        char command[128];
        snprintf (command, sizeof command, views[index], plan_id);
        rc = jt_jadctl (fleet, &output, "%s", command);
        cr_expect_eq (rc, 0, "%s: %s", command, output);
        cr_expect (!s_has_control (output, where, sizeof where), "jadctl %s printed a raw %s",
                   command, where);
        cr_expect (!s_line_starts (output, "FORGED"), "jadctl %s: a forged line:\n%s", command,
                   output);
        free (output);
    }
    //  plan approve: {"plan": PLAN, "approval": {...}}
    jt_fleet_add_operator (fleet, "lead", "tech-lead");
    rc = jt_jadctl_as (fleet, "lead", &output, "--json plan approve %s", plan_id);
    cr_expect_eq (rc, 0, "%s", output);
    json_t *approved = s_parse (output);
    free (output);
    char *keys = s_expect_plan (approved, "plan approve");
    free (keys);
    json_t *approval = json_object_get (approved, "approval");
    cr_expect_str_eq (json_string_value (json_object_get (approval, "role")), "tech-lead");
    cr_expect_eq (json_array_size (json_object_get (approval, "missing")), 0);
    cr_expect_null (json_object_get (approval, "plan"), "the approval repeats the plan id");
    json_decref (approved);
    //  hook output that clears the screen and forges lines keeps its
    //  lines, each marked as the hook's
    const char *hook_files[] = {"jadugar.yaml", "hooks:\n  pre_activate: ./hooks/prepare.sh\n",
                                "hooks/prepare.sh",
                                "#!/bin/sh\nprintf 'warming up\\033[2J\\033[H\\nFORGED HOOK\\n'\n"
                                "exit 3\n",
                                NULL};
    char *archive = jt_make_release (fleet->dir, "web-2.0", hook_files);
    rc = jt_jadctl (fleet, &output, "release add web 2.0 %s", archive);
    cr_assert_eq (rc, 0, "%s", output);
    free (output);
    free (archive);
    rc = jt_jadctl (fleet, &output, "deploy web 2.0 --env dev --wait");
    cr_expect_eq (rc, 1, "%s", output);
    cr_expect (!s_has_control (output, where, sizeof where), "deploy --wait printed a raw %s",
               where);
    cr_expect (!s_line_starts (output, "FORGED"), "a forged line:\n%s", output);
    cr_expect (strstr (output, "\n  | FORGED HOOK\n"), "the hook's output is not shown:\n%s",
               output);
    free (output);
    //  the text is shown, escaped, not dropped
    rc = jt_jadctl (fleet, &output, "plan show %s", plan_id);
    cr_expect (strstr (output, "db down\\e]0;pwned\\x07\\nFORGED REASON"), "%s", output);
    free (output);
    rc = jt_jadctl (fleet, &output, "release list");
    cr_expect (strstr (output, "fix \\e[2J\\e[H\\u009b31m all good\\r"), "%s", output);
    free (output);
    rc = jt_jadctl (fleet, &output, "audit");
    cr_expect (strstr (output, "reason=db down\\e]0;pwned\\x07\\nFORGED REASON"), "%s", output);
    free (output);
    //  --json carries the exact text, escaped by JSON itself and ASCII only
    rc = jt_jadctl (fleet, &output, "--json plan show %s", plan_id);
    cr_expect (!s_has_control (output, where, sizeof where), "--json printed a raw %s", where);
    for (const unsigned char *cursor = (const unsigned char *)output; *cursor; cursor++)
        cr_assert (*cursor < 0x80, "--json is not ASCII");
    json_t *root = s_parse (output);
    free (output);
    const char *reason =
        json_string_value (json_object_get (json_object_get (root, "plan"), "emergency"));
    cr_expect_str_eq (reason, "db down\033]0;pwned\007\nFORGED REASON");
    const char *stored =
        json_string_value (json_object_get (json_object_get (root, "plan"), "notes"));
    cr_expect (stored && strstr (stored, "\xe2\x80\xae reversed"), "%s", stored);
    json_decref (root);
}

//  A controller that lies: a real CURVE ROUTER (no ZAP, so any key may
//  talk) answering `status` with control characters in values and in
//  object keys, and every other command with a refusal whose error line
//  clears the screen and forges a line.
static const char *s_hostile_status =
    "{\"agents\": [{\"name\": \"web\\u001b[2J\", \"env\": \"dev\", \"state\": \"online\", "
    "\"last_seen\": null, \"apps\": {\"app\\u001b]0;owned\\u0007\": {\"version\": "
    "\"1\\nFORGED VERSION\", \"health\": \"ok\\u009b31m\\u202e\"}}}], \"controller\": {}}";

static void s_hostile_controller (zsock_t *pipe, void *args)
{
    zsock_t *router = (zsock_t *)args;
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which != router)
            break;  //  $TERM or interrupted
        zmsg_t *msg = zmsg_recv (router);
        zframe_t *route = msg ? zmsg_pop (msg) : NULL;
        zframe_t *body = msg ? zmsg_pop (msg) : NULL;
        char err[JAD_ERR_LEN] = "";
        jad_api_request_t *request =
            body ? jad_api_request_decode (zframe_data (body), zframe_size (body), err) : NULL;
        if (request) {
            bool status = streq (request->command, "status");
            jad_api_response_t response = {
                .request_id = request->request_id,
                .status = status ? 0 : 2,
                .error = status ? NULL : "refused: \033[2J\033[Hall fine\nFORGED LINE",
                .json = status ? (char *)s_hostile_status : NULL};
            zchunk_t *wire = jad_api_response_encode (&response);
            zmsg_t *reply = zmsg_new ();
            zmsg_append (reply, &route);
            zmsg_addmem (reply, zchunk_data (wire), zchunk_size (wire));
            zmsg_send (&reply, router);
            zchunk_destroy (&wire);
            jad_api_request_destroy (&request);
        }
        zframe_destroy (&route);
        zframe_destroy (&body);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
}

Test (jadctl, remote_keys_values_and_errors_are_escaped)
{
    zsys_init ();
    zsys_set_linger (0);
    char *dir = jt_tempdir ("jadctl-hostile");
    zcert_t *cert = zcert_new ();
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    cr_assert (cert && router);
    zsock_set_curve_server (router, 1);
    zcert_apply (cert, router);
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    cr_assert_gt (port, 0);
    zactor_t *controller = zactor_new (s_hostile_controller, router);
    char *output = NULL;
    cr_assert_eq (jt_run (&output, "%s keygen %s/op.key", S_BIN_JADCTL, dir), 0, "%s", output);
    free (output);
    char client[PATH_MAX], text[512];
    snprintf (client, sizeof client, "%s/client.yaml", dir);
    snprintf (text, sizeof text, "controller: 127.0.0.1:%d\ncontroller-key: \"%s\"\nkey: op.key\n",
              port, zcert_public_txt (cert));
    jt_write_file (client, text, 0600);

    int rc = jt_run (&output, "%s --config %s status", S_BIN_JADCTL, client);
    cr_expect_eq (rc, 0, "%s", output);
    char where[128];
    cr_expect (!s_has_control (output, where, sizeof where), "status printed a raw %s", where);
    cr_expect (!s_line_starts (output, "FORGED"), "a forged line:\n%s", output);
    const char *shown[] = {"web\\e[2J", "app\\e]0;owned\\x07", "1\\nFORGED VERSION",
                           "ok\\u009b31m\\u202e", NULL};
    for (size_t index = 0; shown[index]; index++)
        cr_expect (output && strstr (output, shown[index]), "no %s in:\n%s", shown[index], output);
    free (output);
    rc = jt_run (&output, "%s --config %s plans", S_BIN_JADCTL, client);
    cr_expect_eq (rc, 2, "%s", output);
    cr_expect (!s_has_control (output, where, sizeof where), "the error printed a raw %s", where);
    cr_expect (output && strstr (output, "jadctl: refused: \\e[2J\\e[Hall fine\\nFORGED LINE\n"),
               "%s", output);
    free (output);

    zactor_destroy (&controller);
    zsock_destroy (&router);
    zcert_destroy (&cert);
    jt_rmtree (dir);
    free (dir);
}
