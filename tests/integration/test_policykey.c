//  test_policykey - release checks at the hosts (DESIGN §10, SECURITY-TESTS
//  row 40): agents initialised with an offline policy key judge each
//  release's attestation bundle against the policy signed by that key,
//  whatever the controller's database and configuration say.
//  SPDX-License-Identifier: MPL-2.0

#include "jad_testlib.h"
#include "jad_util.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static jt_fleet_t *fleet;

static void s_teardown (void)
{
    jt_fleet_destroy (&fleet);
}

TestSuite (policykey, .fini = s_teardown, .timeout = 300);

#define S_TESTS_CHECK                                                                              \
    "      tests: { type: \"https://in-toto.io/attestation/test-result/v0.1\", keys: [ci], "       \
    "max_age: 7d }\n"

//  A CI key DIR/ci.pem (OpenSSL, as a CI job has); its public half in hex.
static char *s_ci_key (void)
{
    char *out = NULL;
    cr_assert_eq (jt_run (&out, "%s/deploy/ci/attest-sign.sh --keygen %s/ci.pem 2>&1",
                          JAD_SOURCE_DIR, fleet->dir),
                  0, "%s", out);
    out[strcspn (out, "\n")] = 0;
    return out;
}

//  controller.yaml's environments: prod with the tests check (or none),
//  staging without checks; the controller restarted on it.
static void s_environments (const char *ci, bool prod_checks)
{
    char *yaml = jad_strdup_printf ("environments:\n"
                                    "  prod:\n"
                                    "    checks:\n"
                                    "%s"
                                    "  staging: {}\n"
                                    "attestation_keys:\n"
                                    "  ci: { ed25519: %s }\n",
                                    prod_checks ? S_TESTS_CHECK : "", ci);
    if (!prod_checks) {
        //  "checks:" with nothing under it is not a map: leave it out
        char *cut = strstr (yaml, "    checks:\n");
        memmove (cut, cut + strlen ("    checks:\n"), strlen (cut + strlen ("    checks:\n")) + 1);
    }
    jt_fleet_set_environments (fleet, yaml);
    jt_fleet_restart_controller (fleet);
    free (yaml);
}

//  Restart agent index with `policy-key: HEX` in its agent.yaml.
static void s_give_policy_key (int index, const char *key)
{
    //  stopped once it runs (a SIGTERM before its handlers are set kills it)
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", fleet->agent_count, 30000),
               "agent %d did not come online", index);
    cr_assert_eq (jt_stop (fleet->agents[index]), 0);
    fleet->agents[index] = 0;
    char *path =
        jad_strdup_printf ("%s/%s/agent/agent.yaml", fleet->dir, fleet->agent_names[index]);
    char *text = jt_read_file (path);
    char *more = jad_strdup_printf ("%s\npolicy-key: %s\n", text, key);
    jt_write_file (path, more, 0600);
    free (more);
    free (text);
    free (path);
    jt_fleet_start_agent (fleet, index);
}

static void s_restart_agent (int index)
{
    cr_assert_eq (jt_stop (fleet->agents[index]), 0);
    fleet->agents[index] = 0;
    jt_fleet_start_agent (fleet, index);
}

//  Release web VERSION added; its SHA-256 into sha.
static void s_release (const char *version, char sha[65])
{
    char *name = jad_strdup_printf ("web-%s", version);
    const char *files[] = {"jadugar.yaml", "hooks: {}\n", NULL};
    char *archive = jt_make_release (fleet->dir, name, files);
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "release add web %s %s", version, archive), 0, "%s",
                  output);
    free (output);
    uint8_t digest[32];
    cr_assert_eq (jad_sha256_file (archive, digest, NULL), 0);
    jad_hex (digest, 32, sha);
    free (archive);
    free (name);
}

