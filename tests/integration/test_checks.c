//  test_checks - release checks through a real controller and jadctl:
//  attestations uploaded, verified on arrival, kept across a restart, and
//  each environment's checks listed ok / missing / invalid with why
//  (DESIGN §10, SECURITY-TESTS row 39). Envelopes are signed by OpenSSL
//  (deploy/ci/attest-sign.sh), as a CI job signs them.
//  SPDX-License-Identifier: MPL-2.0

#include "jad_testlib.h"
#include "jad_util.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static jt_fleet_t *fleet;

static void s_teardown (void)
{
    jt_fleet_destroy (&fleet);
}

TestSuite (checks, .fini = s_teardown, .timeout = 180);

//  A new Ed25519 key DIR/NAME.pem; its public half in hex (caller frees).
static char *s_keygen (const char *name)
{
    char *out = NULL;
    cr_assert_eq (jt_run (&out, "%s/deploy/ci/attest-sign.sh --keygen %s/%s.pem 2>&1",
                          JAD_SOURCE_DIR, fleet->dir, name),
                  0, "%s", out);
    out[strcspn (out, "\n")] = 0;
    return out;
}

//  Now in RFC 3339 (UTC).
static void s_now (char now[32])
{
    time_t seconds = time (NULL);
    struct tm utc;
    gmtime_r (&seconds, &utc);
    strftime (now, 32, "%Y-%m-%dT%H:%M:%SZ", &utc);
}

//  Sign a statement of type with predicate about sha with key, into
//  DIR/file; its path (caller frees).
static char *s_sign (const char *type, const char *predicate, const char *sha, const char *key,
                     const char *file)
{
    char *statement = jad_strdup_printf (
        "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"name\":\"web.tar.gz\","
        "\"digest\":{\"sha256\":\"%s\"}}],\"predicateType\":\"%s\",\"predicate\":%s}",
        sha, type, predicate);
    char *statement_path = jad_strdup_printf ("%s/statement.json", fleet->dir);
    char *path = jad_strdup_printf ("%s/%s", fleet->dir, file);
    jt_write_file (statement_path, statement, 0644);
    char *out = NULL;
    cr_assert_eq (jt_run (&out, "%s/deploy/ci/attest-sign.sh %s/%s.pem %s %s > %s", JAD_SOURCE_DIR,
                          fleet->dir, key, statement_path, key, path),
                  0, "%s", out);
    free (out);
    free (statement);
    free (statement_path);
    return path;
}

//  A test-result statement (result) about sha signed with key.
static char *s_test_result (const char *result, const char *sha, const char *key, const char *file)
{
    char now[32], predicate[256];
    s_now (now);
    snprintf (predicate, sizeof predicate,
              "{\"result\":\"%s\",\"configuration\":[],\"timestamp\":\"%s\"}", result, now);
    return s_sign ("https://in-toto.io/attestation/test-result/v0.1", predicate, sha, key, file);
}

//  A vulnerability scan with one finding of severity about sha.
static char *s_scan (const char *severity, const char *sha, const char *key, const char *file)
{
    char now[32], predicate[512];
    s_now (now);
    snprintf (predicate, sizeof predicate,
              "{\"scanner\":{\"uri\":\"pkg:github/aquasecurity/trivy\",\"result\":[{\"id\":"
              "\"CVE-2026-1\",\"severity\":[{\"method\":\"nvd\",\"score\":\"%s\"}]}]},"
              "\"metadata\":{\"scanFinishedOn\":\"%s\"}}",
              severity, now);
    return s_sign ("https://in-toto.io/attestation/vulns/v0.2", predicate, sha, key, file);
}

//  Run jadctl --json ARGS, expect exit `code`, return the parsed object.
static json_t *s_json (int code, const char *format, ...) __attribute__ ((format (printf, 2, 3)));
static json_t *s_json (int code, const char *format, ...)
{
    char args[2048];
    va_list list;
    va_start (list, format);
    vsnprintf (args, sizeof args, format, list);
    va_end (list);
    char *output = NULL;
    int rc = jt_jadctl (fleet, &output, "--json %s", args);
    cr_assert_eq (rc, code, "jadctl --json %s: exit %d: %s", args, rc, output);
    json_error_t error;
    json_t *root = json_loads (output ? output : "", 0, &error);
    cr_assert (json_is_object (root), "not one JSON object (%s): %s", error.text, output);
    free (output);
    return root;
}

