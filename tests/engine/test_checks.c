//  test_checks - an environment's release checks judged over envelopes
//  signed by OpenSSL (deploy/ci/attest-sign.sh), and what may be kept on
//  arrival (DESIGN §10, SECURITY-TESTS row 39)
//  SPDX-License-Identifier: MPL-2.0

#include "engine/ctl_checks.h"
#include "jad_testlib.h"
#include "jad_util.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_RELEASE "fe4fe40ac7250263c5dbe1cf3138912f3f416140aa248637a60d65fe22c47da4"
#define S_OTHER   "0000000000000000000000000000000000000000000000000000000000000001"
#define S_NOW_MS  1765015200000LL  //  2025-12-06T10:00:00Z
#define S_TODAY   "2025-12-06T09:00:00Z"

static char *s_dir;
static char *s_ci_hex, *s_scanner_hex, *s_stranger_hex;
static jad_controller_config_t *s_config;

static char *s_keygen (const char *name)
{
    char *out = NULL;
    cr_assert_eq (jt_run (&out, "%s/deploy/ci/attest-sign.sh --keygen %s/%s.pem 2>&1",
                          JAD_SOURCE_DIR, s_dir, name),
                  0, "%s", out);
    out[strcspn (out, "\n")] = 0;
    cr_assert_eq (strlen (out), 64, "%s", out);
    return out;
}

static void s_setup (void)
{
    cr_assert_eq (sodium_init () < 0, 0);
    s_dir = jt_tempdir ("ctl-checks");
    s_ci_hex = s_keygen ("ci");
    s_scanner_hex = s_keygen ("scanner");
    s_stranger_hex = s_keygen ("stranger");
    char *yaml = jad_strdup_printf (
        "attestation_keys:\n"
        "  ci: { ed25519: %s }\n"
        "  scanner: { ed25519: %s }\n"
        "environments:\n"
        "  dev: {}\n"
        "  prod:\n"
        "    checks:\n"
        "      tests: { type: \"https://in-toto.io/attestation/test-result/v0.1\", keys: [ci], "
        "max_age: 7d }\n"
        "      security-scan: { type: \"https://in-toto.io/attestation/vulns/v0.2\", "
        "keys: [scanner], max_age: 3d, max_severity: medium }\n"
        "      code-review: { approval: [tech-lead] }\n"
        "      rollback-plan: { approval: [tech-lead, product-owner], not_deployer: true }\n",
        s_ci_hex, s_scanner_hex);
    char *path = jad_strdup_printf ("%s/controller.yaml", s_dir);
    jt_write_file (path, yaml, 0644);
    jad_problems_t *problems = jad_problems_new ();
    s_config = jad_controller_config_load (path, problems);
    cr_assert_not_null (s_config, "%s", jad_problems_get (problems, 0));
    jad_problems_destroy (&problems);
    free (path);
    free (yaml);
}

static void s_teardown (void)
{
    jad_controller_config_destroy (&s_config);
    free (s_ci_hex);
    free (s_scanner_hex);
    free (s_stranger_hex);
    jt_rmtree (s_dir);
    free (s_dir);
}

TestSuite (checks, .init = s_setup, .fini = s_teardown);

//  An envelope (caller frees) of a statement of type about sha with
//  predicate, signed by key through OpenSSL with keyid.
static char *s_envelope (const char *type, const char *sha, const char *predicate, const char *key,
                         const char *keyid)
{
    char *statement = jad_strdup_printf (
        "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"name\":\"web.tar.gz\","
        "\"digest\":{\"sha256\":\"%s\"}}],\"predicateType\":\"%s\",\"predicate\":%s}",
        sha, type, predicate);
    char *path = jad_strdup_printf ("%s/statement.json", s_dir);
    jt_write_file (path, statement, 0644);
    char *out = NULL;
    cr_assert_eq (jt_run (&out, "%s/deploy/ci/attest-sign.sh %s/%s.pem %s %s", JAD_SOURCE_DIR,
                          s_dir, key, path, keyid),
                  0, "%s", out);
    free (statement);
    free (path);
    return out;
}

static char *s_tests (const char *result, const char *sha, const char *key)
{
    char predicate[256];
    snprintf (predicate, sizeof predicate,
              "{\"result\":\"%s\",\"configuration\":[],\"timestamp\":\"" S_TODAY "\"}", result);
    return s_envelope ("https://in-toto.io/attestation/test-result/v0.1", sha, predicate, key, key);
}