//  A PASSED test result about sha, signed by CI, uploaded for web VERSION.
static void s_attest (const char *version, const char *sha)
{
    char now[32];
    time_t seconds = time (NULL);
    struct tm utc;
    gmtime_r (&seconds, &utc);
    strftime (now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &utc);
    char *statement = jad_strdup_printf (
        "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"name\":\"web.tar.gz\","
        "\"digest\":{\"sha256\":\"%s\"}}],\"predicateType\":"
        "\"https://in-toto.io/attestation/test-result/v0.1\",\"predicate\":{\"result\":"
        "\"PASSED\",\"configuration\":[],\"timestamp\":\"%s\"}}",
        sha, now);
    char *statement_path = jad_strdup_printf ("%s/statement.json", fleet->dir);
    char *envelope_path = jad_strdup_printf ("%s/tests-%s.json", fleet->dir, version);
    jt_write_file (statement_path, statement, 0644);
    char *output = NULL;
    cr_assert_eq (jt_run (&output, "%s/deploy/ci/attest-sign.sh %s/ci.pem %s ci > %s",
                          JAD_SOURCE_DIR, fleet->dir, statement_path, envelope_path),
                  0, "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "release attest web %s %s", version, envelope_path), 0,
                  "%s", output);
    free (output);
    free (envelope_path);
    free (statement_path);
    free (statement);
}

//  Sign prod's policy at version with the offline key into DIR/policy-N.json
//  (jadctl, never talking to the controller); its path.
static char *s_sign_policy (int version)
{
    char *path = jad_strdup_printf ("%s/policy-%d.json", fleet->dir, version);
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output,
                             "policy sign --key %s/policy.key --env prod --version %d --from "
                             "%s/controller/controller.yaml --out %s",
                             fleet->dir, version, fleet->dir, path),
                  0, "%s", output);
    cr_assert (strstr (output, "signed policy version"), "%s", output);
    free (output);
    return path;
}

static void s_push (const char *path, int code, const char *expected)
{
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "policy push %s", path), code, "%s", output);
    cr_assert (strstr (output, expected), "%s", output);
    free (output);
}

//  The version `current` points at on agent index ("" if none).
static void s_current (int index, char *out, size_t len)
{
    char *root = jt_fleet_root (fleet, index);
    char *link = jad_strdup_printf ("%s/web/current", root);
    char target[PATH_MAX];
    ssize_t got = readlink (link, target, sizeof target - 1);
    target[got > 0 ? got : 0] = 0;
    const char *slash = strrchr (target, '/');
    jad_format (out, len, "%s", slash ? slash + 1 : target);
    free (link);
    free (root);
}

//  A value of agent index's state.db meta ("" if none; caller frees).
static char *s_agent_meta (int index, const char *key)
{
    char *output = NULL;
    cr_assert_eq (jt_run (&output,
                          "sqlite3 -cmd '.timeout 10000' %s/%s/agent/state.db \"SELECT value "
                          "FROM meta WHERE key = '%s'\"",
                          fleet->dir, fleet->agent_names[index], key),
                  0, "%s", output);
    output[strcspn (output, "\n")] = 0;
    return output;
}

static void s_controller_sql (const char *sql)
{
    char *output = NULL;
    cr_assert_eq (jt_fleet_sql (fleet, &output, sql), 0, "%s: %s", sql, output);
    free (output);
}

//  SQL that serves the policy in file `path` as version 1 (its text
//  without the final newline, quoted for SQL). Caller frees.
static char *s_policy_update_sql (const char *path)
{
    char *body = jt_read_file (path);
    cr_assert (body, "cannot read %s", path);
    size_t length = strlen (body);
    while (length > 0 && body[length - 1] == '\n')
        body[--length] = 0;
    char *sql = NULL;
    size_t size = 0;
    FILE *stream = open_memstream (&sql, &size);
    cr_assert (stream);
    fputs ("UPDATE policies SET version = 1, body = '", stream);
    for (const char *at = body; *at; at++) {
        if (*at == '\'')
            fputc ('\'', stream);
        fputc (*at, stream);
    }
    fputs ("'", stream);
    fclose (stream);
    free (body);
    return sql;
}

//  deploy web VERSION --env ENV --wait: exit code, output in *output_p.
static int s_deploy (const char *version, const char *env, char **output_p)
{
    return jt_jadctl (fleet, output_p, "deploy web %s --env %s --wait", version, env);
}

//  The offline key, its public half (hex) in key.
static void s_policy_keygen (char key[65])
{
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "policy keygen %s/policy.key", fleet->dir), 0, "%s",
                  output);
    const char *hex = strstr (output, "policy-key: ");
    cr_assert_not_null (hex, "%s", output);
    snprintf (key, 65, "%s", hex + strlen ("policy-key: "));
    cr_assert_eq (strlen (key), 64, "%s", output);
    free (output);
}

