//  test_keys - key pairs, key files (mode, format, errors), secret
//  handling, printed-key decoding and process hardening
//  SPDX-License-Identifier: MPL-2.0

#include "jad_keys.h"
#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char *s_dir;

static void s_setup (void)
{
    cr_assert (sodium_init () >= 0);
    s_dir = jt_tempdir ("jad-keys");
}

static void s_teardown (void)
{
    jt_rmtree (s_dir);
    free (s_dir);
}

TestSuite (keys, .init = s_setup, .fini = s_teardown);

//  DIR/name; caller frees.
static char *s_path (const char *name)
{
    char *path = NULL;
    cr_assert (asprintf (&path, "%s/%s", s_dir, name) > 0);
    return path;
}

//  Write text as a key file with mode; returns the path (caller frees).
static char *s_write (const char *name, const char *text, int mode)
{
    char *path = s_path (name);
    jt_write_file (path, text, mode);
    return path;
}

//  Save a new pair of kind, load it back and compare every part.
static void s_roundtrip (jad_key_kind_t kind)
{
    jad_keypair_t *pair = jad_keypair_new (kind);
    cr_assert_not_null (pair);
    char *path = s_path (kind == JAD_KEY_ED25519 ? "sign.key" : "curve.key");
    char err[256] = "";
    cr_assert_eq (jad_keypair_save (pair, path, err, sizeof (err)), 0, "%s", err);
    jad_keypair_t *loaded = jad_keypair_load (path, err, sizeof (err));
    cr_assert_not_null (loaded, "%s", err);
    cr_assert_eq (jad_keypair_kind (loaded), kind);
    cr_assert_eq (memcmp (jad_keypair_public (loaded), jad_keypair_public (pair), 32), 0);
    size_t secret_size = kind == JAD_KEY_ED25519 ? 64 : 32;
    cr_assert_eq (memcmp (jad_keypair_secret (loaded), jad_keypair_secret (pair), secret_size), 0);
    cr_assert_str_eq (jad_keypair_public_txt (loaded), jad_keypair_public_txt (pair));
    jad_keypair_destroy (&loaded);
    jad_keypair_destroy (&pair);
    cr_assert_null (pair);
    jad_keypair_destroy (&pair);  //  safe twice
    free (path);
}

Test (keys, ed25519_save_load_roundtrip)
{
    s_roundtrip (JAD_KEY_ED25519);
}

Test (keys, curve_save_load_roundtrip)
{
    s_roundtrip (JAD_KEY_CURVE);
}

Test (keys, new_pairs_differ_and_print_as_documented)
{
    jad_keypair_t *first = jad_keypair_new (JAD_KEY_ED25519);
    jad_keypair_t *second = jad_keypair_new (JAD_KEY_ED25519);
    jad_keypair_t *curve = jad_keypair_new (JAD_KEY_CURVE);
    cr_assert (first && second && curve);
    cr_assert_neq (memcmp (jad_keypair_public (first), jad_keypair_public (second), 32), 0);
    cr_assert_eq (strlen (jad_keypair_public_txt (first)), 64);
    cr_assert_eq (strlen (jad_keypair_public_txt (curve)), 40);
    uint8_t decoded[32];
    cr_assert_eq (jad_key_from_hex (jad_keypair_public_txt (first), decoded), 0);
    cr_assert_eq (memcmp (decoded, jad_keypair_public (first), 32), 0);
    cr_assert_eq (jad_key_from_z85 (jad_keypair_public_txt (curve), decoded), 0);
    cr_assert_eq (memcmp (decoded, jad_keypair_public (curve), 32), 0);
    cr_assert_null (jad_keypair_curve_secret_z85 (first));
    cr_assert_null (jad_keypair_new ((jad_key_kind_t)7));
    jad_keypair_destroy (&first);
    jad_keypair_destroy (&second);
    jad_keypair_destroy (&curve);
}

