//  test_enroll - enrollment: scoped, expiring, use-counted tokens, wrong
//  tokens throttled, a bounded pending table, tokens win over squatters,
//  no operator key as an agent (SECURITY-TESTS rows 30 and 34)
//  SPDX-License-Identifier: MPL-2.0
//
//  ctl_agents on a real state.db made by ctl_init_run, with its real
//  controller.yaml (environments dev, staging, prod).

#include "ctl_agents.h"
#include "ctl_agents_repo.h"
#include "ctl_init.h"
#include "ctl_settings.h"
#include "ctl_store.h"
#include "ctl_store_internal.h"
#include "jad_keys.h"
#include "jad_testlib.h"
#include "jad_util.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static char *s_dir;
static char s_init_token[64];
static ctl_settings_t *s_settings;
static ctl_store_t *s_store;
static ctl_counters_t s_counters;
static ctl_agents_t *s_agents;

static void s_setup (void)
{
    cr_assert_geq (sodium_init (), 0);
    s_dir = jt_tempdir ("jadugar-enroll");
    char data[PATH_MAX];
    snprintf (data, sizeof data, "%s/data", s_dir);
    char *printed = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&printed, &size);
    cr_assert_eq (ctl_init_run (data, "127.0.0.1", jt_free_port_base (4), NULL, out), 0);
    fclose (out);
    const char *line = strstr (printed, "enroll-token: ");
    cr_assert_not_null (line);
    cr_assert_eq (sscanf (line, "enroll-token: %63s", s_init_token), 1);
    free (printed);
    char path[PATH_MAX + 32];
    snprintf (path, sizeof path, "%s/controller.yaml", data);
    jad_problems_t *problems = jad_problems_new ();
    jad_controller_config_t *config = jad_controller_config_load (path, problems);
    jad_problems_destroy (&problems);
    cr_assert_not_null (config);
    s_settings = ctl_settings_new (data, &config);
    cr_assert_not_null (s_settings);
    snprintf (path, sizeof path, "%s/state.db", data);
    s_store = ctl_store_open (path, 0);
    cr_assert_not_null (s_store);
    memset (&s_counters, 0, sizeof s_counters);
    s_agents = ctl_agents_new (s_store, s_settings, &s_counters, NULL, NULL);
    cr_assert_not_null (s_agents);
}

static void s_teardown (void)
{
    ctl_agents_destroy (&s_agents);
    ctl_store_destroy (&s_store);
    ctl_settings_destroy (&s_settings);
    jt_rmtree (s_dir);
    free (s_dir);
}

TestSuite (enroll, .init = s_setup, .fini = s_teardown);

//  A new CURVE public key (Z85), as an agent would have.
static char *s_new_key (void)
{
    jad_keypair_t *pair = jad_keypair_new (JAD_KEY_CURVE);
    cr_assert_not_null (pair);
    char *key = strdup (jad_keypair_public_txt (pair));
    jad_keypair_destroy (&pair);
    return key;
}

//  Store a token with this secret, scope, lifetime and uses (-1: no limit).
static void s_token (const char *id, const char *secret, const char *envs, int64_t ttl_ms,
                     int64_t uses)
{
    char hash[65];
    ctl_agents_token_hash (secret, hash);
    int64_t now = jad_now_ms ();
    ctl_enroll_token_t token = {.id = (char *)id,
                                .envs = (char *)envs,
                                .expires = now + ttl_ms,
                                .uses_left = uses,
                                .created_by = "admin",
                                .created = now};
    cr_assert_eq (ctl_agents_repo_token_add (s_store, &token, hash), 0);
}

//  Enroll key as name in env with token (NULL: none) from address; the
//  reply's state, and its detail into detail (if not NULL).
static char *s_enroll (const char *key, const char *address, const char *name, const char *env,
                       const char *token, char *detail, size_t detail_len)
{
    jad_enroll_t enroll = {
        .name = (char *)name, .environment = (char *)env, .token = (char *)token};
    char *registered = NULL;
    jad_ctl_msg_t *reply = ctl_agents_enroll (s_agents, key, address, &enroll, &registered);
    cr_assert_not_null (reply);
    char *state = strdup (reply->enroll_reply.state);
    if (detail)
        snprintf (detail, detail_len, "%s",
                  reply->enroll_reply.detail ? reply->enroll_reply.detail : "");
    jad_ctl_msg_destroy (&reply);
    free (registered);
    return state;
}

