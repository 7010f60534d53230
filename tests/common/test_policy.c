//  test_policy - the offline-signed policy, the attestation bundle and the
//  shared rule builder (jad_policy.h; SECURITY-TESTS row 40)
//  SPDX-License-Identifier: MPL-2.0

#include "jad_policy.h"
#include "jad_testlib.h"
#include "jad_util.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_RELEASE "fe4fe40ac7250263c5dbe1cf3138912f3f416140aa248637a60d65fe22c47da4"
#define S_NOW_MS  1765015200000LL  //  2025-12-06T10:00:00Z

static char *s_dir;
static jad_keypair_t *s_ci, *s_other, *s_offline, *s_amy, *s_pete, *s_vic;
static jad_controller_config_t *s_config;
static jad_approver_t s_operators[3];  //  amy tech-lead, pete product-owner, vic viewer

static void s_setup (void)
{
    cr_assert_eq (sodium_init () < 0, 0);
    s_dir = jt_tempdir ("policy");
    s_ci = jad_keypair_new (JAD_KEY_ED25519);
    s_other = jad_keypair_new (JAD_KEY_ED25519);
    s_offline = jad_keypair_new (JAD_KEY_ED25519);
    s_amy = jad_keypair_new (JAD_KEY_ED25519);
    s_pete = jad_keypair_new (JAD_KEY_ED25519);
    s_vic = jad_keypair_new (JAD_KEY_ED25519);
    cr_assert (s_ci && s_other && s_offline && s_amy && s_pete && s_vic);
    s_operators[0] = (jad_approver_t){.name = "amy",
                                      .roles = "tech-lead,deployer",
                                      .signing_key = jad_keypair_public_txt (s_amy)};
    s_operators[1] = (jad_approver_t){
        .name = "pete", .roles = "product-owner", .signing_key = jad_keypair_public_txt (s_pete)};
    s_operators[2] = (jad_approver_t){
        .name = "vic", .roles = "viewer", .signing_key = jad_keypair_public_txt (s_vic)};
    char *path = jad_strdup_printf ("%s/controller.yaml", s_dir);
    char *yaml = jad_strdup_printf (
        "attestation_keys:\n"
        "  ci:    { ed25519: %s }\n"
        "  other: { ed25519: %s }\n"
        "environments:\n"
        "  prod:\n"
        "    checks:\n"
        "      tests: { type: \"https://in-toto.io/attestation/test-result/v0.1\", keys: [ci], "
        "max_age: 7d }\n"
        "      code-review: { approval: [tech-lead, product-owner], not_deployer: true }\n"
        "  dev: {}\n",
        jad_keypair_public_txt (s_ci), jad_keypair_public_txt (s_other));
    jt_write_file (path, yaml, 0600);
    jad_problems_t *problems = jad_problems_new ();
    s_config = jad_controller_config_load (path, problems);
    cr_assert_not_null (s_config);
    jad_problems_destroy (&problems);
    free (yaml);
    free (path);
}

static void s_teardown (void)
{
    jad_controller_config_destroy (&s_config);
    jad_keypair_destroy (&s_ci);
    jad_keypair_destroy (&s_other);
    jad_keypair_destroy (&s_offline);
    jad_keypair_destroy (&s_amy);
    jad_keypair_destroy (&s_pete);
    jad_keypair_destroy (&s_vic);
    jt_rmtree (s_dir);
    free (s_dir);
}

TestSuite (policy, .init = s_setup, .fini = s_teardown);

//  prod's policy at version, signed by key (text, caller frees).
static char *s_signed_policy (uint64_t version, const jad_keypair_t *key)
{
    char err[256];
    char *payload = jad_policy_payload (s_config, "prod", version, s_operators, 3, err, sizeof err);
    cr_assert_not_null (payload, "%s", err);
    char *text =
        jad_dsse_sign (JAD_POLICY_PAYLOAD_TYPE, (const uint8_t *)payload, strlen (payload), key);
    cr_assert_not_null (text);
    free (payload);
    return text;
}

