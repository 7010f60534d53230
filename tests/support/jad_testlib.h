//  jad_testlib - helpers for Jadugar's tests: temp dirs, processes, waits
//  SPDX-License-Identifier: MPL-2.0

#ifndef JAD_TESTLIB_H_INCLUDED
#define JAD_TESTLIB_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

//  Make a fresh temporary directory; caller frees the path. Aborts on error.
char *jt_tempdir (const char *prefix);
//  Remove a tree (rm -rf), ignoring errors.
void jt_rmtree (const char *path);
//  Write text to a file (mode), creating parent dirs. Aborts on error.
void jt_write_file (const char *path, const char *text, int mode);
//  Read a whole file, or NULL. Caller frees.
char *jt_read_file (const char *path);
//  Run a shell command line (tests only), return its exit status (or -1),
//  capturing stdout+stderr into *output (caller frees) if not NULL.
int jt_run (char **output, const char *format, ...) __attribute__ ((format (printf, 2, 3)));
//  Start a process in the background with argv; stdout+stderr to logfile.
//  It gets SIGKILL when the calling thread ends (call from the main thread).
pid_t jt_spawn (const char *logfile, char *const argv[]);
//  SIGTERM then wait (SIGKILL after 5 s). Returns exit status or -1.
int jt_stop (pid_t pid);
//  Wait (no signal sent) until pid exits: its exit status (128 + the
//  signal if a signal ended it), -2 if it still runs after timeout_ms,
//  -1 on error.
int jt_wait_exit (pid_t pid, int timeout_ms);
//  SIGKILL and reap.
void jt_kill9 (pid_t pid);
//  Ports a test listens on, or hands to a process it starts, without races
//  against concurrent tests (other ctest jobs, other clones, other users):
//  the base of `count` (1 to 4) consecutive ports on 127.0.0.1 that no
//  other test process holds and nobody is bound to. The ports stay this
//  process's until it exits: ports JT_PORT_FIRST..JT_PORT_LAST (below the
//  kernel's ephemeral range) come in slots of JT_PORT_SLOT, each with a
//  lock file jt_port_locks ()/BASE held with flock (tests/bench/lib.sh's
//  free_port takes the same locks). Returns -1 if every slot is taken.
//  A test that binds a single socket itself binds to port 0 instead
//  (tcp://127.0.0.1:*) and reads the port back.
int jt_free_port_base (int count);
#define JT_PORT_FIRST 20000
#define JT_PORT_LAST  32767
#define JT_PORT_SLOT  4
#define JT_PORT_LOCKS "/tmp/jadugar-test-ports"
//  The lock directory: $JADUGAR_TEST_PORT_LOCKS, or JT_PORT_LOCKS; made
//  (mode 1777, shared by every user's tests) if missing. Aborts if it
//  cannot be made.
const char *jt_port_locks (void);
//  A port on 127.0.0.1 where nothing listens and nothing will while the
//  test runs: a socket bound to an ephemeral port and never listening
//  (connections to it are refused). The socket is returned in *fd_p;
//  close it when done. Aborts on error.
int jt_closed_port (int *fd_p);
//  Poll `cond(arg)` until true or timeout_ms; return its result. Looks
//  are 50 ms apart at first, growing to 250 ms, and at least twice what a
//  look cost apart (most looks run jadctl).
bool jt_wait_for (bool (*cond) (void *), void *arg, int timeout_ms);
//  True if the file at path (a daemon's log) contains needle; the wait
//  form looks until it does or timeout_ms passed (as jt_wait_for).
bool jt_file_has (const char *path, const char *needle);
bool jt_wait_file_has (const char *path, const char *needle, int timeout_ms);

//  A real fleet on loopback: one controller process and agent processes,
//  each with its own temporary data dir and release root.
#define JT_MAX_AGENTS 24
typedef struct {
    char *dir;  //  temp root of the whole fleet
    int port;   //  controller base port
    char *signing_key;
    char *curve_key;
    char *admin_config;  //  jadctl client file
    char *enroll_token;  //  printed by controller init
    pid_t controller;
    int agent_count;
    char *agent_names[JT_MAX_AGENTS];
    char *agent_envs[JT_MAX_AGENTS];
    pid_t agents[JT_MAX_AGENTS];
    //  Multi-host fleets (jt_fleet_new_netns); NULL/0 for a loopback fleet.
    char *netns;                      //  run tag: namespaces TAG-hub, TAG-c, TAG-hN
    char *agent_vars[JT_MAX_AGENTS];  //  "VAR=VALUE ..." the agent starts with, or NULL
    //  JADUGAR_TEST_STORE=postgresql: the controller's state is in this
    //  database of the test PostgreSQL (jad_testpg.h); NULL: state.db
    char *store;
} jt_fleet_t;

//  Init and start a controller (fast heartbeat, signed heartbeat and
//  resend for tests; agents get stale-after 3s).
jt_fleet_t *jt_fleet_new (void);
//  Init (first time) and start agent `name` in `env`. Returns its index.
int jt_fleet_add_agent (jt_fleet_t *self, const char *name, const char *env);
//  Same with an explicit enrollment token: NULL for none (the agent stays
//  pending until accepted), or any text.
int jt_fleet_add_agent_token (jt_fleet_t *self, const char *name, const char *env,
                              const char *token);