static void s_expect (const char *key, const char *address, const char *name, const char *env,
                      const char *token, const char *state, const char *detail_part)
{
    char detail[256];
    char *got = s_enroll (key, address, name, env, token, detail, sizeof detail);
    cr_assert_str_eq (got, state, "%s in %s: %s (%s)", name, env, got, detail);
    if (detail_part)
        cr_assert (strstr (detail, detail_part), "detail '%s' lacks '%s'", detail, detail_part);
    free (got);
}

//  The stored state of agent name, or NULL if there is none (caller frees).
static char *s_state (const char *name)
{
    ctl_agent_t *agent = NULL;
    if (ctl_agents_repo_by_name (s_store, name, &agent) != 0)
        return NULL;
    char *state = strdup (agent->state);
    ctl_agent_destroy (&agent);
    return state;
}

Test (enroll, a_token_enrolls_only_into_its_environments)
{
    s_token ("devtok", "dev-secret", "dev,staging", 3600000, -1);
    char *one = s_new_key (), *two = s_new_key (), *three = s_new_key ();
    //  the dev token read from a dev host does not reach prod: refused,
    //  nothing stored
    s_expect (one, "10.0.0.1", "sneaky-1", "prod", "dev-secret", "refused",
              "not for environment 'prod'");
    cr_assert_null (s_state ("sneaky-1"));
    cr_assert_eq (s_counters.value[CTL_COUNT_ENROLL_TOKEN_WRONG], 1);
    s_expect (two, "10.0.0.2", "web-1", "dev", "dev-secret", "accepted", NULL);
    s_expect (three, "10.0.0.3", "web-2", "staging", "dev-secret", "accepted", NULL);
    char *state = s_state ("web-1");
    cr_assert_str_eq (state, "accepted");
    free (state);
    cr_assert_eq (s_counters.value[CTL_COUNT_ENROLL_ACCEPTED], 2);
    free (one);
    free (two);
    free (three);
}

Test (enroll, expired_revoked_and_used_up_tokens_are_refused)
{
    s_token ("old", "old-secret", "dev", -1000, -1);
    s_token ("gone", "gone-secret", "dev", 3600000, -1);
    s_token ("once", "once-secret", "dev", 3600000, 1);
    cr_assert_eq (ctl_agents_repo_token_revoke (s_store, "gone", jad_now_ms ()), 0);
    char *keys[4];
    for (int index = 0; index < 4; index++)
        keys[index] = s_new_key ();
    s_expect (keys[0], "10.0.0.1", "a-1", "dev", "old-secret", "refused", "expired");
    s_expect (keys[1], "10.0.0.2", "a-2", "dev", "gone-secret", "refused", "revoked");
    s_expect (keys[2], "10.0.0.3", "a-3", "dev", "once-secret", "accepted", NULL);
    s_expect (keys[3], "10.0.0.4", "a-4", "dev", "once-secret", "refused", "no use left");
    s_expect (keys[3], "10.0.0.4", "a-4", "dev", "not-a-token", "refused",
              "unknown enrollment token");
    cr_assert_null (s_state ("a-1"));
    cr_assert_null (s_state ("a-2"));
    cr_assert_null (s_state ("a-4"));
    cr_assert_eq (s_counters.value[CTL_COUNT_ENROLL_TOKEN_WRONG], 4);
    for (int index = 0; index < 4; index++)
        free (keys[index]);
}

Test (enroll, the_init_token_enrolls_anywhere_for_24_hours)
{
    char *one = s_new_key (), *two = s_new_key ();
    s_expect (one, "10.0.0.1", "p-1", "prod", s_init_token, "accepted", NULL);
    //  a day later
    cr_assert_eq (ctl_sql_exec (ctl_store_sql (s_store),
                                "UPDATE enroll_tokens SET expires = $1 WHERE id = 'init'", "i",
                                jad_now_ms () - 1),
                  1);
    s_expect (two, "10.0.0.2", "p-2", "prod", s_init_token, "refused", "expired");
    free (one);
    free (two);
}

