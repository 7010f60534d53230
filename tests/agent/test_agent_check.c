//  test_agent_check - jadugar-agent check: every problem of agent.yaml and
//  of this host's view of it, with file and line, exit 2
//  SPDX-License-Identifier: MPL-2.0

#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_AGENT JAD_BIN_DIR "/agent/jadugar-agent"

static char *s_dir;

static void s_setup (void)
{
    s_dir = jt_tempdir ("jad-agent-check");
    char *output = NULL;
    int rc = jt_run (&output,
                     "%s init --data %s/agent --controller h:7400 --controller-key "
                     "'rq:rM>}U?@Lns47E1%%kR.o@n%%FcmmsL/@{H8]yf7' --signing-key "
                     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c --env dev",
                     S_AGENT, s_dir);
    cr_assert_eq (rc, 0, "%s", output);
    free (output);
}

static void s_teardown (void)
{
    jt_rmtree (s_dir);
    free (s_dir);
}

TestSuite (agent_check, .init = s_setup, .fini = s_teardown);

//  1-based line of the first line of path starting with prefix, 0 if none
static int s_line_of (const char *path, const char *prefix)
{
    char *text = jt_read_file (path);
    cr_assert_not_null (text);
    int line = 0, number = 1;
    for (const char *cursor = text; *cursor; number++) {
        if (strncmp (cursor, prefix, strlen (prefix)) == 0) {
            line = number;
            break;
        }
        const char *end = strchr (cursor, '\n');
        if (!end)
            break;
        cursor = end + 1;
    }
    free (text);
    return line;
}

//  Issue 13 item 7: with another problem in the file, check used to stop
//  at the YAML and never looked the hook-user up
Test (agent_check, missing_hook_user_is_reported_beside_other_problems)
{
    cr_assert_eq (jt_run (NULL,
                          "sed -i 's/^heartbeat: .*$/heartbeat: 5x/; "
                          "s/^# hook-user: .*$/hook-user: no-such-user-x/' %s/agent/agent.yaml",
                          s_dir),
                  0);
    char path[4096];
    snprintf (path, sizeof path, "%s/agent/agent.yaml", s_dir);
    int heartbeat = s_line_of (path, "heartbeat: 5x");
    int hook_user = s_line_of (path, "hook-user: no-such-user-x");
    cr_assert (heartbeat > 0 && hook_user > 0, "init writes both keys");
    char *output = NULL;
    cr_assert_eq (jt_run (&output, "%s check --data %s/agent", S_AGENT, s_dir), 2, "%s", output);
    char expected[9000];
    snprintf (expected, sizeof expected,
              "%s:%d: key 'heartbeat': \"5x\" is not a duration (use 500ms, 30s, 10m, 1h)\n"
              "%s:%d: hook-user: no user named \"no-such-user-x\" on this host\n",
              path, heartbeat, path, hook_user);
    cr_assert_str_eq (output, expected);
    free (output);

    //  alone, it is reported with its line too, and run refuses to start
    cr_assert_eq (jt_run (NULL, "sed -i 's/^heartbeat: 5x$/heartbeat: 5s/' %s", path), 0);
    cr_assert_eq (jt_run (&output, "%s check --data %s/agent", S_AGENT, s_dir), 2, "%s", output);
    snprintf (expected, sizeof expected,
              "%s:%d: hook-user: no user named \"no-such-user-x\" on this host\n", path, hook_user);
    cr_assert_str_eq (output, expected);
    free (output);
    cr_assert_neq (jt_run (&output, "timeout 10 %s run --data %s/agent", S_AGENT, s_dir), 0);
    cr_assert (output && strstr (output, "hook-user: no user named"), "%s", output);
    free (output);
}

Test (agent_check, init_refuses_a_hook_user_that_is_not_here)
{
    char *output = NULL;
    int rc = jt_run (&output,
                     "%s init --data %s/other --controller h:7400 --controller-key "
                     "'rq:rM>}U?@Lns47E1%%kR.o@n%%FcmmsL/@{H8]yf7' --signing-key "
                     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c --env dev "
                     "--hook-user no-such-user-x",
                     S_AGENT, s_dir);
    cr_assert_eq (rc, 2, "%s", output);
    cr_assert (output && strstr (output, "--hook-user is not a user on this host"), "%s", output);
    free (output);
}