Test (keys, saved_file_has_mode_0600_whatever_the_umask)
{
    mode_t old_umask = umask (0);
    jad_keypair_t *pair = jad_keypair_new (JAD_KEY_CURVE);
    char *path = s_path ("curve.key");
    char err[256] = "";
    cr_assert_eq (jad_keypair_save (pair, path, err, sizeof (err)), 0, "%s", err);
    umask (old_umask);
    struct stat info;
    cr_assert_eq (stat (path, &info), 0);
    cr_assert_eq (info.st_mode & 07777, 0600, "mode is %o", info.st_mode & 07777);
    //  and saving again replaces the file, still 0600, with no temp file left
    cr_assert_eq (jad_keypair_save (pair, path, err, sizeof (err)), 0, "%s", err);
    cr_assert_eq (stat (path, &info), 0);
    cr_assert_eq (info.st_mode & 07777, 0600);
    char *listing = NULL;
    cr_assert_eq (jt_run (&listing, "ls -A '%s'", s_dir), 0);
    cr_assert_str_eq (listing, "curve.key\n");
    free (listing);
    jad_keypair_destroy (&pair);
    free (path);
}

Test (keys, save_into_missing_directory_fails_with_reason)
{
    jad_keypair_t *pair = jad_keypair_new (JAD_KEY_ED25519);
    char *path = s_path ("no/such/dir/sign.key");
    char err[256] = "";
    cr_assert_eq (jad_keypair_save (pair, path, err, sizeof (err)), -1);
    cr_assert (strstr (err, "No such file or directory"), "%s", err);
    jad_keypair_destroy (&pair);
    free (path);
}

Test (keys, load_refuses_group_readable_file)
{
    jad_keypair_t *pair = jad_keypair_new (JAD_KEY_ED25519);
    char *path = s_path ("sign.key");
    char err[512] = "";
    cr_assert_eq (jad_keypair_save (pair, path, err, sizeof (err)), 0);
    cr_assert_eq (chmod (path, 0644), 0);
    cr_assert_null (jad_keypair_load (path, err, sizeof (err)));
    char *expected = NULL;
    cr_assert (asprintf (&expected, "%s: mode 0644 is readable by group or others; chmod 600 %s",
                         path, path) > 0);
    cr_assert_str_eq (err, expected);
    free (expected);
    //  group-writable is refused too, and 0400 is fine
    cr_assert_eq (chmod (path, 0620), 0);
    cr_assert_null (jad_keypair_load (path, err, sizeof (err)));
    cr_assert (strstr (err, "mode 0620"), "%s", err);
    cr_assert_eq (chmod (path, 0400), 0);
    jad_keypair_t *loaded = jad_keypair_load (path, err, sizeof (err));
    cr_assert_not_null (loaded, "%s", err);
    jad_keypair_destroy (&loaded);
    jad_keypair_destroy (&pair);
    free (path);
}

Test (keys, load_missing_file_names_it)
{
    char *path = s_path ("absent.key");
    char err[256] = "";
    cr_assert_null (jad_keypair_load (path, err, sizeof (err)));
    cr_assert (strncmp (err, path, strlen (path)) == 0, "%s", err);
    cr_assert (strstr (err, "No such file"), "%s", err);
    free (path);
}

//  Expect loading text to fail with an error starting "PATH:LINE:" and
//  containing phrase.
static void s_expect_malformed (const char *text, int line, const char *phrase)
{
    char *path = s_write ("bad.key", text, 0600);
    char err[256] = "";
    cr_assert_null (jad_keypair_load (path, err, sizeof (err)), "loaded: %s", text);
    char *where = NULL;
    if (line > 0)
        cr_assert (asprintf (&where, "%s:%d: ", path, line) > 0);
    else
        cr_assert (asprintf (&where, "%s: ", path) > 0);
    cr_assert (strncmp (err, where, strlen (where)) == 0, "'%s' does not start '%s'", err, where);
    cr_assert (strstr (err, phrase), "'%s' lacks '%s'", err, phrase);
    free (where);
    free (path);
}

