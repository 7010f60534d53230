//  test_docs - man pages, bash completion and example configs agree with
//  the programs
//  SPDX-License-Identifier: MPL-2.0
//
//  jadctl's command table (controller/cli/main.c) is the source: every
//  command `jadctl help` lists must be in jadctl(1) and in the completion,
//  and the example files in deploy/ must pass the daemons' `check`.

#include "jad_config.h"
#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_JADCTL     JAD_BIN_DIR "/controller/jadctl"
#define S_CONTROLLER JAD_BIN_DIR "/controller/jadugar-controller"
#define S_AGENT      JAD_BIN_DIR "/agent/jadugar-agent"

//  Command names from `jadctl help`: the first word of each indented line
//  of the commands block. Returns the count; names are copied into `names`.
static size_t s_commands (char names[][32], size_t max)
{
    char *output = NULL;
    cr_assert_eq (jt_run (&output, "%s help", S_JADCTL), 0);
    size_t count = 0;
    char *block = strstr (output, "commands:\n");
    cr_assert_not_null (block, "%s", output);
    char *save = NULL;
    for (char *line = strtok_r (block + 10, "\n", &save); line && count < max;
         line = strtok_r (NULL, "\n", &save)) {
        if (strncmp (line, "  ", 2) != 0 || line[2] == ' ')
            continue;  //  continuation lines are indented further
        if (sscanf (line + 2, "%31[a-z-]", names[count]) == 1)
            count++;
    }
    free (output);
    return count;
}

Test (docs, man_page_and_completion_know_every_jadctl_command)
{
    char names[64][32];
    size_t count = s_commands (names, 64);
    cr_assert_geq (count, 13, "jadctl help lists only %zu commands", count);
    char *page = jt_read_file (JAD_SOURCE_DIR "/docs/man/jadctl.1");
    char *completion = jt_read_file (JAD_SOURCE_DIR "/deploy/bash-completion/jadctl");
    cr_assert_not_null (page);
    cr_assert_not_null (completion);
    char *words = strstr (completion, "local commands=\"");
    cr_assert_not_null (words);
    char *end = strchr (words + 16, '"');
    cr_assert_not_null (end);
    *end = 0;
    for (size_t index = 0; index < count; index++) {
        char synopsis[64], escaped[96], word[40];
        snprintf (synopsis, sizeof synopsis, ".B jadctl %.31s", names[index]);
        //  roff writes a command's '-' as \-
        size_t used = (size_t)snprintf (escaped, sizeof escaped, ".B jadctl ");
        for (const char *cursor = names[index]; *cursor && used + 3 < sizeof escaped; cursor++) {
            if (*cursor == '-')
                escaped[used++] = '\\';
            escaped[used++] = *cursor;
        }
        escaped[used] = 0;
        cr_expect (strstr (page, synopsis) || strstr (page, escaped),
                   "jadctl.1 has no synopsis for '%s'", names[index]);
        snprintf (word, sizeof word, " %.31s ", names[index]);
        char padded[1024];
        snprintf (padded, sizeof padded, " %s ", words + 16);
        for (char *cursor = padded; *cursor; cursor++)
            if (*cursor == '\n')
                *cursor = ' ';
        cr_expect (strstr (padded, word), "the completion lacks '%s'", names[index]);
    }
    free (page);
    free (completion);
}

Test (docs, completion_is_valid_bash_and_completes)
{
    char *output = NULL;
    int rc = jt_run (&output,
                     "bash -c '. %s/deploy/bash-completion/jadctl; COMP_WORDS=(jadctl dep); "
                     "COMP_CWORD=1; _jadctl; echo \"${COMPREPLY[@]}\"; "
                     "COMP_WORDS=(jadctl deploy web 1.0 --st); COMP_CWORD=4; _jadctl; "
                     "echo \"${COMPREPLY[@]}\"'",
                     JAD_SOURCE_DIR);
    cr_expect_eq (rc, 0, "%s", output);
    cr_expect (output && strstr (output, "deploy\n--strategy"), "%s", output);
    free (output);
}

Test (docs, example_controller_yaml_passes_check)
{
    char *dir = jt_tempdir ("jadugar-docs");
    char *output = NULL;
    cr_assert_eq (jt_run (&output, "%s init --data %s/ctl", S_CONTROLLER, dir), 0, "%s", output);
    free (output);
    cr_assert_eq (
        jt_run (NULL, "cp %s/deploy/controller.yaml %s/ctl/controller.yaml", JAD_SOURCE_DIR, dir),
        0);
    int rc = jt_run (&output, "%s check --data %s/ctl", S_CONTROLLER, dir);
    cr_expect_eq (rc, 0, "deploy/controller.yaml: %s", output);
    cr_expect_str_eq (output, "ok\n");
    free (output);
    jt_rmtree (dir);
    free (dir);
}

