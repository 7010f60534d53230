//  jad_testlib - helpers for Jadugar's tests: temp dirs, processes, waits
//  SPDX-License-Identifier: MPL-2.0

#include "jad_testlib.h"
#include "jad_testpg.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void s_die (const char *what)
{
    fprintf (stderr, "testlib: %s: %s\n", what, strerror (errno));
    abort ();
}

char *jt_tempdir (const char *prefix)
{
    char *path = NULL;
    const char *base = getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp";
    if (asprintf (&path, "%s/%s-XXXXXX", base, prefix) < 0)
        s_die ("asprintf");
    if (!mkdtemp (path))
        s_die ("mkdtemp");
    return path;
}

void jt_rmtree (const char *path)
{
    if (!path || strlen (path) < 5)
        return;
    if (jt_run (NULL, "rm -rf '%s'", path) != 0)
        fprintf (stderr, "testlib: could not remove %s\n", path);
}

static void s_mkparents (const char *path)
{
    char *buf = strdup (path);
    if (!buf)
        s_die ("strdup");
    for (char *cursor = buf + 1; *cursor; cursor++) {
        if (*cursor == '/') {
            *cursor = 0;
            mkdir (buf, 0755);
            *cursor = '/';
        }
    }
    free (buf);
}

void jt_write_file (const char *path, const char *text, int mode)
{
    s_mkparents (path);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, (mode_t)mode);
    if (fd < 0)
        s_die (path);
    size_t len = strlen (text);
    if (write (fd, text, len) != (ssize_t)len)
        s_die (path);
    fchmod (fd, (mode_t)mode);
    close (fd);
}

char *jt_read_file (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    char *text = NULL;
    size_t size = 0;
    FILE *memory = open_memstream (&text, &size);
    char buffer[4096];
    size_t got;
    while ((got = fread (buffer, 1, sizeof buffer, file)) > 0)
        fwrite (buffer, 1, got, memory);
    fclose (file);
    fclose (memory);
    return text;
}

#define S_BIN_CONTROLLER JAD_BIN_DIR "/controller/jadugar-controller"
#define S_BIN_AGENT      JAD_BIN_DIR "/agent/jadugar-agent"
#define S_BIN_JADCTL     JAD_BIN_DIR "/controller/jadctl"

//  A sanitizer jadctl's leak scan at exit is half of its CPU, and the
//  tests run jadctl some two thousand times: each command (its first two
//  words, options aside) is scanned the first time a test process runs
//  it, and then no more. s_looking_again: a wait looks again, with the
//  command its first look ran (and scanned).
static bool s_looking_again;
#define S_SCANNED_MAX 256
static uint64_t s_scanned[S_SCANNED_MAX];
static size_t s_scanned_count;

//  Does the jadctl this command runs scan for leaks at exit? True for a
//  command that runs no jadctl, or a daemon too.
static bool s_scan_leaks (const char *command)
{
    const char *at = strstr (command, S_BIN_JADCTL " ");
    if (!at || strstr (command, S_BIN_CONTROLLER) || strstr (command, S_BIN_AGENT))
        return true;
    if (s_looking_again)
        return false;
    uint64_t hash = 14695981039346656037ULL;  //  FNV-1a of the command words
    int words = 0;
    bool value_next = false;
    const char *cursor = at + strlen (S_BIN_JADCTL);
    while (words < 2) {
        cursor += strspn (cursor, " ");
        size_t length = strcspn (cursor, " ");
        if (length == 0)
            break;
        if (value_next)
            value_next = false;
        else if (*cursor == '-')
            value_next = (length == 8 && strncmp (cursor, "--config", 8) == 0) ||
                         (length == 9 && strncmp (cursor, "--timeout", 9) == 0);
        else {
            for (size_t index = 0; index <= length; index++)
                hash = (hash ^ (unsigned char)(index < length ? cursor[index] : ' ')) *
                       1099511628211ULL;
            words++;
        }
        cursor += length;
    }
    for (size_t index = 0; index < s_scanned_count; index++)
        if (s_scanned[index] == hash)
            return false;
    if (s_scanned_count < S_SCANNED_MAX)
        s_scanned[s_scanned_count++] = hash;
    return true;
}

int jt_run (char **output, const char *format, ...)
{
    va_list argptr;
    va_start (argptr, format);
    char *command = NULL;
    int rc = vasprintf (&command, format, argptr);
    va_end (argptr);
    if (rc < 0)
        s_die ("vasprintf");
    char *full = NULL;
    if (asprintf (&full, "(%s%s) 2>&1",
                  s_scan_leaks (command) ? ""
                                         : "export ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\"; ",
                  command) < 0)
        s_die ("asprintf");
    free (command);
    FILE *pipe = popen (full, "r");
    free (full);
    if (!pipe)
        return -1;
    char *text = NULL;
    size_t size = 0;
    FILE *memory = open_memstream (&text, &size);
    char buffer[4096];
    size_t got;
    while ((got = fread (buffer, 1, sizeof buffer, pipe)) > 0)
        fwrite (buffer, 1, got, memory);
    fclose (memory);
    int status = pclose (pipe);
    if (output)
        *output = text;
    else
        free (text);
    if (status == -1 || !WIFEXITED (status))
        return -1;
    return WEXITSTATUS (status);
}

