//  test_install - deploy/install-agent.sh and install-controller.sh refuse
//  every wrong argument with a message naming it, before changing anything
//  SPDX-License-Identifier: MPL-2.0

#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_AGENT      JAD_SOURCE_DIR "/deploy/install-agent.sh"
#define S_CONTROLLER JAD_SOURCE_DIR "/deploy/install-controller.sh"
#define S_CURVE      "'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7'"
#define S_SIGNING    "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
#define S_GOOD                                                                                     \
    "--controller deploy.example.com:7400 --controller-key " S_CURVE " --signing-key " S_SIGNING   \
    " --env staging"

typedef struct {
    const char *arguments;
    const char *message;  //  what stderr must say
} s_case_t;

static void s_expect_refused (const char *script, const s_case_t *cases)
{
    for (size_t index = 0; cases[index].arguments; index++) {
        char *output = NULL;
        //  a data dir that must never appear: nothing is changed on refusal
        int rc = jt_run (&output, "%s --data /nonexistent/jadugar-test %s 2>&1", script,
                         cases[index].arguments);
        cr_expect_eq (rc, 2, "%s %s: exit %d, not 2: %s", script, cases[index].arguments, rc,
                      output);
        cr_expect (output && strstr (output, cases[index].message), "%s %s: expected \"%s\" in: %s",
                   script, cases[index].arguments, cases[index].message, output);
        cr_expect (output && strstr (output, "usage:"), "no usage line: %s", output);
        free (output);
    }
    cr_expect_neq (access ("/nonexistent/jadugar-test", F_OK), 0);
}

Test (install, agent_installer_names_each_wrong_argument)
{
    const s_case_t cases[] = {
        {"--controller-key " S_CURVE " --signing-key " S_SIGNING " --env staging",
         "--controller HOST:PORT is required"},
        {"--controller deploy.example.com --controller-key " S_CURVE " --signing-key " S_SIGNING
         " --env staging",
         "--controller 'deploy.example.com' is not HOST:PORT"},
        {"--controller host:99999 --controller-key " S_CURVE " --signing-key " S_SIGNING
         " --env staging",
         "--controller 'host:99999' is not HOST:PORT"},
        {"--controller host:7400 --signing-key " S_SIGNING " --env staging",
         "--controller-key KEY is required"},
        {"--controller host:7400 --controller-key short --signing-key " S_SIGNING " --env staging",
         "--controller-key is not a 40-character Z85 CURVE public key"},
        {"--controller host:7400 --controller-key " S_CURVE " --env staging",
         "--signing-key KEY is required"},
        {"--controller host:7400 --controller-key " S_CURVE " --signing-key xyz --env staging",
         "--signing-key is not 64 hex digits"},
        {"--controller host:7400 --controller-key " S_CURVE " --signing-key " S_SIGNING,
         "--env ENV is required"},
        {S_GOOD " --env 'prod;rm'", "--env 'prod;rm' is not a valid name"},
        {S_GOOD " --name ../etc", "--name '../etc' is not a valid name"},
        {S_GOOD " --token 'has space'", "--token must be 1-256 printable characters"},
        {S_GOOD " --root srv", "--root 'srv' is not an absolute path"},
        {S_GOOD " --package /nonexistent.deb", "--package '/nonexistent.deb': no such file"},
        {S_GOOD " --frobnicate", "unknown argument '--frobnicate'"},
        {S_GOOD " --token", "--token needs a value"},
        {S_GOOD " --instance -x", "--instance '-x' is not an instance name"},
        {S_GOOD " --instance 'a/b'", "--instance 'a/b' is not an instance name"},
        {S_GOOD " --instance", "--instance needs a value"},
        {NULL, NULL},
    };
    s_expect_refused (S_AGENT, cases);
}

Test (install, controller_installer_names_each_wrong_argument)
{
    const s_case_t cases[] = {
        {"--port 0", "--port '0' is not a base port"},
        {"--port 65533", "--port '65533' is not a base port"},
        {"--port web", "--port 'web' is not a base port"},
        {"--listen 'a b'", "--listen 'a b' is not an address"},
        {"--advertise 'x;y'", "--advertise 'x;y' is not a host name"},
        {"--binary /nonexistent/jadugar-controller", "not an executable file"},
        {"--frobnicate", "unknown argument '--frobnicate'"},
        {"--port", "--port needs a value"},
        {NULL, NULL},
    };
    s_expect_refused (S_CONTROLLER, cases);
    char *output = NULL;
    cr_expect_eq (jt_run (&output, "%s --data relative 2>&1", S_CONTROLLER), 2);
    cr_expect (output && strstr (output, "--data 'relative' is not an absolute path"), "%s",
               output);
    free (output);
}

Test (install, help_exits_zero)
{
    char *output = NULL;
    cr_expect_eq (jt_run (&output, "%s --help", S_AGENT), 0);
    cr_expect (output && strstr (output, "--controller HOST:PORT"));
    free (output);
    cr_expect_eq (jt_run (&output, "%s --help", S_CONTROLLER), 0);
    cr_expect (output && strstr (output, "--listen ADDR"));
    free (output);
}

