//  test_hook - running release hooks: argv only, timeout, bounded output
//  SPDX-License-Identifier: MPL-2.0

#include "jad_hook.h"
#include "jad_archive.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char s_release[PATH_MAX];  //  release dir of the test
static char s_pwned[PATH_MAX];    //  a file no hook may create

static void s_setup (void)
{
    snprintf (s_release, sizeof s_release, "/tmp/jad-test-hook-XXXXXX");
    cr_assert_not_null (mkdtemp (s_release));
    cr_assert_eq (chmod (s_release, 0755), 0);
    snprintf (s_pwned, sizeof s_pwned, "/tmp/jad-pwned-%d", (int)getpid ());
    unlink (s_pwned);
}

static void s_teardown (void)
{
    jad_rmtree (s_release);
    unlink (s_pwned);
}

TestSuite (hook, .init = s_setup, .fini = s_teardown);

static void s_script (const char *name, const char *body, int mode)
{
    char path[PATH_MAX * 2];
    snprintf (path, sizeof path, "%s/%s", s_release, name);
    char *slash = strrchr (path, '/');
    *slash = 0;
    mkdir (path, 0755);
    *slash = '/';
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file, "%s", path);
    fprintf (file, "#!/bin/sh\n%s", body);
    fclose (file);
    cr_assert_eq (chmod (path, (mode_t)mode), 0);
}

static jad_hook_spec_t s_spec (const char *command, uint32_t timeout_ms)
{
    return (jad_hook_spec_t){
        .release_dir = s_release, .command = command, .timeout_ms = timeout_ms};
}

static int64_t s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

//  Pid from a file the hook wrote
static pid_t s_read_pid (const char *name)
{
    char path[PATH_MAX * 2];
    snprintf (path, sizeof path, "%s/%s", s_release, name);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file, "hook did not write %s", name);
    int pid = 0;
    cr_assert_eq (fscanf (file, "%d", &pid), 1);
    fclose (file);
    return (pid_t)pid;
}

//  True if pid is gone or a zombie, waiting up to 1 s for it
static bool s_pid_dead (pid_t pid)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        char path[64], text[512] = "";
        snprintf (path, sizeof path, "/proc/%d/stat", (int)pid);
        FILE *file = fopen (path, "r");
        if (!file)
            return true;
        size_t got = fread (text, 1, sizeof text - 1, file);
        text[got] = 0;
        fclose (file);
        char *state = strrchr (text, ')');
        if (state && (state[2] == 'Z' || state[2] == 'X'))
            return true;
        usleep (10000);
    }
    return false;
}

Test (hook, runs_and_captures_output)
{
    s_script ("hooks/ok.sh", "echo hello; echo oops >&2; pwd; cat; exit 0\n", 0755);
    jad_hook_spec_t spec = s_spec ("./hooks/ok.sh", 5000);
    jad_hook_result_t result;
    cr_assert_eq (jad_hook_run (&spec, &result), 0, "%s", result.output);
    cr_assert (result.exited);
    cr_assert_eq (result.exit_code, 0);
    cr_assert_not (result.timed_out);
    cr_assert_not (result.spawn_failed);
    cr_assert (strstr (result.output, "hello\n"), "%s", result.output);
    cr_assert (strstr (result.output, "oops\n"), "%s", result.output);
    char real[PATH_MAX];
    cr_assert_not_null (realpath (s_release, real));
    cr_assert (strstr (result.output, real), "cwd is not the release dir: %s", result.output);
    char text[64];
    cr_assert_str_eq (jad_hook_describe (&result, text, sizeof text), "exit 0");
    jad_hook_result_clear (&result);
    cr_assert_null (result.output);
    jad_hook_result_clear (&result);
}

Test (hook, runs_without_dot_slash)
{
    s_script ("migrate.sh", "echo migrated\n", 0755);
    jad_hook_spec_t spec = s_spec ("migrate.sh", 5000);
    jad_hook_result_t result;
    cr_assert_eq (jad_hook_run (&spec, &result), 0, "%s", result.output);
    cr_assert_str_eq (result.output, "migrated\n");
    jad_hook_result_clear (&result);
}