//  "CHECK=STATE ..." of a release checks reply, in order.
static char *s_states (json_t *reply)
{
    char text[1024] = "";
    size_t index;
    json_t *check;
    json_array_foreach (json_object_get (reply, "checks"), index, check)
    {
        size_t used = strlen (text);
        snprintf (text + used, sizeof text - used, "%s%s=%s", used ? " " : "",
                  json_string_value (json_object_get (check, "check")),
                  json_string_value (json_object_get (check, "state")));
    }
    return strdup (text);
}

static void s_expect_states (const char *expected)
{
    json_t *reply = s_json (0, "release checks web 1.0 --env prod");
    char *states = s_states (reply);
    cr_assert_str_eq (states, expected);
    free (states);
    json_decref (reply);
}

Test (checks, attestations_are_verified_on_arrival_and_satisfy_checks)
{
    fleet = jt_fleet_new ();
    char *ci = s_keygen ("ci");
    char *scanner = s_keygen ("scanner");
    char *environments = jad_strdup_printf (
        "environments:\n"
        "  dev: {}\n"
        "  prod:\n"
        "    checks:\n"
        "      tests: { type: \"https://in-toto.io/attestation/test-result/v0.1\", keys: [ci], "
        "max_age: 7d }\n"
        "      security-scan: { type: \"https://in-toto.io/attestation/vulns/v0.2\", "
        "keys: [scanner], max_severity: medium }\n"
        "      code-review: { approval: [tech-lead] }\n"
        "attestation_keys:\n"
        "  ci: { ed25519: %s }\n"
        "  scanner: { ed25519: %s }\n",
        ci, scanner);
    jt_fleet_set_environments (fleet, environments);
    jt_fleet_restart_controller (fleet);
    free (environments);
    free (ci);
    free (scanner);

    const char *files[] = {"jadugar.yaml", "hooks: {}\n", NULL};
    char *archive = jt_make_release (fleet->dir, "web-1.0", files);
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "release add web 1.0 %s", archive), 0, "%s", output);
    free (output);
    uint8_t digest[32];
    char sha[65];
    cr_assert_eq (jad_sha256_file (archive, digest, NULL), 0);
    jad_hex (digest, 32, sha);
    free (archive);

    //  nothing yet: every check is missing, naming why
    json_t *reply = s_json (0, "release checks web 1.0 --env prod");
    cr_assert_str_eq (json_string_value (json_object_get (reply, "sha256")), sha);
    json_t *first = json_array_get (json_object_get (reply, "checks"), 0);
    cr_assert_str_eq (json_string_value (json_object_get (first, "env")), "prod");
    cr_assert_str_eq (json_string_value (json_object_get (first, "kind")), "attestation");
    cr_assert_str_eq (json_string_value (json_object_get (first, "why")),
                      "no attestation of type https://in-toto.io/attestation/test-result/v0.1");
    json_t *review = json_array_get (json_object_get (reply, "checks"), 2);
    cr_assert_str_eq (json_string_value (json_object_get (review, "kind")), "approval");
    json_decref (reply);
    s_expect_states ("tests=missing security-scan=missing code-review=missing");

    //  refused on arrival, each naming why, and nothing kept
    char *other = s_test_result ("PASSED",
                                 "00000000000000000000000000000000000000000000000000000000"
                                 "00000001",
                                 "ci", "other.json");
    cr_assert_eq (jt_jadctl (fleet, &output, "release attest web 1.0 %s", other), 2, "%s", output);
    cr_assert (strstr (output, "attestation refused for web 1.0: the statement is about another "
                               "release"),
               "%s", output);
    free (output);
    char *wrong_key = s_test_result ("PASSED", sha, "scanner", "wrong-key.json");
    cr_assert_eq (jt_jadctl (fleet, &output, "release attest web 1.0 %s", wrong_key), 2, "%s",
                  output);
    cr_assert (strstr (output, "not signed by any key a https://in-toto.io/attestation/"
                               "test-result/v0.1 check trusts"),
               "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "release attest web 9.9 %s", wrong_key), 2, "%s",
                  output);
    cr_assert (strstr (output, "no release web 9.9"), "%s", output);
    free (output);
    s_expect_states ("tests=missing security-scan=missing code-review=missing");

    //  a FAILED run is kept (it is evidence) and makes the check invalid
    char *failed = s_test_result ("FAILED", sha, "ci", "failed.json");
    reply = s_json (0, "release attest web 1.0 %s", failed);
    cr_assert_str_eq (json_string_value (json_object_get (reply, "signer")), "ci");
    cr_assert (json_is_false (json_object_get (reply, "exists")));
    json_decref (reply);
    s_expect_states ("tests=invalid security-scan=missing code-review=missing");
    reply = s_json (0, "release checks web 1.0 --env prod");
    first = json_array_get (json_object_get (reply, "checks"), 0);
    cr_assert_str_eq (json_string_value (json_object_get (first, "why")),
                      "attestation 1 test result is FAILED (PASSED required)");
    json_decref (reply);

    //  a passing run makes it ok; the same upload twice is kept once
    char *passed = s_test_result ("PASSED", sha, "ci", "passed.json");
    cr_assert_eq (jt_jadctl (fleet, &output, "release attest web 1.0 %s", passed), 0, "%s", output);
    cr_assert (strstr (output, "signer: ci\n"), "%s", output);
    cr_assert (strstr (output, "exists: false\n"), "%s", output);
    free (output);
    reply = s_json (0, "release attest web 1.0 %s", passed);
    cr_assert (json_is_true (json_object_get (reply, "exists")));
    json_decref (reply);
    s_expect_states ("tests=ok security-scan=missing code-review=missing");

    //  kept across a restart; the text table names each check
    jt_fleet_restart_controller (fleet);
    s_expect_states ("tests=ok security-scan=missing code-review=missing");
    cr_assert_eq (jt_jadctl (fleet, &output, "release checks web 1.0"), 0, "%s", output);
    cr_assert (strstr (output, "ENV"), "%s", output);
    cr_assert_eq (jt_count (output, "prod "), 3, "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "release checks web 1.0 --env dev"), 0, "%s", output);
    cr_assert (strstr (output, "no checks in dev"), "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "release checks web 1.0 --env nowhere"), 2, "%s",
                  output);
    cr_assert (strstr (output, "unknown environment 'nowhere'"), "%s", output);
    free (output);

    //  every upload is audited, refused or not
    json_t *audit = s_json (0, "audit");
    char *rows = json_dumps (audit, 0);
    cr_assert_eq (jt_count (rows, "\"release.attest\""), 6, "%s", rows);
    free (rows);
    json_decref (audit);
    free (other);
    free (wrong_key);
    free (failed);
    free (passed);
}

