//  jad_testlib - helpers for Jadugar's tests: temp dirs, processes, waits
//  SPDX-License-Identifier: MPL-2.0

#include "jad_testlib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    char buf[PATH_MAX];
    snprintf (buf, sizeof buf, "%s", path);
    for (char *cursor = buf + 1; *cursor; cursor++) {
        if (*cursor == '/') {
            *cursor = 0;
            mkdir (buf, 0755);
            *cursor = '/';
        }
    }
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
    if (asprintf (&full, "(%s) 2>&1", command) < 0)
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
    pid_t pid = fork ();
    if (pid < 0)
        s_die ("fork");
    if (pid == 0) {
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

void jt_kill9 (pid_t pid)
{
    if (pid <= 0)
        return;
    kill (pid, SIGKILL);
    s_wait_status (pid, 5000);
}

static bool s_port_free (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons ((uint16_t)port)};
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    bool free_port = bind (fd, (struct sockaddr *)&address, sizeof address) == 0;
    close (fd);
    return free_port;
}

int jt_free_port_base (int count)
{
    //  Random start in a high range; the kernel's ephemeral range starts at
    //  32768, so stay below it to avoid clashing with outgoing connections.
    srand ((unsigned)(time (NULL) ^ getpid ()));
    for (int attempt = 0; attempt < 200; attempt++) {
        int base = 20000 + rand () % 12000;
        bool all_free = true;
        for (int offset = 0; offset < count && all_free; offset++)
            all_free = s_port_free (base + offset);
        if (all_free)
            return base;
    }
    return -1;
}

bool jt_wait_for (bool (*cond) (void *), void *arg, int timeout_ms)
{
    struct timespec start, now;
    clock_gettime (CLOCK_MONOTONIC, &start);
    while (true) {
        if (cond (arg))
            return true;
        clock_gettime (CLOCK_MONOTONIC, &now);
        long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (elapsed > timeout_ms)
            return cond (arg);
        usleep (50000);
    }
}