Test (hook, propagates_exit_code)
{
    s_script ("fail.sh", "echo failing; exit 3\n", 0755);
    jad_hook_spec_t spec = s_spec ("fail.sh", 5000);
    jad_hook_result_t result;
    cr_assert_eq (jad_hook_run (&spec, &result), -1);
    cr_assert (result.exited);
    cr_assert_eq (result.exit_code, 3);
    cr_assert_eq (result.signal, 0);
    char text[64];
    cr_assert_str_eq (jad_hook_describe (&result, text, sizeof text), "exit 3");
    jad_hook_result_clear (&result);
}

Test (hook, reports_killing_signal)
{
    s_script ("abort.sh", "kill -9 $$\n", 0755);
    jad_hook_spec_t spec = s_spec ("abort.sh", 5000);
    jad_hook_result_t result;
    cr_assert_eq (jad_hook_run (&spec, &result), -1);
    cr_assert_not (result.exited);
    cr_assert_eq (result.signal, SIGKILL);
    char text[64];
    cr_assert_str_eq (jad_hook_describe (&result, text, sizeof text), "killed by signal 9");
    jad_hook_result_clear (&result);
}

Test (hook, timeout_kills_sleeping_hook, .timeout = 10)
{
    s_script ("slow.sh", "echo started; sleep 100\n", 0755);
    jad_hook_spec_t spec = s_spec ("slow.sh", 300);
    jad_hook_result_t result;
    int64_t start = s_now_ms ();
    cr_assert_eq (jad_hook_run (&spec, &result), -1);
    int64_t elapsed = s_now_ms () - start;
    cr_assert (result.timed_out);
    cr_assert_eq (result.signal, SIGTERM);
    cr_assert_geq (elapsed, 300);
    cr_assert_lt (elapsed, 300 + 2000, "SIGTERM should have been enough: %lld ms",
                  (long long)elapsed);
    cr_assert (strstr (result.output, "started"), "%s", result.output);
    char text[64];
    cr_assert (strstr (jad_hook_describe (&result, text, sizeof text), "timed out after"));
    jad_hook_result_clear (&result);
}

Test (hook, timeout_kills_group_ignoring_sigterm, .timeout = 10)
{
    s_script ("stubborn.sh",
              "trap '' TERM\n"
              "sleep 1000 &\n"
              "echo $! > child.pid\n"
              "sleep 1000\n",
              0755);
    jad_hook_spec_t spec = s_spec ("stubborn.sh", 500);
    jad_hook_result_t result;
    int64_t start = s_now_ms ();
    cr_assert_eq (jad_hook_run (&spec, &result), -1);
    int64_t elapsed = s_now_ms () - start;
    cr_assert (result.timed_out);
    cr_assert_eq (result.signal, SIGKILL);
    cr_assert_lt (elapsed, 500 + 2000 + 1000, "took %lld ms", (long long)elapsed);
    cr_assert (s_pid_dead (s_read_pid ("child.pid")), "background child survived");
    jad_hook_result_clear (&result);
}

Test (hook, background_child_does_not_hold_the_hook, .timeout = 10)
{
    //  the child keeps stdout open and ignores SIGTERM; the hook itself is done
    s_script ("daemon.sh",
              "trap '' TERM\n"
              "sleep 1000 &\n"
              "echo $! > child.pid\n"
              "echo done\n",
              0755);
    jad_hook_spec_t spec = s_spec ("daemon.sh", 10000);
    jad_hook_result_t result;
    int64_t start = s_now_ms ();
    cr_assert_eq (jad_hook_run (&spec, &result), 0, "%s", result.output);
    cr_assert_lt (s_now_ms () - start, 2000);
    cr_assert_not (result.timed_out);
    cr_assert (strstr (result.output, "done"), "%s", result.output);
    cr_assert (s_pid_dead (s_read_pid ("child.pid")), "background child survived");
    jad_hook_result_clear (&result);
}

