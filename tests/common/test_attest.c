//  test_attest - DSSE/in-toto release checks against an independent signer
//  SPDX-License-Identifier: MPL-2.0
//
//  Every envelope here is signed by OpenSSL (deploy/ci/attest-sign.sh,
//  the script the CI recipe uses), never by our own code, so a mistake in
//  our PAE or base64 cannot cancel itself out. SECURITY-TESTS row 39.

#include "jad_attest.h"
#include "jad_testlib.h"
#include "jad_util.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_RELEASE "fe4fe40ac7250263c5dbe1cf3138912f3f416140aa248637a60d65fe22c47da4"
#define S_OTHER   "0000000000000000000000000000000000000000000000000000000000000001"
#define S_NOW_MS  1765015200000LL  //  2025-12-06T10:00:00Z

static char *s_dir;
static uint8_t s_ci[32], s_scanner[32];

//  Run a shell command; its stdout (trimmed) into a new string.
static char *s_run (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
static char *s_run (const char *format, ...)
{
    char command[2048];
    va_list args;
    va_start (args, format);
    vsnprintf (command, sizeof command, format, args);
    va_end (args);
    FILE *pipe = popen (command, "r");
    cr_assert_not_null (pipe, "%s", command);
    size_t size = 0, len = 0;
    char *out = NULL;
    char chunk[4096];
    size_t got;
    while ((got = fread (chunk, 1, sizeof chunk, pipe)) > 0) {
        if (len + got + 1 > size) {
            size = (len + got + 1) * 2;
            out = realloc (out, size);
            cr_assert_not_null (out);
        }
        memcpy (out + len, chunk, got);
        len += got;
    }
    cr_assert_eq (pclose (pipe), 0, "command failed: %s", command);
    cr_assert_not_null (out, "no output: %s", command);
    out[len] = 0;
    while (len && (out[len - 1] == '\n' || out[len - 1] == ' '))
        out[--len] = 0;
    return out;
}

static void s_key (const char *name, uint8_t out[32])
{
    char *hex =
        s_run ("%s/deploy/ci/attest-sign.sh --keygen %s/%s.pem", JAD_SOURCE_DIR, s_dir, name);
    cr_assert_eq (jad_unhex (hex, out, 32), 0, "public key of %s: %s", name, hex);
    free (hex);
}

static void s_setup (void)
{
    cr_assert_eq (sodium_init () < 0, 0);
    s_dir = jt_tempdir ("attest");
    s_key ("ci", s_ci);
    s_key ("scanner", s_scanner);
}

static void s_teardown (void)
{
    jt_rmtree (s_dir);
    free (s_dir);
}

//  A statement (JSON text) of `type` about `sha` with `predicate`.
static char *s_statement (const char *type, const char *sha, const char *predicate)
{
    return jad_strdup_printf ("{\"_type\":\"https://in-toto.io/Statement/v1\","
                              "\"subject\":[{\"name\":\"hello-1.0.tar.gz\",\"digest\":"
                              "{\"sha256\":\"%s\"}}],\"predicateType\":\"%s\",\"predicate\":%s}",
                              sha, type, predicate);
}

//  Sign statement text with key `key` (ci, scanner) through OpenSSL.
static char *s_sign (const char *statement, const char *key, const char *keyid)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/statement.json", s_dir);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    fputs (statement, file);
    fclose (file);
    return s_run ("%s/deploy/ci/attest-sign.sh %s/%s.pem %s %s", JAD_SOURCE_DIR, s_dir, key, path,
                  keyid);
}

static char *s_test_result (const char *result, const char *sha, const char *timestamp,
                            const char *key)
{
    char predicate[512];
    snprintf (predicate, sizeof predicate,
              "{\"result\":\"%s\",\"configuration\":[],\"timestamp\":\"%s\"}", result, timestamp);
    char *statement = s_statement (JAD_ATTEST_TEST_RESULT, sha, predicate);
    char *envelope = s_sign (statement, key, key);
    free (statement);
    return envelope;
}

static jad_check_rule_t s_tests_rule (void)
{
    static const char *const names[] = {"ci"};
    return (jad_check_rule_t){.name = "tests",
                              .type = JAD_ATTEST_TEST_RESULT,
                              .keys = s_ci,
                              .key_names = names,
                              .key_count = 1,
                              .max_age_ms = 7LL * 24 * 3600 * 1000};
}