pid_t jt_spawn (const char *logfile, char *const argv[])
{
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid < 0)
        s_die ("fork");
    if (pid == 0) {
        //  A test that dies (a crash, a timeout's SIGKILL) takes its daemons
        //  with it instead of leaving a fleet running on a shared machine.
        //  Called from the test's main thread only: the signal follows the
        //  thread that forked.
        if (prctl (PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid () != parent)
            _exit (127);
        int fd = open (logfile, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2 (fd, 1);
            dup2 (fd, 2);
            close (fd);
        }
        setpgid (0, 0);
        execv (argv[0], argv);
        fprintf (stderr, "exec %s: %s\n", argv[0], strerror (errno));
        _exit (127);
    }
    return pid;
}

static int s_wait_status (pid_t pid, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        int status = 0;
        pid_t done = waitpid (pid, &status, WNOHANG);
        if (done == pid)
            return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
        if (done < 0)
            return -1;
        usleep (20000);
    }
    return -2;
}

int jt_stop (pid_t pid)
{
    if (pid <= 0)
        return -1;
    kill (pid, SIGTERM);
    int status = s_wait_status (pid, 5000);
    if (status == -2) {
        kill (pid, SIGKILL);
        status = s_wait_status (pid, 5000);
    }
    return status;
}

int jt_wait_exit (pid_t pid, int timeout_ms)
{
    return pid > 0 ? s_wait_status (pid, timeout_ms) : -1;
}

void jt_kill9 (pid_t pid)
{
    if (pid <= 0)
        return;
    kill (pid, SIGKILL);
    s_wait_status (pid, 5000);
}

//  Test ports. Every test process on the machine (C tests here, shell tests
//  through tests/bench/lib.sh's free_port) takes ports the same way: the
//  range JT_PORT_FIRST..JT_PORT_LAST is cut into slots of JT_PORT_SLOT
//  ports, and a slot belongs to whoever holds an exclusive flock on its
//  lock file (jt_port_locks ()/BASE). The lock is taken without waiting,
//  kept for the life of the process (the descriptor is never closed;
//  close-on-exec, so the daemons a test starts do not inherit it) and
//  released by the kernel when the process ends, however it ends. Lock
//  files are never removed (removing one would let two processes lock two
//  different files of the same name). Processes that are not tests are
//  seen by a bind check.

//  True if nobody is bound to 127.0.0.1:port (or to the wildcard address on
//  it); a port with connections in TIME_WAIT counts as busy.
static bool s_port_free (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons ((uint16_t)port)};
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    bool free_port = bind (fd, (struct sockaddr *)&address, sizeof address) == 0;
    close (fd);
    return free_port;
}

const char *jt_port_locks (void)
{
    const char *dir = getenv ("JADUGAR_TEST_PORT_LOCKS");
    if (!dir || !*dir)
        dir = JT_PORT_LOCKS;
    if (mkdir (dir, 01777) == 0) {
        if (chmod (dir, 01777) != 0)
            s_die ("chmod port lock dir");
    } else if (errno != EEXIST)
        s_die ("mkdir port lock dir");
    return dir;
}

//  Take slot `base` if no other process holds it and its first `count`
//  ports are free; true if taken (the lock is then held until exit).
static bool s_port_slot_take (const char *dir, int base, int count)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/%d", dir, base);
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)  //  made by another user: a lock needs no write access
        fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    if (flock (fd, LOCK_EX | LOCK_NB) == 0) {
        bool all_free = true;
        for (int offset = 0; offset < count && all_free; offset++)
            all_free = s_port_free (base + offset);
        if (all_free)
            return true;  //  fd stays open: it holds the lock
    }
    close (fd);
    return false;
}

int jt_free_port_base (int count)
{
    assert (count >= 1 && count <= JT_PORT_SLOT);
    const char *dir = jt_port_locks ();
    //  start at a slot that depends on the pid and the time, so that
    //  concurrent tests seldom try the same slots first
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    unsigned slots = (JT_PORT_LAST + 1 - JT_PORT_FIRST) / JT_PORT_SLOT;
    unsigned start = ((unsigned)getpid () * 2654435761u ^ (unsigned)now.tv_nsec) % slots;
    for (unsigned step = 0; step < slots; step++) {
        int base = JT_PORT_FIRST + (int)((start + step) % slots) * JT_PORT_SLOT;
        if (s_port_slot_take (dir, base, count))
            return base;
    }
    fprintf (stderr, "testlib: no free port slot in %d-%d (locks in %s)\n", JT_PORT_FIRST,
             JT_PORT_LAST, dir);
    return -1;
}

int jt_closed_port (int *fd_p)
{
    assert (fd_p);
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET};
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t len = sizeof address;
    if (fd < 0 || bind (fd, (struct sockaddr *)&address, sizeof address) != 0 ||
        getsockname (fd, (struct sockaddr *)&address, &len) != 0)
        s_die ("closed port socket");
    *fd_p = fd;
    return ntohs (address.sin_port);
}

static long s_elapsed_ms (const struct timespec *since)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

//  How long a wait sleeps between two looks: 50 ms at first, half as long
//  again each time up to 250 ms, and never less than twice what a look
//  cost. Most looks run jadctl, a whole sanitizer process (its start, a
//  CURVE handshake, its leak scan at exit): polled back to back, the waits
//  of a parallel test run were over half of its CPU.
#define S_POLL_FIRST_MS 50
#define S_POLL_MAX_MS   250