//  The door (DESIGN §10): a deploy to an environment with checks is
//  refused naming every check that is not ok; the list shrinks as
//  attestations arrive; --force does not bypass it; then the deploy runs.
Test (checks, deploys_wait_for_every_check)
{
    fleet = jt_fleet_new ();
    char *ci = s_keygen ("ci");
    char *scanner = s_keygen ("scanner");
    char *environments = jad_strdup_printf (
        "environments:\n"
        "  prod:\n"
        "    checks:\n"
        "      tests: { type: \"https://in-toto.io/attestation/test-result/v0.1\", keys: [ci], "
        "max_age: 7d }\n"
        "      security-scan: { type: \"https://in-toto.io/attestation/vulns/v0.2\", "
        "keys: [scanner], max_age: 3d, max_severity: medium }\n"
        "attestation_keys:\n"
        "  ci: { ed25519: %s }\n"
        "  scanner: { ed25519: %s }\n",
        ci, scanner);
    jt_fleet_set_environments (fleet, environments);
    jt_fleet_restart_controller (fleet);
    free (environments);
    free (ci);
    free (scanner);
    jt_fleet_add_agent (fleet, "web-1", "prod");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000),
               "web-1 did not come online");

    const char *files[] = {"jadugar.yaml", "hooks: {}\n", NULL};
    char *archive = jt_make_release (fleet->dir, "web-1.0", files);
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "release add web 1.0 %s", archive), 0, "%s", output);
    free (output);
    uint8_t digest[32];
    char sha[65];
    cr_assert_eq (jad_sha256_file (archive, digest, NULL), 0);
    jad_hex (digest, 32, sha);
    free (archive);

    cr_assert_eq (jt_jadctl (fleet, &output, "deploy web 1.0 --env prod"), 2, "%s", output);
    cr_assert (strstr (output, "refused by checks: web 1.0 lacks 2 of prod's 2 checks: tests "
                               "(missing: no attestation of type https://in-toto.io/attestation/"
                               "test-result/v0.1); security-scan (missing: no attestation of type "
                               "https://in-toto.io/attestation/vulns/v0.2)"),
               "%s", output);
    free (output);

    char *tests = s_test_result ("PASSED", sha, "ci", "tests.json");
    char *severe = s_scan ("HIGH", sha, "scanner", "severe.json");
    cr_assert_eq (jt_jadctl (fleet, &output, "release attest web 1.0 %s", tests), 0, "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "release attest web 1.0 %s", severe), 0, "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "deploy web 1.0 --env prod --force"), 2, "%s", output);
    cr_assert (strstr (output, "refused by checks: web 1.0 lacks 1 of prod's 2 checks: "
                               "security-scan (invalid: attestation 2 vulns: finding CVE-2026-1 is "
                               "high, above max_severity medium)"),
               "--force does not bypass a check: %s", output);
    cr_assert_null (strstr (output, "tests ("), "an ok check is not named: %s", output);
    free (output);
    json_t *plans = s_json (0, "plans --env prod");
    cr_assert_eq (json_array_size (json_object_get (plans, "plans")), 0, "nothing was created");
    json_decref (plans);

    char *clean = s_scan ("LOW", sha, "scanner", "clean.json");
    cr_assert_eq (jt_jadctl (fleet, &output, "release attest web 1.0 %s", clean), 0, "%s", output);
    free (output);
    json_t *done = s_json (0, "deploy web 1.0 --env prod --wait");
    cr_assert_str_eq (json_string_value (json_object_get (json_object_get (done, "plan"), "state")),
                      "succeeded");
    json_decref (done);
    free (tests);
    free (severe);
    free (clean);
}