//  SECURITY-TESTS row 40: a controller whose configuration and database
//  were edited to drop a check (and the attestation) gets the release past
//  its own door, and past an agent without a policy key, but not onto a
//  host whose agent holds the policy key; nothing switches there, and the
//  refusal is counted. A tampered attestation is refused the same way.
Test (policykey, agents_with_a_policy_key_refuse_what_the_controller_let_through)
{
    fleet = jt_fleet_new ();
    char *ci = s_ci_key ();
    s_environments (ci, true);
    char key[65];
    s_policy_keygen (key);
    jt_fleet_add_agent (fleet, "web-1", "prod");     //  0: policy key
    jt_fleet_add_agent (fleet, "web-2", "staging");  //  1: none
    s_give_policy_key (0, key);
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 2, 30000),
               "the agents did not come online");

    char sha1[65], sha2[65], sha3[65];
    s_release ("1.0", sha1);
    s_attest ("1.0", sha1);

    //  no policy has reached web-1 yet: it refuses (fail closed)
    char *output = NULL;
    cr_assert_neq (s_deploy ("1.0", "prod", &output), 0, "%s", output);
    cr_assert (strstr (output, "no policy signed by the policy key has reached this agent"), "%s",
               output);
    free (output);
    char current[64];
    s_current (0, current, sizeof current);
    cr_assert_str_eq (current, "", "nothing switched");

    char *policy = s_sign_policy (1);
    s_push (policy, 0, "policy of prod: version 1");
    cr_assert_eq (s_deploy ("1.0", "prod", &output), 0, "%s", output);
    free (output);
    s_current (0, current, sizeof current);
    cr_assert_str_eq (current, "1.0");
    char *kept = s_agent_meta (0, "policy_version");
    cr_assert_str_eq (kept, "1");
    free (kept);

    //  the controller is compromised: the check is gone from its
    //  configuration, the attestation from its database
    s_release ("2.0", sha2);
    s_attest ("2.0", sha2);
    s_controller_sql ("DELETE FROM attestations WHERE version = '2.0'");
    s_environments (ci, false);
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 2, 30000),
               "the agents did not come back");
    cr_assert_neq (s_deploy ("2.0", "prod", &output), 0, "%s", output);
    cr_assert (strstr (output, "refused by release checks: web 2.0 lacks 1 of the checks of "
                               "policy version 1: tests (missing: no attestation of type "
                               "https://in-toto.io/attestation/test-result/v0.1)"),
               "%s", output);
    free (output);
    s_current (0, current, sizeof current);
    cr_assert_str_eq (current, "1.0", "nothing switched on web-1");
    char *output_health = NULL;
    cr_assert_eq (jt_run (&output_health,
                          "sqlite3 -cmd '.timeout 10000' %s/web-1/agent/state.db \"SELECT health "
                          "FROM apps WHERE app = 'web'\"",
                          fleet->dir),
                  0, "%s", output_health);
    cr_assert_str_eq (output_health, "healthy\n", "a refusal is no failure of the app running");
    free (output_health);
    char *refused = s_agent_meta (0, "refused_policy");
    cr_assert_geq (atoi (refused), 2, "refusals are counted: %s", refused);
    free (refused);

    //  an agent without a policy key is not affected
    cr_assert_eq (s_deploy ("2.0", "staging", &output), 0, "%s", output);
    free (output);
    s_current (1, current, sizeof current);
    cr_assert_str_eq (current, "2.0");

    //  a tampered attestation in the bundle counts for nothing
    s_environments (ci, true);
    s_release ("3.0", sha3);
    s_attest ("3.0", sha3);
    s_controller_sql ("UPDATE attestations SET envelope = replace (envelope, 'sig\":\"', "
                      "'sig\":\"AAAA') WHERE version = '3.0'");
    s_environments (ci, false);
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 2, 30000),
               "the agents did not come back");
    cr_assert_neq (s_deploy ("3.0", "prod", &output), 0, "%s", output);
    cr_assert (strstr (output, "refused by release checks: web 3.0 lacks 1 of the checks"), "%s",
               output);
    free (output);
    s_current (0, current, sizeof current);
    cr_assert_str_eq (current, "1.0", "nothing switched on web-1");
    free (policy);
    free (ci);
}

