//  test_merkle - the keyed Merkle tree of plan targets: known answers for
//  the leaf and node prefixes, every proof of trees of 1 to 70 leaves and
//  of 1,000, and proofs that must fail (tampered, short, long, another
//  leaf, index, key or root)
//  SPDX-License-Identifier: MPL-2.0

#include "jad_merkle.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HASH JAD_MERKLE_HASH

static uint8_t s_key[HASH];

static void s_setup (void)
{
    cr_assert (sodium_init () >= 0);
    for (size_t index = 0; index < HASH; index++)
        s_key[index] = (uint8_t)(index * 7 + 1);
}

TestSuite (merkle, .init = s_setup);

//  count names "host-0000", "host-0001"...; free with s_names_free.
static char **s_names (size_t count)
{
    char **names = calloc (count, sizeof (char *));
    cr_assert_not_null (names);
    for (size_t index = 0; index < count; index++) {
        names[index] = malloc (32);
        cr_assert_not_null (names[index]);
        snprintf (names[index], 32, "host-%04zu", index);
    }
    return names;
}

static void s_names_free (char **names, size_t count)
{
    for (size_t index = 0; index < count; index++)
        free (names[index]);
    free (names);
}

//  The hashes written out by hand, independently of jad_merkle.c.
static void s_leaf (const char *name, uint8_t *out)
{
    uint8_t buffer[64];
    size_t len = strlen (name);
    cr_assert_lt (len, sizeof buffer);
    buffer[0] = 0x00;
    memcpy (buffer + 1, name, len);
    cr_assert_eq (crypto_generichash (out, HASH, buffer, len + 1, s_key, HASH), 0);
}

static void s_node (const uint8_t *left, const uint8_t *right, uint8_t *out)
{
    uint8_t buffer[1 + 2 * HASH];
    buffer[0] = 0x01;
    memcpy (buffer + 1, left, HASH);
    memcpy (buffer + 1 + HASH, right, HASH);
    cr_assert_eq (crypto_generichash (out, HASH, buffer, sizeof buffer, s_key, HASH), 0);
}

//  The number of siblings a proof of `index` must have in a tree of
//  `count` leaves: one per level where the node is not the lone last one.
static int s_expected_depth (size_t count, size_t index)
{
    int depth = 0;
    for (size_t size = count; size > 1; size = (size + 1) / 2, index >>= 1)
        depth += (index ^ 1) < size;
    return depth;
}

Test (merkle, one_leaf_is_its_own_root)
{
    const char *names[] = {"web-1"};
    jad_merkle_t *tree = jad_merkle_new (s_key, names, 1);
    cr_assert_not_null (tree);
    uint8_t leaf[HASH];
    s_leaf ("web-1", leaf);
    cr_assert_arr_eq (jad_merkle_root (tree), leaf, HASH);
    uint8_t siblings[JAD_MERKLE_MAX_DEPTH * HASH];
    cr_assert_eq (jad_merkle_proof (tree, 0, siblings), 0);
    cr_assert (jad_merkle_verify (s_key, leaf, 1, 0, "web-1", NULL, 0));
    cr_assert_not (jad_merkle_verify (s_key, leaf, 1, 0, "web-2", NULL, 0));
    cr_assert_eq (jad_merkle_proof (tree, 1, siblings), -1);
    jad_merkle_destroy (&tree);
    jad_merkle_destroy (&tree);
    cr_assert_null (tree);
}

Test (merkle, two_and_three_leaves_match_the_hashes_written_out)
{
    const char *names[] = {"a", "b", "c"};
    uint8_t leaf_a[HASH], leaf_b[HASH], leaf_c[HASH], ab[HASH], abc[HASH];
    s_leaf ("a", leaf_a);
    s_leaf ("b", leaf_b);
    s_leaf ("c", leaf_c);
    s_node (leaf_a, leaf_b, ab);
    s_node (ab, leaf_c, abc);  //  c is lone on its level: it moves up unchanged

    jad_merkle_t *tree = jad_merkle_new (s_key, names, 2);
    cr_assert_arr_eq (jad_merkle_root (tree), ab, HASH);
    jad_merkle_destroy (&tree);

    tree = jad_merkle_new (s_key, names, 3);
    cr_assert_not_null (tree);
    cr_assert_arr_eq (jad_merkle_root (tree), abc, HASH);
    uint8_t siblings[JAD_MERKLE_MAX_DEPTH * HASH];
    //  a: b then c; c: ab alone (no sibling on the leaf level)
    cr_assert_eq (jad_merkle_proof (tree, 0, siblings), 2);
    cr_assert_arr_eq (siblings, leaf_b, HASH);
    cr_assert_arr_eq (siblings + HASH, leaf_c, HASH);
    cr_assert_eq (jad_merkle_proof (tree, 2, siblings), 1);
    cr_assert_arr_eq (siblings, ab, HASH);
    cr_assert (jad_merkle_verify (s_key, abc, 3, 2, "c", siblings, 1));
    jad_merkle_destroy (&tree);
}