//  Operators' signing keys (DESIGN §10): jadctl keygen writes one beside
//  the CURVE key, and operator add registers it, one operator's only
Test (checks, keygen_writes_a_signing_key_that_operator_add_registers)
{
    fleet = jt_fleet_new ();
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "--json keygen %s/amy.key", fleet->dir), 0, "%s",
                  output);
    json_error_t error;
    json_t *keys = json_loads (output, 0, &error);
    free (output);
    cr_assert (json_is_object (keys), "%s", error.text);
    const char *curve = json_string_value (json_object_get (keys, "public_key"));
    const char *signing = json_string_value (json_object_get (keys, "signing_key"));
    cr_assert_eq (strlen (curve), 40);
    cr_assert_eq (strlen (signing), 64);
    char *path = jad_strdup_printf ("%s/amy.key.signing", fleet->dir);
    cr_assert_str_eq (json_string_value (json_object_get (keys, "signing_file")), path);
    char *text = jt_read_file (path);
    cr_assert_not_null (text);
    cr_assert (strstr (text, "kind: ed25519"), "%s", text);
    free (text);
    free (path);

    //  never overwritten, either file
    cr_assert_eq (jt_jadctl (fleet, &output, "keygen %s/amy.key", fleet->dir), 2, "%s", output);
    cr_assert (strstr (output, "exists; not overwriting a key"), "%s", output);
    free (output);

    char *curve_file = jad_strdup_printf ("%s/amy.pub", fleet->dir);
    jt_write_file (curve_file, curve, 0600);
    cr_assert_eq (jt_jadctl (fleet, &output,
                             "operator add amy --role tech-lead --public-key \"$(cat %s)\" "
                             "--signing-key %s",
                             curve_file, signing),
                  0, "%s", output);
    char *line = jad_strdup_printf ("signing-key: %s\n", signing);
    cr_assert (strstr (output, line), "%s", output);
    cr_assert (strstr (output, "state: active\n"), "what operator list will show: %s", output);
    free (line);
    free (output);
    json_t *listed = s_json (0, "operator list");
    json_t *amy = NULL;
    size_t index;
    json_t *entry;
    json_array_foreach (json_object_get (listed, "operators"), index, entry)
    {
        if (strcmp (json_string_value (json_object_get (entry, "name")), "amy") == 0)
            amy = entry;
    }
    cr_assert_not_null (amy);
    cr_assert_str_eq (json_string_value (json_object_get (amy, "signing_key")), signing);
    json_decref (listed);

    //  a malformed key, and another operator's, are refused
    cr_assert_eq (jt_jadctl (fleet, &output,
                             "operator add bob --role qa --public-key \"$(cat %s)\" "
                             "--signing-key 12ab",
                             curve_file),
                  2, "%s", output);
    cr_assert (strstr (output, "--signing-key must be an Ed25519 public key"), "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "keygen %s/bob.key", fleet->dir), 0, "%s", output);
    char *bob_curve = strndup (strstr (output, "public-key: ") + 12, 40);
    free (output);
    char *bob_file = jad_strdup_printf ("%s/bob.pub", fleet->dir);
    jt_write_file (bob_file, bob_curve, 0600);
    cr_assert_eq (jt_jadctl (fleet, &output,
                             "operator add bob --role qa --public-key \"$(cat %s)\" "
                             "--signing-key %s",
                             bob_file, signing),
                  2, "%s", output);
    cr_assert (strstr (output, "that signing key is already registered"), "%s", output);
    free (output);
    free (bob_curve);
    free (bob_file);
    free (curve_file);
    json_decref (keys);
}