//  A Test Result `result` about sha, signed by key.
static char *s_test_result (const char *result, const char *sha, const jad_keypair_t *key)
{
    char *statement = jad_strdup_printf (
        "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"name\":\"web.tar.gz\","
        "\"digest\":{\"sha256\":\"%s\"}}],\"predicateType\":\"%s\",\"predicate\":{\"result\":"
        "\"%s\",\"configuration\":[],\"timestamp\":\"2025-12-06T09:00:00Z\"}}",
        sha, JAD_ATTEST_TEST_RESULT, result);
    char *envelope = jad_dsse_sign (JAD_ATTEST_PAYLOAD_TYPE, (const uint8_t *)statement,
                                    strlen (statement), key);
    cr_assert_not_null (envelope);
    free (statement);
    return envelope;
}

Test (policy, signed_policy_opens_only_under_the_policy_key)
{
    char *text = s_signed_policy (3, s_offline);
    char err[256] = "";
    jad_policy_t *policy =
        jad_policy_open (text, strlen (text), jad_keypair_public (s_offline), err, sizeof err);
    cr_assert_not_null (policy, "%s", err);
    cr_assert_str_eq (policy->environment, "prod");
    cr_assert_eq (policy->version, 3);
    cr_assert_eq (policy->check_count, 2);
    cr_assert_str_eq (policy->checks[0].name, "tests");
    cr_assert_str_eq (policy->checks[0].type, JAD_ATTEST_TEST_RESULT);
    cr_assert_eq (policy->checks[0].max_age_ms, 7ull * 86400000);
    cr_assert_str_eq (policy->checks[1].name, "code-review");
    cr_assert_str_eq (policy->checks[1].approval[0], "tech-lead");
    cr_assert (policy->checks[1].not_deployer);
    //  only the keys prod's checks name travel
    cr_assert_eq (policy->key_count, 1);
    cr_assert_str_eq (policy->keys[0].name, "ci");
    //  only the operators who hold a role an approval check lists travel,
    //  with every role they hold and their signing key
    cr_assert_eq (policy->operator_count, 2);
    cr_assert_str_eq (policy->operators[0].name, "amy");
    cr_assert_str_eq (policy->operators[0].roles, "tech-lead,deployer");
    cr_assert_str_eq (policy->operators[0].signing_key, jad_keypair_public_txt (s_amy));
    cr_assert_str_eq (policy->operators[1].name, "pete");
    cr_assert_str_eq (policy->operators[1].roles, "product-owner");
    jad_policy_destroy (&policy);

    //  another key (a controller's, say) does not open it
    cr_assert_null (
        jad_policy_open (text, strlen (text), jad_keypair_public (s_ci), err, sizeof err));
    cr_assert (strstr (err, "not signed by the policy key"), "%s", err);
    //  nor does a policy edited after signing
    char *payload = jad_policy_payload (s_config, "prod", 3, s_operators, 3, err, sizeof err);
    char *forged =
        jad_dsse_sign (JAD_POLICY_PAYLOAD_TYPE, (const uint8_t *)payload, strlen (payload), s_ci);
    cr_assert_null (
        jad_policy_open (forged, strlen (forged), jad_keypair_public (s_offline), err, sizeof err));
    //  an attestation is not a policy, whoever signed it
    char *attestation = s_test_result ("PASSED", S_RELEASE, s_offline);
    cr_assert_null (jad_policy_open (attestation, strlen (attestation),
                                     jad_keypair_public (s_offline), err, sizeof err));
    cr_assert (strstr (err, "payloadType"), "%s", err);
    free (attestation);
    free (forged);
    free (payload);
    free (text);
}

Test (policy, payload_needs_a_known_environment_and_a_version)
{
    char err[256] = "";
    cr_assert_null (jad_policy_payload (s_config, "nowhere", 1, NULL, 0, err, sizeof err));
    cr_assert (strstr (err, "no environment 'nowhere'"), "%s", err);
    cr_assert_null (jad_policy_payload (s_config, "prod", 0, s_operators, 3, err, sizeof err));
    cr_assert (strstr (err, "version"), "%s", err);
    //  an environment without checks has a policy too: nothing required
    char *payload = jad_policy_payload (s_config, "dev", 1, NULL, 0, err, sizeof err);
    cr_assert_not_null (payload, "%s", err);
    jad_policy_t *policy =
        jad_policy_decode ((const uint8_t *)payload, strlen (payload), err, sizeof err);
    cr_assert_not_null (policy, "%s", err);
    cr_assert_eq (policy->check_count, 0);
    jad_policy_destroy (&policy);
    free (payload);
}