Test (merkle, a_leaf_is_never_read_as_a_node)
{
    //  Without the prefixes, the node over (a, b) would be the leaf of the
    //  64 bytes a||b: with them, the two differ whatever the content.
    uint8_t leaf_a[HASH], leaf_b[HASH], node[HASH], as_leaf[HASH];
    s_leaf ("a", leaf_a);
    s_leaf ("b", leaf_b);
    s_node (leaf_a, leaf_b, node);
    uint8_t joined[2 * HASH];
    memcpy (joined, leaf_a, HASH);
    memcpy (joined + HASH, leaf_b, HASH);
    cr_assert_eq (crypto_generichash (as_leaf, HASH, joined, sizeof joined, s_key, HASH), 0);
    cr_assert_arr_neq (node, as_leaf, HASH);
    //  and a two-leaf tree's root is not the one-leaf tree of either name
    const char *names[] = {"a", "b"};
    jad_merkle_t *tree = jad_merkle_new (s_key, names, 2);
    cr_assert_arr_eq (jad_merkle_root (tree), node, HASH);
    cr_assert_not (jad_merkle_verify (s_key, jad_merkle_root (tree), 1, 0, "a", NULL, 0));
    jad_merkle_destroy (&tree);
}

//  Every leaf of a tree of `count` proves itself, with the expected
//  number of siblings, and no other leaf's name or index passes.
static void s_check_every_proof (size_t count)
{
    char **names = s_names (count);
    jad_merkle_t *tree = jad_merkle_new (s_key, (const char *const *)names, count);
    cr_assert_not_null (tree, "count %zu", count);
    cr_assert_eq (jad_merkle_count (tree), count);
    const uint8_t *root = jad_merkle_root (tree);
    uint8_t siblings[JAD_MERKLE_MAX_DEPTH * HASH];
    for (size_t index = 0; index < count; index++) {
        int depth = jad_merkle_proof (tree, index, siblings);
        cr_assert_eq (depth, s_expected_depth (count, index), "count %zu index %zu", count, index);
        cr_assert (
            jad_merkle_verify (s_key, root, count, index, names[index], siblings, (size_t)depth),
            "count %zu index %zu", count, index);
        size_t other = (index + 1) % count;
        if (other != index) {
            cr_assert_not (jad_merkle_verify (s_key, root, count, index, names[other], siblings,
                                              (size_t)depth),
                           "another leaf's name passed: count %zu index %zu", count, index);
            cr_assert_not (jad_merkle_verify (s_key, root, count, other, names[index], siblings,
                                              (size_t)depth),
                           "another index passed: count %zu index %zu", count, index);
        }
    }
    jad_merkle_destroy (&tree);
    s_names_free (names, count);
}

Test (merkle, every_proof_of_1_to_70_leaves_verifies)
{
    for (size_t count = 1; count <= 70; count++)
        s_check_every_proof (count);
}

Test (merkle, every_proof_of_1000_leaves_verifies_in_10_hashes)
{
    s_check_every_proof (1000);
    cr_assert_eq (s_expected_depth (1000, 0), 10);
    cr_assert_eq (s_expected_depth (1000, 999), 8);  //  999 is lone on two levels
}

