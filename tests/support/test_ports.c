//  test_ports - test ports: slots held with flock for the life of a process,
//  the same slots for the C tests (jt_free_port_base) and the shell tests
//  (tests/bench/lib.sh's free_port)
//  SPDX-License-Identifier: MPL-2.0

#include "jad_testlib.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_LIB   JAD_SOURCE_DIR "/tests/bench/lib.sh"
#define S_SLOTS ((JT_PORT_LAST + 1 - JT_PORT_FIRST) / JT_PORT_SLOT)

//  A socket listening on 127.0.0.1:port, or -1 if the port is taken.
static int s_listen (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq (fd, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons ((uint16_t)port)};
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (bind (fd, (struct sockaddr *)&address, sizeof address) != 0 || listen (fd, 4) != 0) {
        close (fd);
        return -1;
    }
    return fd;
}

//  The lock of slot `base` in `dir`, taken without waiting: its descriptor,
//  or -1 if another process holds it.
static int s_lock (const char *dir, int base)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/%d", dir, base);
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    cr_assert_geq (fd, 0, "%s: %s", path, strerror (errno));
    if (flock (fd, LOCK_EX | LOCK_NB) == 0)
        return fd;
    cr_assert_eq (errno, EWOULDBLOCK);
    close (fd);
    return -1;
}

//  A port block as a test process takes it: aligned, in range, every port
//  free for us to listen on (nobody else may use it while it is held).
static void s_assert_block (int base, int count)
{
    cr_assert_geq (base, JT_PORT_FIRST);
    cr_assert_leq (base + count - 1, JT_PORT_LAST);
    cr_assert_eq ((base - JT_PORT_FIRST) % JT_PORT_SLOT, 0, "%d is not a slot base", base);
    for (int offset = 0; offset < count; offset++) {
        int fd = s_listen (base + offset);
        cr_assert_geq (fd, 0, "port %d of block %d is taken", base + offset, base);
        close (fd);
    }
}

//  A child process that takes a block of four with jt_free_port_base,
//  writes its base to `report` and holds it until the pipe
//  release[0] <- release[1] reaches EOF.
static pid_t s_c_holder (int report, int release[2])
{
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        close (release[1]);  //  else the child would hold its own pipe open
        int base = jt_free_port_base (4);
        char byte;
        if (write (report, &base, sizeof base) != sizeof base)
            _exit (1);
        while (read (release[0], &byte, 1) > 0)
            ;
        _exit (0);
    }
    return pid;
}

//  A bash that sources lib.sh and runs free_port, prints the port and
//  holds the slot until its stdin (*hold_p) is closed. Returns the port
//  (-1 if it printed none); the shell's pid in *pid_p.
static int s_shell_holder (pid_t *pid_p, int *hold_p)
{
    int to[2], from[2];
    cr_assert_eq (pipe2 (to, O_CLOEXEC), 0);
    cr_assert_eq (pipe2 (from, O_CLOEXEC), 0);
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        if (dup2 (to[0], 0) < 0 || dup2 (from[1], 1) < 0)
            _exit (127);
        execl ("/bin/bash", "bash", "-c",
               ". \"$0\"; free_port || exit 1; echo \"$port\"; read -r _ || :", S_LIB,
               (char *)NULL);
        _exit (127);
    }
    close (to[0]);
    close (from[1]);
    char line[32] = "";
    size_t used = 0;
    ssize_t got;
    while (used < sizeof line - 1 && (got = read (from[0], line + used, 1)) == 1 &&
           line[used] != '\n')
        used++;
    line[used] = 0;
    close (from[0]);
    *pid_p = pid;
    *hold_p = to[1];
    return used > 0 ? atoi (line) : -1;
}