static char *s_scan (const char *severity, const char *key)
{
    char predicate[512];
    snprintf (predicate, sizeof predicate,
              "{\"scanner\":{\"uri\":\"pkg:github/aquasecurity/trivy\",\"result\":[{\"id\":"
              "\"CVE-2025-1\",\"severity\":[{\"method\":\"nvd\",\"score\":\"%s\"}]}]},"
              "\"metadata\":{\"scanFinishedOn\":\"" S_TODAY "\"}}",
              severity);
    return s_envelope ("https://in-toto.io/attestation/vulns/v0.2", S_RELEASE, predicate, key, key);
}

//  Judge prod over the envelopes (NULL-terminated); results in order.
static void s_judge (char **envelopes, ctl_check_result_t results[4])
{
    size_t count = 0;
    size_t lens[8];
    while (envelopes[count]) {
        lens[count] = strlen (envelopes[count]);
        count++;
    }
    const jad_env_config_t *prod = jad_controller_config_env (s_config, "prod");
    cr_assert_eq (prod->check_count, 4);
    ctl_checks_facts_t facts = {.sha256 = S_RELEASE,
                                .envelopes = (const char *const *)envelopes,
                                .lens = lens,
                                .count = count};
    cr_assert_eq (ctl_checks_judge (s_config, prod, &facts, S_NOW_MS, results), 0);
}

Test (checks, with_nothing_every_check_is_missing)
{
    char *none[] = {NULL};
    ctl_check_result_t results[4];
    s_judge (none, results);
    cr_assert_str_eq (results[0].name, "tests");
    cr_assert_str_eq (results[3].name, "rollback-plan");
    for (int index = 0; index < 4; index++)
        cr_assert_eq (results[index].verdict, JAD_CHECK_MISSING, "%s: %s", results[index].name,
                      results[index].why);
    cr_assert_not (results[1].approval);
    cr_assert (results[2].approval);
    cr_assert_str_eq (results[3].why, "no approval by tech-lead, product-owner yet (never the "
                                      "deployer)");
    cr_assert_str_eq (ctl_check_state (results[0].verdict), "missing");
}

Test (checks, attestations_satisfy_their_checks_one_by_one)
{
    char *tests = s_tests ("PASSED", S_RELEASE, "ci");
    char *scan = s_scan ("LOW", "scanner");
    char *first[] = {tests, NULL};
    ctl_check_result_t results[4];
    s_judge (first, results);
    cr_assert_eq (results[0].verdict, JAD_CHECK_OK, "%s", results[0].why);
    cr_assert_str_eq (results[0].why, "");
    cr_assert_eq (results[1].verdict, JAD_CHECK_MISSING);
    char *both[] = {tests, scan, NULL};
    s_judge (both, results);
    cr_assert_eq (results[0].verdict, JAD_CHECK_OK, "%s", results[0].why);
    cr_assert_eq (results[1].verdict, JAD_CHECK_OK, "%s", results[1].why);
    cr_assert_str_eq (ctl_check_state (results[1].verdict), "ok");
    free (tests);
    free (scan);
}

Test (checks, each_misuse_is_invalid_naming_why)
{
    //  a FAILED run, the scanner's key on a test result (trusted for
    //  another check only), a finding over max_severity
    char *failed = s_tests ("FAILED", S_RELEASE, "ci");
    char *wrong_key = s_tests ("PASSED", S_RELEASE, "scanner");
    char *severe = s_scan ("HIGH", "scanner");
    char *envelopes[] = {failed, wrong_key, severe, NULL};
    ctl_check_result_t results[4];
    s_judge (envelopes, results);
    cr_assert_eq (results[0].verdict, JAD_CHECK_INVALID);
    cr_assert_str_eq (results[0].why, "attestation 1 test result is FAILED (PASSED required)",
                      "a signed attestation that fails says more than an unsigned one");
    cr_assert_eq (results[1].verdict, JAD_CHECK_INVALID);
    cr_assert_str_eq (results[1].why,
                      "attestation 3 vulns: finding CVE-2025-1 is high, above max_severity medium");
    cr_assert_str_eq (ctl_check_state (results[1].verdict), "invalid");
    char *alone[] = {wrong_key, NULL};
    s_judge (alone, results);
    cr_assert_eq (results[0].verdict, JAD_CHECK_INVALID);
    cr_assert_str_eq (
        results[0].why,
        "attestation 1 is not signed by a key trusted for check 'tests' (trusted: ci)");
    free (failed);
    free (wrong_key);
    free (severe);
}