Test (merkle, tampered_proofs_fail)
{
    const size_t count = 1000;
    char **names = s_names (count);
    jad_merkle_t *tree = jad_merkle_new (s_key, (const char *const *)names, count);
    cr_assert_not_null (tree);
    const uint8_t *root = jad_merkle_root (tree);
    uint8_t siblings[(JAD_MERKLE_MAX_DEPTH + 1) * HASH];
    const size_t leaves[] = {0, 1, 500, 998, 999};
    for (size_t pick = 0; pick < sizeof leaves / sizeof leaves[0]; pick++) {
        size_t index = leaves[pick];
        int depth = jad_merkle_proof (tree, index, siblings);
        cr_assert_gt (depth, 0);
        //  one bit changed in any sibling
        for (int sibling = 0; sibling < depth; sibling++) {
            siblings[sibling * HASH + 5] ^= 0x10;
            cr_assert_not (jad_merkle_verify (s_key, root, count, index, names[index], siblings,
                                              (size_t)depth),
                           "index %zu sibling %d", index, sibling);
            siblings[sibling * HASH + 5] ^= 0x10;
        }
        //  a sibling short, a sibling too many
        cr_assert_not (jad_merkle_verify (s_key, root, count, index, names[index], siblings,
                                          (size_t)depth - 1));
        memset (siblings + (size_t)depth * HASH, 0, HASH);
        cr_assert_not (jad_merkle_verify (s_key, root, count, index, names[index], siblings,
                                          (size_t)depth + 1));
        //  two siblings swapped
        if (depth >= 2) {
            uint8_t first[HASH];
            memcpy (first, siblings, HASH);
            memcpy (siblings, siblings + HASH, HASH);
            memcpy (siblings + HASH, first, HASH);
            cr_assert_not (jad_merkle_verify (s_key, root, count, index, names[index], siblings,
                                              (size_t)depth));
            memcpy (siblings + HASH, siblings, HASH);
            memcpy (siblings, first, HASH);
        }
        //  still good after the repairs
        cr_assert (
            jad_merkle_verify (s_key, root, count, index, names[index], siblings, (size_t)depth));
        //  another key (another plan or sequence), another root
        uint8_t other[HASH];
        memcpy (other, s_key, HASH);
        other[0] ^= 1;
        cr_assert_not (
            jad_merkle_verify (other, root, count, index, names[index], siblings, (size_t)depth));
        memcpy (other, root, HASH);
        other[HASH - 1] ^= 1;
        cr_assert_not (
            jad_merkle_verify (s_key, other, count, index, names[index], siblings, (size_t)depth));
    }
    jad_merkle_destroy (&tree);
    s_names_free (names, count);
}

Test (merkle, a_proof_for_another_plan_fails)
{
    //  Same targets, another key (the key is drawn from the plan id and
    //  sequence): same shape, other hashes.
    const char *names[] = {"web-1", "web-2", "web-3", "web-4", "web-5"};
    uint8_t other_key[HASH];
    memset (other_key, 0x42, HASH);
    jad_merkle_t *mine = jad_merkle_new (s_key, names, 5);
    jad_merkle_t *theirs = jad_merkle_new (other_key, names, 5);
    cr_assert (mine && theirs);
    cr_assert_arr_neq (jad_merkle_root (mine), jad_merkle_root (theirs), HASH);
    uint8_t siblings[JAD_MERKLE_MAX_DEPTH * HASH];
    int depth = jad_merkle_proof (theirs, 1, siblings);
    cr_assert_eq (depth, 3);
    cr_assert_not (
        jad_merkle_verify (s_key, jad_merkle_root (mine), 5, 1, "web-2", siblings, (size_t)depth));
    cr_assert (jad_merkle_verify (other_key, jad_merkle_root (theirs), 5, 1, "web-2", siblings,
                                  (size_t)depth));
    jad_merkle_destroy (&mine);
    jad_merkle_destroy (&theirs);
}

Test (merkle, arguments_out_of_range_are_refused)
{
    const char *names[] = {"a", "b"};
    cr_assert_null (jad_merkle_new (s_key, names, 0));
    cr_assert_null (jad_merkle_new (s_key, NULL, 2));
    const char *holes[] = {"a", NULL};
    cr_assert_null (jad_merkle_new (s_key, holes, 2));
    jad_merkle_t *tree = jad_merkle_new (s_key, names, 2);
    const uint8_t *root = jad_merkle_root (tree);
    uint8_t siblings[JAD_MERKLE_MAX_DEPTH * HASH];
    cr_assert_eq (jad_merkle_proof (tree, 0, siblings), 1);
    cr_assert (jad_merkle_verify (s_key, root, 2, 0, "a", siblings, 1));
    cr_assert_not (jad_merkle_verify (s_key, root, 2, 2, "a", siblings, 1));
    cr_assert_not (jad_merkle_verify (s_key, root, 0, 0, "a", siblings, 1));
    cr_assert_not (jad_merkle_verify (s_key, root, 2, 0, "a", NULL, 1));
    cr_assert_not (jad_merkle_verify (s_key, root, 2, 0, NULL, siblings, 1));
    cr_assert_not (jad_merkle_verify (s_key, root, JAD_MERKLE_MAX_LEAVES + 1, 0, "a", siblings, 1));
    cr_assert_not (jad_merkle_verify (s_key, root, 2, 0, "a", siblings, JAD_MERKLE_MAX_DEPTH + 1));
    jad_merkle_destroy (&tree);
}