Test (keys, malformed_file_error_names_file_and_line)
{
    jad_keypair_t *pair = jad_keypair_new (JAD_KEY_ED25519);
    char secret_hex[129];
    sodium_bin2hex (secret_hex, sizeof (secret_hex), jad_keypair_secret (pair), 64);
    const char *public_hex = jad_keypair_public_txt (pair);
    char text[512];

    s_expect_malformed ("# comment\nkind: ed25519\nthis is not a key line\n", 3, "expected");
    s_expect_malformed ("kind: rsa\n", 1, "unknown key kind");
    s_expect_malformed ("kind: ed25519\ncolour: blue\n", 2, "unknown field 'colour'");
    s_expect_malformed ("kind: ed25519\nkind: ed25519\n", 2, "duplicate field 'kind'");
    s_expect_malformed ("kind: ed25519\npublic:\n", 2, "'public' is empty");
    snprintf (text, sizeof (text), "kind: ed25519\npublic: %s\n", public_hex);
    s_expect_malformed (text, 0, "missing field 'secret'");
    snprintf (text, sizeof (text), "kind: ed25519\n\npublic: %.63s\nsecret: %s\n", public_hex,
              secret_hex);
    s_expect_malformed (text, 3, "public key is not 64 hex characters");
    snprintf (text, sizeof (text), "kind: ed25519\npublic: %s\n# x\nsecret: %.127sg\n", public_hex,
              secret_hex);
    s_expect_malformed (text, 4, "secret key is not 128 hex characters");
    //  a secret from another pair: well-formed, but does not match
    jad_keypair_t *other = jad_keypair_new (JAD_KEY_ED25519);
    snprintf (text, sizeof (text), "kind: ed25519\npublic: %s\nsecret: %s\n",
              jad_keypair_public_txt (other), secret_hex);
    s_expect_malformed (text, 3, "does not match");
    //  a curve public key in an ed25519 file
    jad_keypair_t *curve = jad_keypair_new (JAD_KEY_CURVE);
    snprintf (text, sizeof (text), "kind: ed25519\npublic: %s\nsecret: %s\n",
              jad_keypair_public_txt (curve), secret_hex);
    s_expect_malformed (text, 2, "public key");
    //  the error never echoes the secret
    char *path = s_write ("bad.key", text, 0600);
    char err[256] = "";
    cr_assert_null (jad_keypair_load (path, err, sizeof (err)));
    cr_assert_null (strstr (err, secret_hex));
    free (path);
    jad_keypair_destroy (&curve);
    jad_keypair_destroy (&other);
    jad_keypair_destroy (&pair);
}

Test (keys, load_accepts_comments_blank_lines_and_any_order)
{
    jad_keypair_t *pair = jad_keypair_new (JAD_KEY_CURVE);
    char *secret = jad_keypair_curve_secret_z85 (pair);
    char text[512];
    snprintf (text, sizeof (text),
              "# transport key\n\n  secret:  %s  \r\npublic: %s\nkind: curve\n", secret,
              jad_keypair_public_txt (pair));
    char *path = s_write ("curve.key", text, 0600);
    char err[256] = "";
    jad_keypair_t *loaded = jad_keypair_load (path, err, sizeof (err));
    cr_assert_not_null (loaded, "%s", err);
    cr_assert_eq (memcmp (jad_keypair_secret (loaded), jad_keypair_secret (pair), 32), 0);
    jad_keypair_destroy (&loaded);
    jad_secret_free (&secret);
    jad_keypair_destroy (&pair);
    free (path);
}

Test (keys, curve_secret_z85_decodes_to_the_secret)
{
    jad_keypair_t *pair = jad_keypair_new (JAD_KEY_CURVE);
    char *secret = jad_keypair_curve_secret_z85 (pair);
    cr_assert_not_null (secret);
    cr_assert_eq (strlen (secret), 40);
    uint8_t decoded[32];
    cr_assert_eq (jad_key_from_z85 (secret, decoded), 0);
    cr_assert_eq (memcmp (decoded, jad_keypair_secret (pair), 32), 0);
    //  and the public key is the X25519 base-point multiple of it
    uint8_t derived[32];
    cr_assert_eq (crypto_scalarmult_base (derived, decoded), 0);
    cr_assert_eq (memcmp (derived, jad_keypair_public (pair), 32), 0);
    jad_secret_free (&secret);
    jad_keypair_destroy (&pair);
}