Test (checks, arrival_keeps_only_what_a_check_could_use)
{
    char err[256];
    char *type = NULL;
    char *tests = s_tests ("FAILED", S_RELEASE, "ci");
    char *signer =
        ctl_checks_arrival (s_config, tests, strlen (tests), S_RELEASE, &type, err, sizeof err);
    cr_assert_not_null (signer, "a FAILED result is evidence too, judged at deploy: %s", err);
    cr_assert_str_eq (signer, "ci");
    cr_assert_str_eq (type, "https://in-toto.io/attestation/test-result/v0.1");
    free (signer);
    free (type);

    signer = ctl_checks_arrival (s_config, tests, strlen (tests), S_OTHER, &type, err, sizeof err);
    cr_assert_null (signer);
    cr_assert_null (type);
    cr_assert_str_eq (err,
                      "the statement is about another release (no subject has sha256 " S_OTHER ")");
    free (tests);

    //  a key nobody trusts, even with the right keyid
    char *stranger = s_envelope ("https://in-toto.io/attestation/test-result/v0.1", S_RELEASE,
                                 "{\"result\":\"PASSED\"}", "stranger", "ci");
    cr_assert_null (ctl_checks_arrival (s_config, stranger, strlen (stranger), S_RELEASE, &type,
                                        err, sizeof err));
    cr_assert_str_eq (err, "not signed by any key a https://in-toto.io/attestation/test-result/"
                           "v0.1 check trusts (a keyid decides nothing)");
    free (stranger);

    //  the scanner's key is trusted, but by no test-result check
    char *scanner = s_tests ("PASSED", S_RELEASE, "scanner");
    cr_assert_null (ctl_checks_arrival (s_config, scanner, strlen (scanner), S_RELEASE, &type, err,
                                        sizeof err));
    cr_assert (strstr (err, "not signed by any key"), "%s", err);
    free (scanner);

    //  a type no check asks for
    char *other = s_envelope ("https://example.com/lint/v1", S_RELEASE, "{}", "ci", "ci");
    cr_assert_null (
        ctl_checks_arrival (s_config, other, strlen (other), S_RELEASE, &type, err, sizeof err));
    cr_assert_str_eq (err, "no check in controller.yaml needs a https://example.com/lint/v1 "
                           "statement");
    free (other);

    //  not an envelope at all
    cr_assert_null (
        ctl_checks_arrival (s_config, "{\"a\":1}", 7, S_RELEASE, &type, err, sizeof err));
    cr_assert (err[0], "a reason is given");
}

//  An approval of check in env (about the release), signed by key.
static char *s_approval (const char *env, const char *check, const char *key)
{
    char predicate[256];
    snprintf (predicate, sizeof predicate,
              "{\"app\":\"web\",\"version\":\"1.0\",\"env\":\"%s\",\"check\":\"%s\","
              "\"timestamp\":\"" S_TODAY "\"}",
              env, check);
    return s_envelope (JAD_ATTEST_APPROVAL, S_RELEASE, predicate, key, key);
}

//  The verdicts of prod's approval checks (code-review, rollback-plan)
//  over approvals (NULL-terminated) with approvers, deploying as deployer.
static void s_judge_approvals (char **envelopes, const ctl_check_approver_t *approvers,
                               size_t approver_count, const char *deployer,
                               ctl_check_result_t results[4])
{
    size_t count = 0;
    size_t lens[8];
    while (envelopes[count]) {
        lens[count] = strlen (envelopes[count]);
        count++;
    }
    ctl_checks_facts_t facts = {.sha256 = S_RELEASE,
                                .envelopes = (const char *const *)envelopes,
                                .lens = lens,
                                .count = count,
                                .approvers = approvers,
                                .approver_count = approver_count,
                                .deployer = deployer};
    const jad_env_config_t *prod = jad_controller_config_env (s_config, "prod");
    cr_assert_eq (ctl_checks_judge (s_config, prod, &facts, S_NOW_MS, results), 0);
}