//  Policy versions only go up: the controller refuses an older push, and
//  an agent refuses an older policy even after a restart, even when the
//  controller's database is edited to serve it.
Test (policykey, an_older_policy_is_refused_even_after_an_agent_restart)
{
    fleet = jt_fleet_new ();
    char *ci = s_ci_key ();
    s_environments (ci, true);
    char key[65];
    s_policy_keygen (key);
    jt_fleet_add_agent (fleet, "web-1", "prod");
    s_give_policy_key (0, key);
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000),
               "web-1 did not come online");
    char *old = s_sign_policy (1);
    char *newer = s_sign_policy (2);
    s_push (newer, 0, "policy of prod: version 2 (was 0)");
    s_push (old, 2, "versions only go up");

    char sha1[65], sha2[65];
    s_release ("1.0", sha1);
    s_attest ("1.0", sha1);
    char *output = NULL;
    cr_assert_eq (s_deploy ("1.0", "prod", &output), 0, "%s", output);
    free (output);
    char *kept = s_agent_meta (0, "policy_version");
    cr_assert_str_eq (kept, "2");
    free (kept);

    s_restart_agent (0);
    char *sql = s_policy_update_sql (old);
    s_controller_sql (sql);
    free (sql);
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000),
               "web-1 did not come back");
    s_release ("2.0", sha2);
    s_attest ("2.0", sha2);
    cr_assert_neq (s_deploy ("2.0", "prod", &output), 0, "%s", output);
    cr_assert (strstr (output, "policy version 1 is older than version 2, the highest this "
                               "agent has verified"),
               "%s", output);
    free (output);
    char current[64];
    s_current (0, current, sizeof current);
    cr_assert_str_eq (current, "1.0", "nothing switched");
    kept = s_agent_meta (0, "policy_version");
    cr_assert_str_eq (kept, "2");
    free (kept);
    free (old);
    free (newer);
    free (ci);
}

//  prod requires code-review and rollback-plan (approvals), or, on a
//  controller whose configuration was edited, code-review only; the
//  controller restarted on it, and web-1 back online if there is one.
static void s_approval_environments (bool rollback_plan)
{
    jt_fleet_set_environments (
        fleet, rollback_plan ? "environments:\n"
                               "  prod:\n"
                               "    checks:\n"
                               "      code-review: { approval: [tech-lead] }\n"
                               "      rollback-plan: { approval: [tech-lead, product-owner], "
                               "not_deployer: true }\n"
                             : "environments:\n"
                               "  prod:\n"
                               "    checks:\n"
                               "      code-review: { approval: [tech-lead] }\n");
    jt_fleet_restart_controller (fleet);
    cr_assert (fleet->agent_count == 0 ||
                   jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000),
               "web-1 did not come back");
}

//  Operator WHO approves CHECK of web VERSION in prod (note: NOTE).
static void s_approve (const char *who, const char *version, const char *check, const char *note)
{
    char *output = NULL;
    cr_assert_eq (jt_jadctl_as (fleet, who, &output,
                                "release approve web %s --env prod --check %s --note '%s'", version,
                                check, note),
                  0, "%s approving %s of %s: %s", who, check, version, output);
    free (output);
}

//  Operator WHO deploys web VERSION to prod: refused by web-1, naming why;
//  nothing switched there.
static void s_refused_at_the_host (const char *who, const char *version, const char *why)
{
    char *output = NULL;
    cr_assert_neq (jt_jadctl_as (fleet, who, &output, "deploy web %s --env prod --wait", version),
                   0, "%s", output);
    cr_assert (strstr (output, "refused by release checks: web"), "%s", output);
    cr_assert (strstr (output, why), "%s: expected '%s'", output, why);
    free (output);
    char current[64];
    s_current (0, current, sizeof current);
    cr_assert_str_eq (current, "1.0", "nothing switched on web-1 (%s)", version);
}