bool jt_wait_for (bool (*cond) (void *), void *arg, int timeout_ms)
{
    struct timespec start, look;
    clock_gettime (CLOCK_MONOTONIC, &start);
    long pause = S_POLL_FIRST_MS;
    bool was_looking_again = s_looking_again;
    while (true) {
        clock_gettime (CLOCK_MONOTONIC, &look);
        if (cond (arg)) {
            s_looking_again = was_looking_again;
            return true;
        }
        s_looking_again = true;
        long cost = s_elapsed_ms (&look);
        if (s_elapsed_ms (&start) > timeout_ms) {
            bool result = cond (arg);
            s_looking_again = was_looking_again;
            return result;
        }
        long sleep_ms = pause > 2 * cost ? pause : 2 * cost;
        usleep ((useconds_t)(sleep_ms > S_POLL_MAX_MS * 4 ? S_POLL_MAX_MS * 4 : sleep_ms) * 1000);
        pause = pause * 3 / 2 > S_POLL_MAX_MS ? S_POLL_MAX_MS : pause * 3 / 2;
    }
}

bool jt_file_has (const char *path, const char *needle)
{
    char *text = jt_read_file (path);
    bool found = text && strstr (text, needle);
    free (text);
    return found;
}

typedef struct {
    const char *path;
    const char *needle;
} s_file_wait_t;

static bool s_file_has (void *arg)
{
    s_file_wait_t *wait = (s_file_wait_t *)arg;
    return jt_file_has (wait->path, wait->needle);
}

bool jt_wait_file_has (const char *path, const char *needle, int timeout_ms)
{
    s_file_wait_t wait = {path, needle};
    return jt_wait_for (s_file_has, &wait, timeout_ms);
}

//  --------------------------------------------------------------------------
//  Fleet of real processes

//  Value of "key: value" in text; caller frees; aborts when missing.
static char *s_value (const char *text, const char *key)
{
    char pattern[64];
    snprintf (pattern, sizeof pattern, "%s: ", key);
    const char *start = strstr (text, pattern);
    if (!start) {
        fprintf (stderr, "testlib: no '%s' in:\n%s\n", key, text);
        abort ();
    }
    start += strlen (pattern);
    return strndup (start, strcspn (start, "\n"));
}

//  Replace the line starting with `prefix` in file by `line`.
static void s_set_line (const char *path, const char *prefix, const char *line)
{
    char *text = jt_read_file (path);
    if (!text)
        s_die (path);
    char *out = NULL;
    size_t size = 0;
    FILE *stream = open_memstream (&out, &size);
    bool done = false;
    for (char *cursor = text; *cursor;) {
        size_t len = strcspn (cursor, "\n");
        if (!done && strncmp (cursor, prefix, strlen (prefix)) == 0) {
            fprintf (stream, "%s\n", line);
            done = true;
        } else
            fprintf (stream, "%.*s\n", (int)len, cursor);
        cursor += len + (cursor[len] ? 1 : 0);
    }
    if (!done)
        fprintf (stream, "%s\n", line);
    fclose (stream);
    jt_write_file (path, out, 0600);
    free (out);
    free (text);
}

#define S_BIN_IP  "/bin/ip"
#define S_BIN_ENV "/usr/bin/env"
#define S_ARGS    32

//  Namespace of host index (-1: the controller) into buf; "" when the
//  fleet is on loopback.
static const char *s_netns (jt_fleet_t *self, int index, char *buf, size_t len)
{
    if (!self->netns)
        snprintf (buf, len, "%s", "");
    else if (index < 0)
        snprintf (buf, len, "%s-c", self->netns);
    else
        snprintf (buf, len, "%s-h%d", self->netns, index + 1);
    return buf;
}

//  Spawn argv in host index's namespace (if any) with vars ("A=1 B=2",
//  or NULL) added to its environment; `ip netns exec` and `env` exec the
//  program, so the pid returned is the program's.
static pid_t s_spawn_in (jt_fleet_t *self, int index, const char *vars, const char *log,
                         char *const argv[])
{
    char *full[S_ARGS];
    int count = 0;
    char netns[64];
    char *copy = vars ? strdup (vars) : NULL;
    if (self->netns) {
        full[count++] = S_BIN_IP;
        full[count++] = "netns";
        full[count++] = "exec";
        full[count++] = (char *)s_netns (self, index, netns, sizeof netns);
    }
    if (copy) {
        full[count++] = S_BIN_ENV;
        char *saveptr = NULL;
        for (char *var = strtok_r (copy, " ", &saveptr); var && count < S_ARGS / 2;
             var = strtok_r (NULL, " ", &saveptr))
            full[count++] = var;
    }
    for (int arg = 0; argv[arg] && count < S_ARGS - 1; arg++)
        full[count++] = argv[arg];
    full[count] = NULL;
    pid_t pid = jt_spawn (log, full);
    free (copy);
    return pid;
}

//  --------------------------------------------------------------------------
//  Network namespaces

#define S_NET_CONTROLLER "10.213.0.1"
#define S_NET_PREFIX     "10.213.0."

