//  jad_attest - release checks: DSSE envelopes over in-toto Statement v1
//  SPDX-License-Identifier: MPL-2.0
//
//  See jad_attest.h for what is accepted and why. Everything an
//  attacker controls is bounded before it is used: the envelope's size
//  (JAD_ATTEST_MAX_BYTES), the number of signatures, and each string we
//  copy into a message (%.64s and friends).

#include "jad_attest.h"
#include "jad_keys.h"
#include "jad_util.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct _jad_dsse_t {
    char *payload_type;  //  as in the envelope
    uint8_t *payload;    //  decoded payload bytes
    size_t payload_len;
    uint8_t *pae;  //  PAE (payload_type, payload): what was signed
    size_t pae_len;
    uint8_t (*sigs)[crypto_sign_BYTES];  //  the decodable Ed25519 signatures
    size_t sig_count;
};

struct _jad_statement_t {
    json_t *root;       //  the whole statement (owned)
    const char *type;   //  predicateType, inside root
    json_t *predicate;  //  inside root
    json_t *subjects;   //  inside root
};

//  --------------------------------------------------------------------------
//  DSSE envelope

//  Decode standard or URL-safe base64, padded or not. Returns a new buffer
//  (caller frees) with its length in *len_p, or NULL.
static uint8_t *s_base64_decode (const char *text, size_t *len_p)
{
    static const int variants[] = {
        sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
        sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
    size_t text_len = strlen (text);
    size_t max = text_len / 4 * 3 + 3;
    uint8_t *out = malloc (max ? max : 1);
    if (!out)
        return NULL;
    for (size_t index = 0; index < sizeof variants / sizeof variants[0]; index++) {
        size_t len = 0;
        const char *end = NULL;
        if (sodium_base642bin (out, max, text, text_len, NULL, &len, &end, variants[index]) == 0 &&
            end == text + text_len) {
            *len_p = len;
            return out;
        }
    }
    free (out);
    return NULL;
}

uint8_t *jad_dsse_pae (const char *type, const uint8_t *body, size_t body_len, size_t *len_p)
{
    char head[128];
    size_t type_len = strlen (type);
    int head_len = snprintf (head, sizeof head, "DSSEv1 %zu ", type_len);
    char middle[32];
    int middle_len = snprintf (middle, sizeof middle, " %zu ", body_len);
    if (head_len < 0 || middle_len < 0)
        return NULL;
    size_t total = (size_t)head_len + type_len + (size_t)middle_len + body_len;
    uint8_t *pae = malloc (total ? total : 1);
    if (!pae)
        return NULL;
    uint8_t *cursor = pae;
    memcpy (cursor, head, (size_t)head_len), cursor += head_len;
    memcpy (cursor, type, type_len), cursor += type_len;
    memcpy (cursor, middle, (size_t)middle_len), cursor += middle_len;
    if (body_len)
        memcpy (cursor, body, body_len);
    *len_p = total;
    return pae;
}

void jad_dsse_destroy (jad_dsse_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_dsse_t *self = *self_p;
    free (self->payload_type);
    free (self->payload);
    free (self->pae);
    free (self->sigs);
    free (self);
    *self_p = NULL;
}

jad_dsse_t *jad_dsse_parse (const char *text, size_t len, char *err, size_t errlen)
{
    return jad_dsse_parse_as (text, len, JAD_ATTEST_PAYLOAD_TYPE, err, errlen);
}

jad_dsse_t *jad_dsse_parse_as (const char *text, size_t len, const char *payload_type, char *err,
                               size_t errlen)
{
    if (!text || len == 0) {
        snprintf (err, errlen, "empty attestation");
        return NULL;
    }
    if (len > JAD_ATTEST_MAX_BYTES) {
        snprintf (err, errlen, "attestation of %zu bytes is over the limit of %d", len,
                  JAD_ATTEST_MAX_BYTES);
        return NULL;
    }
    json_error_t error;
    json_t *root = json_loadb (text, len, JSON_REJECT_DUPLICATES, &error);
    if (!root) {
        snprintf (err, errlen, "not a DSSE envelope: line %d: %.120s", error.line, error.text);
        return NULL;
    }
    jad_dsse_t *self = calloc (1, sizeof *self);
    json_t *type = json_object_get (root, "payloadType");
    json_t *payload = json_object_get (root, "payload");
    json_t *signatures = json_object_get (root, "signatures");
    if (!self) {
        snprintf (err, errlen, "out of memory");
        goto failed;
    }
    if (!json_is_object (root) || !json_is_string (type) || !json_is_string (payload) ||
        !json_is_array (signatures)) {
        snprintf (err, errlen,
                  "not a DSSE envelope: payloadType, payload and signatures are required");
        goto failed;
    }
    if (strcmp (json_string_value (type), payload_type) != 0) {
        snprintf (err, errlen, "payloadType '%.64s' is not %s", json_string_value (type),
                  payload_type);
        goto failed;
    }
    size_t count = json_array_size (signatures);
    if (count == 0 || count > JAD_ATTEST_MAX_SIGNATURES) {
        snprintf (err, errlen, "%zu signatures (1 to %d allowed)", count,
                  JAD_ATTEST_MAX_SIGNATURES);
        goto failed;
    }
    self->payload_type = strdup (json_string_value (type));
    self->payload = s_base64_decode (json_string_value (payload), &self->payload_len);
    if (!self->payload_type || !self->payload) {
        snprintf (err, errlen, "payload is not base64");
        goto failed;
    }
    self->sigs = calloc (count, sizeof *self->sigs);
    if (!self->sigs) {
        snprintf (err, errlen, "out of memory");
        goto failed;
    }
    for (size_t index = 0; index < count; index++) {
        json_t *entry = json_array_get (signatures, index);
        json_t *sig = json_object_get (entry, "sig");
        json_t *keyid = json_object_get (entry, "keyid");
        if (!json_is_object (entry) || !json_is_string (sig) ||
            (keyid && !json_is_string (keyid))) {
            snprintf (err, errlen, "signature %zu: sig (and keyid) must be strings", index + 1);
            goto failed;
        }
        size_t sig_len = 0;
        uint8_t *bytes = s_base64_decode (json_string_value (sig), &sig_len);
        if (!bytes) {
            snprintf (err, errlen, "signature %zu: sig is not base64", index + 1);
            goto failed;
        }
        //  other algorithms' signatures may ride along; only Ed25519 counts
        if (sig_len == crypto_sign_BYTES)
            memcpy (self->sigs[self->sig_count++], bytes, crypto_sign_BYTES);
        free (bytes);
    }
    if (self->sig_count == 0) {
        snprintf (err, errlen, "no Ed25519 signature (64 bytes) in the envelope");
        goto failed;
    }
    self->pae = jad_dsse_pae (self->payload_type, self->payload, self->payload_len, &self->pae_len);
    if (!self->pae) {
        snprintf (err, errlen, "out of memory");
        goto failed;
    }
    json_decref (root);
    return self;

failed:
    json_decref (root);
    jad_dsse_destroy (&self);
    return NULL;
}

char *jad_dsse_sign (const char *payload_type, const uint8_t *body, size_t body_len,
                     const jad_keypair_t *key)
{
    if (jad_keypair_kind (key) != JAD_KEY_ED25519)
        return NULL;
    size_t pae_len = 0;
    uint8_t *pae = jad_dsse_pae (payload_type, body, body_len, &pae_len);
    uint8_t sig[crypto_sign_BYTES], key_id[8];
    char sig_b64[sodium_base64_ENCODED_LEN (crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    char key_hex[17];
    size_t body_b64_len = sodium_base64_ENCODED_LEN (body_len, sodium_base64_VARIANT_ORIGINAL);
    char *body_b64 = malloc (body_b64_len);
    char *envelope = NULL;
    if (pae && body_b64 &&
        crypto_sign_detached (sig, NULL, pae, pae_len, jad_keypair_secret (key)) == 0) {
        sodium_bin2base64 (sig_b64, sizeof sig_b64, sig, sizeof sig,
                           sodium_base64_VARIANT_ORIGINAL);
        sodium_bin2base64 (body_b64, body_b64_len, body, body_len, sodium_base64_VARIANT_ORIGINAL);
        jad_key_id (jad_keypair_public (key), key_id);
        jad_hex (key_id, sizeof key_id, key_hex);
        json_t *dsse =
            json_pack ("{s:s, s:s, s:[{s:s, s:s}]}", "payloadType", payload_type, "payload",
                       body_b64, "signatures", "keyid", key_hex, "sig", sig_b64);
        envelope = dsse ? json_dumps (dsse, JSON_COMPACT) : NULL;
        json_decref (dsse);
    }
    free (body_b64);
    free (pae);
    return envelope;
}

bool jad_dsse_signed_by (const jad_dsse_t *self, const uint8_t key[32])
{
    for (size_t index = 0; self && index < self->sig_count; index++)
        if (crypto_sign_verify_detached (self->sigs[index], self->pae, self->pae_len, key) == 0)
            return true;
    return false;
}

const char *jad_dsse_payload_type (const jad_dsse_t *self)
{
    return self->payload_type;
}

const uint8_t *jad_dsse_payload (const jad_dsse_t *self, size_t *len_p)
{
    *len_p = self->payload_len;
    return self->payload;
}

//  --------------------------------------------------------------------------
//  in-toto Statement v1

void jad_statement_destroy (jad_statement_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    json_decref ((*self_p)->root);
    free (*self_p);
    *self_p = NULL;
}

jad_statement_t *jad_statement_parse (const jad_dsse_t *envelope, char *err, size_t errlen)
{
    json_error_t error;
    json_t *root = json_loadb ((const char *)envelope->payload, envelope->payload_len,
                               JSON_REJECT_DUPLICATES, &error);
    if (!root) {
        snprintf (err, errlen, "payload is not a statement: line %d: %.120s", error.line,
                  error.text);
        return NULL;
    }
    json_t *type = json_object_get (root, "_type");
    json_t *subjects = json_object_get (root, "subject");
    json_t *predicate_type = json_object_get (root, "predicateType");
    json_t *predicate = json_object_get (root, "predicate");
    if (!json_is_object (root) || !json_is_string (type) ||
        strcmp (json_string_value (type), JAD_ATTEST_STATEMENT_V1) != 0) {
        snprintf (err, errlen, "payload is not an in-toto Statement v1 (_type %s)",
                  JAD_ATTEST_STATEMENT_V1);
        json_decref (root);
        return NULL;
    }
    if (!json_is_array (subjects) || json_array_size (subjects) == 0 ||
        !json_is_string (predicate_type) || (predicate && !json_is_object (predicate))) {
        snprintf (err, errlen,
                  "statement: subject (a non-empty list), predicateType and an object "
                  "predicate are required");
        json_decref (root);
        return NULL;
    }
    jad_statement_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        json_decref (root);
        return NULL;
    }
    self->root = root;
    self->type = json_string_value (predicate_type);
    self->predicate = predicate;
    self->subjects = subjects;
    return self;
}

const char *jad_statement_type (const jad_statement_t *self)
{
    return self->type;
}

const char *jad_statement_predicate_text (const jad_statement_t *self, const char *key)
{
    return self->predicate ? json_string_value (json_object_get (self->predicate, key)) : NULL;
}

bool jad_statement_about (const jad_statement_t *self, const char *sha256_hex)
{
    if (!sha256_hex || strlen (sha256_hex) != 64)
        return false;
    size_t index;
    json_t *subject;
    json_array_foreach (self->subjects, index, subject)
    {
        const char *digest =
            json_string_value (json_object_get (json_object_get (subject, "digest"), "sha256"));
        if (digest && strlen (digest) == 64 && strncasecmp (digest, sha256_hex, 64) == 0)
            return true;
    }
    return false;
}

//  Two digits at text, or -1.
static int s_digits (const char *text, int count)
{
    int value = 0;
    for (int index = 0; index < count; index++) {
        if (!isdigit ((unsigned char)text[index]))
            return -1;
        value = value * 10 + (text[index] - '0');
    }
    return value;
}

int jad_rfc3339_parse (const char *text, int64_t *ms)
{
    //  YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
    if (!text || strlen (text) < 20 || text[4] != '-' || text[7] != '-' ||
        (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':')
        return -1;
    struct tm parts = {0};
    int year = s_digits (text, 4), month = s_digits (text + 5, 2), day = s_digits (text + 8, 2);
    int hour = s_digits (text + 11, 2), minute = s_digits (text + 14, 2);
    int second = s_digits (text + 17, 2);
    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
        minute < 0 || minute > 59 || second < 0 || second > 60)
        return -1;
    const char *cursor = text + 19;
    int64_t fraction_ms = 0;
    if (*cursor == '.') {
        cursor++;
        int digits = 0;
        while (isdigit ((unsigned char)*cursor)) {
            if (digits < 3)
                fraction_ms = fraction_ms * 10 + (*cursor - '0');
            digits++, cursor++;
        }
        if (digits == 0)
            return -1;
        for (; digits < 3; digits++)
            fraction_ms *= 10;
    }
    int64_t offset_s = 0;
    if (*cursor == 'Z' || *cursor == 'z')
        cursor++;
    else if (*cursor == '+' || *cursor == '-') {
        int oh = s_digits (cursor + 1, 2), om = cursor[3] == ':' ? s_digits (cursor + 4, 2) : -1;
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -1;
        offset_s = (*cursor == '+' ? 1 : -1) * (int64_t)(oh * 3600 + om * 60);
        cursor += 6;
    } else
        return -1;
    if (*cursor)
        return -1;
    parts.tm_year = year - 1900;
    parts.tm_mon = month - 1;
    parts.tm_mday = day;
    parts.tm_hour = hour;
    parts.tm_min = minute;
    parts.tm_sec = second;
    time_t seconds = timegm (&parts);
    if (seconds == (time_t)-1)
        return -1;
    *ms = ((int64_t)seconds - offset_s) * 1000 + fraction_ms;
    return 0;
}

//  The string at a path of object keys, or NULL.
static const char *s_path (json_t *value, const char *const *keys)
{
    for (; value && *keys; keys++)
        value = json_object_get (value, *keys);
    return json_string_value (value);
}

int64_t jad_statement_time (const jad_statement_t *self)
{
    static const char *const vulns[] = {"metadata", "scanFinishedOn", NULL};
    static const char *const slsa[] = {"runDetails", "metadata", "finishedOn", NULL};
    static const char *const any[] = {"timestamp", NULL};
    const char *text = NULL;
    if (strcmp (self->type, JAD_ATTEST_VULNS) == 0)
        text = s_path (self->predicate, vulns);
    else if (strcmp (self->type, JAD_ATTEST_SLSA) == 0)
        text = s_path (self->predicate, slsa);
    if (!text)
        text = s_path (self->predicate, any);
    int64_t ms = -1;
    if (!text || jad_rfc3339_parse (text, &ms) != 0)
        return -1;
    return ms;
}

int jad_severity_rank (const char *score)
{
    static const struct {
        const char *name;
        int rank;
    } names[] = {{"none", 0},     {"negligible", 0}, {"low", 1},     {"medium", 2},
                 {"moderate", 2}, {"high", 3},       {"critical", 4}};
    if (!score || !*score)
        return -1;
    for (size_t index = 0; index < sizeof names / sizeof names[0]; index++)
        if (strcasecmp (score, names[index].name) == 0)
            return names[index].rank;
    //  a CVSS base score, 0.0 to 10.0
    char *end = NULL;
    errno = 0;
    double value = strtod (score, &end);
    if (errno || end == score || *end || !(value >= 0.0 && value <= 10.0))
        return -1;
    return value == 0.0 ? 0 : value < 4.0 ? 1 : value < 7.0 ? 2 : value < 9.0 ? 3 : 4;
}

static const char *s_rank_name (int rank)
{
    static const char *const names[] = {"none", "low", "medium", "high", "critical"};
    return rank >= 0 && rank <= 4 ? names[rank] : "unknown";
}

//  Vulns v0.2: no finding above rule->max_severity.
static int s_judge_vulns (const jad_statement_t *self, const jad_check_rule_t *rule, char *err,
                          size_t errlen)
{
    json_t *results = json_object_get (json_object_get (self->predicate, "scanner"), "result");
    if (!json_is_array (results)) {
        snprintf (err, errlen, "vulns: scanner.result is missing (an empty list means no finding)");
        return -1;
    }
    if (!rule->max_severity)
        return 0;
    int limit = jad_severity_rank (rule->max_severity);
    size_t index;
    json_t *finding;
    json_array_foreach (results, index, finding)
    {
        const char *id = json_string_value (json_object_get (finding, "id"));
        json_t *severities = json_object_get (finding, "severity");
        //  the highest score any method gives; unknown counts as critical
        int worst = -1;
        const char *unknown = NULL;
        size_t inner;
        json_t *severity;
        json_array_foreach (severities, inner, severity)
        {
            const char *score = json_string_value (json_object_get (severity, "score"));
            int rank = jad_severity_rank (score);
            if (rank < 0) {
                unknown = score ? score : "(none)";
                rank = 4;
            }
            if (rank > worst)
                worst = rank;
        }
        if (worst < 0) {
            unknown = "(no severity)";
            worst = 4;
        }
        if (worst > limit) {
            if (unknown)
                snprintf (err, errlen,
                          "vulns: finding %.64s has severity '%.32s', which counts as critical, "
                          "above max_severity %s",
                          id ? id : "(no id)", unknown, rule->max_severity);
            else
                snprintf (err, errlen, "vulns: finding %.64s is %s, above max_severity %s",
                          id ? id : "(no id)", s_rank_name (worst), rule->max_severity);
            return -1;
        }
    }
    return 0;
}

//  SLSA Provenance v1: builder id and source, when the check names them.
static int s_judge_slsa (const jad_statement_t *self, const jad_check_rule_t *rule, char *err,
                         size_t errlen)
{
    static const char *const builder[] = {"runDetails", "builder", "id", NULL};
    if (rule->builder_id) {
        const char *id = s_path (self->predicate, builder);
        if (!id || strcmp (id, rule->builder_id) != 0) {
            snprintf (err, errlen, "provenance: builder '%.128s' is not '%.128s'",
                      id ? id : "(none)", rule->builder_id);
            return -1;
        }
    }
    if (rule->source) {
        json_t *dependencies = json_object_get (
            json_object_get (self->predicate, "buildDefinition"), "resolvedDependencies");
        size_t index;
        json_t *dependency;
        json_array_foreach (dependencies, index, dependency)
        {
            const char *uri = json_string_value (json_object_get (dependency, "uri"));
            if (uri && strncmp (uri, rule->source, strlen (rule->source)) == 0)
                return 0;
        }
        snprintf (err, errlen, "provenance: no resolved dependency from source '%.128s'",
                  rule->source);
        return -1;
    }
    return 0;
}

int jad_statement_judge (const jad_statement_t *self, const jad_check_rule_t *rule,
                         const char *sha256_hex, int64_t now, char *err, size_t errlen)
{
    if (strcmp (self->type, rule->type) != 0) {
        snprintf (err, errlen, "is a %.128s statement, not %.128s", self->type, rule->type);
        return -1;
    }
    if (!jad_statement_about (self, sha256_hex)) {
        snprintf (err, errlen, "is about another release (no subject with sha256 %.64s)",
                  sha256_hex ? sha256_hex : "");
        return -1;
    }
    if (rule->max_age_ms > 0) {
        int64_t time = jad_statement_time (self);
        if (time < 0) {
            snprintf (err, errlen, "has no time for max_age (predicate.timestamp, RFC 3339)");
            return -1;
        }
        //  five minutes of clock skew between the attester and us
        if (time > now + 5 * 60 * 1000) {
            snprintf (err, errlen, "is dated in the future");
            return -1;
        }
        if (now - time > rule->max_age_ms) {
            snprintf (err, errlen, "is %lld hours old, older than max_age (%lld hours)",
                      (long long)((now - time) / 3600000), (long long)(rule->max_age_ms / 3600000));
            return -1;
        }
    }
    if (strcmp (self->type, JAD_ATTEST_TEST_RESULT) == 0) {
        const char *result = json_string_value (json_object_get (self->predicate, "result"));
        if (!result || strcmp (result, "PASSED") != 0) {
            snprintf (err, errlen, "test result is %.16s (PASSED required)",
                      result ? result : "missing");
            return -1;
        }
        return 0;
    }
    if (strcmp (self->type, JAD_ATTEST_VULNS) == 0)
        return s_judge_vulns (self, rule, err, errlen);
    if (strcmp (self->type, JAD_ATTEST_SLSA) == 0)
        return s_judge_slsa (self, rule, err, errlen);
    return 0;
}

//  "ci, scanner" of the rule's key names, bounded.
static void s_key_names (const jad_check_rule_t *rule, char *out, size_t len)
{
    size_t used = 0;
    out[0] = 0;
    for (size_t index = 0; rule->key_names && index < rule->key_count && used < len; index++)
        used += (size_t)snprintf (out + used, len - used, "%s%s", used ? ", " : "",
                                  rule->key_names[index] ? rule->key_names[index] : "?");
    if (!out[0])
        snprintf (out, len, "%zu key(s)", rule->key_count);
}

jad_check_verdict_t jad_check_judge (const jad_check_rule_t *rule, const char *const *envelopes,
                                     const size_t *lens, size_t count, const char *sha256_hex,
                                     int64_t now, size_t *which, char *why, size_t whylen)
{
    //  the reason to show: a signed attestation that failed the rule says
    //  more than an unsigned one
    int best = 0;
    size_t relevant = 0, malformed = 0;
    char first_malformed[600] = "";
    why[0] = 0;
    for (size_t index = 0; index < count; index++) {
        char err[512];
        jad_dsse_t *envelope = jad_dsse_parse (envelopes[index], lens[index], err, sizeof err);
        //  the type is read before the signature is checked only to sort
        //  attestations into this check's or not; nothing is decided on it
        jad_statement_t *statement =
            envelope ? jad_statement_parse (envelope, err, sizeof err) : NULL;
        if (!statement) {
            if (malformed++ == 0)
                snprintf (first_malformed, sizeof first_malformed, "attestation %zu ignored: %s",
                          index + 1, err);
            jad_dsse_destroy (&envelope);
            continue;
        }
        if (strcmp (jad_statement_type (statement), rule->type) != 0) {
            jad_statement_destroy (&statement);
            jad_dsse_destroy (&envelope);
            continue;
        }
        relevant++;
        bool signed_by = false;
        for (size_t key = 0; key < rule->key_count && !signed_by; key++)
            signed_by = jad_dsse_signed_by (envelope, rule->keys + 32 * key);
        if (!signed_by) {
            if (best < 1) {
                char names[256];
                s_key_names (rule, names, sizeof names);
                snprintf (why, whylen,
                          "attestation %zu is not signed by a key trusted for check '%s' "
                          "(trusted: %s)",
                          index + 1, rule->name ? rule->name : "?", names);
                best = 1;
            }
        } else if (jad_statement_judge (statement, rule, sha256_hex, now, err, sizeof err) == 0) {
            if (which)
                *which = index;
            jad_statement_destroy (&statement);
            jad_dsse_destroy (&envelope);
            return JAD_CHECK_OK;
        } else if (best < 2) {
            snprintf (why, whylen, "attestation %zu %s", index + 1, err);
            best = 2;
        }
        jad_statement_destroy (&statement);
        jad_dsse_destroy (&envelope);
    }
    if (relevant == 0) {
        if (malformed)
            snprintf (why, whylen, "no attestation of type %s (%zu malformed; %s)", rule->type,
                      malformed, first_malformed);
        else
            snprintf (why, whylen, "no attestation of type %s", rule->type);
        return JAD_CHECK_MISSING;
    }
    return JAD_CHECK_INVALID;
}