//  SECURITY-TESTS row 40, approvals: the policy carries the operators
//  who may approve (their signing keys and roles, as the signer reviewed
//  them); an agent with the policy key judges approval checks against
//  them, whatever the controller's database and configuration say.
Test (policykey, agents_judge_approvals_against_the_operators_the_policy_lists)
{
    fleet = jt_fleet_new ();
    char key[65];
    s_policy_keygen (key);
    s_approval_environments (true);
    jt_fleet_add_agent (fleet, "web-1", "prod");
    s_give_policy_key (0, key);
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000),
               "web-1 did not come online");
    jt_fleet_add_operator (fleet, "amy", "tech-lead,deployer");
    jt_fleet_add_operator (fleet, "pete", "product-owner");
    jt_fleet_add_operator (fleet, "olga", "tech-lead,product-owner");
    jt_fleet_add_operator (fleet, "dave", "deployer");

    //  the signer reviews the controller's operators and signs them in
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "--json operator list"), 0, "%s", output);
    char *operators = jad_strdup_printf ("%s/operators.json", fleet->dir);
    jt_write_file (operators, output, 0600);
    free (output);
    char *policy = jad_strdup_printf ("%s/policy-1.json", fleet->dir);
    cr_assert_eq (jt_jadctl (fleet, &output,
                             "policy sign --key %s/policy.key --env prod --version 1 --from "
                             "%s/controller/controller.yaml --operators %s --out %s",
                             fleet->dir, fleet->dir, operators, policy),
                  0, "%s", output);
    cr_assert (strstr (output, "amy (tech-lead,deployer)"), "%s", output);
    cr_assert (strstr (output, "olga (tech-lead,product-owner)"), "%s", output);
    cr_assert (strstr (output, "pete (product-owner)"), "%s", output);
    cr_assert_null (strstr (output, "dave"), "dave approves nothing: %s", output);
    free (output);
    s_push (policy, 0, "policy of prod: version 1");
    //  eve joins after the policy was signed
    jt_fleet_add_operator (fleet, "eve", "product-owner");

    //  1.0: every approval, by operators the policy lists
    char sha[65];
    s_release ("1.0", sha);
    s_approve ("amy", "1.0", "code-review", "read it");
    s_approve ("amy", "1.0", "rollback-plan", "plan ok");
    s_approve ("pete", "1.0", "rollback-plan", "plan ok");
    cr_assert_eq (jt_jadctl_as (fleet, "dave", &output, "deploy web 1.0 --env prod --wait"), 0,
                  "%s", output);
    free (output);
    char current[64];
    s_current (0, current, sizeof current);
    cr_assert_str_eq (current, "1.0");

    //  2.0: pete's approval will be deleted from the controller's database
    s_release ("2.0", sha);
    s_approve ("amy", "2.0", "code-review", "read it");
    s_approve ("amy", "2.0", "rollback-plan", "plan ok");
    s_approve ("pete", "2.0", "rollback-plan", "plan ok");
    //  3.0: eve, an operator the policy does not list, approves
    s_release ("3.0", sha);
    s_approve ("amy", "3.0", "code-review", "read it");
    s_approve ("amy", "3.0", "rollback-plan", "plan ok");
    s_approve ("eve", "3.0", "rollback-plan", "plan ok");
    //  4.0: olga approves rollback-plan twice, once for each role she holds
    s_release ("4.0", sha);
    s_approve ("amy", "4.0", "code-review", "read it");
    s_approve ("olga", "4.0", "rollback-plan", "as tech-lead");
    s_approve ("olga", "4.0", "rollback-plan", "as product-owner");
    //  5.0: every approval; amy, who approved rollback-plan, deploys it
    s_release ("5.0", sha);
    s_approve ("amy", "5.0", "code-review", "read it");
    s_approve ("amy", "5.0", "rollback-plan", "plan ok");
    s_approve ("pete", "5.0", "rollback-plan", "plan ok");

    //  the controller is compromised: the approval is gone from its
    //  database, rollback-plan from its configuration
    s_controller_sql ("DELETE FROM attestations WHERE version = '2.0' AND signer = 'pete'");
    s_approval_environments (false);
    s_refused_at_the_host ("dave", "2.0",
                           "rollback-plan (invalid: still needs an approval by product-owner");
    s_refused_at_the_host ("dave", "3.0",
                           "is signed by no operator's current signing key; still needs "
                           "product-owner)");
    s_refused_at_the_host ("dave", "4.0",
                           "rollback-plan (invalid: still needs an approval by product-owner");
    s_refused_at_the_host ("amy", "5.0",
                           "rollback-plan (invalid: approval by amy, who deploys (not_deployer); "
                           "still needs tech-lead)");
    char *refused = s_agent_meta (0, "refused_policy");
    cr_assert_geq (atoi (refused), 4, "refusals are counted: %s", refused);
    free (refused);
    //  what the policy allows still lands
    cr_assert_eq (jt_jadctl_as (fleet, "dave", &output, "deploy web 5.0 --env prod --wait"), 0,
                  "%s", output);
    free (output);
    s_current (0, current, sizeof current);
    cr_assert_str_eq (current, "5.0");
    free (policy);
    free (operators);
}