Test (docs, example_agent_yaml_passes_check)
{
    char *dir = jt_tempdir ("jadugar-docs");
    char *output = NULL;
    int rc = jt_run (&output,
                     "%s init --data %s/agent --controller h:7400 --controller-key "
                     "'rq:rM>}U?@Lns47E1%%kR.o@n%%FcmmsL/@{H8]yf7' --signing-key "
                     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c --env dev",
                     S_AGENT, dir);
    cr_assert_eq (rc, 0, "%s", output);
    free (output);
    //  the example names the jadugar user the packages create; a test host
    //  may not have it
    cr_assert_eq (jt_run (NULL,
                          "sed 's/^hook-user: jadugar$/hook-user: nobody/' "
                          "%s/deploy/agent.yaml > %s/agent/agent.yaml",
                          JAD_SOURCE_DIR, dir),
                  0);
    rc = jt_run (&output, "%s check --data %s/agent", S_AGENT, dir);
    cr_expect_eq (rc, 0, "deploy/agent.yaml: %s", output);
    cr_expect_str_eq (output, "ok\n");
    free (output);
    //  and check names a hook-user that does not exist
    cr_assert_eq (jt_run (NULL,
                          "sed -i 's/^hook-user: nobody$/hook-user: no-such-user-x/' "
                          "%s/agent/agent.yaml",
                          dir),
                  0);
    rc = jt_run (&output, "%s check --data %s/agent", S_AGENT, dir);
    cr_expect_eq (rc, 2);
    cr_expect (output && strstr (output, "hook-user: no user named \"no-such-user-x\""), "%s",
               output);
    free (output);
    jt_rmtree (dir);
    free (dir);
}

Test (docs, example_jadctl_yaml_loads)
{
    jad_problems_t *problems = jad_problems_new ();
    jad_client_config_t *config =
        jad_client_config_load (JAD_SOURCE_DIR "/deploy/jadctl.yaml", problems);
    cr_expect_not_null (config, "%s", jad_problems_get (problems, 0));
    if (config)
        cr_expect_str_eq (config->controller, "deploy.example.com:7402");
    jad_client_config_destroy (&config);
    jad_problems_destroy (&problems);
}

//  jadugar.yaml(5): every key the manifest parser knows is described (as
//  ".B section.key" or ".B key" in a list item's table), and its EXAMPLE
//  is a manifest the parser accepts.
Test (docs, release_manifest_page_knows_every_key_and_its_example_parses)
{
    char *page = jt_read_file (JAD_SOURCE_DIR "/docs/man/jadugar.yaml.5");
    cr_assert_not_null (page);
    const char *keys[] = {".B hooks.pre_activate\n",
                          ".B hooks.migrate_up\n",
                          ".B hooks.migrate_down\n",
                          ".B hooks.activate\n",
                          ".B hooks.smoke\n",
                          ".B hooks.smoke_every\n",
                          ".B run\n",
                          ".B http\n",
                          ".B expect\n",
                          ".B timeout\n",
                          ".B metrics.interval\n",
                          ".B metrics.sources\n",
                          ".B prometheus\n",
                          ".B command\n",
                          NULL};
    for (size_t index = 0; keys[index]; index++)
        cr_expect (strstr (page, keys[index]), "jadugar.yaml.5 does not describe %.*s",
                   (int)strlen (keys[index]) - 1, keys[index]);
    //  the example: from ".SH EXAMPLE" the first .nf ... .fi, roff's "\-" as "-"
    char *example = strstr (page, ".SH EXAMPLE\n");
    cr_assert_not_null (example);
    char *start = strstr (example, ".nf\n");
    cr_assert_not_null (start);
    start += 4;
    char *end = strstr (start, ".fi\n");
    cr_assert_not_null (end);
    char *text = calloc (1, (size_t)(end - start) + 1);
    cr_assert_not_null (text);
    size_t used = 0;
    for (char *cursor = start; cursor < end; cursor++)
        if (!(cursor[0] == '\\' && cursor[1] == '-'))
            text[used++] = *cursor;
    jad_problems_t *problems = jad_problems_new ();
    jad_manifest_t *manifest = jad_manifest_parse (text, used, "jadugar.yaml.5", problems);
    cr_assert_not_null (manifest, "the example does not parse: %s",
                        jad_problems_count (problems) ? jad_problems_get (problems, 0) : "?");
    cr_expect_str_eq (manifest->migrate_down, "./hooks/migrate-down.sh");
    cr_expect_eq (manifest->smoke_count, 2);
    cr_expect_eq (manifest->smoke_every_ms, 600000);
    cr_expect_eq (manifest->source_count, 2);
    cr_expect_eq (manifest->metrics_interval_ms, 5000);
    jad_manifest_destroy (&manifest);
    jad_problems_destroy (&problems);
    free (text);
    free (page);
}