Test (enroll, wrong_tokens_are_throttled_per_key_and_per_address)
{
    s_token ("good", "good-secret", "dev", 3600000, -1);
    char *guesser = s_new_key ();
    char guess[32];
    for (int index = 0; index < CTL_AGENTS_WRONG_TOKENS_PER_MINUTE; index++) {
        snprintf (guess, sizeof guess, "guess-%d", index);
        s_expect (guesser, "10.0.0.9", "g-1", "dev", guess, "refused", "unknown");
    }
    cr_assert_eq (s_counters.value[CTL_COUNT_ENROLL_TOKEN_WRONG],
                  CTL_AGENTS_WRONG_TOKENS_PER_MINUTE);
    //  even the right token is not checked now, from this key...
    s_expect (guesser, "10.0.0.10", "g-1", "dev", "good-secret", "refused", "too many");
    //  ...nor from this address, whatever the key
    char *other = s_new_key ();
    s_expect (other, "10.0.0.9", "g-2", "dev", "good-secret", "refused", "too many");
    cr_assert_eq (s_counters.value[CTL_COUNT_ENROLL_THROTTLED], 2);
    cr_assert_null (s_state ("g-1"));
    cr_assert_null (s_state ("g-2"));
    //  elsewhere, the right token works
    s_expect (other, "10.0.0.11", "g-2", "dev", "good-secret", "accepted", NULL);
    //  and when the window is over, so does the throttled address
    ctl_agents_limits_t limits = {.pending_max = CTL_AGENTS_PENDING_MAX,
                                  .pending_per_address = CTL_AGENTS_PENDING_PER_ADDRESS,
                                  .pending_per_minute = CTL_AGENTS_PENDING_PER_MINUTE,
                                  .wrong_tokens_per_minute = CTL_AGENTS_WRONG_TOKENS_PER_MINUTE,
                                  .window_ms = 0};
    ctl_agents_set_limits (s_agents, &limits);
    s_expect (guesser, "10.0.0.9", "g-1", "dev", "good-secret", "accepted", NULL);
    free (guesser);
    free (other);
}

//  A fleet larger than the table of sources the throttle remembers enrolls
//  at once with its token, from one address (the agents behind one NAT);
//  a guesser is throttled all the same, even after them.
Test (enroll, a_fleet_larger_than_the_throttle_s_table_enrolls_with_its_token_at_once)
{
    s_token ("fleet", "fleet-secret", "dev", 3600000, -1);
    int count = CTL_AGENTS_SOURCES_MAX + 100;
    uint8_t public_key[32];
    char key[41], name[32];
    for (int index = 0; index < count; index++) {
        //  a CURVE key as the agents' (Z85 of 32 random bytes is all that matters here)
        randombytes_buf (public_key, sizeof public_key);
        cr_assert_not_null (zmq_z85_encode (key, public_key, sizeof public_key));
        snprintf (name, sizeof name, "f-%d", index);
        char detail[256];
        char *state =
            s_enroll (key, "10.0.0.50", name, "dev", "fleet-secret", detail, sizeof detail);
        cr_assert_str_eq (state, "accepted", "agent %d of %d: %s (%s)", index + 1, count, state,
                          detail);
        free (state);
    }
    cr_assert_eq (s_counters.value[CTL_COUNT_ENROLL_THROTTLED], 0);
    cr_assert_eq (s_counters.value[CTL_COUNT_ENROLL_ACCEPTED], (uint64_t)count);
    //  the guesser at the same address is throttled after its fifth wrong token
    char *guesser = s_new_key ();
    char guess[32];
    for (int index = 0; index < CTL_AGENTS_WRONG_TOKENS_PER_MINUTE; index++) {
        snprintf (guess, sizeof guess, "guess-%d", index);
        s_expect (guesser, "10.0.0.50", "g-1", "dev", guess, "refused", "unknown");
    }
    s_expect (guesser, "10.0.0.50", "g-1", "dev", "fleet-secret", "refused", "too many");
    cr_assert_eq (s_counters.value[CTL_COUNT_ENROLL_THROTTLED], 1);
    free (guesser);
}

//  Guessers from thousands of addresses fill the throttle's table: a new
//  guesser goes unrecorded but is still refused as wrong, a recorded one
//  stays throttled, and an agent with the right token still enrolls.
Test (enroll, a_throttle_table_full_of_guessers_keeps_out_no_token_holder)
{
    s_token ("fleet", "fleet-secret", "dev", 3600000, -1);
    uint8_t public_key[32];
    char key[41], address[32];
    //  each guesser is two records, its key and its address
    for (int index = 0; index < CTL_AGENTS_SOURCES_MAX / 2; index++) {
        randombytes_buf (public_key, sizeof public_key);
        cr_assert_not_null (zmq_z85_encode (key, public_key, sizeof public_key));
        snprintf (address, sizeof address, "10.1.%d.%d", index / 250, index % 250);
        s_expect (key, address, "g", "dev", "guess", "refused", "unknown");
    }
    uint64_t wrong = s_counters.value[CTL_COUNT_ENROLL_TOKEN_WRONG];
    cr_assert_eq (wrong, CTL_AGENTS_SOURCES_MAX / 2);
    //  one more, from a new address: refused for its token, not throttled
    char *late = s_new_key ();
    s_expect (late, "10.2.0.1", "g", "dev", "guess", "refused", "unknown");
    cr_assert_eq (s_counters.value[CTL_COUNT_ENROLL_TOKEN_WRONG], wrong + 1);
    cr_assert_eq (s_counters.value[CTL_COUNT_ENROLL_THROTTLED], 0);
    //  the first guesser's address keeps its record: five wrong, then throttled
    char *again = s_new_key ();
    for (int index = 1; index < CTL_AGENTS_WRONG_TOKENS_PER_MINUTE; index++)
        s_expect (again, "10.1.0.0", "g", "dev", "guess", "refused", "unknown");
    s_expect (again, "10.1.0.0", "g", "dev", "fleet-secret", "refused", "too many");
    cr_assert_eq (s_counters.value[CTL_COUNT_ENROLL_THROTTLED], 1);
    //  a token holder from a new address enrolls
    char *agent = s_new_key ();
    s_expect (agent, "10.3.0.1", "a-1", "dev", "fleet-secret", "accepted", NULL);
    free (late);
    free (again);
    free (agent);
}

