//  jad_policy - release checks at the host: the offline-signed policy,
//  the attestation bundle, and the one rule builder
//  SPDX-License-Identifier: MPL-2.0
//
//  See jad_policy.h. Everything read from a policy or a bundle is bounded
//  before it is used, and every string copied into a message is cut
//  (%.64s and friends).

#include "jad_policy.h"
#include "jad_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NAME_MAX 64  //  a check's or a key's name, as controller.yaml allows

//  --------------------------------------------------------------------------
//  The rule builder

int jad_check_rule_build (const jad_check_config_t *check, const jad_attestation_key_t *keys,
                          size_t key_count, jad_check_rule_t *rule)
{
    memset (rule, 0, sizeof *rule);
    if (!check->type)
        return -1;
    size_t wanted = check->key_count ? check->key_count : 1;
    uint8_t *public_keys = calloc (wanted, 32);
    const char **names = calloc (wanted, sizeof (char *));
    if (!public_keys || !names) {
        free (public_keys);
        free (names);
        return -1;
    }
    size_t used = 0;
    for (size_t index = 0; index < check->key_count; index++)
        for (size_t key = 0; key < key_count; key++)
            if (jad_str_equal (keys[key].name, check->keys[index]) &&
                jad_unhex (keys[key].ed25519, public_keys + used * 32, 32) == 0) {
                names[used++] = keys[key].name;
                break;
            }
    *rule = (jad_check_rule_t){.name = check->name,
                               .type = check->type,
                               .keys = public_keys,
                               .key_names = names,
                               .key_count = used,
                               .max_age_ms = (int64_t)check->max_age_ms,
                               .max_severity = check->max_severity,
                               .builder_id = check->builder_id,
                               .source = check->source};
    return 0;
}

void jad_check_rule_clear (jad_check_rule_t *rule)
{
    free ((void *)rule->keys);
    free ((void *)rule->key_names);
    memset (rule, 0, sizeof *rule);
}

//  --------------------------------------------------------------------------
//  The policy