//  Start (again) agent index after a stop or kill.
void jt_fleet_start_agent (jt_fleet_t *self, int index);
//  Start (again) the controller.
void jt_fleet_start_controller (jt_fleet_t *self);
//  Stop everything and remove the temp dir (kept when JT_KEEP is set).
void jt_fleet_destroy (jt_fleet_t **self_p);
//  Path of an agent's release root: DIR/NAME/srv
char *jt_fleet_root (jt_fleet_t *self, int index);
//  Run `sql` on the controller's store: the sqlite3 CLI on state.db, or
//  psql on the fleet's PostgreSQL database (rows as `a|b`, no header, in
//  both). Returns the exit status; the output (stdout+stderr) in *output
//  if not NULL. Keep the SQL to what both dialects take.
int jt_fleet_sql (jt_fleet_t *self, char **output, const char *sql);
//  Run jadctl with the admin client file; returns the exit status and
//  the output (stdout+stderr) in *output if not NULL.
int jt_jadctl (jt_fleet_t *self, char **output, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
//  Wait until `jadctl status --json` output contains `needle` `count`
//  times (or more); true if it did within timeout_ms.
bool jt_fleet_wait_status (jt_fleet_t *self, const char *needle, int count, int timeout_ms);
//  Replace the line of controller.yaml starting with `prefix` by `line`
//  (appended if none); takes effect at the next controller start.
void jt_fleet_config_line (jt_fleet_t *self, const char *prefix, const char *line);
//  Replace everything from "environments:" on in controller.yaml by
//  `yaml` (which starts with "environments:").
void jt_fleet_set_environments (jt_fleet_t *self, const char *yaml);
//  SIGTERM the controller (it must exit 0) and start it again.
void jt_fleet_restart_controller (jt_fleet_t *self);
//  Register operator `name` with `roles` (comma-separated) as an operator
//  would: keys from `jadctl keygen` (DIR/NAME.key and its .signing), then
//  `jadctl operator add` by the admin with both public keys, and a client
//  file DIR/NAME.jadctl.yaml for jt_jadctl_as.
void jt_fleet_add_operator (jt_fleet_t *self, const char *name, const char *roles);
//  jt_jadctl as operator `name`.
int jt_jadctl_as (jt_fleet_t *self, const char *name, char **output, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));
//  Build DIR/NAME.tar.gz from a release tree given as a list of
//  path, content pairs (NULL-terminated); files under hooks/ are 0755.
char *jt_make_release (const char *dir, const char *name, const char *const *files);
//  --------------------------------------------------------------------------
//  Multi-host fleets in network namespaces (root only)
//
//  A fleet made by jt_fleet_new_netns runs its controller and each agent in
//  a network namespace of its own (TAG-c at 10.213.0.1, TAG-hN at
//  10.213.0.(10+N)), each joined by a veth pair to a bridge in a namespace
//  TAG-hub; no address or interface is added to the machine's own
//  namespace, so no traffic leaves it. TAG is unique per process
//  ("jt" + pid + counter). jt_fleet_destroy kills what still runs in the
//  namespaces and deletes them; namespaces a crashed test left behind
//  (their pid is gone) are deleted by the next jt_fleet_new_netns.

//  NULL when this process can make network namespaces, else why not
//  (static text: "needs root", or what failed).
const char *jt_netns_unavailable (void);
//  A controller in its own namespace; agents added to it get theirs.
jt_fleet_t *jt_fleet_new_netns (void);
//  Set agent index's link (its veth on the bridge) up or down: a
//  partition that the agent's TCP connections do not see as a reset.
void jt_fleet_link (jt_fleet_t *self, int index, bool up);
//  Run a shell command line inside agent index's namespace (or the
//  controller's for index -1); like jt_run.
int jt_fleet_host_run (jt_fleet_t *self, int index, char **output, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));
//  Where agent index's processes run (its namespace), for messages.
const char *jt_fleet_host_netns (jt_fleet_t *self, int index, char *buf, size_t len);

//  Count occurrences of needle in haystack.
int jt_count (const char *haystack, const char *needle);

//  An HTTP sink: a tiny HTTP/1.1 server on 127.0.0.1 (a free port) in a
//  thread, one connection at a time. It answers 500 to the first
//  `fail_first` requests, 200 "{}" after; while held it reads requests
//  and answers none (a server that accepts and never answers).
typedef struct _jt_sink_t jt_sink_t;
jt_sink_t *jt_sink_new (int fail_first);
int jt_sink_port (jt_sink_t *self);
void jt_sink_hold (jt_sink_t *self, bool hold);
//  Requests read so far, and those read and not answered yet.
int jt_sink_count (jt_sink_t *self);
int jt_sink_holding (jt_sink_t *self);
//  "METHOD TARGET VERSION BODY" of each request, one a line. Caller frees.
char *jt_sink_bodies (jt_sink_t *self);
void jt_sink_destroy (jt_sink_t **self_p);

//  A real SMTP server on 127.0.0.1 (tests/support/smtp_sink.py, Debian's
//  python3-aiosmtpd) on a free port, keeping each message it takes with
//  its envelope ("X-Envelope-From:", "X-Envelope-To:" lines first).
//  jt_smtp_new aborts the test if it does not start within 20 s.
typedef struct _jt_smtp_t jt_smtp_t;
jt_smtp_t *jt_smtp_new (void);
int jt_smtp_port (jt_smtp_t *self);
//  The Nth message taken (from 1), whole, or NULL. Caller frees.
char *jt_smtp_message (jt_smtp_t *self, int number);
void jt_smtp_destroy (jt_smtp_t **self_p);

#endif