Test (policy, decode_refuses_what_a_signer_should_never_have_signed)
{
    static const char *const bad[][2] = {
        {"{\"_type\":\"https://jadugar.dev/policy/v1\",\"environment\":\"prod\",\"version\":1,"
         "\"attestation_keys\":{},\"checks\":[{\"name\":\"tests\",\"type\":\"t\",\"keys\":"
         "[\"ci\"]}]}",
         "key 'ci' is not under attestation_keys"},
        {"{\"_type\":\"https://jadugar.dev/policy/v1\",\"environment\":\"prod\",\"version\":1,"
         "\"attestation_keys\":{},\"checks\":[{\"name\":\"x\",\"type\":\"t\",\"approval\":"
         "[\"qa\"]}]}",
         "exactly one of type and approval"},
        {"{\"_type\":\"https://jadugar.dev/policy/v1\",\"environment\":\"prod\",\"version\":0,"
         "\"attestation_keys\":{},\"checks\":[]}",
         "version (from 1)"},
        {"{\"_type\":\"https://jadugar.dev/policy/v1\",\"environment\":\"prod\",\"version\":1,"
         "\"version\":9,\"attestation_keys\":{},\"checks\":[]}",
         "duplicate"},
        {"{\"_type\":\"https://jadugar.dev/policy/v1\",\"environment\":\"prod\",\"version\":1,"
         "\"attestation_keys\":{},\"checks\":[{\"name\":\"a\",\"approval\":[\"qa\"]},"
         "{\"name\":\"a\",\"approval\":[\"qa\"]}]}",
         "appears twice"},
        {"{\"_type\":\"https://jadugar.dev/bundle/v1\"}", "not a policy"},
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad[0]; index++) {
        char err[256] = "";
        jad_policy_t *policy = jad_policy_decode ((const uint8_t *)bad[index][0],
                                                  strlen (bad[index][0]), err, sizeof err);
        cr_assert_null (policy, "case %zu accepted", index);
        cr_assert (strstr (err, bad[index][1]), "case %zu: %s", index, err);
    }
}

//  An approval by key of check in env about sha (text, caller frees).
static char *s_approval (const char *env, const char *check, const char *sha,
                         const jad_keypair_t *key)
{
    char *statement = jad_strdup_printf (
        "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"name\":\"web-1.0\","
        "\"digest\":{\"sha256\":\"%s\"}}],\"predicateType\":\"%s\",\"predicate\":{\"app\":"
        "\"web\",\"version\":\"1.0\",\"env\":\"%s\",\"check\":\"%s\",\"timestamp\":"
        "\"2025-12-06T09:00:00Z\"}}",
        sha, JAD_ATTEST_APPROVAL, env, check);
    char *envelope = jad_dsse_sign (JAD_ATTEST_PAYLOAD_TYPE, (const uint8_t *)statement,
                                    strlen (statement), key);
    cr_assert_not_null (envelope);
    free (statement);
    return envelope;
}

//  prod's policy at version 1, opened.
static jad_policy_t *s_open_policy (void)
{
    char *text = s_signed_policy (1, s_offline);
    char err[512] = "";
    jad_policy_t *policy =
        jad_policy_open (text, strlen (text), jad_keypair_public (s_offline), err, sizeof err);
    cr_assert_not_null (policy, "%s", err);
    free (text);
    return policy;
}

//  The number of checks not met over envelopes (NULL-terminated).
static int s_judge (const jad_policy_t *policy, char **envelopes, const char *sha, int64_t now,
                    bool ignore_age, const char *deployer, char *why, size_t whylen)
{
    size_t lens[8], count = 0;
    while (envelopes[count]) {
        lens[count] = strlen (envelopes[count]);
        count++;
    }
    return jad_policy_judge (policy, (const char *const *)envelopes, lens, count, sha, now,
                             ignore_age, deployer, why, whylen);
}