//  Judge one envelope; returns the verdict, why in why.
static jad_check_verdict_t s_judge (const jad_check_rule_t *rule, const char *envelope, char *why,
                                    size_t len)
{
    const char *envelopes[] = {envelope};
    size_t lens[] = {strlen (envelope)};
    return jad_check_judge (rule, envelopes, lens, 1, S_RELEASE, S_NOW_MS, NULL, why, len);
}

//  Edit an envelope's JSON: set `key` of signature 0 (or of the envelope
//  when sig is false) to `value`.
static char *s_edit (const char *envelope, bool sig, const char *key, const char *value)
{
    json_t *root = json_loads (envelope, 0, NULL);
    cr_assert_not_null (root);
    json_t *target = sig ? json_array_get (json_object_get (root, "signatures"), 0) : root;
    json_object_set_new (target, key, json_string (value));
    char *text = json_dumps (root, JSON_COMPACT);
    json_decref (root);
    return text;
}

TestSuite (attest, .init = s_setup, .fini = s_teardown);

Test (attest, pae_matches_the_dsse_specification)
{
    size_t len = 0;
    uint8_t *pae =
        jad_dsse_pae ("http://example.com/HelloWorld", (const uint8_t *)"hello world", 11, &len);
    const char *expected = "DSSEv1 29 http://example.com/HelloWorld 11 hello world";
    cr_assert_eq (len, strlen (expected));
    cr_assert_eq (memcmp (pae, expected, len), 0);
    free (pae);
}

Test (attest, openssl_signed_test_result_passes)
{
    char *envelope = s_test_result ("PASSED", S_RELEASE, "2025-12-05T10:00:00Z", "ci");
    jad_check_rule_t rule = s_tests_rule ();
    char why[512] = "";
    cr_assert_eq (s_judge (&rule, envelope, why, sizeof why), JAD_CHECK_OK, "%s", why);
    free (envelope);
}

Test (attest, url_safe_and_unpadded_base64_are_accepted)
{
    //  a payload whose standard base64 holds '+' or '/' and padding
    char *statement = s_statement (JAD_ATTEST_TEST_RESULT, S_RELEASE,
                                   "{\"result\":\"PASSED\",\"configuration\":[],"
                                   "\"timestamp\":\"2025-12-05T10:00:00Z\",\"x\":\"?~~>>>\"}");
    char *envelope = s_sign (statement, "ci", "ci");
    json_t *root = json_loads (envelope, 0, NULL);
    char *payload = strdup (json_string_value (json_object_get (root, "payload")));
    for (char *cursor = payload; *cursor; cursor++)
        *cursor = *cursor == '+' ? '-' : *cursor == '/' ? '_' : *cursor;
    char *end = strchr (payload, '=');
    if (end)
        *end = 0;
    char *edited = s_edit (envelope, false, "payload", payload);
    jad_check_rule_t rule = s_tests_rule ();
    char why[512] = "";
    cr_assert_eq (s_judge (&rule, edited, why, sizeof why), JAD_CHECK_OK, "%s", why);
    free (edited), free (payload), json_decref (root), free (envelope), free (statement);
}

Test (attest, a_lying_keyid_decides_nothing)
{
    //  signed by ci, claiming to be scanner: still ci's signature
    char *statement = s_statement (JAD_ATTEST_TEST_RESULT, S_RELEASE,
                                   "{\"result\":\"PASSED\",\"configuration\":[],"
                                   "\"timestamp\":\"2025-12-05T10:00:00Z\"}");
    char *lying = s_sign (statement, "ci", "scanner");
    jad_check_rule_t rule = s_tests_rule ();
    char why[512] = "";
    cr_assert_eq (s_judge (&rule, lying, why, sizeof why), JAD_CHECK_OK, "%s", why);
    //  signed by scanner, claiming to be ci: refused
    char *forged = s_sign (statement, "scanner", "ci");
    cr_assert_eq (s_judge (&rule, forged, why, sizeof why), JAD_CHECK_INVALID);
    cr_assert (strstr (why, "not signed by a key trusted for check 'tests' (trusted: ci)"), "%s",
               why);
    free (forged), free (lying), free (statement);
}

