//  fuzz_seeds - the plan seeds of the fuzz corpus, made by the encoders
//  SPDX-License-Identifier: MPL-2.0
//
//  Usage: fuzz_seeds --write CORPUS   write the seeds into CORPUS/TARGET/
//         fuzz_seeds --check CORPUS   exit 1, naming each seed, if the
//                                     committed seeds differ from these
//
//  Plans are protocol 2 (docs/protocol.md, "Targets"): the payload signs
//  the root and the count of its targets, and the envelope an agent gets
//  carries its membership proof. The envelopes are signed with the key
//  fuzz_envelope opens them with (seed {7}) and prove "host-1", the agent
//  fuzz_envelope admits them for, so that the fuzzer starts from plans
//  that pass every check and mutates from there. Ed25519 signatures and
//  the Merkle tree are deterministic: the same encoders make the same
//  bytes, and ctest's fuzz.seeds checks the corpus is not stale and that
//  every envelope seed passes fuzz_envelope's checks.

#include "jad_envelope.h"
#include "jad_keys.h"
#include "jad_merkle.h"
#include "jad_util.h"
#include "jad_wire.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The seed files: NAME under TARGET, first byte `selector` (the fuzz
//  target's switch), then the bytes.
typedef struct {
    const char *target;
    const char *name;
    uint8_t selector;
    zchunk_t *bytes;
} s_seed_t;

//  A plan with fuzz_envelope's fixed fields (env dev, sequence 4, issued
//  at 1700000000000 and valid for 5 minutes) and `count` targets named
//  host-1..host-COUNT. Caller owns it.
static jad_plan_t *s_plan (size_t count)
{
    jad_plan_t *plan = calloc (1, sizeof (jad_plan_t));
    if (!plan)
        return NULL;
    plan->plan_id = strdup ("p1");
    plan->environment = strdup ("dev");
    plan->targets = calloc (count, sizeof (char *));
    plan->target_count = count;
    for (size_t index = 0; plan->targets && index < count; index++)
        plan->targets[index] = jad_strdup_printf ("host-%zu", index + 1);
    plan->sequence = 4;
    plan->issued_at = 1700000000000;
    plan->expires_at = 1700000300000;
    plan->app = strdup ("web");
    plan->version = strdup ("1.0");
    memset (plan->artifact_sha256, 0x11, sizeof plan->artifact_sha256);
    plan->artifact_length = 1234;
    plan->kind = JAD_PLAN_DEPLOY;
    plan->strategy = strdup ("all");
    plan->hook_timeout_ms = 30000;
    plan->step_deadline_ms = 600000;
    return plan;
}

//  The payload of `plan` (its targets committed) and its envelope as sent
//  to host-1, with host-1's proof. Returns 0 or -1.
static int s_encode (jad_plan_t *plan, const jad_keypair_t *signer, zchunk_t **payload_p,
                     zchunk_t **envelope_p)
{
    char err[JAD_ERR_LEN];
    jad_merkle_t *tree = jad_plan_commit (plan, err);  //  sorts the names
    if (!tree) {
        fprintf (stderr, "fuzz_seeds: %s\n", err);
        return -1;
    }
    size_t leaf = 0;
    while (leaf < plan->target_count && !streq (plan->targets[leaf], "host-1"))
        leaf++;
    zchunk_t *payload = jad_plan_encode (plan);
    jad_envelope_t *envelope = payload ? jad_envelope_sign (JAD_PAYLOAD_PLAN, zchunk_data (payload),
                                                            zchunk_size (payload), signer)
                                       : NULL;
    int rc = -1;
    if (envelope && (envelope->proof = malloc (JAD_MERKLE_MAX_DEPTH * JAD_MERKLE_HASH))) {
        int depth = jad_merkle_proof (tree, leaf, envelope->proof);
        if (depth >= 0) {
            envelope->proof_index = (uint32_t)leaf;
            envelope->proof_count = (size_t)depth;
            *envelope_p = jad_envelope_encode (envelope);
            *payload_p = payload;
            payload = NULL;
            rc = *envelope_p ? 0 : -1;
        }
    }
    jad_envelope_destroy (&envelope);
    zchunk_destroy (&payload);
    jad_merkle_destroy (&tree);
    return rc;
}

//  The ControllerMsg that carries `envelope_bytes` to its agent.
static zchunk_t *s_ctl_plan (zchunk_t *envelope_bytes)
{
    char err[JAD_ERR_LEN];
    jad_envelope_t *envelope =
        jad_envelope_decode (zchunk_data (envelope_bytes), zchunk_size (envelope_bytes), err);
    if (!envelope)
        return NULL;
    jad_ctl_msg_t message = {.kind = JAD_CTL_MSG_PLAN, .plan = envelope};
    zchunk_t *bytes = jad_ctl_msg_encode (&message);
    jad_envelope_destroy (&envelope);
    return bytes;
}