Test (enroll, the_pending_table_is_bounded_in_all_per_address_and_per_minute)
{
    ctl_agents_limits_t limits = {.pending_max = 5,
                                  .pending_per_address = 3,
                                  .pending_per_minute = 2,
                                  .wrong_tokens_per_minute = 5,
                                  .window_ms = 3600000};
    ctl_agents_set_limits (s_agents, &limits);
    char *keys[8];
    for (int index = 0; index < 8; index++)
        keys[index] = s_new_key ();
    //  per address per minute: two, then refused
    s_expect (keys[0], "10.0.0.1", "s-0", "dev", NULL, "pending", NULL);
    s_expect (keys[1], "10.0.0.1", "s-1", "dev", NULL, "pending", NULL);
    s_expect (keys[2], "10.0.0.1", "s-2", "dev", NULL, "refused", "try again later");
    //  per address in all: three
    limits.pending_per_minute = 100;
    ctl_agents_set_limits (s_agents, &limits);
    s_expect (keys[2], "10.0.0.1", "s-2", "dev", NULL, "pending", NULL);
    s_expect (keys[3], "10.0.0.1", "s-3", "dev", NULL, "refused", "from this address");
    //  in all: five
    s_expect (keys[3], "10.0.0.2", "s-3", "dev", NULL, "pending", NULL);
    s_expect (keys[4], "10.0.0.3", "s-4", "dev", NULL, "pending", NULL);
    s_expect (keys[5], "10.0.0.4", "s-5", "dev", NULL, "refused", "pending table is full");
    cr_assert_eq (ctl_agents_repo_pending_count (s_store, NULL), 5);
    cr_assert_eq (s_counters.value[CTL_COUNT_ENROLL_PENDING_LIMITED], 3);
    //  a token holder is never kept out by a full table
    s_token ("t", "secret", "dev", 3600000, -1);
    s_expect (keys[6], "10.0.0.4", "t-6", "dev", "secret", "accepted", NULL);
    //  a known pending key asking again is no new entry
    s_expect (keys[0], "10.0.0.1", "s-0", "dev", NULL, "pending", NULL);
    for (int index = 0; index < 8; index++)
        free (keys[index]);
}

Test (enroll, a_token_holder_takes_its_name_from_a_pending_squatter)
{
    s_token ("t", "web-secret", "prod", 3600000, -1);
    char *stranger = s_new_key (), *host = s_new_key (), *late = s_new_key ();
    s_expect (stranger, "10.6.6.6", "web-1", "prod", NULL, "pending", NULL);
    s_expect (host, "10.0.0.1", "web-1", "prod", "web-secret", "accepted", NULL);
    ctl_agent_t *agent = NULL;
    cr_assert_eq (ctl_agents_repo_by_name (s_store, "web-1", &agent), 0);
    cr_assert_str_eq (agent->public_key, host);
    cr_assert_str_eq (agent->state, "accepted");
    ctl_agent_destroy (&agent);
    cr_assert_eq (ctl_agents_repo_by_key (s_store, stranger, &agent), 1, "squatter dropped");
    cr_assert_eq (s_counters.value[CTL_COUNT_ENROLL_SQUATTERS_DROPPED], 1);
    //  the name is the host's now: neither the stranger nor another token
    //  holder takes it
    s_expect (stranger, "10.6.6.6", "web-1", "prod", NULL, "refused", "belongs to another key");
    s_expect (late, "10.0.0.2", "web-1", "prod", "web-secret", "refused", "belongs to another key");
    free (stranger);
    free (host);
    free (late);
}