//  The plan --dry-run prints (nothing is changed): "install-agent: KEY: VALUE"
//  lines. Caller frees.
static char *s_dry_run (const char *arguments)
{
    char *output = NULL;
    int rc = jt_run (&output, "%s %s %s --dry-run 2>&1", S_AGENT, S_GOOD, arguments);
    cr_assert_eq (rc, 0, "%s: exit %d: %s", arguments, rc, output);
    cr_assert (output && strstr (output, "dry run: nothing is changed"), "%s", output);
    return output;
}

Test (install, agent_installer_sets_up_one_agent_or_named_instances)
{
    //  one agent per host: the unit, data dir and root the docs name
    char *output = s_dry_run ("");
    const char *single[] = {"data: /var/lib/jadugar/agent\n", "release root: /srv/jadugar\n",
                            "unit: jadugar-agent.service\n", "settings: /etc/jadugar/agent.env\n",
                            NULL};
    for (size_t index = 0; single[index]; index++)
        cr_expect (strstr (output, single[index]), "no \"%s\" in: %s", single[index], output);
    free (output);
    //  instances: each its own unit, settings, data dir, root and name
    char hostname[128] = "";
    cr_assert_eq (gethostname (hostname, sizeof hostname - 1), 0);
    const char *instances[] = {"blue", "green"};
    for (size_t index = 0; index < 2; index++) {
        char arguments[64];
        snprintf (arguments, sizeof arguments, "--instance %s", instances[index]);
        output = s_dry_run (arguments);
        char expected[5][192];
        snprintf (expected[0], sizeof expected[0], "data: /var/lib/jadugar/agent@%s\n",
                  instances[index]);
        snprintf (expected[1], sizeof expected[1], "release root: /srv/jadugar/@%s\n",
                  instances[index]);
        snprintf (expected[2], sizeof expected[2], "unit: jadugar-agent@%s.service\n",
                  instances[index]);
        snprintf (expected[3], sizeof expected[3], "settings: /etc/jadugar/agent@%s.env\n",
                  instances[index]);
        snprintf (expected[4], sizeof expected[4], "agent: %s-%s in staging", hostname,
                  instances[index]);
        for (size_t line = 0; line < 5; line++)
            cr_expect (strstr (output, expected[line]), "no \"%s\" in: %s", expected[line], output);
        free (output);
    }
    //  what is given wins over the instance's defaults
    output = s_dry_run ("--instance blue --name web-7 --root /srv/web7 --data /var/lib/jadugar/w7");
    cr_expect (strstr (output, "agent: web-7 in staging"), "%s", output);
    cr_expect (strstr (output, "release root: /srv/web7\n"), "%s", output);
    cr_expect (strstr (output, "data: /var/lib/jadugar/w7\n"), "%s", output);
    cr_expect (strstr (output, "unit: jadugar-agent@blue.service\n"), "%s", output);
    free (output);
}

Test (install, agent_installer_refuses_a_release_root_another_agent_owns)
{
    //  In a mount namespace of its own (a user namespace maps us to root
    //  there), /var/lib and /etc/jadugar are empty tmpfs: an agent
    //  instance "blue" is set up there, and nothing of this machine's is
    //  seen or touched.
    char *dir = jt_tempdir ("jadugar-install");
    char script[PATH_MAX], text[2048];
    snprintf (script, sizeof script, "%s/setup.sh", dir);
    snprintf (text, sizeof text,
              "set -e\n"
              "mount -t tmpfs tmpfs /var/lib\n"
              "[ ! -d /etc/jadugar ] || mount -t tmpfs tmpfs /etc/jadugar\n"
              "mkdir -p /var/lib/jadugar/agent@blue\n"
              "printf 'name: \"h-blue\"\\nroot: \"/srv/jadugar/@blue\"\\n' "
              "> /var/lib/jadugar/agent@blue/agent.yaml\n"
              "exec %s %s \"$@\" --dry-run\n",
              S_AGENT, S_GOOD);
    jt_write_file (script, text, 0755);
    const char *run = "unshare --user --map-root-user --mount --propagation private sh %s %s 2>&1";
    char *output = NULL;
    //  a second instance on blue's release root: refused, naming both
    int rc = jt_run (&output, run, script, "--instance green --root /srv/jadugar/@blue");
    cr_expect_eq (rc, 2, "exit %d: %s", rc, output);
    cr_expect (output && strstr (output, "the release root /srv/jadugar/@blue belongs to the agent "
                                         "in /var/lib/jadugar/agent@blue already"),
               "%s", output);
    free (output);
    //  the single agent beside it, and blue itself again: accepted
    rc = jt_run (&output, run, script, "");
    cr_expect_eq (rc, 0, "exit %d: %s", rc, output);
    free (output);
    rc = jt_run (&output, run, script, "--instance blue");
    cr_expect_eq (rc, 0, "exit %d: %s", rc, output);
    cr_expect (output && strstr (output, "/var/lib/jadugar/agent@blue is set up already"), "%s",
               output);
    free (output);
    jt_rmtree (dir);
    free (dir);
}