Test (checks, approvals_count_by_current_keys_and_roles_never_the_deployer)
{
    char *amy_hex = s_keygen ("amy");
    char *pete_hex = s_keygen ("pete");
    char *review = s_approval ("prod", "code-review", "amy");
    char *plan_amy = s_approval ("prod", "rollback-plan", "amy");
    char *plan_pete = s_approval ("prod", "rollback-plan", "pete");
    char *elsewhere = s_approval ("staging", "code-review", "amy");
    ctl_check_result_t results[4];
    ctl_check_approver_t both[] = {
        {.name = "amy", .roles = "tech-lead", .signing_key = amy_hex},
        {.name = "pete", .roles = "product-owner", .signing_key = pete_hex}};

    char *all[] = {review, plan_amy, plan_pete, NULL};
    s_judge_approvals (all, both, 2, "dave", results);
    cr_assert_eq (results[2].verdict, JAD_CHECK_OK, "%s", results[2].why);
    cr_assert_eq (results[3].verdict, JAD_CHECK_OK, "%s", results[3].why);

    //  the deployer's own approval does not count with not_deployer
    s_judge_approvals (all, both, 2, "amy", results);
    cr_assert_eq (results[2].verdict, JAD_CHECK_OK, "code-review has no not_deployer");
    cr_assert_eq (results[3].verdict, JAD_CHECK_INVALID);
    cr_assert_str_eq (results[3].why,
                      "approval by amy, who deploys (not_deployer); still needs tech-lead");

    //  a key no longer registered (removed operator, rotated key)
    ctl_check_approver_t rotated[] = {
        {.name = "amy", .roles = "tech-lead", .signing_key = pete_hex}};
    char *first[] = {review, NULL};
    s_judge_approvals (first, rotated, 1, NULL, results);
    cr_assert_eq (results[2].verdict, JAD_CHECK_INVALID);
    cr_assert_str_eq (results[2].why, "approval 1 is signed by no operator's current signing key; "
                                      "still needs tech-lead");

    //  a role lost since
    ctl_check_approver_t demoted[] = {{.name = "amy", .roles = "viewer", .signing_key = amy_hex}};
    s_judge_approvals (first, demoted, 1, NULL, results);
    cr_assert_eq (results[2].verdict, JAD_CHECK_INVALID);
    cr_assert_str_eq (results[2].why, "still needs an approval by tech-lead (an operator covers "
                                      "one role, and holds it now)");

    //  one operator covers one role, even holding both
    ctl_check_approver_t doubled[] = {
        {.name = "amy", .roles = "tech-lead,product-owner", .signing_key = amy_hex}};
    char *alone[] = {plan_amy, NULL};
    s_judge_approvals (alone, doubled, 1, NULL, results);
    cr_assert_eq (results[3].verdict, JAD_CHECK_INVALID);
    cr_assert (strstr (results[3].why, "still needs an approval by product-owner"), "%s",
               results[3].why);

    //  an approval for another environment is none for this one
    char *other[] = {elsewhere, NULL};
    s_judge_approvals (other, both, 2, NULL, results);
    cr_assert_eq (results[2].verdict, JAD_CHECK_MISSING, "%s", results[2].why);
    cr_assert_str_eq (results[2].why, "no approval by tech-lead yet");

    //  on arrival: signed by the uploader, naming this env and check
    const jad_env_config_t *prod = jad_controller_config_env (s_config, "prod");
    char err[256];
    cr_assert_eq (ctl_checks_approval_arrival (prod, "code-review", "web", "1.0", S_RELEASE,
                                               &both[0], review, strlen (review), err, sizeof err),
                  0, "%s", err);
    cr_assert_eq (ctl_checks_approval_arrival (prod, "code-review", "web", "1.0", S_RELEASE,
                                               &both[1], review, strlen (review), err, sizeof err),
                  -1);
    cr_assert_str_eq (err, "not signed by pete's signing key");
    cr_assert_eq (ctl_checks_approval_arrival (prod, "rollback-plan", "web", "1.0", S_RELEASE,
                                               &both[0], review, strlen (review), err, sizeof err),
                  -1);
    cr_assert_str_eq (err, "the approval is for another check");
    cr_assert_eq (ctl_checks_approval_arrival (prod, "code-review", "web", "1.1", S_RELEASE,
                                               &both[0], review, strlen (review), err, sizeof err),
                  -1);
    cr_assert_str_eq (err, "the approval is about another release");
    cr_assert_eq (ctl_checks_approval_arrival (prod, "tests", "web", "1.0", S_RELEASE, &both[0],
                                               review, strlen (review), err, sizeof err),
                  -1);
    cr_assert_str_eq (err, "the approval is for another check");
    free (amy_hex);
    free (pete_hex);
    free (review);
    free (plan_amy);
    free (plan_pete);
    free (elsewhere);
}