Test (policy, judge_names_each_attestation_check_not_met)
{
    jad_policy_t *policy = s_open_policy ();
    char *passed = s_test_result ("PASSED", S_RELEASE, s_ci);
    char *failed = s_test_result ("FAILED", S_RELEASE, s_ci);
    char *wrong_key = s_test_result ("PASSED", S_RELEASE, s_other);
    char *amy = s_approval ("prod", "code-review", S_RELEASE, s_amy);
    char *pete = s_approval ("prod", "code-review", S_RELEASE, s_pete);
    char why[1024];

    //  nothing at all: both checks are missing
    char *none[] = {NULL};
    cr_assert_eq (s_judge (policy, none, S_RELEASE, S_NOW_MS, false, "dave", why, sizeof why), 2);
    cr_assert (strstr (why, "tests (missing: no attestation of type"), "%s", why);
    cr_assert (strstr (why, "code-review (missing: no approval by tech-lead, product-owner yet"),
               "%s", why);

    char *wrong[] = {wrong_key, amy, pete, NULL};
    cr_assert_eq (s_judge (policy, wrong, S_RELEASE, S_NOW_MS, false, "dave", why, sizeof why), 1);
    cr_assert (strstr (why, "tests (invalid: attestation 1 is not signed by a key trusted"), "%s",
               why);

    char *bad[] = {failed, amy, pete, NULL};
    cr_assert_eq (s_judge (policy, bad, S_RELEASE, S_NOW_MS, false, "dave", why, sizeof why), 1);
    cr_assert (strstr (why, "FAILED"), "%s", why);

    char *good[] = {passed, amy, pete, NULL};
    cr_assert_eq (s_judge (policy, good, S_RELEASE, S_NOW_MS, false, "dave", why, sizeof why), 0,
                  "%s", why);
    //  about another release nothing counts
    cr_assert_eq (s_judge (policy, good,
                           "0000000000000000000000000000000000000000000000000000000000000001",
                           S_NOW_MS, false, "dave", why, sizeof why),
                  2);
    //  eight days later max_age fails it, unless the age is not applied
    int64_t later = S_NOW_MS + 8LL * 86400000;
    cr_assert_eq (s_judge (policy, good, S_RELEASE, later, false, "dave", why, sizeof why), 1);
    cr_assert (strstr (why, "tests (invalid:"), "%s", why);
    cr_assert_eq (s_judge (policy, good, S_RELEASE, later, true, "dave", why, sizeof why), 0, "%s",
                  why);
    jad_policy_destroy (&policy);
    free (passed);
    free (failed);
    free (wrong_key);
    free (amy);
    free (pete);
}