//  Human checks (DESIGN §10, SECURITY-TESTS row 42): approvals signed on
//  the operator's machine, by a role the check lists, each role its own
//  operator, never the deployer when not_deployer
Test (checks, approvals_by_the_listed_roles_never_the_deployer)
{
    fleet = jt_fleet_new ();
    jt_fleet_set_environments (
        fleet,
        "environments:\n"
        "  prod:\n"
        "    checks:\n"
        "      code-review: { approval: [tech-lead] }\n"
        "      rollback-plan: { approval: [tech-lead, product-owner], not_deployer: true }\n");
    jt_fleet_restart_controller (fleet);
    jt_fleet_add_agent (fleet, "web-1", "prod");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000),
               "web-1 did not come online");
    jt_fleet_add_operator (fleet, "amy", "tech-lead,deployer");
    jt_fleet_add_operator (fleet, "pete", "product-owner");
    jt_fleet_add_operator (fleet, "dave", "deployer");
    const char *files[] = {"jadugar.yaml", "hooks: {}\n", NULL};
    char *archive = jt_make_release (fleet->dir, "web-1.0", files);
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "release add web 1.0 %s", archive), 0, "%s", output);
    free (output);
    free (archive);
    s_expect_states ("code-review=missing rollback-plan=missing");

    //  a role the check does not list
    cr_assert_eq (jt_jadctl_as (fleet, "dave", &output,
                                "release approve web 1.0 --env prod --check code-review"),
                  2, "%s", output);
    cr_assert (strstr (output, "approval refused for web 1.0: dave holds none of the roles check "
                               "'code-review' needs (tech-lead)"),
               "%s", output);
    free (output);
    //  a check that takes no approvals, or none of that name
    cr_assert_eq (
        jt_jadctl_as (fleet, "amy", &output, "release approve web 1.0 --env prod --check nothing"),
        2, "%s", output);
    cr_assert (strstr (output, "prod has no check named 'nothing'"), "%s", output);
    free (output);

    cr_assert_eq (jt_jadctl_as (fleet, "amy", &output,
                                "release approve web 1.0 --env prod --check code-review "
                                "--note 'read every line'"),
                  0, "%s", output);
    cr_assert (strstr (output, "approved-by: amy\n"), "%s", output);
    free (output);
    s_expect_states ("code-review=ok rollback-plan=missing");
    cr_assert_eq (jt_jadctl_as (fleet, "amy", &output,
                                "release approve web 1.0 --env prod --check rollback-plan"),
                  0, "%s", output);
    free (output);
    s_expect_states ("code-review=ok rollback-plan=invalid");
    json_t *reply = s_json (0, "release checks web 1.0 --env prod");
    json_t *plan = json_array_get (json_object_get (reply, "checks"), 1);
    cr_assert_str_eq (json_string_value (json_object_get (plan, "why")),
                      "still needs an approval by product-owner (an operator covers one role, and "
                      "holds it now)");
    json_decref (reply);
    cr_assert_eq (jt_jadctl_as (fleet, "pete", &output,
                                "release approve web 1.0 --env prod --check rollback-plan"),
                  0, "%s", output);
    free (output);
    s_expect_states ("code-review=ok rollback-plan=ok");

    //  amy approved rollback-plan: she may not deploy it (not_deployer)
    cr_assert_eq (jt_jadctl_as (fleet, "amy", &output, "deploy web 1.0 --env prod"), 2, "%s",
                  output);
    cr_assert (strstr (output, "refused by checks: web 1.0 lacks 1 of prod's 2 checks: "
                               "rollback-plan (invalid: approval by amy, who deploys "
                               "(not_deployer); still needs tech-lead)"),
               "%s", output);
    free (output);
    //  dave approved nothing: his deploy runs
    cr_assert_eq (jt_jadctl_as (fleet, "dave", &output, "deploy web 1.0 --env prod --wait"), 0,
                  "%s", output);
    free (output);
}