Test (attest, a_key_trusted_for_another_check_does_not_count)
{
    char *envelope = s_test_result ("PASSED", S_RELEASE, "2025-12-05T10:00:00Z", "scanner");
    jad_check_rule_t rule = s_tests_rule ();
    char why[512] = "";
    cr_assert_eq (s_judge (&rule, envelope, why, sizeof why), JAD_CHECK_INVALID);
    cr_assert (strstr (why, "not signed by a key trusted"), "%s", why);
    free (envelope);
}

Test (attest, a_flipped_payload_byte_breaks_the_signature)
{
    char *statement = s_statement (JAD_ATTEST_TEST_RESULT, S_RELEASE,
                                   "{\"result\":\"PASSED\",\"configuration\":[],"
                                   "\"timestamp\":\"2025-12-05T10:00:00Z\"}");
    char *envelope = s_sign (statement, "ci", "ci");
    //  the same statement with one byte changed, signature kept
    char *tampered = strdup (statement);
    char *where = strstr (tampered, "hello-1.0");
    where[0] = 'j';
    char b64[2048];
    sodium_bin2base64 (b64, sizeof b64, (const unsigned char *)tampered, strlen (tampered),
                       sodium_base64_VARIANT_ORIGINAL);
    char *edited = s_edit (envelope, false, "payload", b64);
    jad_check_rule_t rule = s_tests_rule ();
    char why[512] = "";
    cr_assert_eq (s_judge (&rule, edited, why, sizeof why), JAD_CHECK_INVALID);
    cr_assert (strstr (why, "not signed by a key trusted"), "%s", why);
    free (edited), free (tampered), free (envelope), free (statement);
}