//  Approvals at the host: judged against the operators the policy lists
//  (not the controller's), each role its own operator, never the deployer.
Test (policy, judge_approvals_by_the_policy_operators_only)
{
    jad_policy_t *policy = s_open_policy ();
    char *passed = s_test_result ("PASSED", S_RELEASE, s_ci);
    char *amy = s_approval ("prod", "code-review", S_RELEASE, s_amy);
    char *pete = s_approval ("prod", "code-review", S_RELEASE, s_pete);
    //  vic is an operator, but not in the policy (no listed role)
    char *vic = s_approval ("prod", "code-review", S_RELEASE, s_vic);
    //  signed by a key no operator of the policy has (a controller's, say)
    char *stranger = s_approval ("prod", "code-review", S_RELEASE, s_other);
    char *staging = s_approval ("staging", "code-review", S_RELEASE, s_pete);
    char why[1024];

    char *one[] = {passed, amy, NULL};
    cr_assert_eq (s_judge (policy, one, S_RELEASE, S_NOW_MS, false, "dave", why, sizeof why), 1);
    cr_assert (strstr (why, "code-review (invalid: still needs an approval by product-owner"), "%s",
               why);

    char *outsider[] = {passed, amy, stranger, vic, NULL};
    cr_assert_eq (s_judge (policy, outsider, S_RELEASE, S_NOW_MS, false, "dave", why, sizeof why),
                  1);
    cr_assert (strstr (why, "code-review (invalid: approval 4 is signed by no operator's current "
                            "signing key; still needs product-owner"),
               "%s", why);

    //  one operator covers one role, however many times they approve
    char *twice[] = {passed, amy, amy, NULL};
    cr_assert_eq (s_judge (policy, twice, S_RELEASE, S_NOW_MS, false, "dave", why, sizeof why), 1);
    cr_assert (strstr (why, "still needs an approval by product-owner"), "%s", why);

    //  an approval for another environment counts for nothing here
    char *elsewhere[] = {passed, amy, staging, NULL};
    cr_assert_eq (s_judge (policy, elsewhere, S_RELEASE, S_NOW_MS, false, "dave", why, sizeof why),
                  1);

    //  not_deployer: amy deploys, her approval does not count
    char *both[] = {passed, amy, pete, NULL};
    cr_assert_eq (s_judge (policy, both, S_RELEASE, S_NOW_MS, false, "amy", why, sizeof why), 1);
    cr_assert (strstr (why, "code-review (invalid: approval by amy, who deploys (not_deployer); "
                            "still needs tech-lead"),
               "%s", why);
    cr_assert_eq (s_judge (policy, both, S_RELEASE, S_NOW_MS, false, "dave", why, sizeof why), 0,
                  "%s", why);
    cr_assert (jad_policy_not_deployer (policy));
    jad_policy_destroy (&policy);
    free (passed);
    free (amy);
    free (pete);
    free (vic);
    free (stranger);
    free (staging);
}

//  The operators a policy carries: what a signer must review, refused
//  when malformed.
Test (policy, operators_are_checked_when_signed_and_when_read)
{
    char err[512] = "";
    //  prod has approval checks: no operator holding a listed role, no policy
    cr_assert_null (jad_policy_payload (s_config, "prod", 1, NULL, 0, err, sizeof err));
    cr_assert (strstr (err, "prod has approval checks and no operator given holds a role"), "%s",
               err);
    cr_assert_null (jad_policy_payload (s_config, "prod", 1, &s_operators[2], 1, err, sizeof err));
    //  an approver without a usable signing key
    jad_approver_t keyless[] = {{.name = "amy", .roles = "tech-lead", .signing_key = NULL}};
    cr_assert_null (jad_policy_payload (s_config, "prod", 1, keyless, 1, err, sizeof err));
    cr_assert (strstr (err, "operator amy: the signing key is not 64 hex"), "%s", err);
    //  two operators, one key
    jad_approver_t shared[] = {s_operators[0], s_operators[1]};
    shared[1].signing_key = shared[0].signing_key;
    cr_assert_null (jad_policy_payload (s_config, "prod", 1, shared, 2, err, sizeof err));
    cr_assert (strstr (err, "share a signing key"), "%s", err);

    char key[65];
    memset (key, 'a', 64);
    key[64] = 0;
    static const char *const head =
        "{\"_type\":\"https://jadugar.dev/policy/v1\",\"environment\":\"prod\",\"version\":1,"
        "\"attestation_keys\":{},\"checks\":[{\"name\":\"a\",\"approval\":[\"qa\"]}],";
    char *bad[] = {
        jad_strdup_printf ("%s\"operators\":[]}", head),
        jad_strdup_printf ("%s\"operators\":{\"amy\":{\"roles\":[\"qa\"]}}}", head),
        jad_strdup_printf ("%s\"operators\":{\"amy\":{\"roles\":[],\"signing_key\":\"%s\"}}}", head,
                           key),
        jad_strdup_printf ("%s\"operators\":{\"amy\":{\"roles\":[\"q a\"],\"signing_key\":"
                           "\"%s\"}}}",
                           head, key),
        jad_strdup_printf ("%s\"operators\":{\"amy\":{\"roles\":[\"qa\"],\"signing_key\":"
                           "\"abc\"}}}",
                           head),
        jad_strdup_printf ("%s\"operators\":{\"amy\":{\"roles\":[\"qa\"],\"signing_key\":"
                           "\"%s\",\"extra\":1}}}",
                           head, key),
        jad_strdup_printf ("%s\"operators\":{\"amy\":{\"roles\":[\"qa\"],\"signing_key\":"
                           "\"%s\"},\"bob\":{\"roles\":[\"qa\"],\"signing_key\":\"%s\"}}}",
                           head, key, key),
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad[0]; index++) {
        cr_assert_null (
            jad_policy_decode ((const uint8_t *)bad[index], strlen (bad[index]), err, sizeof err),
            "case %zu accepted", index);
        cr_assert (strstr (err, "operator"), "case %zu: %s", index, err);
        free (bad[index]);
    }
}