//  Run a command line and abort the test with its output when it fails.
static void s_must (const char *what, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static void s_must (const char *what, const char *format, ...)
{
    va_list argptr;
    va_start (argptr, format);
    char *command = NULL;
    int rc = vasprintf (&command, format, argptr);
    va_end (argptr);
    if (rc < 0)
        s_die ("vasprintf");
    char *output = NULL;
    rc = jt_run (&output, "set -e; %s", command);
    if (rc != 0) {
        fprintf (stderr, "testlib: %s failed (%d): %s\n%s\n", what, rc, command, output);
        abort ();
    }
    free (output);
    free (command);
}

const char *jt_netns_unavailable (void)
{
    static char why[256];
    if (geteuid () != 0)
        return "needs root (network namespaces, veth pairs and a bridge)";
    char name[64];
    snprintf (name, sizeof name, "jt%dprobe", (int)getpid ());
    char *output = NULL;
    int rc = jt_run (&output,
                     S_BIN_IP " netns add %s && " S_BIN_IP
                              " -n %s link add name br0 type bridge && " S_BIN_IP
                              " -n %s link add name jtva type veth peer name jtvb",
                     name, name, name);
    jt_run (NULL, S_BIN_IP " netns del %s", name);
    if (rc != 0) {
        snprintf (why, sizeof why, "cannot make a network namespace with a bridge and veths: %s",
                  output ? output : "");
        free (output);
        return why;
    }
    free (output);
    return NULL;
}

//  Delete namespaces that earlier test processes (now gone) left behind:
//  their names start with "jt" + the creator's pid + "x".
static void s_netns_sweep (void)
{
    char *output = NULL;
    if (jt_run (&output, S_BIN_IP " netns list") != 0) {
        free (output);
        return;
    }
    for (char *line = strtok (output, "\n"); line; line = strtok (NULL, "\n")) {
        int pid = 0;
        char name[128];
        if (sscanf (line, "%127s", name) != 1 || sscanf (name, "jt%dx", &pid) != 1 || pid <= 0)
            continue;
        if (kill (pid, 0) != 0 && errno == ESRCH) {
            jt_run (NULL,
                    "for p in $(" S_BIN_IP " netns pids %s); do kill -9 $p; done; " S_BIN_IP
                    " netns del %s",
                    name, name);
            fprintf (stderr, "testlib: removed stale namespace %s\n", name);
        }
    }
    free (output);
}

//  Namespace `netns` at address ADDR, with a veth pair to the hub's bridge
//  (`port` is the bridge side's name).
static void s_netns_join (const char *tag, const char *netns, const char *port, const char *addr)
{
    s_must ("adding a host namespace",
            S_BIN_IP " netns add %s; " S_BIN_IP " -n %s link set lo up; " S_BIN_IP
                     " -n %s-hub link add name %s type veth peer name eth0 netns %s; " S_BIN_IP
                     " -n %s-hub link set %s master br0 up; " S_BIN_IP
                     " -n %s addr add %s/24 dev eth0; " S_BIN_IP " -n %s link set eth0 up",
            netns, netns, tag, port, netns, tag, port, netns, addr, netns);
}

static void s_netns_add_host (jt_fleet_t *self, int index)
{
    char netns[64], port[16], addr[32];
    s_netns (self, index, netns, sizeof netns);
    snprintf (port, sizeof port, "h%d", index + 1);
    snprintf (addr, sizeof addr, S_NET_PREFIX "%d", 10 + index + 1);
    s_netns_join (self->netns, netns, port, addr);
}

//  Kill whatever the test left running in the fleet's namespaces (hooks'
//  children), then delete them.
static void s_netns_remove (const char *tag)
{
    char *output = NULL;
    if (jt_run (&output, S_BIN_IP " netns list") == 0) {
        size_t len = strlen (tag);
        for (char *line = strtok (output, "\n"); line; line = strtok (NULL, "\n")) {
            char name[128];
            if (sscanf (line, "%127s", name) == 1 && strncmp (name, tag, len) == 0 &&
                name[len] == '-')
                jt_run (NULL,
                        "for p in $(" S_BIN_IP " netns pids %s); do kill -9 $p; done; " S_BIN_IP
                        " netns del %s",
                        name, name);
        }
    }
    free (output);
}

const char *jt_fleet_host_netns (jt_fleet_t *self, int index, char *buf, size_t len)
{
    return s_netns (self, index, buf, len);
}

void jt_fleet_link (jt_fleet_t *self, int index, bool up)
{
    assert (self->netns);
    s_must (up ? "healing a link" : "cutting a link", S_BIN_IP " -n %s-hub link set h%d %s",
            self->netns, index + 1, up ? "up" : "down");
}

int jt_fleet_host_run (jt_fleet_t *self, int index, char **output, const char *format, ...)
{
    va_list argptr;
    va_start (argptr, format);
    char *command = NULL;
    int rc = vasprintf (&command, format, argptr);
    va_end (argptr);
    if (rc < 0)
        s_die ("vasprintf");
    char netns[64];
    char *quoted = NULL;
    //  the command goes to sh -c in single quotes
    size_t len = strlen (command);
    quoted = calloc (1, 4 * len + 1);
    char *out = quoted;
    for (const char *cursor = command; *cursor; cursor++) {
        if (*cursor == '\'') {
            memcpy (out, "'\\''", 4);
            out += 4;
        } else
            *out++ = *cursor;
    }
    rc = self->netns ? jt_run (output, S_BIN_IP " netns exec %s sh -c '%s'",
                               s_netns (self, index, netns, sizeof netns), quoted)
                     : jt_run (output, "%s", command);
    free (quoted);
    free (command);
    return rc;
}

void jt_fleet_start_controller (jt_fleet_t *self)
{
    char data[PATH_MAX], log[PATH_MAX];
    snprintf (data, sizeof data, "%s/controller", self->dir);
    snprintf (log, sizeof log, "%s/controller.log", self->dir);
    char *argv[] = {S_BIN_CONTROLLER, "run", "--data", data, "--verbose", NULL};
    self->controller = s_spawn_in (self, -1, NULL, log, argv);
}

//  Init the controller (listening on `listen`) with fast timers for tests.
static void s_fleet_init (jt_fleet_t *self, const char *listen)
{
    char *output = NULL;
    if (jt_pg_fleets () && !self->netns) {
        //  the runner started the server (jad_testpg.c); a program run
        //  alone starts its own
        if (jt_pg_start () != 0 || !(self->store = jt_pg_database ())) {
            fprintf (stderr, "testlib: no PostgreSQL for the fleet's store\n");
            abort ();
        }
    }
    int rc =
        jt_run (&output, "%s init --data %s/controller --listen %s --port %d%s%s%s",
                S_BIN_CONTROLLER, self->dir, listen, self->port, self->store ? " --store '" : "",
                self->store ? self->store : "", self->store ? "'" : "");
    if (rc != 0) {
        fprintf (stderr, "testlib: controller init failed (%d):\n%s\n", rc, output);
        abort ();
    }
    self->signing_key = s_value (output, "signing-key");
    self->curve_key = s_value (output, "curve-key");
    self->admin_config = s_value (output, "admin-config");
    self->enroll_token = s_value (output, "enroll-token");
    free (output);
    char config[PATH_MAX];
    snprintf (config, sizeof config, "%s/controller/controller.yaml", self->dir);
    s_set_line (config, "heartbeat:", "heartbeat: 300ms");
    s_set_line (config, "resend:", "resend: 500ms");
    s_set_line (config, "signed-heartbeat:", "signed-heartbeat: 300ms");
}

static bool s_controller_answers (void *arg);

//  How long a (re)started controller may take to answer `status`: a
//  bound, not a wait (a loaded CI machine starts a sanitizer build slowly)
#define S_CONTROLLER_UP_MS 60000

jt_fleet_t *jt_fleet_new (void)
{
    jt_fleet_t *self = calloc (1, sizeof *self);
    self->dir = jt_tempdir ("jadugar-fleet");
    self->port = jt_free_port_base (4);
    s_fleet_init (self, "127.0.0.1");
    jt_fleet_start_controller (self);
    //  a test's first jadctl must find it listening
    if (!jt_wait_for (s_controller_answers, self, S_CONTROLLER_UP_MS))
        s_die ("controller does not answer");
    return self;
}

jt_fleet_t *jt_fleet_new_netns (void)
{
    static int fleets = 0;
    s_netns_sweep ();
    jt_fleet_t *self = calloc (1, sizeof *self);
    self->dir = jt_tempdir ("jadugar-netns");
    //  the controller's namespace is fresh: every port is free
    self->port = 7400;
    if (asprintf (&self->netns, "jt%dx%d", (int)getpid (), fleets++) < 0)
        abort ();
    s_must ("making the hub namespace",
            S_BIN_IP " netns add %s-hub; " S_BIN_IP
                     " -n %s-hub link add name br0 type bridge; " S_BIN_IP
                     " -n %s-hub link set br0 up",
            self->netns, self->netns, self->netns);
    char netns[64];
    s_netns_join (self->netns, s_netns (self, -1, netns, sizeof netns), "c", S_NET_CONTROLLER);
    s_fleet_init (self, S_NET_CONTROLLER);
    jt_fleet_start_controller (self);
    if (!jt_wait_for (s_controller_answers, self, S_CONTROLLER_UP_MS))
        s_die ("controller does not answer");
    return self;
}

void jt_fleet_start_agent (jt_fleet_t *self, int index)
{
    char data[PATH_MAX], log[PATH_MAX];
    snprintf (data, sizeof data, "%s/%s/agent", self->dir, self->agent_names[index]);
    snprintf (log, sizeof log, "%s/%s.log", self->dir, self->agent_names[index]);
    char *argv[] = {S_BIN_AGENT, "run", "--data", data, "--verbose", NULL};
    self->agents[index] = s_spawn_in (self, index, self->agent_vars[index], log, argv);
}

int jt_fleet_add_agent (jt_fleet_t *self, const char *name, const char *env)
{
    return jt_fleet_add_agent_token (self, name, env, self->enroll_token);
}

int jt_fleet_add_agent_token (jt_fleet_t *self, const char *name, const char *env,
                              const char *token)
{
    int index = self->agent_count++;
    if (index >= JT_MAX_AGENTS)
        abort ();
    self->agent_names[index] = strdup (name);
    self->agent_envs[index] = strdup (env);
    if (self->netns)
        s_netns_add_host (self, index);
    char *output = NULL;
    int rc = jt_run (&output,
                     "%s init --data %s/%s/agent --controller %s:%d --controller-key '%s' "
                     "--signing-key %s --env %s --name %s --root %s/%s/srv%s%s",
                     S_BIN_AGENT, self->dir, name, self->netns ? S_NET_CONTROLLER : "127.0.0.1",
                     self->port, self->curve_key, self->signing_key, env, name, self->dir, name,
                     token ? " --token " : "", token ? token : "");
    if (rc != 0) {
        fprintf (stderr, "testlib: agent init failed (%d):\n%s\n", rc, output);
        abort ();
    }
    free (output);
    char config[PATH_MAX];
    snprintf (config, sizeof config, "%s/%s/agent/agent.yaml", self->dir, name);
    s_set_line (config, "heartbeat:", "heartbeat: 300ms");
    s_set_line (config, "stale-after:", "stale-after: 3s");
    jt_fleet_start_agent (self, index);
    return index;
}

char *jt_fleet_root (jt_fleet_t *self, int index)
{
    char *path = NULL;
    if (asprintf (&path, "%s/%s/srv", self->dir, self->agent_names[index]) < 0)
        abort ();
    return path;
}

void jt_fleet_destroy (jt_fleet_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jt_fleet_t *self = *self_p;
    //  Daemons must stop cleanly on SIGTERM: a sanitizer report or a leak
    //  changes their exit status, and that fails the test.
    bool clean = true;
    for (int index = 0; index < self->agent_count; index++) {
        if (self->agents[index] > 0) {
            int status = jt_stop (self->agents[index]);
            if (status != 0) {
                fprintf (stderr, "testlib: agent %s exited %d (see %s/%s.log)\n",
                         self->agent_names[index], status, self->dir, self->agent_names[index]);
                clean = false;
            }
        }
        free (self->agent_names[index]);
        free (self->agent_envs[index]);
        free (self->agent_vars[index]);
    }
    if (self->controller > 0) {
        int status = jt_stop (self->controller);
        if (status != 0) {
            fprintf (stderr, "testlib: controller exited %d (see %s/controller.log)\n", status,
                     self->dir);
            clean = false;
        }
    }
    if (self->netns)
        s_netns_remove (self->netns);
    if (!clean) {
        char *logs = NULL;
        jt_run (&logs, "tail -n 40 %s/*.log", self->dir);
        fprintf (stderr, "%s\n", logs ? logs : "");
        free (logs);
        fprintf (stderr, "testlib: kept fleet in %s\n", self->dir);
        abort ();
    }
    if (getenv ("JT_KEEP"))
        fprintf (stderr, "testlib: kept fleet in %s\n", self->dir);
    else {
        jt_rmtree (self->dir);
        jt_pg_drop (self->store);
    }
    free (self->store);
    free (self->dir);
    free (self->signing_key);
    free (self->curve_key);
    free (self->admin_config);
    free (self->enroll_token);
    free (self->netns);
    free (self);
    *self_p = NULL;
}

int jt_fleet_sql (jt_fleet_t *self, char **output, const char *sql)
{
    //  Through a file: no quoting of the SQL for the shell.
    char path[PATH_MAX];
    static int counter;
    snprintf (path, sizeof path, "%s/sql-%d.sql", self->dir, ++counter);
    jt_write_file (path, sql, 0600);
    int rc =
        self->store
            ? jt_run (output, "psql -q -At -v ON_ERROR_STOP=1 '%s' -f %s", self->store, path)
            : jt_run (output, "sqlite3 -bail -cmd '.timeout 10000' %s/controller/state.db < %s",
                      self->dir, path);
    unlink (path);
    return rc;
}

int jt_jadctl (jt_fleet_t *self, char **output, const char *format, ...)
{
    va_list argptr;
    va_start (argptr, format);
    char *args = NULL;
    if (vasprintf (&args, format, argptr) < 0)
        abort ();
    va_end (argptr);
    char netns[64];
    int rc =
        jt_run (output, "%s%s %s --config %s %s", self->netns ? S_BIN_IP " netns exec " : "",
                s_netns (self, -1, netns, sizeof netns), S_BIN_JADCTL, self->admin_config, args);
    free (args);
    return rc;
}

int jt_count (const char *haystack, const char *needle)
{
    int count = 0;
    for (const char *cursor = haystack ? strstr (haystack, needle) : NULL; cursor;
         cursor = strstr (cursor + 1, needle))
        count++;
    return count;
}

typedef struct {
    jt_fleet_t *fleet;
    const char *needle;
    int count;
} s_status_wait_t;

static bool s_status_has (void *arg)
{
    s_status_wait_t *wait = arg;
    char *output = NULL;
    jt_jadctl (wait->fleet, &output, "--json status");
    bool found = jt_count (output, wait->needle) >= wait->count;
    free (output);
    return found;
}

bool jt_fleet_wait_status (jt_fleet_t *self, const char *needle, int count, int timeout_ms)
{
    s_status_wait_t wait = {self, needle, count};
    return jt_wait_for (s_status_has, &wait, timeout_ms);
}

char *jt_make_release (const char *dir, const char *name, const char *const *files)
{
    char tree[PATH_MAX];
    snprintf (tree, sizeof tree, "%s/%s.tree", dir, name);
    for (const char *const *cursor = files; cursor[0]; cursor += 2) {
        char path[2 * PATH_MAX];
        snprintf (path, sizeof path, "%s/%s", tree, cursor[0]);
        jt_write_file (path, cursor[1], strncmp (cursor[0], "hooks/", 6) == 0 ? 0755 : 0644);
    }
    char *archive = NULL;
    if (asprintf (&archive, "%s/%s.tar.gz", dir, name) < 0)
        abort ();
    if (jt_run (NULL, "tar -C '%s' -czf '%s' .", tree, archive) != 0)
        abort ();
    return archive;
}

void jt_fleet_config_line (jt_fleet_t *self, const char *prefix, const char *line)
{
    char config[PATH_MAX];
    snprintf (config, sizeof config, "%s/controller/controller.yaml", self->dir);
    s_set_line (config, prefix, line);
}

void jt_fleet_set_environments (jt_fleet_t *self, const char *yaml)
{
    char config[PATH_MAX];
    snprintf (config, sizeof config, "%s/controller/controller.yaml", self->dir);
    char *text = jt_read_file (config);
    if (!text)
        s_die (config);
    char *start = strstr (text, "\nenvironments:");
    if (!start)
        s_die ("controller.yaml has no environments");
    start[1] = 0;
    char *out = NULL;
    if (asprintf (&out, "%s%s", text, yaml) < 0)
        abort ();
    jt_write_file (config, out, 0600);
    free (out);
    free (text);
}

static bool s_controller_answers (void *arg)
{
    jt_fleet_t *self = arg;
    return jt_jadctl (self, NULL, "status") == 0;
}

void jt_fleet_restart_controller (jt_fleet_t *self)
{
    //  a controller stopped before it set up its signal handlers dies of
    //  the signal: let it come up first
    if (self->controller > 0 && !jt_wait_for (s_controller_answers, self, S_CONTROLLER_UP_MS))
        s_die ("controller does not answer");
    if (self->controller > 0) {
        int status = jt_stop (self->controller);
        if (status != 0) {
            fprintf (stderr, "testlib: controller exited %d on restart (see %s/controller.log)\n",
                     status, self->dir);
            abort ();
        }
    }
    jt_fleet_start_controller (self);
    if (!jt_wait_for (s_controller_answers, self, S_CONTROLLER_UP_MS))
        s_die ("restarted controller does not answer");
}

void jt_fleet_add_operator (jt_fleet_t *self, const char *name, const char *roles)
{
    char *output = NULL;
    int rc = jt_run (&output, "%s keygen %s/%s.key", S_BIN_JADCTL, self->dir, name);
    if (rc != 0) {
        fprintf (stderr, "testlib: keygen failed (%d):\n%s\n", rc, output);
        abort ();
    }
    char *key = s_value (output, "public-key");
    char *signing = s_value (output, "signing-key");
    free (output);
    //  through a file: Z85 keys hold characters a shell would expand
    char key_path[PATH_MAX];
    snprintf (key_path, sizeof key_path, "%s/%s.pub", self->dir, name);
    jt_write_file (key_path, key, 0600);
    rc = jt_jadctl (self, &output,
                    "operator add %s --role %s --public-key \"$(cat %s)\" --signing-key %s", name,
                    roles, key_path, signing);
    if (rc != 0) {
        fprintf (stderr, "testlib: cannot add operator %s (%d):\n%s\n", name, rc, output);
        abort ();
    }
    free (output);
    char path[PATH_MAX], text[1024];
    snprintf (path, sizeof path, "%s/%s.jadctl.yaml", self->dir, name);
    snprintf (text, sizeof text, "controller: %s:%d\ncontroller-key: '%s'\nkey: %s.key\n",
              self->netns ? S_NET_CONTROLLER : "127.0.0.1", self->port + 2, self->curve_key, name);
    jt_write_file (path, text, 0600);
    free (signing);
    free (key);
}

int jt_jadctl_as (jt_fleet_t *self, const char *name, char **output, const char *format, ...)
{
    va_list argptr;
    va_start (argptr, format);
    char *args = NULL;
    if (vasprintf (&args, format, argptr) < 0)
        abort ();
    va_end (argptr);
    char netns[64];
    int rc = jt_run (output, "%s%s %s --config %s/%s.jadctl.yaml %s",
                     self->netns ? S_BIN_IP " netns exec " : "",
                     s_netns (self, -1, netns, sizeof netns), S_BIN_JADCTL, self->dir, name, args);
    free (args);
    return rc;
}

//  --------------------------------------------------------------------------
//  HTTP sink: a tiny HTTP/1.1 server on loopback in a thread of the test

#include <poll.h>
#include <pthread.h>

struct _jt_sink_t {
    int fd;
    int port;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool stop;
    bool hold;       //  requests are read but not answered while set
    int fail_first;  //  answer 500 to this many requests first
    int count;       //  requests read
    int holding;     //  requests read and not answered yet
    char *bodies;    //  request lines and bodies, one request per line
};

//  Read a request: headers, then Content-Length bytes of body. Returns
//  "METHOD TARGET VERSION BODY" (caller frees) or NULL.
static char *s_sink_read (int fd)
{
    size_t size = 0, cap = 65536;
    char *data = malloc (cap + 1);
    char *end = NULL;
    long length = -1;
    while (data) {
        struct pollfd item = {.fd = fd, .events = POLLIN};
        if (poll (&item, 1, 10000) <= 0)
            break;
        ssize_t got = read (fd, data + size, cap - size);
        if (got <= 0)
            break;
        size += (size_t)got;
        data[size] = 0;
        if (!end && (end = strstr (data, "\r\n\r\n"))) {
            const char *header = strcasestr (data, "\r\ncontent-length:");
            length = header && header < end ? atol (header + 17) : 0;
        }
        if (end && (long)(size - (size_t)(end + 4 - data)) >= length) {
            char *line_end = strstr (data, "\r\n");
            char *result = NULL;
            if (asprintf (&result, "%.*s %.*s", (int)(line_end - data), data, (int)length,
                          end + 4) < 0)
                result = NULL;
            free (data);
            return result;
        }
        if (size == cap)
            break;
    }
    free (data);
    return NULL;
}

static void *s_sink_run (void *arg)
{
    jt_sink_t *self = arg;
    while (true) {
        pthread_mutex_lock (&self->lock);
        bool stop = self->stop;
        pthread_mutex_unlock (&self->lock);
        if (stop)
            break;
        struct pollfd item = {.fd = self->fd, .events = POLLIN};
        if (poll (&item, 1, 100) <= 0)
            continue;
        int client = accept (self->fd, NULL, NULL);
        if (client < 0)
            continue;
        char *request = s_sink_read (client);
        pthread_mutex_lock (&self->lock);
        int status = 200;
        if (request) {
            self->count++;
            size_t used = self->bodies ? strlen (self->bodies) : 0;
            char *grown = realloc (self->bodies, used + strlen (request) + 2);
            if (grown) {
                sprintf (grown + used, "%s\n", request);
                self->bodies = grown;
            }
            if (self->fail_first > 0) {
                self->fail_first--;
                status = 500;
            }
            self->holding++;
            pthread_cond_broadcast (&self->changed);
            while (self->hold && !self->stop)
                pthread_cond_wait (&self->changed, &self->lock);
            self->holding--;
        }
        pthread_mutex_unlock (&self->lock);
        if (request) {
            char reply[128];
            int len = snprintf (reply, sizeof reply,
                                "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                                "Content-Length: 2\r\nConnection: close\r\n\r\n{}",
                                status, status == 200 ? "OK" : "Error");
            if (write (client, reply, (size_t)len) < 0)
                status = 0;
        }
        free (request);
        close (client);
    }
    return NULL;
}

jt_sink_t *jt_sink_new (int fail_first)
{
    jt_sink_t *self = calloc (1, sizeof (jt_sink_t));
    if (!self)
        s_die ("calloc");
    self->fail_first = fail_first;
    self->fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET};
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t len = sizeof address;
    if (self->fd < 0 || bind (self->fd, (struct sockaddr *)&address, sizeof address) != 0 ||
        listen (self->fd, 16) != 0 ||
        getsockname (self->fd, (struct sockaddr *)&address, &len) != 0)
        s_die ("sink socket");
    self->port = ntohs (address.sin_port);
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->changed, NULL);
    if (pthread_create (&self->thread, NULL, s_sink_run, self) != 0)
        s_die ("pthread_create");
    return self;
}