Test (enroll, a_pending_key_is_accepted_by_a_valid_token_only)
{
    s_token ("t", "dev-secret", "dev", 3600000, 1);
    s_token ("p", "prod-secret", "prod", 3600000, -1);
    char *key = s_new_key ();
    s_expect (key, "10.0.0.1", "w-1", "dev", NULL, "pending", NULL);
    s_expect (key, "10.0.0.1", "w-1", "dev", "prod-secret", "pending", "not for environment");
    char *state = s_state ("w-1");
    cr_assert_str_eq (state, "pending");
    free (state);
    s_expect (key, "10.0.0.1", "w-1", "dev", "dev-secret", "accepted", NULL);
    ctl_enroll_token_t *token = NULL;
    char hash[65];
    ctl_agents_token_hash ("dev-secret", hash);
    cr_assert_eq (ctl_agents_repo_token_by_hash (s_store, hash, &token), 0);
    cr_assert_eq (token->uses_left, 0, "the use was spent");
    ctl_enroll_token_destroy (&token);
    free (key);
}

Test (enroll, accepted_keys_are_kept_until_a_decision_or_a_rollback)
{
    s_token ("t", "dev-secret", "dev", 3600000, -1);
    char *key = s_new_key ();
    s_expect (key, "10.0.0.1", "w-1", "dev", "dev-secret", "accepted", NULL);
    zframe_t *route = zframe_new ("r", 1);
    cr_assert_not_null (route);
    char *name = ctl_agents_accepted (s_agents, key, route, -1);
    cr_assert_str_eq (name ? name : "(null)", "w-1");
    free (name);
    //  kept in memory: a change behind ctl_agents' back (a rolled-back
    //  transaction leaves the same gap) is not seen until it forgets
    cr_assert_eq (ctl_agents_repo_set_state (s_store, "w-1", "rejected"), 0);
    name = ctl_agents_accepted (s_agents, key, route, -1);
    cr_assert_str_eq (name ? name : "(null)", "w-1");
    free (name);
    ctl_agents_forget_accepted (s_agents);
    uint64_t refused = s_counters.value[CTL_COUNT_AGENT_NOT_ACCEPTED];
    cr_assert_null (ctl_agents_accepted (s_agents, key, route, -1));
    cr_assert_eq (s_counters.value[CTL_COUNT_AGENT_NOT_ACCEPTED], refused + 1);
    //  accepted again, then removed: the removal is seen at once
    const char *state = NULL;
    char err[256] = "";
    cr_assert_eq (ctl_agents_decide (s_agents, "w-1", "accept", &state, err, sizeof err), 0, "%s",
                  err);
    name = ctl_agents_accepted (s_agents, key, route, -1);
    cr_assert_str_eq (name ? name : "(null)", "w-1");
    free (name);
    cr_assert_eq (ctl_agents_decide (s_agents, "w-1", "remove", &state, err, sizeof err), 0, "%s",
                  err);
    cr_assert_str_eq (state, "removed");
    cr_assert_null (ctl_agents_accepted (s_agents, key, route, -1),
                    "a removed agent's key was still taken as accepted");
    zframe_destroy (&route);
    free (key);
}

Test (enroll, an_operator_key_cannot_enroll_as_an_agent)
{
    ctl_operator_t *admin = NULL;
    cr_assert_eq (ctl_agents_repo_operator_by_name (s_store, "admin", &admin), 0);
    s_expect (admin->public_key, "10.0.0.1", "admin-host", "dev", s_init_token, "refused",
              "operator");
    s_expect (admin->public_key, "10.0.0.1", "admin-host", "dev", NULL, "refused", "operator");
    cr_assert_null (s_state ("admin-host"));
    ctl_agent_t *agent = NULL;
    cr_assert_eq (ctl_agents_repo_by_key (s_store, admin->public_key, &agent), 1);
    ctl_operator_destroy (&admin);
}

Test (enroll, fingerprints_are_the_key_id_in_hex)
{
    char fingerprint[CTL_FINGERPRINT_LEN + 1];
    jad_keypair_t *pair = jad_keypair_new (JAD_KEY_CURVE);
    uint8_t id[8];
    char expected[17];
    jad_key_id (jad_keypair_public (pair), id);
    jad_hex (id, sizeof id, expected);
    cr_assert_str_eq (ctl_agents_fingerprint (jad_keypair_public_txt (pair), fingerprint),
                      expected);
    cr_assert_eq (strlen (fingerprint), CTL_FINGERPRINT_LEN);
    cr_assert_str_eq (ctl_agents_fingerprint ("not a key", fingerprint), "?");
    jad_keypair_destroy (&pair);
}