static int s_exit_status (pid_t pid)
{
    int status = 0;
    cr_assert_eq (waitpid (pid, &status, 0), pid);
    return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

//  A private lock directory for this test process: the slots it holds
//  there are nobody else's business.
static char *s_private_locks (void)
{
    char *dir = jt_tempdir ("jadugar-port-locks");
    cr_assert_eq (setenv ("JADUGAR_TEST_PORT_LOCKS", dir, 1), 0);
    cr_assert_str_eq (jt_port_locks (), dir);
    return dir;
}

Test (ports, blocks_taken_at_once_are_distinct_and_free)
{
    //  six C processes and two shells take a block each at the same
    //  time and hold it; this process takes one more
    enum { C_HOLDERS = 6, SHELLS = 2, BLOCKS = C_HOLDERS + SHELLS + 1 };
    int report[2], release[2];
    cr_assert_eq (pipe2 (report, O_CLOEXEC), 0);
    cr_assert_eq (pipe2 (release, O_CLOEXEC), 0);
    pid_t pids[C_HOLDERS + SHELLS];
    for (int index = 0; index < C_HOLDERS; index++)
        pids[index] = s_c_holder (report[1], release);
    close (report[1]);
    close (release[0]);
    int holds[SHELLS];
    int bases[BLOCKS];
    for (int index = 0; index < SHELLS; index++)
        bases[C_HOLDERS + index] = s_shell_holder (&pids[C_HOLDERS + index], &holds[index]);
    for (int index = 0; index < C_HOLDERS; index++)
        cr_assert_eq (read (report[0], &bases[index], sizeof bases[index]),
                      (ssize_t)sizeof bases[index]);
    bases[BLOCKS - 1] = jt_free_port_base (4);

    for (int index = 0; index < BLOCKS; index++) {
        s_assert_block (bases[index], 4);
        for (int other = 0; other < index; other++)
            cr_assert_neq (bases[index], bases[other], "two processes hold block %d", bases[index]);
    }
    //  while they live, nobody (not even this process) can take their slots
    const char *dir = jt_port_locks ();
    for (int index = 0; index < BLOCKS; index++)
        cr_assert_eq (s_lock (dir, bases[index]), -1, "block %d is not locked", bases[index]);

    close (release[1]);
    close (report[0]);
    for (int index = 0; index < SHELLS; index++)
        close (holds[index]);
    for (int index = 0; index < C_HOLDERS + SHELLS; index++)
        cr_assert_eq (s_exit_status (pids[index]), 0);
}

Test (ports, a_slot_is_held_until_its_process_ends)
{
    char *dir = s_private_locks ();
    int report[2], release[2];
    cr_assert_eq (pipe2 (report, O_CLOEXEC), 0);
    cr_assert_eq (pipe2 (release, O_CLOEXEC), 0);
    pid_t holder = s_c_holder (report[1], release);
    close (report[1]);
    close (release[0]);
    int c_base = -1;
    cr_assert_eq (read (report[0], &c_base, sizeof c_base), (ssize_t)sizeof c_base);
    pid_t shell = 0;
    int hold = -1;
    int shell_base = s_shell_holder (&shell, &hold);
    s_assert_block (c_base, 4);
    s_assert_block (shell_base, 4);
    cr_assert_neq (c_base, shell_base);

    cr_assert_eq (s_lock (dir, c_base), -1, "the C holder's slot is free while it runs");
    cr_assert_eq (s_lock (dir, shell_base), -1, "the shell's slot is free while it runs");
    close (release[1]);
    close (hold);
    cr_assert_eq (s_exit_status (holder), 0);
    cr_assert_eq (s_exit_status (shell), 0);
    int fd = s_lock (dir, c_base);
    cr_assert_geq (fd, 0, "the C holder's slot is still held after it ended");
    close (fd);
    fd = s_lock (dir, shell_base);
    cr_assert_geq (fd, 0, "the shell's slot is still held after it ended");
    close (fd);
    close (report[0]);
    jt_rmtree (dir);
    free (dir);
}

Test (ports, a_slot_whose_port_is_in_use_is_skipped)
{
    //  two blocks from the shared locks, so that no test uses their ports;
    //  one port of `busy` is then taken by a socket of a process that
    //  takes no lock (as a program that is not a test would)
    int busy = jt_free_port_base (4);
    int spare = jt_free_port_base (4);
    s_assert_block (busy, 4);
    s_assert_block (spare, 4);
    int stranger = s_listen (busy + 2);
    cr_assert_geq (stranger, 0);

    //  in a private lock dir, every other slot is held by this process
    char *dir = s_private_locks ();
    struct rlimit limit;
    cr_assert_eq (getrlimit (RLIMIT_NOFILE, &limit), 0);
    cr_assert_geq (limit.rlim_max, (rlim_t)S_SLOTS + 64, "the open-file limit is too low");
    limit.rlim_cur = limit.rlim_max;
    cr_assert_eq (setrlimit (RLIMIT_NOFILE, &limit), 0);
    int *fds = calloc (S_SLOTS, sizeof *fds);
    cr_assert_not_null (fds);
    for (int slot = 0; slot < S_SLOTS; slot++) {
        int base = JT_PORT_FIRST + slot * JT_PORT_SLOT;
        fds[slot] = base == busy || base == spare ? -1 : s_lock (dir, base);
        cr_assert (base == busy || base == spare || fds[slot] >= 0);
    }

    //  jt_free_port_base (4) skips `busy` and takes `spare`
    cr_assert_eq (jt_free_port_base (4), spare);
    //  two ports of `busy` are free
    cr_assert_eq (jt_free_port_base (2), busy);
    //  and then nothing is left
    cr_assert_eq (jt_free_port_base (1), -1);

    //  the shell's check (free_port forks flock once per slot it tries, so
    //  it is not made to walk every slot here): `busy` is in use
    char *output = NULL;
    cr_assert_eq (jt_run (&output, "bash -c '. %s; ports_in_use %d %d'", S_LIB, busy, busy + 3), 0,
                  "%s", output);
    free (output);
    cr_assert_eq (jt_run (&output, "bash -c '. %s; ports_in_use %d %d'", S_LIB, spare, spare + 3),
                  1, "%s", output);
    free (output);

    for (int slot = 0; slot < S_SLOTS; slot++)
        if (fds[slot] >= 0)
            close (fds[slot]);
    free (fds);
    close (stranger);
    jt_rmtree (dir);
    free (dir);
}

Test (ports, a_closed_port_refuses_connections)
{
    int held = -1;
    int port = jt_closed_port (&held);
    cr_assert_gt (port, 0);
    cr_assert_eq (s_listen (port), -1, "another socket could take the closed port");
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq (fd, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons ((uint16_t)port)};
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    cr_assert_neq (connect (fd, (struct sockaddr *)&address, sizeof address), 0);
    cr_assert_eq (errno, ECONNREFUSED, "connect: %s", strerror (errno));
    close (fd);
    close (held);
}