//  The seeds, into seeds[] (at most `max`); returns how many, or -1.
static int s_make (const jad_keypair_t *signer, s_seed_t *seeds, int max)
{
    int made = 0;
    //  plan: a deploy to host-1 and host-2; plan-deep: to 1000 hosts (a
    //  proof of 10 hashes); rollback: a rollback with a URL artifact;
    //  floor: a release below its app's security floor
    const char *names[] = {"plan", "plan-deep", "rollback", "floor"};
    for (int which = 0; which < 4; which++) {
        jad_plan_t *plan = s_plan (which == 1 ? 1000 : which == 3 ? 1 : 2);
        if (!plan)
            return -1;
        if (which == 2) {
            plan->kind = JAD_PLAN_ROLLBACK;
            plan->artifact_url = strdup ("https://example.com/web-1.0.tar.gz");
            plan->undoes = strdup ("p0");
        } else if (which == 3) {
            free (plan->version);
            plan->version = strdup ("3.0");
            memset (plan->artifact_sha256, 0, sizeof plan->artifact_sha256);
            plan->artifact_length = 10;
            plan->kind = JAD_PLAN_ROLLBACK;
            free (plan->strategy);
            plan->strategy = NULL;
            plan->hook_timeout_ms = 0;
            plan->step_deadline_ms = 0;
            plan->release_counter = 3;
            plan->min_release_counter = 5;
        }
        zchunk_t *payload = NULL, *envelope = NULL;
        int rc = s_encode (plan, signer, &payload, &envelope);
        jad_plan_destroy (&plan);
        if (rc != 0 || made + 3 > max)
            return -1;
        char *name = jad_strdup_printf ("%s-envelope", names[which]);
        seeds[made++] = (s_seed_t){"fuzz_envelope", name, 0, envelope};
        if (which != 1) {
            name = jad_strdup_printf ("%s-payload", names[which]);
            seeds[made++] = (s_seed_t){"fuzz_envelope", name, 1, payload};
        } else
            zchunk_destroy (&payload);
        if (which == 0) {
            zchunk_t *message = s_ctl_plan (envelope);
            if (!message)
                return -1;
            seeds[made++] = (s_seed_t){"fuzz_wire", strdup ("ctl-plan"), 1, message};
        }
    }
    return made;
}

//  True if the envelope `bytes` opens with the signer's key and is
//  admitted for host-1 as fuzz_envelope admits it: the fuzzer starts
//  past every check.
static bool s_admitted (zchunk_t *bytes, const jad_keypair_t *signer)
{
    char err[JAD_ERR_LEN];
    jad_verify_t result;
    jad_plan_t *plan = jad_envelope_open_plan (zchunk_data (bytes), zchunk_size (bytes),
                                               jad_keypair_public (signer), &result, err);
    bool admitted =
        plan && jad_plan_admit (plan, "dev", "host-1", 3, 1700000000000, 300000, err) == 0;
    jad_plan_destroy (&plan);
    return admitted;
}

int main (int argc, char **argv)
{
    if (argc != 3 || (!streq (argv[1], "--write") && !streq (argv[1], "--check"))) {
        fprintf (stderr, "usage: fuzz_seeds --write|--check CORPUS_DIR\n");
        return 2;
    }
    bool check = streq (argv[1], "--check");
    uint8_t seed[32] = {7};
    jad_keypair_t *signer = sodium_init () < 0 ? NULL : jad_keypair_from_seed (seed);
    s_seed_t seeds[16];
    int count = signer ? s_make (signer, seeds, 16) : -1;
    if (count < 0) {
        fprintf (stderr, "fuzz_seeds: cannot make the seeds\n");
        jad_keypair_destroy (&signer);
        return 1;
    }
    int status = 0;
    for (int index = 0; index < count; index++) {
        s_seed_t *item = &seeds[index];
        char path[4096];
        snprintf (path, sizeof path, "%s/%s/%s", argv[2], item->target, item->name);
        size_t size = zchunk_size (item->bytes) + 1;
        uint8_t *bytes = malloc (size);
        if (!bytes) {
            status = 1;
            break;
        }
        bytes[0] = item->selector;
        memcpy (bytes + 1, zchunk_data (item->bytes), size - 1);
        if (check && item->selector == 0 && !s_admitted (item->bytes, signer)) {
            fprintf (stderr, "fuzz_seeds: %s does not pass fuzz_envelope's checks\n", path);
            status = 1;
        }
        if (check) {
            size_t have = 0;
            char *committed = jad_file_read (path, 1 << 20, &have);
            if (!committed || have != size || memcmp (committed, bytes, size) != 0) {
                fprintf (stderr,
                         "fuzz_seeds: %s is stale (the encoders make other bytes now): "
                         "run 'fuzz_seeds --write tests/fuzz/corpus'\n",
                         path);
                status = 1;
            }
            free (committed);
        } else {
            FILE *file = fopen (path, "wb");
            if (!file || fwrite (bytes, 1, size, file) != size) {
                fprintf (stderr, "fuzz_seeds: cannot write %s\n", path);
                status = 1;
            }
            if (file && fclose (file) != 0)
                status = 1;
        }
        free (bytes);
    }
    for (int index = 0; index < count; index++) {
        free ((char *)seeds[index].name);
        zchunk_destroy (&seeds[index].bytes);
    }
    jad_keypair_destroy (&signer);
    if (status == 0)
        printf ("fuzz_seeds: %d seeds %s\n", count, check ? "match" : "written");
    return status;
}