Test (attest, a_wrong_signature_with_the_right_keyid_is_refused)
{
    char *envelope = s_test_result ("PASSED", S_RELEASE, "2025-12-05T10:00:00Z", "ci");
    json_t *root = json_loads (envelope, 0, NULL);
    const char *sig = json_string_value (
        json_object_get (json_array_get (json_object_get (root, "signatures"), 0), "sig"));
    uint8_t raw[64];
    size_t raw_len = 0;
    cr_assert_eq (sodium_base642bin (raw, sizeof raw, sig, strlen (sig), NULL, &raw_len, NULL,
                                     sodium_base64_VARIANT_ORIGINAL),
                  0);
    raw[10] ^= 0x01;
    char b64[128];
    sodium_bin2base64 (b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
    char *edited = s_edit (envelope, true, "sig", b64);
    jad_check_rule_t rule = s_tests_rule ();
    char why[512] = "";
    cr_assert_eq (s_judge (&rule, edited, why, sizeof why), JAD_CHECK_INVALID);
    free (edited), json_decref (root), free (envelope);
}

Test (attest, an_unsigned_envelope_is_ignored_and_says_why)
{
    char *envelope = s_test_result ("PASSED", S_RELEASE, "2025-12-05T10:00:00Z", "ci");
    json_t *root = json_loads (envelope, 0, NULL);
    json_object_set_new (root, "signatures", json_array ());
    char *unsigned_text = json_dumps (root, JSON_COMPACT);
    jad_check_rule_t rule = s_tests_rule ();
    char why[512] = "";
    cr_assert_eq (s_judge (&rule, unsigned_text, why, sizeof why), JAD_CHECK_MISSING);
    cr_assert (strstr (why, "0 signatures"), "%s", why);
    free (unsigned_text), json_decref (root), free (envelope);
}

Test (attest, expired_failed_and_other_releases_are_refused_naming_why)
{
    jad_check_rule_t rule = s_tests_rule ();
    char why[512] = "";
    struct {
        const char *result, *sha, *time, *expect;
    } cases[] = {
        {"PASSED", S_RELEASE, "2025-11-01T10:00:00Z", "older than max_age (168 hours)"},
        {"FAILED", S_RELEASE, "2025-12-05T10:00:00Z", "test result is FAILED (PASSED required)"},
        {"WARNED", S_RELEASE, "2025-12-05T10:00:00Z", "test result is WARNED"},
        {"PASSED", S_OTHER, "2025-12-05T10:00:00Z", "is about another release"},
        {"PASSED", S_RELEASE, "2025-12-07T10:00:00Z", "dated in the future"},
        {"PASSED", S_RELEASE, "yesterday", "has no time for max_age"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        char *envelope =
            s_test_result (cases[index].result, cases[index].sha, cases[index].time, "ci");
        cr_assert_eq (s_judge (&rule, envelope, why, sizeof why), JAD_CHECK_INVALID, "case %zu",
                      index);
        cr_assert (strstr (why, cases[index].expect), "case %zu: %s", index, why);
        free (envelope);
    }
}

Test (attest, vulnerability_severity_is_held_against_the_limit)
{
    static const char *const names[] = {"scanner"};
    jad_check_rule_t rule = {.name = "security-scan",
                             .type = JAD_ATTEST_VULNS,
                             .keys = s_scanner,
                             .key_names = names,
                             .key_count = 1,
                             .max_age_ms = 3LL * 24 * 3600 * 1000,
                             .max_severity = "medium"};
    struct {
        const char *findings;
        jad_check_verdict_t verdict;
        const char *expect;
    } cases[] = {
        {"[]", JAD_CHECK_OK, ""},
        {"[{\"id\":\"CVE-1\",\"severity\":[{\"method\":\"nvd\",\"score\":\"low\"}]}]", JAD_CHECK_OK,
         ""},
        {"[{\"id\":\"CVE-2\",\"severity\":[{\"method\":\"nvd\",\"score\":\"MEDIUM\"},"
         "{\"method\":\"cvss_score\",\"score\":\"5.2\"}]}]",
         JAD_CHECK_OK, ""},
        {"[{\"id\":\"CVE-3\",\"severity\":[{\"method\":\"nvd\",\"score\":\"medium\"},"
         "{\"method\":\"cvss_score\",\"score\":\"7.5\"}]}]",
         JAD_CHECK_INVALID, "finding CVE-3 is high, above max_severity medium"},
        {"[{\"id\":\"CVE-4\",\"severity\":[{\"method\":\"x\",\"score\":\"bogus\"}]}]",
         JAD_CHECK_INVALID, "counts as critical"},
        {"[{\"id\":\"CVE-5\",\"severity\":[]}]", JAD_CHECK_INVALID, "counts as critical"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        char predicate[1024];
        snprintf (predicate, sizeof predicate,
                  "{\"scanner\":{\"uri\":\"pkg:x/scanner\",\"db\":{\"lastUpdate\":"
                  "\"2025-12-05T00:00:00Z\"},\"result\":%s},\"metadata\":{\"scanStartedOn\":"
                  "\"2025-12-05T09:00:00Z\",\"scanFinishedOn\":\"2025-12-05T09:05:00Z\"}}",
                  cases[index].findings);
        char *statement = s_statement (JAD_ATTEST_VULNS, S_RELEASE, predicate);
        char *envelope = s_sign (statement, "scanner", "scanner");
        char why[512] = "";
        cr_assert_eq (s_judge (&rule, envelope, why, sizeof why), cases[index].verdict,
                      "case %zu: %s", index, why);
        cr_assert (strstr (why, cases[index].expect), "case %zu: %s", index, why);
        free (envelope), free (statement);
    }
}

Test (attest, provenance_builder_and_source_are_checked)
{
    static const char *const names[] = {"ci"};
    jad_check_rule_t rule = {.name = "provenance",
                             .type = JAD_ATTEST_SLSA,
                             .keys = s_ci,
                             .key_names = names,
                             .key_count = 1,
                             .builder_id = "https://ci.example/builder",
                             .source = "git+https://git.example/hello"};
    const char *good = "{\"buildDefinition\":{\"buildType\":\"x\",\"resolvedDependencies\":"
                       "[{\"uri\":\"git+https://git.example/hello@refs/heads/main\"}]},"
                       "\"runDetails\":{\"builder\":{\"id\":\"https://ci.example/builder\"}}}";
    const char *other = "{\"buildDefinition\":{\"buildType\":\"x\",\"resolvedDependencies\":"
                        "[{\"uri\":\"git+https://git.example/hello@refs/heads/main\"}]},"
                        "\"runDetails\":{\"builder\":{\"id\":\"https://laptop/\"}}}";
    char why[512] = "";
    char *statement = s_statement (JAD_ATTEST_SLSA, S_RELEASE, good);
    char *envelope = s_sign (statement, "ci", "ci");
    cr_assert_eq (s_judge (&rule, envelope, why, sizeof why), JAD_CHECK_OK, "%s", why);
    free (envelope), free (statement);
    statement = s_statement (JAD_ATTEST_SLSA, S_RELEASE, other);
    envelope = s_sign (statement, "ci", "ci");
    cr_assert_eq (s_judge (&rule, envelope, why, sizeof why), JAD_CHECK_INVALID);
    cr_assert (strstr (why, "builder 'https://laptop/' is not"), "%s", why);
    free (envelope), free (statement);
}

Test (attest, duplicate_json_keys_are_refused)
{
    //  the statement says result twice: two parsers could disagree
    char *statement = s_statement (JAD_ATTEST_TEST_RESULT, S_RELEASE,
                                   "{\"result\":\"FAILED\",\"result\":\"PASSED\","
                                   "\"configuration\":[],\"timestamp\":\"2025-12-05T10:00:00Z\"}");
    char *envelope = s_sign (statement, "ci", "ci");
    char err[256] = "";
    jad_dsse_t *dsse = jad_dsse_parse (envelope, strlen (envelope), err, sizeof err);
    cr_assert_not_null (dsse, "%s", err);
    cr_assert (jad_dsse_signed_by (dsse, s_ci));
    cr_assert_null (jad_statement_parse (dsse, err, sizeof err));
    cr_assert (strstr (err, "duplicate"), "%s", err);
    jad_dsse_destroy (&dsse);
    //  and in the envelope itself
    char *doubled = jad_strdup_printf ("{\"payloadType\":\"x\",%s", envelope + 1);
    cr_assert_null (jad_dsse_parse (doubled, strlen (doubled), err, sizeof err));
    cr_assert (strstr (err, "duplicate"), "%s", err);
    free (doubled), free (envelope), free (statement);
}

Test (attest, malformed_envelopes_name_what_is_wrong)
{
    struct {
        const char *text, *expect;
    } cases[] = {
        {"", "empty attestation"},
        {"[1]", "not a DSSE envelope"},
        {"{\"payloadType\":\"text/"
         "plain\",\"payload\":\"eA==\",\"signatures\":[{\"sig\":\"eA==\"}]}",
         "payloadType 'text/plain' is not application/vnd.in-toto+json"},
        {"{\"payloadType\":\"application/vnd.in-toto+json\",\"payload\":\"!!\",\"signatures\":"
         "[{\"sig\":\"eA==\"}]}",
         "payload is not base64"},
        {"{\"payloadType\":\"application/vnd.in-toto+json\",\"payload\":\"eA==\",\"signatures\":"
         "[{\"sig\":\"eA==\"}]}",
         "no Ed25519 signature"},
        {"{\"payloadType\":\"application/vnd.in-toto+json\",\"payload\":\"eA==\",\"signatures\":"
         "[{\"sig\":7}]}",
         "signature 1: sig (and keyid) must be strings"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        char err[256] = "";
        jad_dsse_t *dsse =
            jad_dsse_parse (cases[index].text, strlen (cases[index].text), err, sizeof err);
        cr_assert_null (dsse, "case %zu", index);
        cr_assert (strstr (err, cases[index].expect), "case %zu: %s", index, err);
    }
    //  over the size limit, refused before parsing
    size_t big = JAD_ATTEST_MAX_BYTES + 1;
    char *text = malloc (big);
    memset (text, ' ', big);
    char err[256] = "";
    cr_assert_null (jad_dsse_parse (text, big, err, sizeof err));
    cr_assert (strstr (err, "over the limit"), "%s", err);
    free (text);
}

Test (attest, a_statement_of_another_version_or_shape_is_refused)
{
    const char *statements[] = {
        "{\"_type\":\"https://in-toto.io/Statement/v0.1\",\"subject\":[{\"digest\":{\"sha256\":"
        "\"" S_RELEASE "\"}}],\"predicateType\":\"x\",\"predicate\":{}}",
        "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[],\"predicateType\":\"x\","
        "\"predicate\":{}}",
        "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{}],\"predicateType\":\"x\","
        "\"predicate\":[]}",
    };
    for (size_t index = 0; index < sizeof statements / sizeof statements[0]; index++) {
        char *envelope = s_sign (statements[index], "ci", "ci");
        char err[256] = "";
        jad_dsse_t *dsse = jad_dsse_parse (envelope, strlen (envelope), err, sizeof err);
        cr_assert_not_null (dsse, "%s", err);
        cr_assert_null (jad_statement_parse (dsse, err, sizeof err), "case %zu", index);
        jad_dsse_destroy (&dsse);
        free (envelope);
    }
}

Test (attest, the_best_attestation_of_several_decides)
{
    char *failed = s_test_result ("FAILED", S_RELEASE, "2025-12-05T10:00:00Z", "ci");
    char *foreign = s_test_result ("PASSED", S_RELEASE, "2025-12-05T10:00:00Z", "scanner");
    char *passed = s_test_result ("PASSED", S_RELEASE, "2025-12-05T11:00:00Z", "ci");
    jad_check_rule_t rule = s_tests_rule ();
    const char *envelopes[] = {failed, foreign, passed};
    size_t lens[] = {strlen (failed), strlen (foreign), strlen (passed)};
    char why[512] = "";
    size_t which = 99;
    cr_assert_eq (
        jad_check_judge (&rule, envelopes, lens, 3, S_RELEASE, S_NOW_MS, &which, why, sizeof why),
        JAD_CHECK_OK, "%s", why);
    cr_assert_eq (which, 2);
    //  without the passing one, the signed FAILED one names the reason
    cr_assert_eq (
        jad_check_judge (&rule, envelopes, lens, 2, S_RELEASE, S_NOW_MS, NULL, why, sizeof why),
        JAD_CHECK_INVALID);
    cr_assert (strstr (why, "attestation 1 test result is FAILED"), "%s", why);
    //  none of the type at all
    static const char *const names[] = {"scanner"};
    jad_check_rule_t scan = {.name = "security-scan",
                             .type = JAD_ATTEST_VULNS,
                             .keys = s_scanner,
                             .key_names = names,
                             .key_count = 1};
    cr_assert_eq (
        jad_check_judge (&scan, envelopes, lens, 3, S_RELEASE, S_NOW_MS, NULL, why, sizeof why),
        JAD_CHECK_MISSING);
    cr_assert (strstr (why, "no attestation of type https://in-toto.io/attestation/vulns/v0.2"),
               "%s", why);
    free (passed), free (foreign), free (failed);
}

Test (attest, severity_ranks_and_times_parse_strictly)
{
    struct {
        const char *score;
        int rank;
    } ranks[] = {{"none", 0}, {"Low", 1},   {"moderate", 2}, {"HIGH", 3}, {"critical", 4},
                 {"0.0", 0},  {"3.9", 1},   {"4.0", 2},      {"8.9", 3},  {"9.0", 4},
                 {"10.0", 4}, {"10.1", -1}, {"-1", -1},      {"7x", -1},  {"", -1}};
    for (size_t index = 0; index < sizeof ranks / sizeof ranks[0]; index++)
        cr_assert_eq (jad_severity_rank (ranks[index].score), ranks[index].rank, "'%s'",
                      ranks[index].score);
    struct {
        const char *text;
        int64_t ms;
    } times[] = {{"1970-01-01T00:00:00Z", 0},
                 {"2025-12-06T10:00:00Z", S_NOW_MS},
                 {"2025-12-06T10:00:00.5Z", S_NOW_MS + 500},
                 {"2025-12-06T10:00:00.123456z", S_NOW_MS + 123},
                 {"2025-12-06T12:00:00+02:00", S_NOW_MS},
                 {"2025-12-06T09:30:00-00:30", S_NOW_MS},
                 {"2025-12-06 10:00:00Z", -1},
                 {"2025-12-06T10:00:00", -1},
                 {"2025-13-06T10:00:00Z", -1},
                 {"2025-12-06T10:00:00Zjunk", -1},
                 {"2025-12-06T10:00:00.Z", -1}};
    for (size_t index = 0; index < sizeof times / sizeof times[0]; index++) {
        int64_t ms = -1;
        int rc = jad_rfc3339_parse (times[index].text, &ms);
        if (times[index].ms < 0)
            cr_assert_eq (rc, -1, "'%s' accepted", times[index].text);
        else {
            cr_assert_eq (rc, 0, "'%s' refused", times[index].text);
            cr_assert_eq (ms, times[index].ms, "'%s': %lld", times[index].text, (long long)ms);
        }
    }
}