Test (hook, bounds_output_with_marker)
{
    s_script ("loud.sh", "i=0; while [ $i -lt 3000 ]; do echo 0123456789; i=$((i+1)); done\n",
              0755);
    jad_hook_spec_t spec = s_spec ("loud.sh", 10000);
    spec.max_output = 1000;
    jad_hook_result_t result;
    cr_assert_eq (jad_hook_run (&spec, &result), 0, "%s", result.output);
    const char *marker = "\n[output truncated]\n";
    cr_assert_eq (strlen (result.output), 1000 + strlen (marker));
    cr_assert_str_eq (result.output + 1000, marker);
    cr_assert_eq (strncmp (result.output, "0123456789\n0123456789\n", 22), 0);
    jad_hook_result_clear (&result);
}

Test (hook, passes_fixed_and_given_environment)
{
    s_script ("env.sh",
              "echo \"app=$JADUGAR_APP\"\n"
              "echo \"path=$PATH\"\n"
              "echo \"lang=$LANG\"\n"
              "echo \"home=$HOME\"\n"
              "echo \"leak=${JAD_TEST_LEAK:-none}\"\n",
              0755);
    setenv ("JAD_TEST_LEAK", "inherited", 1);
    const char *env[] = {"JADUGAR_APP=shop", "JADUGAR_ENV=prod", NULL};
    jad_hook_spec_t spec = s_spec ("env.sh", 5000);
    spec.env = env;
    jad_hook_result_t result;
    cr_assert_eq (jad_hook_run (&spec, &result), 0, "%s", result.output);
    cr_assert (strstr (result.output, "app=shop\n"), "%s", result.output);
    cr_assert (strstr (result.output, "path=/usr/local/bin:/usr/bin:/bin\n"), "%s", result.output);
    cr_assert (strstr (result.output, "lang=C.UTF-8\n"), "%s", result.output);
    cr_assert (strstr (result.output, "home=/"), "%s", result.output);
    cr_assert (strstr (result.output, "leak=none\n"), "parent env leaked: %s", result.output);
    jad_hook_result_clear (&result);
}

Test (hook, plan_strings_are_never_interpreted)
{
    s_script ("echo.sh", "echo \"v=$JADUGAR_VERSION\"; echo \"e=$JADUGAR_ENV\"\n", 0755);
    char semicolon[PATH_MAX + 64], substitution[PATH_MAX * 2 + 64], newline[PATH_MAX + 64];
    snprintf (semicolon, sizeof semicolon, "JADUGAR_VERSION=1.0; touch %s", s_pwned);
    snprintf (substitution, sizeof substitution, "JADUGAR_ENV=$(touch %s)`touch %s`", s_pwned,
              s_pwned);
    snprintf (newline, sizeof newline, "JADUGAR_APP=x\ntouch %s", s_pwned);
    const char *env[] = {semicolon, substitution, newline, NULL};
    jad_hook_spec_t spec = s_spec ("echo.sh", 5000);
    spec.env = env;
    jad_hook_result_t result;
    cr_assert_eq (jad_hook_run (&spec, &result), 0, "%s", result.output);
    cr_assert (strstr (result.output, "v=1.0; touch"), "%s", result.output);
    cr_assert (strstr (result.output, "e=$(touch"), "%s", result.output);
    cr_assert_eq (access (s_pwned, F_OK), -1, "a shell interpreted a plan string");
    jad_hook_result_clear (&result);

    //  the same strings as the hook path find no file and run nothing
    char command[PATH_MAX + 64];
    snprintf (command, sizeof command, "echo.sh; touch %s", s_pwned);
    spec = s_spec (command, 5000);
    cr_assert_eq (jad_hook_run (&spec, &result), -1);
    cr_assert (result.spawn_failed);
    jad_hook_result_clear (&result);
    snprintf (command, sizeof command, "$(touch %s)", s_pwned);
    spec = s_spec (command, 5000);
    cr_assert_eq (jad_hook_run (&spec, &result), -1);
    jad_hook_result_clear (&result);
    cr_assert_eq (access (s_pwned, F_OK), -1, "a shell interpreted a hook path");
}