Test (policy, rule_builder_is_the_one_the_door_uses)
{
    const jad_env_config_t *prod = jad_controller_config_env (s_config, "prod");
    jad_check_rule_t rule;
    cr_assert_eq (jad_check_rule_build (&prod->checks[0], s_config->attestation_keys,
                                        s_config->attestation_key_count, &rule),
                  0);
    cr_assert_str_eq (rule.name, "tests");
    cr_assert_eq (rule.key_count, 1);
    cr_assert_str_eq (rule.key_names[0], "ci");
    cr_assert_eq (memcmp (rule.keys, jad_keypair_public (s_ci), 32), 0);
    cr_assert_eq (rule.max_age_ms, 7LL * 86400000);
    jad_check_rule_clear (&rule);
    //  a key name not among the keys counts for nothing
    cr_assert_eq (jad_check_rule_build (&prod->checks[0], NULL, 0, &rule), 0);
    cr_assert_eq (rule.key_count, 0);
    jad_check_rule_clear (&rule);
    //  an approval has no rule
    cr_assert_eq (jad_check_rule_build (&prod->checks[1], s_config->attestation_keys,
                                        s_config->attestation_key_count, &rule),
                  -1);
}

Test (policy, bundle_round_trip_keeps_each_text_exactly)
{
    char *policy = s_signed_policy (2, s_offline);
    char *one = s_test_result ("PASSED", S_RELEASE, s_ci);
    const char *envelopes[] = {one, "{\"odd\": \"text\\u0000\"}"};
    size_t lens[] = {strlen (one), strlen (envelopes[1])};
    size_t len = 0;
    char *text = jad_bundle_encode (policy, envelopes, lens, 2, &len);
    cr_assert_not_null (text);
    char err[256] = "";
    jad_bundle_t *bundle = jad_bundle_decode ((const uint8_t *)text, len, err, sizeof err);
    cr_assert_not_null (bundle, "%s", err);
    cr_assert_str_eq (bundle->policy, policy);
    cr_assert_eq (bundle->count, 2);
    cr_assert_str_eq (bundle->envelopes[0], one);
    cr_assert_eq (bundle->lens[1], lens[1]);
    cr_assert_eq (memcmp (bundle->envelopes[1], envelopes[1], lens[1]), 0);
    jad_bundle_destroy (&bundle);
    free (text);

    //  without a policy
    text = jad_bundle_encode (NULL, envelopes, lens, 1, &len);
    bundle = jad_bundle_decode ((const uint8_t *)text, len, err, sizeof err);
    cr_assert_not_null (bundle, "%s", err);
    cr_assert_null (bundle->policy);
    jad_bundle_destroy (&bundle);
    free (text);

    static const char *const bad[] = {
        "not json",
        "{\"_type\":\"https://jadugar.dev/bundle/v1\",\"attestations\":[1]}",
        "{\"_type\":\"https://jadugar.dev/bundle/v1\",\"attestations\":[],\"attestations\":[]}",
        "{\"_type\":\"https://jadugar.dev/policy/v1\",\"attestations\":[]}",
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad[0]; index++)
        cr_assert_null (
            jad_bundle_decode ((const uint8_t *)bad[index], strlen (bad[index]), err, sizeof err),
            "case %zu accepted", index);
    free (one);
    free (policy);
}
