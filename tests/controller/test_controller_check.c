//  test_controller_check - jadugar-controller check: every problem of controller.yaml
//  with file and line, exit 2; ok and exit 0 otherwise
//  SPDX-License-Identifier: MPL-2.0

#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_CONTROLLER JAD_BIN_DIR "/controller/jadugar-controller"

static char *s_dir;

static void s_setup (void)
{
    s_dir = jt_tempdir ("jad-check");
    char *output = NULL;
    cr_assert_eq (jt_run (&output, "%s init --data %s/ctl", S_CONTROLLER, s_dir), 0, "%s", output);
    free (output);
}

static void s_teardown (void)
{
    jt_rmtree (s_dir);
    free (s_dir);
}

TestSuite (controller_check, .init = s_setup, .fini = s_teardown);

//  1-based line of the first line of path holding needle, 0 if none
static int s_line_of (const char *path, const char *needle)
{
    char *text = jt_read_file (path);
    cr_assert_not_null (text);
    const char *found = strstr (text, needle);
    int line = 0;
    if (found) {
        line = 1;
        for (const char *cursor = text; cursor < found; cursor++)
            line += *cursor == '\n';
    }
    free (text);
    return line;
}

Test (controller_check, init_writes_a_file_that_passes)
{
    char *output = NULL;
    cr_assert_eq (jt_run (&output, "%s check --data %s/ctl", S_CONTROLLER, s_dir), 0, "%s", output);
    cr_assert_str_eq (output, "ok\n");
    free (output);
}

//  Issue 13 item 7: a typo in a role name is refused where it is written
Test (controller_check, unknown_role_is_refused_with_file_and_line)
{
    cr_assert_eq (
        jt_run (NULL, "sed -i 's/product-owner\\]/produkt-owner]/' %s/ctl/controller.yaml", s_dir),
        0);
    char path[4096];
    snprintf (path, sizeof path, "%s/ctl/controller.yaml", s_dir);
    int line = s_line_of (path, "produkt-owner");
    cr_assert_gt (line, 0, "the edit took");
    char *output = NULL;
    cr_assert_eq (jt_run (&output, "%s check --data %s/ctl", S_CONTROLLER, s_dir), 2, "%s", output);
    char expected[4400];
    snprintf (expected, sizeof expected,
              "%s:%d: environment 'prod': key 'emergency_approvals': unknown role "
              "'produkt-owner' (known: admin, deployer, viewer, security, tech-lead, "
              "product-owner, qa, release-manager)\n",
              path, line);
    cr_assert_str_eq (output, expected);
    free (output);
}

//  Issue 13 item 12: emergency_skips takes requires and bake, nothing else
Test (controller_check, unknown_emergency_skip_is_refused_with_file_and_line)
{
    cr_assert_eq (
        jt_run (NULL,
                "sed -i 's/^    # emergency_skips: .*$/    emergency_skips: [bake, windows]/' "
                "%s/ctl/controller.yaml",
                s_dir),
        0);
    char path[4096];
    snprintf (path, sizeof path, "%s/ctl/controller.yaml", s_dir);
    int line = s_line_of (path, "emergency_skips: [bake, windows]");
    cr_assert_gt (line, 0, "init writes the key, commented out");
    char *output = NULL;
    cr_assert_eq (jt_run (&output, "%s check --data %s/ctl", S_CONTROLLER, s_dir), 2, "%s", output);
    char expected[4400];
    snprintf (expected, sizeof expected,
              "%s:%d: environment 'prod': key 'emergency_skips': \"windows\" is not requires or "
              "bake (an emergency always skips windows)\n",
              path, line);
    cr_assert_str_eq (output, expected);
    free (output);

    cr_assert_eq (jt_run (NULL, "sed -i 's/\\[bake, windows\\]/[requires, bake]/' %s", path), 0);
    cr_assert_eq (jt_run (&output, "%s check --data %s/ctl", S_CONTROLLER, s_dir), 0, "%s", output);
    cr_assert_str_eq (output, "ok\n");
    free (output);
}

//  Issue 15: retention: audit is kept at least a day; the old top-level
//  metrics-retention and rollup-retention still work, and check warns
//  where they are; both spellings of one value are refused
Test (controller_check, retention_is_checked_and_the_old_keys_are_deprecated)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/ctl/controller.yaml", s_dir);
    cr_assert_eq (jt_run (NULL, "sed -i 's/^  # audit: 730d/  audit: 12h/' %s", path), 0);
    int line = s_line_of (path, "  audit: 12h");
    cr_assert_gt (line, 0, "the edit took");
    char *output = NULL;
    cr_assert_eq (jt_run (&output, "%s check --data %s/ctl", S_CONTROLLER, s_dir), 2, "%s", output);
    char expected[9000];
    snprintf (expected, sizeof expected,
              "%s:%d: retention: key 'audit': keep the audit log at least 1d\n", path, line);
    cr_assert_str_eq (output, expected);
    free (output);

    //  the old spelling, alone: it works, with a warning
    cr_assert_eq (jt_run (NULL,
                          "sed -i -e '/^retention:/,/^  # plans/d' %s && printf "
                          "'metrics-retention: 2d\\nrollup-retention: 60d\\n' >> %s",
                          path, path),
                  0);
    int metrics = s_line_of (path, "metrics-retention: 2d");
    int rollups = s_line_of (path, "rollup-retention: 60d");
    cr_assert_gt (metrics, 0);
    cr_assert_eq (jt_run (&output, "%s check --data %s/ctl", S_CONTROLLER, s_dir), 0, "%s", output);
    snprintf (expected, sizeof expected,
              "%s:%d: warning: key 'metrics-retention' is deprecated: write it as retention: "
              "metrics\n%s:%d: warning: key 'rollup-retention' is deprecated: write it as "
              "retention: rollups\nok\n",
              path, metrics, path, rollups);
    cr_assert_str_eq (output, expected);
    free (output);

    //  and beside retention: metrics, refused
    cr_assert_eq (jt_run (NULL, "printf 'retention:\\n  metrics: 3d\\n  audit: 1d\\n' >> %s", path),
                  0);
    cr_assert_eq (jt_run (&output, "%s check --data %s/ctl", S_CONTROLLER, s_dir), 2, "%s", output);
    snprintf (expected, sizeof expected,
              "%s:%d: key 'metrics-retention': retention: metrics says it too (keep only that "
              "one)\n",
              path, metrics);
    cr_assert_str_eq (output, expected);
    free (output);
}