int jt_sink_port (jt_sink_t *self)
{
    return self->port;
}

void jt_sink_hold (jt_sink_t *self, bool hold)
{
    pthread_mutex_lock (&self->lock);
    self->hold = hold;
    pthread_cond_broadcast (&self->changed);
    pthread_mutex_unlock (&self->lock);
}

int jt_sink_count (jt_sink_t *self)
{
    pthread_mutex_lock (&self->lock);
    int count = self->count;
    pthread_mutex_unlock (&self->lock);
    return count;
}

int jt_sink_holding (jt_sink_t *self)
{
    pthread_mutex_lock (&self->lock);
    int holding = self->holding;
    pthread_mutex_unlock (&self->lock);
    return holding;
}

char *jt_sink_bodies (jt_sink_t *self)
{
    pthread_mutex_lock (&self->lock);
    char *copy = strdup (self->bodies ? self->bodies : "");
    pthread_mutex_unlock (&self->lock);
    return copy;
}

void jt_sink_destroy (jt_sink_t **self_p)
{
    jt_sink_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_lock (&self->lock);
    self->stop = true;
    pthread_cond_broadcast (&self->changed);
    pthread_mutex_unlock (&self->lock);
    pthread_join (self->thread, NULL);
    close (self->fd);
    pthread_mutex_destroy (&self->lock);
    pthread_cond_destroy (&self->changed);
    free (self->bodies);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  SMTP sink

struct _jt_smtp_t {
    char *dir;
    pid_t pid;
    int port;
};

static bool s_file_exists (void *arg)
{
    return access ((const char *)arg, F_OK) == 0;
}

jt_smtp_t *jt_smtp_new (void)
{
    jt_smtp_t *self = calloc (1, sizeof *self);
    if (!self)
        s_die ("out of memory");
    self->dir = jt_tempdir ("jadsmtp");
    self->port = jt_free_port_base (1);
    if (self->port <= 0)
        s_die ("no free port for the SMTP sink");
    char port[16], log[PATH_MAX], ready[PATH_MAX];
    snprintf (port, sizeof port, "%d", self->port);
    snprintf (log, sizeof log, "%s/sink.log", self->dir);
    snprintf (ready, sizeof ready, "%s/ready", self->dir);
    char *argv[] = {"/usr/bin/python3", JAD_SOURCE_DIR "/tests/support/smtp_sink.py", port,
                    self->dir, NULL};
    self->pid = jt_spawn (log, argv);
    if (self->pid <= 0 || !jt_wait_for (s_file_exists, ready, 20000)) {
        char *text = jt_read_file (log);
        fprintf (stderr, "testlib: the SMTP sink did not start: %s\n", text ? text : "(no log)");
        free (text);
        s_die ("SMTP sink");
    }
    return self;
}

int jt_smtp_port (jt_smtp_t *self)
{
    return self->port;
}

char *jt_smtp_message (jt_smtp_t *self, int number)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/%d.eml", self->dir, number);
    return access (path, F_OK) == 0 ? jt_read_file (path) : NULL;
}

void jt_smtp_destroy (jt_smtp_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jt_smtp_t *self = *self_p;
    jt_stop (self->pid);
    jt_rmtree (self->dir);
    free (self->dir);
    free (self);
    *self_p = NULL;
}