Test (keys, secret_free_wipes_and_nulls)
{
    char buffer[] = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    size_t length = strlen (buffer);
    jad_secret_wipe (buffer);
    for (size_t index = 0; index < length; index++)
        cr_assert_eq (buffer[index], 0, "byte %zu not wiped", index);
    jad_secret_wipe (NULL);

    jad_keypair_t *pair = jad_keypair_new (JAD_KEY_CURVE);
    char *secret = jad_keypair_curve_secret_z85 (pair);
    cr_assert_not_null (secret);
    jad_secret_free (&secret);
    cr_assert_null (secret);
    jad_secret_free (&secret);  //  safe twice
    jad_secret_free (NULL);
    jad_keypair_destroy (&pair);
}

Test (keys, hex_decode_rejects_bad_input)
{
    uint8_t out[32];
    const char *good = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    cr_assert_eq (jad_key_from_hex (good, out), 0);
    cr_assert_eq (out[0], 0xd7);
    cr_assert_eq (out[31], 0x1a);
    cr_assert_eq (jad_key_from_hex (NULL, out), -1);
    cr_assert_eq (jad_key_from_hex ("", out), -1);
    cr_assert_eq (jad_key_from_hex ("d75a98", out), -1);
    cr_assert_eq (
        jad_key_from_hex ("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511", out),
        -1);
    cr_assert_eq (
        jad_key_from_hex ("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a0", out),
        -1);
    cr_assert_eq (
        jad_key_from_hex ("g75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", out),
        -1);
    //  right length, one character that is not hex
    char spaced[65];
    memcpy (spaced, good, sizeof (spaced));
    spaced[10] = ' ';
    cr_assert_eq (jad_key_from_hex (spaced, out), -1);
}

Test (keys, z85_decode_rejects_bad_input)
{
    uint8_t out[32];
    const char *good = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    cr_assert_eq (jad_key_from_z85 (good, out), 0);
    cr_assert_eq (jad_key_from_z85 (NULL, out), -1);
    cr_assert_eq (jad_key_from_z85 ("", out), -1);
    cr_assert_eq (jad_key_from_z85 ("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf", out), -1);
    cr_assert_eq (jad_key_from_z85 ("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7X", out), -1);
    //  characters outside the Z85 alphabet (space, quote, comma, backslash)
    cr_assert_eq (jad_key_from_z85 ("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]y 7", out), -1);
    cr_assert_eq (jad_key_from_z85 ("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]y\"7", out), -1);
    cr_assert_eq (jad_key_from_z85 ("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]y,7", out), -1);
    cr_assert_eq (jad_key_from_z85 ("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]y\\7", out), -1);
    //  a group worth more than 2^32 - 1 ("#####" = 85^5 - 1)
    cr_assert_eq (jad_key_from_z85 ("#####rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", out), -1);
    cr_assert_eq (jad_key_from_z85 ("########################################", out), -1);
}

Test (keys, key_id_is_first_8_bytes_of_sha256)
{
    uint8_t public_key[32];
    for (int index = 0; index < 32; index++)
        public_key[index] = (uint8_t)index;
    uint8_t digest[32], key_id[8];
    crypto_hash_sha256 (digest, public_key, 32);
    jad_key_id (public_key, key_id);
    cr_assert_eq (memcmp (key_id, digest, 8), 0);
    public_key[31] ^= 1;
    uint8_t other_id[8];
    jad_key_id (public_key, other_id);
    cr_assert_neq (memcmp (key_id, other_id, 8), 0);
}

Test (keys, harden_process_disables_core_dumps)
{
    cr_assert_eq (jad_keys_harden_process (), 0);
    struct rlimit limit;
    cr_assert_eq (getrlimit (RLIMIT_CORE, &limit), 0);
    cr_assert_eq (limit.rlim_cur, 0);
    cr_assert_eq (limit.rlim_max, 0);
    cr_assert_eq (prctl (PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
    //  LeakSanitizer needs a dumpable process to inspect itself at exit
    prctl (PR_SET_DUMPABLE, 1, 0, 0, 0);
}
