//  jad_merkle - a keyed Merkle tree over a list of names, and its proofs
//  SPDX-License-Identifier: MPL-2.0
//
//  A plan commits to its targets by the root of this tree and their count
//  (docs/protocol.md, "Targets"); each target gets the sibling hashes
//  from its leaf to the root, its membership proof, and checks it
//  against the signed root. Hashes are keyed BLAKE2b-256
//  (crypto_generichash, 32-byte key): the key binds a tree to one plan
//  and sequence, so a proof made for another plan never verifies.
//
//      leaf = H_key (0x00 || name)
//      node = H_key (0x01 || left || right)
//
//  The prefixes keep a leaf from ever being read as a node (second
//  preimage). Level by level from the leaves, nodes are paired left to
//  right; a lone last node of an odd level moves up unchanged (the
//  shape of RFC 9162's tree: the left subtree holds the largest power of
//  two below the count). A proof is therefore ceil(log2 count) hashes at
//  most, fewer where the path crosses lone nodes, and is checked with the
//  leaf's index and the tree's count: both decide where each sibling
//  goes, and a proof must use every sibling it carries.

#ifndef JAD_MERKLE_H_INCLUDED
#define JAD_MERKLE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define JAD_MERKLE_HASH       32          //  bytes of a key, a leaf, a node, a root
#define JAD_MERKLE_MAX_DEPTH  32          //  siblings in a proof, at most
#define JAD_MERKLE_MAX_LEAVES (1u << 24)  //  leaves in a tree, at most

typedef struct _jad_merkle_t jad_merkle_t;

//  Build the tree of `count` leaves (1..JAD_MERKLE_MAX_LEAVES), leaves[i]
//  a NUL-terminated name, in the order given, keyed with `key`
//  (JAD_MERKLE_HASH bytes, copied). Returns NULL on a bad count or out
//  of memory. Caller owns the result.
jad_merkle_t *jad_merkle_new (const uint8_t *key, const char *const *leaves, size_t count);

//  Destroy the tree; accepts NULL, nulls the pointer.
void jad_merkle_destroy (jad_merkle_t **self_p);

//  The root (JAD_MERKLE_HASH bytes, borrowed).
const uint8_t *jad_merkle_root (const jad_merkle_t *self);

//  Number of leaves.
size_t jad_merkle_count (const jad_merkle_t *self);

//  Write the proof of leaf `index` (its siblings, bottom up) into
//  `siblings`, which holds JAD_MERKLE_MAX_DEPTH * JAD_MERKLE_HASH bytes.
//  Returns the number of siblings written (0 for a tree of one leaf), or
//  -1 if index is out of range.
int jad_merkle_proof (const jad_merkle_t *self, size_t index, uint8_t *siblings);

//  True if `leaf` (NUL-terminated) is leaf `index` of a tree of `count`
//  leaves with `root`, keyed with `key`, as proven by `sibling_count`
//  siblings (sibling_count * JAD_MERKLE_HASH bytes at `siblings`). False
//  for any other proof: another leaf, index, count, key or root, a
//  changed, missing or extra sibling, or arguments out of range.
bool jad_merkle_verify (const uint8_t *key, const uint8_t *root, size_t count, size_t index,
                        const char *leaf, const uint8_t *siblings, size_t sibling_count);

#ifdef __cplusplus
}
#endif

#endif
