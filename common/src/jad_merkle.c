//  jad_merkle - a keyed Merkle tree over a list of names, and its proofs
//  SPDX-License-Identifier: MPL-2.0
//
//  The tree is kept as its levels, bottom up, in one array of hashes:
//  level 0 holds the leaves, each next level (size + 1) / 2 nodes, the
//  last level the root. A proof walks up from a leaf taking the other
//  node of its pair when there is one; the verifier replays the same
//  walk from the index and the count, so both agree on where a lone node
//  moves up without a sibling.

#include "jad_merkle.h"

#include <assert.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define LEVELS_MAX (JAD_MERKLE_MAX_DEPTH + 1)

struct _jad_merkle_t {
    uint8_t key[JAD_MERKLE_HASH];  //  the hash key (per plan and sequence)
    size_t count;                  //  leaves
    size_t levels;                 //  levels, leaves to root (1 for one leaf)
    size_t size[LEVELS_MAX];       //  nodes of each level
    size_t first[LEVELS_MAX];      //  index in `nodes` of each level's first node
    uint8_t *nodes;                //  every level's hashes, JAD_MERKLE_HASH bytes each
};

//  H_key (0x00 || name). Returns 0 or -1.
static int s_leaf (const uint8_t *key, const char *name, uint8_t *out)
{
    static const uint8_t prefix = 0x00;
    crypto_generichash_state state;
    if (crypto_generichash_init (&state, key, JAD_MERKLE_HASH, JAD_MERKLE_HASH) != 0 ||
        crypto_generichash_update (&state, &prefix, 1) != 0 ||
        crypto_generichash_update (&state, (const uint8_t *)name, strlen (name)) != 0 ||
        crypto_generichash_final (&state, out, JAD_MERKLE_HASH) != 0)
        return -1;
    return 0;
}

//  H_key (0x01 || left || right); out may be left or right (read first).
static int s_node (const uint8_t *key, const uint8_t *left, const uint8_t *right, uint8_t *out)
{
    static const uint8_t prefix = 0x01;
    crypto_generichash_state state;
    if (crypto_generichash_init (&state, key, JAD_MERKLE_HASH, JAD_MERKLE_HASH) != 0 ||
        crypto_generichash_update (&state, &prefix, 1) != 0 ||
        crypto_generichash_update (&state, left, JAD_MERKLE_HASH) != 0 ||
        crypto_generichash_update (&state, right, JAD_MERKLE_HASH) != 0 ||
        crypto_generichash_final (&state, out, JAD_MERKLE_HASH) != 0)
        return -1;
    return 0;
}

static uint8_t *s_at (const jad_merkle_t *self, size_t level, size_t index)
{
    return self->nodes + (self->first[level] + index) * JAD_MERKLE_HASH;
}

jad_merkle_t *jad_merkle_new (const uint8_t *key, const char *const *leaves, size_t count)
{
    assert (key);
    if (!leaves || count == 0 || count > JAD_MERKLE_MAX_LEAVES)
        return NULL;
    jad_merkle_t *self = (jad_merkle_t *)calloc (1, sizeof (jad_merkle_t));
    if (!self)
        return NULL;
    memcpy (self->key, key, JAD_MERKLE_HASH);
    self->count = count;
    size_t total = 0;
    for (size_t size = count;; size = (size + 1) / 2) {
        self->size[self->levels] = size;
        self->first[self->levels] = total;
        self->levels++;
        total += size;
        if (size == 1)
            break;
    }
    self->nodes = (uint8_t *)malloc (total * JAD_MERKLE_HASH);
    if (!self->nodes)
        goto failed;
    for (size_t index = 0; index < count; index++)
        if (!leaves[index] || s_leaf (self->key, leaves[index], s_at (self, 0, index)))
            goto failed;
    for (size_t level = 0; level + 1 < self->levels; level++)
        for (size_t index = 0; index < self->size[level + 1]; index++) {
            uint8_t *out = s_at (self, level + 1, index);
            if (2 * index + 1 < self->size[level]) {
                if (s_node (self->key, s_at (self, level, 2 * index),
                            s_at (self, level, 2 * index + 1), out))
                    goto failed;
            } else  //  the lone last node moves up unchanged
                memcpy (out, s_at (self, level, 2 * index), JAD_MERKLE_HASH);
        }
    return self;

failed:
    jad_merkle_destroy (&self);
    return NULL;
}

void jad_merkle_destroy (jad_merkle_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_merkle_t *self = *self_p;
    free (self->nodes);
    free (self);
    *self_p = NULL;
}

const uint8_t *jad_merkle_root (const jad_merkle_t *self)
{
    assert (self);
    return s_at (self, self->levels - 1, 0);
}

size_t jad_merkle_count (const jad_merkle_t *self)
{
    assert (self);
    return self->count;
}

int jad_merkle_proof (const jad_merkle_t *self, size_t index, uint8_t *siblings)
{
    assert (self);
    assert (siblings);
    if (index >= self->count)
        return -1;
    int used = 0;
    for (size_t level = 0; level + 1 < self->levels; level++, index >>= 1)
        if ((index ^ 1) < self->size[level])
            memcpy (siblings + JAD_MERKLE_HASH * (size_t)used++, s_at (self, level, index ^ 1),
                    JAD_MERKLE_HASH);
    return used;
}

bool jad_merkle_verify (const uint8_t *key, const uint8_t *root, size_t count, size_t index,
                        const char *leaf, const uint8_t *siblings, size_t sibling_count)
{
    if (!key || !root || !leaf || count == 0 || count > JAD_MERKLE_MAX_LEAVES || index >= count ||
        sibling_count > JAD_MERKLE_MAX_DEPTH || (sibling_count && !siblings))
        return false;
    uint8_t hash[JAD_MERKLE_HASH];
    if (s_leaf (key, leaf, hash))
        return false;
    size_t used = 0;
    for (size_t size = count; size > 1; size = (size + 1) / 2, index >>= 1) {
        if ((index ^ 1) >= size)
            continue;  //  the lone last node of this level: no sibling
        if (used == sibling_count)
            return false;  //  the proof is too short
        const uint8_t *sibling = siblings + JAD_MERKLE_HASH * used++;
        int rc =
            (index & 1) ? s_node (key, sibling, hash, hash) : s_node (key, hash, sibling, hash);
        if (rc)
            return false;
    }
    //  every sibling must have been used: extra bytes are not a proof
    return used == sibling_count && sodium_memcmp (hash, root, JAD_MERKLE_HASH) == 0;
}