//  The hook must be refused before anything runs: it would create s_pwned
static void s_assert_refused (const char *command, const char *reason)
{
    jad_hook_spec_t spec = s_spec (command, 5000);
    jad_hook_result_t result;
    cr_assert_eq (jad_hook_run (&spec, &result), -1);
    cr_assert (result.spawn_failed);
    cr_assert_not (result.exited);
    cr_assert (strstr (result.output, reason), "'%s' lacks '%s'", result.output, reason);
    char text[512];
    cr_assert (strstr (jad_hook_describe (&result, text, sizeof text), "could not start: "));
    jad_hook_result_clear (&result);
    cr_assert_eq (access (s_pwned, F_OK), -1, "refused hook ran");
}

Test (hook, refuses_dotdot_path)
{
    char body[PATH_MAX + 64];
    snprintf (body, sizeof body, "touch %s\n", s_pwned);
    s_script ("sub/x", body, 0755);
    s_assert_refused ("sub/../sub/x", "..");
    s_assert_refused ("../x", "..");
}

Test (hook, refuses_absolute_path)
{
    char body[PATH_MAX + 64], path[PATH_MAX * 2];
    snprintf (body, sizeof body, "touch %s\n", s_pwned);
    s_script ("abs.sh", body, 0755);
    snprintf (path, sizeof path, "%s/abs.sh", s_release);
    s_assert_refused (path, "absolute");
}

Test (hook, refuses_symlink_out_of_release)
{
    char link[PATH_MAX * 2];
    snprintf (link, sizeof link, "%s/true", s_release);
    cr_assert_eq (symlink ("/bin/true", link), 0);
    s_assert_refused ("true", "outside the release dir");
}

Test (hook, refuses_non_executable_and_non_regular)
{
    char body[PATH_MAX + 64];
    snprintf (body, sizeof body, "touch %s\n", s_pwned);
    s_script ("plain.sh", body, 0644);
    s_assert_refused ("plain.sh", "not an executable regular file");
    s_script ("dir/inner", body, 0755);
    s_assert_refused ("dir", "not an executable regular file");
    s_assert_refused ("missing.sh", "No such file");
    s_assert_refused ("", "empty");
}

Test (hook, reports_exec_failure)
{
    //  executable, but not a valid program: execve fails with ENOEXEC
    char path[PATH_MAX * 2];
    snprintf (path, sizeof path, "%s/garbage", s_release);
    FILE *file = fopen (path, "w");
    fputs ("\x7f"
           "ELF garbage",
           file);
    fclose (file);
    cr_assert_eq (chmod (path, 0755), 0);
    jad_hook_spec_t spec = s_spec ("garbage", 5000);
    jad_hook_result_t result;
    cr_assert_eq (jad_hook_run (&spec, &result), -1);
    cr_assert (result.spawn_failed);
    cr_assert (strstr (result.output, "exec"), "%s", result.output);
    jad_hook_result_clear (&result);
}

Test (hook, does_not_leak_descriptors)
{
    //  deliberately not close-on-exec, and far from the fds sh uses itself
    int fd = dup2 (open ("/dev/null", O_RDONLY), 77);
    cr_assert_eq (fd, 77);
    char body[128];
    snprintf (body, sizeof body, "[ -e /proc/$$/fd/%d ] && echo leaked || echo clean\n", fd);
    s_script ("fds.sh", body, 0755);
    jad_hook_spec_t spec = s_spec ("fds.sh", 5000);
    jad_hook_result_t result;
    cr_assert_eq (jad_hook_run (&spec, &result), 0, "%s", result.output);
    cr_assert_str_eq (result.output, "clean\n");
    jad_hook_result_clear (&result);
    close (fd);
}

Test (hook, drops_privileges)
{
    if (geteuid () != 0)
        cr_skip_test ("needs root");
    s_script ("who.sh", "id -u; id -g; id -G\n", 0755);
    jad_hook_spec_t spec = s_spec ("who.sh", 5000);
    spec.drop_privileges = true;
    spec.uid = 65534;
    spec.gid = 65534;
    jad_hook_result_t result;
    cr_assert_eq (jad_hook_run (&spec, &result), 0, "%s", result.output);
    cr_assert_str_eq (result.output, "65534\n65534\n65534\n");
    jad_hook_result_clear (&result);
}
