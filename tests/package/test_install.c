//  test_install - deploy/install-agent.sh and install-controller.sh refuse
//  every wrong argument with a message naming it, before changing anything
//  SPDX-License-Identifier: MPL-2.0

#include "jad_testlib.h"

#include <criterion/criterion.h>
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