//  A name as controller.yaml allows it: 1..64 bytes of [A-Za-z0-9._-].
static bool s_name_ok (const char *name)
{
    size_t len = name ? strlen (name) : 0;
    if (len == 0 || len > S_NAME_MAX)
        return false;
    for (size_t index = 0; index < len; index++) {
        char c = name[index];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

//  True if operator (roles) holds a role some approval check of env lists.
static bool s_may_approve (const jad_env_config_t *env, const char *roles)
{
    for (size_t index = 0; index < env->check_count; index++) {
        const jad_check_config_t *check = &env->checks[index];
        for (size_t role = 0; !check->type && role < check->approval_count; role++)
            if (jad_approval_holds (roles, check->approval[role]))
                return true;
    }
    return false;
}

//  The operators who may approve env's approval checks, into the object
//  out ({name: {roles: [...], signing_key}}). Returns 0 or -1
//  with why.
static int s_operators_payload (const jad_env_config_t *env, const jad_approver_t *operators,
                                size_t operator_count, json_t *out, char *err, size_t errlen)
{
    bool approvals = false;
    for (size_t index = 0; index < env->check_count; index++)
        approvals = approvals || !env->checks[index].type;
    for (size_t index = 0; index < operator_count; index++) {
        const jad_approver_t *who = &operators[index];
        uint8_t raw[32];
        if (!s_name_ok (who->name)) {
            snprintf (err, errlen, "operator %zu: '%.64s' is not a valid name", index + 1,
                      who->name ? who->name : "");
            return -1;
        }
        if (!who->roles || !s_may_approve (env, who->roles))
            continue;
        if (!who->signing_key || strlen (who->signing_key) != 64 ||
            jad_unhex (who->signing_key, raw, 32)) {
            snprintf (err, errlen,
                      "operator %.64s: the signing key is not 64 hex characters (an operator "
                      "without one approves nothing)",
                      who->name);
            return -1;
        }
        if (json_object_get (out, who->name)) {
            snprintf (err, errlen, "operator %.64s appears twice", who->name);
            return -1;
        }
        const char *name;
        json_t *value;
        json_object_foreach (
            out, name,
            value) if (jad_str_equal (json_string_value (json_object_get (value, "signing_key")),
                                      who->signing_key))
        {
            snprintf (err, errlen, "operators %.64s and %.64s share a signing key", name,
                      who->name);
            return -1;
        }
        json_t *roles = json_array ();
        if (!roles) {
            snprintf (err, errlen, "out of memory");
            return -1;
        }
        for (const char *item = who->roles; *item;) {
            size_t len = strcspn (item, ",");
            char role[S_NAME_MAX + 1] = "";
            if (len <= S_NAME_MAX) {
                memcpy (role, item, len);
                role[len] = 0;
            }
            if (len > S_NAME_MAX || (len && !s_name_ok (role))) {
                snprintf (err, errlen, "operator %.64s: role '%.64s' is not a valid name",
                          who->name, role);
                json_decref (roles);
                return -1;
            }
            if (len && json_array_append_new (roles, json_string (role))) {
                snprintf (err, errlen, "out of memory");
                json_decref (roles);
                return -1;
            }
            item += len;
            if (*item == ',')
                item++;
        }
        //  "o" steals roles, also when json_pack fails
        json_t *entry = json_pack ("{s:o, s:s}", "roles", roles, "signing_key", who->signing_key);
        if (!entry || json_object_set_new (out, who->name, entry)) {
            snprintf (err, errlen, "out of memory");
            return -1;
        }
    }
    if (approvals && json_object_size (out) == 0) {
        snprintf (err, errlen,
                  "%s has approval checks and no operator given holds a role they list (jadctl "
                  "--json operator list > FILE, review it, then --operators FILE)",
                  env->name);
        return -1;
    }
    if (json_object_size (out) > JAD_POLICY_MAX_OPERATORS) {
        snprintf (err, errlen, "more than %d operators may approve", JAD_POLICY_MAX_OPERATORS);
        return -1;
    }
    return 0;
}

char *jad_policy_payload (const jad_controller_config_t *config, const char *env_name,
                          uint64_t version, const jad_approver_t *operators, size_t operator_count,
                          char *err, size_t errlen)
{
    const jad_env_config_t *env = jad_controller_config_env (config, env_name);
    if (!env) {
        snprintf (err, errlen, "controller.yaml has no environment '%.64s'", env_name);
        return NULL;
    }
    if (version == 0 || version > (uint64_t)INT64_MAX) {
        snprintf (err, errlen, "a policy version is a number from 1 up");
        return NULL;
    }
    json_t *keys = json_object ();
    json_t *checks = json_array ();
    json_t *root = json_pack ("{s:s, s:s, s:I}", "_type", JAD_POLICY_TYPE, "environment", env->name,
                              "version", (json_int_t)version);
    bool ok = keys && checks && root;
    for (size_t index = 0; ok && index < env->check_count; index++) {
        const jad_check_config_t *check = &env->checks[index];
        json_t *entry = json_pack ("{s:s}", "name", check->name);
        ok = entry != NULL;
        if (ok && check->type) {
            json_t *names = json_array ();
            ok = names && json_object_set_new (entry, "type", json_string (check->type)) == 0 &&
                 json_object_set_new (entry, "keys", names) == 0;
            for (size_t key = 0; ok && key < check->key_count; key++) {
                const jad_attestation_key_t *found =
                    jad_controller_config_key (config, check->keys[key]);
                ok = json_array_append_new (names, json_string (check->keys[key])) == 0 &&
                     (!found ||
                      json_object_set_new (keys, found->name, json_string (found->ed25519)) == 0);
            }
            if (ok && check->max_age_ms)
                ok = json_object_set_new (entry, "max_age_ms",
                                          json_integer ((json_int_t)check->max_age_ms)) == 0;
            if (ok && check->max_severity)
                ok = json_object_set_new (entry, "max_severity",
                                          json_string (check->max_severity)) == 0;
            if (ok && check->builder_id)
                ok =
                    json_object_set_new (entry, "builder_id", json_string (check->builder_id)) == 0;
            if (ok && check->source)
                ok = json_object_set_new (entry, "source", json_string (check->source)) == 0;
        } else if (ok) {
            json_t *roles = json_array ();
            ok = roles && json_object_set_new (entry, "approval", roles) == 0 &&
                 json_object_set_new (entry, "not_deployer", json_boolean (check->not_deployer)) ==
                     0;
            for (size_t role = 0; ok && role < check->approval_count; role++)
                ok = json_array_append_new (roles, json_string (check->approval[role])) == 0;
        }
        ok = ok && json_array_append_new (checks, entry) == 0;
        if (!ok)
            json_decref (entry);
    }
    char *text = NULL;
    json_t *approvers = json_object ();
    err[0] = 0;
    if (ok && approvers &&
        s_operators_payload (env, operators, operator_count, approvers, err, errlen) == 0 &&
        json_object_set (root, "attestation_keys", keys) == 0 &&
        json_object_set (root, "checks", checks) == 0 &&
        (json_object_size (approvers) == 0 || json_object_set (root, "operators", approvers) == 0))
        text = json_dumps (root, JSON_COMPACT);
    if (!text && !err[0])
        snprintf (err, errlen, "out of memory");
    json_decref (approvers);
    json_decref (keys);
    json_decref (checks);
    json_decref (root);
    return text;
}

static void s_check_free (jad_check_config_t *check)
{
    free (check->name);
    free (check->type);
    for (size_t index = 0; index < check->key_count; index++)
        free (check->keys[index]);
    free (check->keys);
    free (check->max_severity);
    free (check->builder_id);
    free (check->source);
    for (size_t index = 0; index < check->approval_count; index++)
        free (check->approval[index]);
    free (check->approval);
}

void jad_policy_destroy (jad_policy_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_policy_t *self = *self_p;
    free (self->environment);
    for (size_t index = 0; index < self->key_count; index++) {
        free (self->keys[index].name);
        free (self->keys[index].ed25519);
    }
    free (self->keys);
    for (size_t index = 0; index < self->check_count; index++)
        s_check_free (&self->checks[index]);
    free (self->checks);
    for (size_t index = 0; index < self->operator_count; index++) {
        free ((char *)self->operators[index].name);
        free ((char *)self->operators[index].roles);
        free ((char *)self->operators[index].signing_key);
    }
    free (self->operators);
    free (self);
    *self_p = NULL;
}

//  The optional string member key of object (copied into *out), or an
//  error. Returns 0 or -1 with why in err.
static int s_text (json_t *object, const char *key, const char *check, char **out, char *err,
                   size_t errlen)
{
    json_t *value = json_object_get (object, key);
    if (!value)
        return 0;
    if (!json_is_string (value) || json_string_length (value) == 0 ||
        json_string_length (value) > 1024) {
        snprintf (err, errlen, "check '%.64s': %s must be a string of 1 to 1024 bytes", check, key);
        return -1;
    }
    *out = strdup (json_string_value (value));
    if (!*out) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

//  Copy an array of names (1..max, each s_name_ok) into *out.
static int s_names (json_t *array, const char *what, const char *check, size_t max, char ***out,
                    size_t *count, char *err, size_t errlen)
{
    size_t size = json_array_size (array);
    if (!json_is_array (array) || size == 0 || size > max) {
        snprintf (err, errlen, "check '%.64s': %s must list 1 to %zu names", check, what, max);
        return -1;
    }
    *out = calloc (size, sizeof (char *));
    if (!*out) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    for (size_t index = 0; index < size; index++) {
        json_t *item = json_array_get (array, index);
        if (!json_is_string (item) || !s_name_ok (json_string_value (item))) {
            snprintf (err, errlen, "check '%.64s': %s entry %zu is not a name", check, what,
                      index + 1);
            return -1;
        }
        (*out)[index] = strdup (json_string_value (item));
        if (!(*out)[index]) {
            snprintf (err, errlen, "out of memory");
            return -1;
        }
        (*count)++;
    }
    return 0;
}

//  One check of the payload into check. Returns 0 or -1 with why.
static int s_check_decode (const jad_policy_t *self, json_t *entry, jad_check_config_t *check,
                           char *err, size_t errlen)
{
    json_t *name = json_object_get (entry, "name");
    if (!json_is_object (entry) || !json_is_string (name) ||
        !s_name_ok (json_string_value (name))) {
        snprintf (err, errlen, "a check without a valid name");
        return -1;
    }
    const char *label = json_string_value (name);
    for (size_t index = 0; index < self->check_count; index++)
        if (jad_str_equal (self->checks[index].name, label)) {
            snprintf (err, errlen, "check '%.64s' appears twice", label);
            return -1;
        }
    check->name = strdup (label);
    if (!check->name) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    json_t *type = json_object_get (entry, "type");
    json_t *approval = json_object_get (entry, "approval");
    if (!type == !approval) {
        snprintf (err, errlen, "check '%.64s': exactly one of type and approval", label);
        return -1;
    }
    if (approval) {
        json_t *not_deployer = json_object_get (entry, "not_deployer");
        if (not_deployer && !json_is_boolean (not_deployer)) {
            snprintf (err, errlen, "check '%.64s': not_deployer must be true or false", label);
            return -1;
        }
        check->not_deployer = json_is_true (not_deployer);
        return s_names (approval, "approval", label, 16, &check->approval, &check->approval_count,
                        err, errlen);
    }
    if (s_text (entry, "type", label, &check->type, err, errlen) ||
        s_text (entry, "max_severity", label, &check->max_severity, err, errlen) ||
        s_text (entry, "builder_id", label, &check->builder_id, err, errlen) ||
        s_text (entry, "source", label, &check->source, err, errlen) ||
        s_names (json_object_get (entry, "keys"), "keys", label, 16, &check->keys,
                 &check->key_count, err, errlen))
        return -1;
    if (!check->type) {
        snprintf (err, errlen, "check '%.64s': type must be a string", label);
        return -1;
    }
    if (check->max_severity && jad_severity_rank (check->max_severity) < 0) {
        snprintf (err, errlen, "check '%.64s': unknown max_severity '%.32s'", label,
                  check->max_severity);
        return -1;
    }
    json_t *max_age = json_object_get (entry, "max_age_ms");
    if (max_age && (!json_is_integer (max_age) || json_integer_value (max_age) < 0)) {
        snprintf (err, errlen, "check '%.64s': max_age_ms must be a number of milliseconds", label);
        return -1;
    }
    check->max_age_ms = max_age ? (uint64_t)json_integer_value (max_age) : 0;
    for (size_t index = 0; index < check->key_count; index++) {
        bool known = false;
        for (size_t key = 0; key < self->key_count && !known; key++)
            known = jad_str_equal (self->keys[key].name, check->keys[index]);
        if (!known) {
            snprintf (err, errlen, "check '%.64s': key '%.64s' is not under attestation_keys",
                      label, check->keys[index]);
            return -1;
        }
    }
    return 0;
}

//  The payload's operators ({name: {roles: [...], signing_key}}) into
//  self. Returns 0 or -1 with why.
static int s_operators_decode (jad_policy_t *self, json_t *operators, char *err, size_t errlen)
{
    if (!json_is_object (operators) || json_object_size (operators) > JAD_POLICY_MAX_OPERATORS) {
        snprintf (err, errlen, "policy: operators must be an object of at most %d operators",
                  JAD_POLICY_MAX_OPERATORS);
        return -1;
    }
    self->operators = calloc (json_object_size (operators) + 1, sizeof *self->operators);
    if (!self->operators) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    const char *name;
    json_t *value;
    json_object_foreach (operators, name, value)
    {
        json_t *roles = json_object_get (value, "roles");
        json_t *key = json_object_get (value, "signing_key");
        uint8_t raw[32];
        if (!s_name_ok (name) || !json_is_object (value) || json_object_size (value) != 2 ||
            !json_is_string (key) || json_string_length (key) != 64 ||
            jad_unhex (json_string_value (key), raw, 32) || !json_is_array (roles) ||
            json_array_size (roles) == 0 || json_array_size (roles) > 16) {
            snprintf (err, errlen,
                      "policy: operator '%.64s' needs exactly roles (1 to 16 names) and "
                      "signing_key (64 hex characters)",
                      name);
            return -1;
        }
        for (size_t other = 0; other < self->operator_count; other++)
            if (jad_str_equal (self->operators[other].signing_key, json_string_value (key))) {
                snprintf (err, errlen, "policy: operators %.64s and %.64s share a signing key",
                          self->operators[other].name, name);
                return -1;
            }
        char joined[16 * (S_NAME_MAX + 1)];
        size_t used = 0;
        size_t index;
        json_t *role;
        json_array_foreach (roles, index, role)
        {
            if (!json_is_string (role) || !s_name_ok (json_string_value (role))) {
                snprintf (err, errlen, "policy: operator '%.64s': role %zu is not a name", name,
                          index + 1);
                return -1;
            }
            used += (size_t)snprintf (joined + used, sizeof joined - used, "%s%s", index ? "," : "",
                                      json_string_value (role));
        }
        jad_approver_t *entry = &self->operators[self->operator_count++];
        entry->name = strdup (name);
        entry->roles = strdup (joined);
        entry->signing_key = strdup (json_string_value (key));
        if (!entry->name || !entry->roles || !entry->signing_key) {
            snprintf (err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

jad_policy_t *jad_policy_decode (const uint8_t *payload, size_t len, char *err, size_t errlen)
{
    if (len > JAD_POLICY_MAX_BYTES) {
        snprintf (err, errlen, "policy of %zu bytes is over the limit of %d", len,
                  JAD_POLICY_MAX_BYTES);
        return NULL;
    }
    json_error_t error;
    json_t *root = json_loadb ((const char *)payload, len, JSON_REJECT_DUPLICATES, &error);
    if (!root) {
        snprintf (err, errlen, "policy is not JSON: line %d: %.120s", error.line, error.text);
        return NULL;
    }
    jad_policy_t *self = calloc (1, sizeof *self);
    json_t *type = json_object_get (root, "_type");
    json_t *env = json_object_get (root, "environment");
    json_t *version = json_object_get (root, "version");
    json_t *keys = json_object_get (root, "attestation_keys");
    json_t *checks = json_object_get (root, "checks");
    if (!self) {
        snprintf (err, errlen, "out of memory");
        goto failed;
    }
    if (!json_is_string (type) || !jad_str_equal (json_string_value (type), JAD_POLICY_TYPE)) {
        snprintf (err, errlen, "not a policy: _type must be %s", JAD_POLICY_TYPE);
        goto failed;
    }
    if (!json_is_string (env) || !s_name_ok (json_string_value (env)) ||
        !json_is_integer (version) || json_integer_value (version) < 1 || !json_is_object (keys) ||
        !json_is_array (checks)) {
        snprintf (err, errlen,
                  "policy: environment, version (from 1), attestation_keys and "
                  "checks are required");
        goto failed;
    }
    if (json_object_size (keys) > JAD_POLICY_MAX_CHECKS * 4 ||
        json_array_size (checks) > JAD_POLICY_MAX_CHECKS) {
        snprintf (err, errlen, "policy: more than %d checks or %d keys", JAD_POLICY_MAX_CHECKS,
                  JAD_POLICY_MAX_CHECKS * 4);
        goto failed;
    }
    self->environment = strdup (json_string_value (env));
    self->version = (uint64_t)json_integer_value (version);
    self->keys = calloc (json_object_size (keys) + 1, sizeof *self->keys);
    self->checks = calloc (json_array_size (checks) + 1, sizeof *self->checks);
    if (!self->environment || !self->keys || !self->checks) {
        snprintf (err, errlen, "out of memory");
        goto failed;
    }
    const char *name;
    json_t *value;
    json_object_foreach (keys, name, value)
    {
        uint8_t raw[32];
        if (!s_name_ok (name) || !json_is_string (value) || json_string_length (value) != 64 ||
            jad_unhex (json_string_value (value), raw, 32)) {
            snprintf (err, errlen, "policy: attestation key '%.64s' is not 64 hex characters",
                      name);
            goto failed;
        }
        jad_attestation_key_t *key = &self->keys[self->key_count++];
        key->name = strdup (name);
        key->ed25519 = strdup (json_string_value (value));
        if (!key->name || !key->ed25519) {
            snprintf (err, errlen, "out of memory");
            goto failed;
        }
    }
    size_t index;
    json_array_foreach (checks, index, value)
    {
        if (s_check_decode (self, value, &self->checks[self->check_count], err, errlen)) {
            self->check_count++;  //  freed with the policy
            goto failed;
        }
        self->check_count++;
    }
    json_t *operators = json_object_get (root, "operators");
    if (operators && s_operators_decode (self, operators, err, errlen))
        goto failed;
    json_decref (root);
    return self;

failed:
    json_decref (root);
    jad_policy_destroy (&self);
    return NULL;
}

jad_policy_t *jad_policy_open (const char *text, size_t len, const uint8_t key[32], char *err,
                               size_t errlen)
{
    if (len > JAD_POLICY_MAX_BYTES) {
        snprintf (err, errlen, "policy of %zu bytes is over the limit of %d", len,
                  JAD_POLICY_MAX_BYTES);
        return NULL;
    }
    char why[256];
    jad_dsse_t *envelope = jad_dsse_parse_as (text, len, JAD_POLICY_PAYLOAD_TYPE, why, sizeof why);
    if (!envelope) {
        snprintf (err, errlen, "policy: %s", why);
        return NULL;
    }
    jad_policy_t *self = NULL;
    if (!jad_dsse_signed_by (envelope, key))
        snprintf (err, errlen, "policy is not signed by the policy key");
    else {
        size_t payload_len = 0;
        const uint8_t *payload = jad_dsse_payload (envelope, &payload_len);
        self = jad_policy_decode (payload, payload_len, err, errlen);
    }
    jad_dsse_destroy (&envelope);
    return self;
}

bool jad_policy_not_deployer (const jad_policy_t *self)
{
    for (size_t index = 0; index < self->check_count; index++)
        if (self->checks[index].not_deployer)
            return true;
    return false;
}

int jad_policy_judge (const jad_policy_t *self, const char *const *envelopes, const size_t *lens,
                      size_t count, const char *sha256_hex, int64_t now, bool ignore_age,
                      const char *deployer, char *why, size_t whylen)
{
    int failed = 0;
    size_t used = 0;
    why[0] = 0;
    for (size_t index = 0; index < self->check_count; index++) {
        const jad_check_config_t *check = &self->checks[index];
        char reason[256];
        jad_check_verdict_t verdict;
        if (!check->type) {
            //  the operators the policy's signer reviewed, not the controller's
            verdict = jad_approval_judge (check, self->environment, envelopes, lens, count,
                                          sha256_hex, self->operators, self->operator_count,
                                          deployer, reason, sizeof reason);
        } else {
            jad_check_rule_t rule;
            if (jad_check_rule_build (check, self->keys, self->key_count, &rule))
                return -1;
            if (ignore_age)
                rule.max_age_ms = 0;
            verdict = jad_check_judge (&rule, envelopes, lens, count, sha256_hex, now, NULL, reason,
                                       sizeof reason);
            jad_check_rule_clear (&rule);
        }
        if (verdict == JAD_CHECK_OK)
            continue;
        failed++;
        if (used < whylen)
            used += (size_t)snprintf (why + used, whylen - used, "%s%s (%s: %s)", used ? "; " : "",
                                      check->name,
                                      verdict == JAD_CHECK_MISSING ? "missing" : "invalid", reason);
    }
    return failed;
}

//  --------------------------------------------------------------------------
//  The bundle

char *jad_bundle_encode (const char *policy, const char *const *envelopes, const size_t *lens,
                         size_t count, size_t *len_p)
{
    if (count > JAD_BUNDLE_MAX_ENTRIES)
        return NULL;
    json_t *list = json_array ();
    json_t *root = json_pack ("{s:s}", "_type", JAD_BUNDLE_TYPE);
    bool ok = list && root;
    if (ok && policy)
        ok = json_object_set_new (root, "policy", json_string (policy)) == 0;
    for (size_t index = 0; ok && index < count; index++)
        ok = json_array_append_new (list, json_stringn (envelopes[index], lens[index])) == 0;
    char *text = NULL;
    if (ok && json_object_set (root, "attestations", list) == 0)
        text = json_dumps (root, JSON_COMPACT);
    json_decref (list);
    json_decref (root);
    if (text && strlen (text) > JAD_BUNDLE_MAX_BYTES) {
        free (text);
        text = NULL;
    }
    if (text)
        *len_p = strlen (text);
    return text;
}

void jad_bundle_destroy (jad_bundle_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_bundle_t *self = *self_p;
    free (self->policy);
    for (size_t index = 0; index < self->count; index++)
        free (self->envelopes[index]);
    free (self->envelopes);
    free (self->lens);
    free (self);
    *self_p = NULL;
}

jad_bundle_t *jad_bundle_decode (const uint8_t *data, size_t len, char *err, size_t errlen)
{
    if (len > JAD_BUNDLE_MAX_BYTES) {
        snprintf (err, errlen, "bundle of %zu bytes is over the limit of %d", len,
                  JAD_BUNDLE_MAX_BYTES);
        return NULL;
    }
    json_error_t error;
    json_t *root = json_loadb ((const char *)data, len, JSON_REJECT_DUPLICATES, &error);
    if (!root) {
        snprintf (err, errlen, "bundle is not JSON: line %d: %.120s", error.line, error.text);
        return NULL;
    }
    jad_bundle_t *self = calloc (1, sizeof *self);
    json_t *type = json_object_get (root, "_type");
    json_t *policy = json_object_get (root, "policy");
    json_t *list = json_object_get (root, "attestations");
    if (!self) {
        snprintf (err, errlen, "out of memory");
        goto failed;
    }
    if (!json_is_string (type) || !jad_str_equal (json_string_value (type), JAD_BUNDLE_TYPE) ||
        (policy && !json_is_string (policy)) || !json_is_array (list) ||
        json_array_size (list) > JAD_BUNDLE_MAX_ENTRIES) {
        snprintf (err, errlen,
                  "not a bundle: _type %s, policy a string, attestations a list of at most %d",
                  JAD_BUNDLE_TYPE, JAD_BUNDLE_MAX_ENTRIES);
        goto failed;
    }
    if (policy && !(self->policy = strdup (json_string_value (policy)))) {
        snprintf (err, errlen, "out of memory");
        goto failed;
    }
    size_t size = json_array_size (list);
    self->envelopes = calloc (size + 1, sizeof (char *));
    self->lens = calloc (size + 1, sizeof (size_t));
    if (!self->envelopes || !self->lens) {
        snprintf (err, errlen, "out of memory");
        goto failed;
    }
    for (size_t index = 0; index < size; index++) {
        json_t *item = json_array_get (list, index);
        if (!json_is_string (item)) {
            snprintf (err, errlen, "bundle: attestation %zu is not a string", index + 1);
            goto failed;
        }
        size_t item_len = json_string_length (item);
        self->envelopes[index] = malloc (item_len + 1);
        if (!self->envelopes[index]) {
            snprintf (err, errlen, "out of memory");
            goto failed;
        }
        memcpy (self->envelopes[index], json_string_value (item), item_len + 1);
        self->lens[index] = item_len;
        self->count++;
    }
    json_decref (root);
    return self;

failed:
    json_decref (root);
    jad_bundle_destroy (&self);
    return NULL;
}
