//  jad_keys - key pairs and key files
//  SPDX-License-Identifier: MPL-2.0
//
//  A pair is a 32-byte public key kept in ordinary memory and a secret key
//  kept in sodium_malloc memory (guard pages, mlock, wiped by sodium_free).
//  Secret text (hex or Z85) is built and parsed only in sodium_malloc
//  buffers too, with libsodium's constant-time hex codec, so no copy of a
//  secret is left behind in the ordinary heap.
//
//  A key file is loaded only if it is a regular file that neither group nor
//  others can access; a file that fails any check names itself (and the
//  line, where there is one) in the error and never echoes a value.

#include "jad_keys.h"
#include "jad_util.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define S_KEY_FILE_MAX 4096  //  a key file is ~250 bytes; anything larger is not one
#define S_Z85_KEY_LEN  40    //  Z85 of 32 bytes

struct _jad_keypair_t {
    jad_key_kind_t kind;     //  ed25519 (signing) or curve (transport)
    uint8_t public_key[32];  //  raw public key
    uint8_t *secret;         //  sodium_malloc: 64 bytes (ed25519) or 32 (curve)
    size_t secret_size;      //  bytes in secret
    char public_txt[65];     //  hex (ed25519) or Z85 (curve) of public_key
};

//  Allocate an empty pair of `kind` with its guarded secret buffer.
static jad_keypair_t *s_keypair_alloc (jad_key_kind_t kind)
{
    if (kind != JAD_KEY_ED25519 && kind != JAD_KEY_CURVE)
        return NULL;
    if (sodium_init () < 0)
        return NULL;
    jad_keypair_t *self = calloc (1, sizeof (jad_keypair_t));
    if (!self)
        return NULL;
    self->kind = kind;
    self->secret_size =
        kind == JAD_KEY_ED25519 ? crypto_sign_SECRETKEYBYTES : crypto_box_SECRETKEYBYTES;
    self->secret = sodium_malloc (self->secret_size);
    if (!self->secret) {
        free (self);
        return NULL;
    }
    return self;
}

//  Fill public_txt from public_key.
static void s_keypair_print (jad_keypair_t *self)
{
    if (self->kind == JAD_KEY_ED25519)
        jad_hex (self->public_key, 32, self->public_txt);
    else
        zmq_z85_encode (self->public_txt, self->public_key, 32);
}

jad_keypair_t *jad_keypair_new (jad_key_kind_t kind)
{
    jad_keypair_t *self = s_keypair_alloc (kind);
    if (!self)
        return NULL;
    int rc = kind == JAD_KEY_ED25519 ? crypto_sign_keypair (self->public_key, self->secret)
                                     : crypto_box_keypair (self->public_key, self->secret);
    if (rc != 0) {
        jad_keypair_destroy (&self);
        return NULL;
    }
    s_keypair_print (self);
    return self;
}

jad_keypair_t *jad_keypair_from_seed (const uint8_t seed[32])
{
    jad_keypair_t *self = s_keypair_alloc (JAD_KEY_ED25519);
    if (!self)
        return NULL;
    if (crypto_sign_seed_keypair (self->public_key, self->secret, seed) != 0) {
        jad_keypair_destroy (&self);
        return NULL;
    }
    s_keypair_print (self);
    return self;
}

void jad_keypair_destroy (jad_keypair_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_keypair_t *self = *self_p;
    if (self->secret) {
        sodium_memzero (self->secret, self->secret_size);
        sodium_free (self->secret);
    }
    free (self);
    *self_p = NULL;
}

jad_key_kind_t jad_keypair_kind (const jad_keypair_t *self)
{
    assert (self);
    return self->kind;
}

const uint8_t *jad_keypair_public (const jad_keypair_t *self)
{
    assert (self);
    return self->public_key;
}

const uint8_t *jad_keypair_secret (const jad_keypair_t *self)
{
    assert (self);
    return self->secret;
}

const char *jad_keypair_public_txt (const jad_keypair_t *self)
{
    assert (self);
    return self->public_txt;
}

char *jad_keypair_curve_secret_z85 (const jad_keypair_t *self)
{
    assert (self);
    if (self->kind != JAD_KEY_CURVE)
        return NULL;
    char *secret = sodium_malloc (S_Z85_KEY_LEN + 1);
    if (!secret)
        return NULL;
    if (!zmq_z85_encode (secret, self->secret, 32)) {
        sodium_free (secret);
        return NULL;
    }
    return secret;
}

void jad_secret_wipe (char *secret)
{
    if (secret)
        sodium_memzero (secret, strlen (secret));
}

void jad_secret_free (char **secret_p)
{
    if (!secret_p || !*secret_p)
        return;
    jad_secret_wipe (*secret_p);
    sodium_free (*secret_p);
    *secret_p = NULL;
}

int jad_key_from_hex (const char *txt, uint8_t out[32])
{
    if (!txt || strlen (txt) != 64)
        return -1;
    return jad_unhex (txt, out, 32);
}

int jad_key_from_z85 (const char *txt, uint8_t out[32])
{
    //  The ZeroMQ alphabet; zmq_z85_decode does not reject every malformed
    //  group, so check characters first and the round trip after.
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   ".-:+=^!/*?&<>()[]{}@%$#";
    if (!txt || strlen (txt) != S_Z85_KEY_LEN)
        return -1;
    for (const char *cursor = txt; *cursor; cursor++)
        if (!strchr (alphabet, *cursor))
            return -1;
    uint8_t decoded[32];
    char again[S_Z85_KEY_LEN + 1];
    if (!zmq_z85_decode (decoded, txt) || !zmq_z85_encode (again, decoded, 32) ||
        strcmp (again, txt) != 0) {
        sodium_memzero (decoded, sizeof (decoded));
        return -1;
    }
    memcpy (out, decoded, 32);
    sodium_memzero (decoded, sizeof (decoded));
    sodium_memzero (again, sizeof (again));
    return 0;
}

void jad_key_id (const uint8_t public_key[32], uint8_t key_id[8])
{
    uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (digest, public_key, 32);
    memcpy (key_id, digest, 8);
}

int jad_keys_harden_process (void)
{
    struct rlimit none = {0, 0};
    if (setrlimit (RLIMIT_CORE, &none) != 0)
        return -1;
    if (prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return -1;
    return 0;
}

//  --------------------------------------------------------------------------
//  Key files

//  Decode a secret in text form into self->secret (guarded memory); the
//  text is hex of 64 bytes (ed25519) or Z85 of 32 bytes (curve).
static int s_secret_decode (jad_keypair_t *self, const char *txt)
{
    size_t len = strlen (txt);
    if (self->kind == JAD_KEY_ED25519) {
        size_t decoded = 0;
        if (len != 2 * crypto_sign_SECRETKEYBYTES ||
            sodium_hex2bin (self->secret, self->secret_size, txt, len, NULL, &decoded, NULL) != 0 ||
            decoded != crypto_sign_SECRETKEYBYTES)
            return -1;
        return 0;
    }
    //  Same checks as a public key; jad_key_from_z85 wipes its scratch copy
    if (len != S_Z85_KEY_LEN)
        return -1;
    if (jad_key_from_z85 (txt, self->secret) != 0)
        return -1;
    return 0;
}

//  True if the secret half derives the public half.
static bool s_keypair_consistent (const jad_keypair_t *self)
{
    uint8_t derived[32];
    bool same = false;
    if (self->kind == JAD_KEY_ED25519) {
        uint8_t *full = sodium_malloc (crypto_sign_SECRETKEYBYTES);
        if (!full)
            return false;
        //  Re-derive from the seed: catches a tampered seed or public part
        crypto_sign_seed_keypair (derived, full, self->secret);
        same = sodium_memcmp (full, self->secret, crypto_sign_SECRETKEYBYTES) == 0 &&
               memcmp (derived, self->public_key, 32) == 0;
        sodium_free (full);
    } else {
        if (crypto_scalarmult_base (derived, self->secret) == 0)
            same = memcmp (derived, self->public_key, 32) == 0;
    }
    return same;
}

//  Trim spaces, tabs and CR at both ends, in place. Returns the start.
static char *s_trim (char *text)
{
    while (*text == ' ' || *text == '\t')
        text++;
    size_t len = strlen (text);
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\r'))
        text[--len] = 0;
    return text;
}

//  Parse the key file text (in guarded memory, modified in place).
static jad_keypair_t *s_keypair_parse (char *text, const char *path, char *err, size_t errlen)
{
    const char *kind_txt = NULL, *public_txt = NULL, *secret_txt = NULL;
    size_t public_line = 0, secret_line = 0;
    size_t line_number = 0;
    char *line = text;
    while (line) {
        line_number++;
        char *next = strchr (line, '\n');
        if (next)
            *next++ = 0;
        char *content = s_trim (line);
        line = next;
        if (*content == 0 || *content == '#')
            continue;
        char *colon = strchr (content, ':');
        if (!colon) {
            jad_seterr (err, errlen, "%s:%zu: expected 'name: value'", path, line_number);
            return NULL;
        }
        *colon = 0;
        char *name = s_trim (content);
        char *value = s_trim (colon + 1);
        const char **slot = NULL;
        if (jad_str_equal (name, "kind"))
            slot = &kind_txt;
        else if (jad_str_equal (name, "public")) {
            slot = &public_txt;
            public_line = line_number;
        } else if (jad_str_equal (name, "secret")) {
            slot = &secret_txt;
            secret_line = line_number;
        } else {
            jad_seterr (err, errlen,
                        "%s:%zu: unknown field '%.32s' (expected kind, public, secret)", path,
                        line_number, name);
            return NULL;
        }
        if (*slot) {
            jad_seterr (err, errlen, "%s:%zu: duplicate field '%s'", path, line_number, name);
            return NULL;
        }
        if (*value == 0) {
            jad_seterr (err, errlen, "%s:%zu: field '%s' is empty", path, line_number, name);
            return NULL;
        }
        *slot = value;
        if (slot == &kind_txt && !jad_str_equal (value, "ed25519") &&
            !jad_str_equal (value, "curve")) {
            jad_seterr (err, errlen, "%s:%zu: unknown key kind (expected ed25519 or curve)", path,
                        line_number);
            return NULL;
        }
    }
    const char *missing = !kind_txt     ? "kind"
                          : !public_txt ? "public"
                          : !secret_txt ? "secret"
                                        : NULL;
    if (missing) {
        jad_seterr (err, errlen, "%s: missing field '%s'", path, missing);
        return NULL;
    }
    jad_key_kind_t kind = jad_str_equal (kind_txt, "ed25519") ? JAD_KEY_ED25519 : JAD_KEY_CURVE;
    jad_keypair_t *self = s_keypair_alloc (kind);
    if (!self) {
        jad_seterr (err, errlen, "%s: out of memory", path);
        return NULL;
    }
    int rc = kind == JAD_KEY_ED25519 ? jad_key_from_hex (public_txt, self->public_key)
                                     : jad_key_from_z85 (public_txt, self->public_key);
    if (rc != 0) {
        jad_seterr (err, errlen, "%s:%zu: public key is not %s", path, public_line,
                    kind == JAD_KEY_ED25519 ? "64 hex characters" : "40 Z85 characters");
        goto failed;
    }
    if (s_secret_decode (self, secret_txt) != 0) {
        jad_seterr (err, errlen, "%s:%zu: secret key is not %s", path, secret_line,
                    kind == JAD_KEY_ED25519 ? "128 hex characters" : "40 Z85 characters");
        goto failed;
    }
    if (!s_keypair_consistent (self)) {
        jad_seterr (err, errlen, "%s:%zu: secret key does not match the public key", path,
                    secret_line);
        goto failed;
    }
    s_keypair_print (self);
    return self;

failed:
    jad_keypair_destroy (&self);
    return NULL;
}

jad_keypair_t *jad_keypair_load (const char *path, char *err, size_t errlen)
{
    assert (path);
    if (sodium_init () < 0) {
        jad_seterr (err, errlen, "%s: cannot initialise libsodium", path);
        return NULL;
    }
    jad_keypair_t *self = NULL;
    char *text = NULL;
    size_t text_size = 0;
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        jad_seterr (err, errlen, "%s: %s", path, strerror (errno));
        return NULL;
    }
    //  Check the file we opened, not the name, so nothing can swap it
    struct stat info;
    if (fstat (fd, &info) != 0) {
        jad_seterr (err, errlen, "%s: %s", path, strerror (errno));
        goto done;
    }
    if (!S_ISREG (info.st_mode)) {
        jad_seterr (err, errlen, "%s: not a regular file", path);
        goto done;
    }
    unsigned mode = (unsigned)(info.st_mode & 07777);
    if (mode & (S_IRGRP | S_IROTH)) {
        jad_seterr (err, errlen, "%s: mode %04o is readable by group or others; chmod 600 %s", path,
                    mode, path);
        goto done;
    }
    if (mode & (S_IRWXG | S_IRWXO)) {
        jad_seterr (err, errlen, "%s: mode %04o is accessible by group or others; chmod 600 %s",
                    path, mode, path);
        goto done;
    }
    if (info.st_size > S_KEY_FILE_MAX) {
        jad_seterr (err, errlen, "%s: too large for a key file (%lld bytes)", path,
                    (long long)info.st_size);
        goto done;
    }
    text_size = S_KEY_FILE_MAX + 1;
    text = sodium_malloc (text_size);
    if (!text) {
        jad_seterr (err, errlen, "%s: out of memory", path);
        goto done;
    }
    size_t length = 0;
    while (length < S_KEY_FILE_MAX) {
        ssize_t got = read (fd, text + length, S_KEY_FILE_MAX - length);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            jad_seterr (err, errlen, "%s: %s", path, strerror (errno));
            goto done;
        }
        if (got == 0)
            break;
        length += (size_t)got;
    }
    text[length] = 0;
    if (strlen (text) != length) {
        jad_seterr (err, errlen, "%s: contains a NUL byte", path);
        goto done;
    }
    self = s_keypair_parse (text, path, err, errlen);

done:
    if (text) {
        sodium_memzero (text, text_size);
        sodium_free (text);
    }
    close (fd);
    return self;
}

//  fsync the directory holding path, so the rename survives a crash.
static void s_sync_parent (const char *path)
{
    char *copy = strdup (path);
    if (copy)
        jad_dir_sync (dirname (copy));
    free (copy);
}

int jad_keypair_save (const jad_keypair_t *self, const char *path, char *err, size_t errlen)
{
    assert (self);
    assert (path);
    int rc = -1;
    int fd = -1;
    char *temp_path = NULL;
    //  The whole file text, secret included, lives in guarded memory
    size_t text_size = 512;
    char *text = sodium_malloc (text_size);
    char *secret_txt = sodium_malloc (2 * crypto_sign_SECRETKEYBYTES + 1);
    if (!text || !secret_txt) {
        jad_seterr (err, errlen, "%s: out of memory", path);
        goto done;
    }
    if (self->kind == JAD_KEY_ED25519)
        sodium_bin2hex (secret_txt, 2 * crypto_sign_SECRETKEYBYTES + 1, self->secret,
                        self->secret_size);
    else
        zmq_z85_encode (secret_txt, self->secret, 32);
    int length = snprintf (text, text_size,
                           "#   jadugar %s key: keep secret, mode 0600\n"
                           "kind: %s\npublic: %s\nsecret: %s\n",
                           self->kind == JAD_KEY_ED25519 ? "signing" : "transport",
                           self->kind == JAD_KEY_ED25519 ? "ed25519" : "curve", self->public_txt,
                           secret_txt);
    if (length < 0 || (size_t)length >= text_size) {
        jad_seterr (err, errlen, "%s: key text does not fit", path);
        goto done;
    }
    if (asprintf (&temp_path, "%s.tmp.XXXXXX", path) < 0) {
        temp_path = NULL;
        jad_seterr (err, errlen, "%s: out of memory", path);
        goto done;
    }
    //  mkstemp creates the file 0600 whatever the umask; fchmod says so explicitly
    fd = mkostemp (temp_path, O_CLOEXEC);
    if (fd < 0) {
        jad_seterr (err, errlen, "%s: %s", temp_path, strerror (errno));
        free (temp_path);
        temp_path = NULL;
        goto done;
    }
    if (fchmod (fd, S_IRUSR | S_IWUSR) != 0 || jad_write_all (fd, text, (size_t)length) != 0 ||
        fsync (fd) != 0) {
        jad_seterr (err, errlen, "%s: %s", temp_path, strerror (errno));
        goto done;
    }
    if (close (fd) != 0) {
        fd = -1;
        jad_seterr (err, errlen, "%s: %s", temp_path, strerror (errno));
        goto done;
    }
    fd = -1;
    if (rename (temp_path, path) != 0) {
        jad_seterr (err, errlen, "%s: rename: %s", path, strerror (errno));
        goto done;
    }
    free (temp_path);
    temp_path = NULL;
    s_sync_parent (path);
    rc = 0;

done:
    if (fd >= 0)
        close (fd);
    if (temp_path) {
        unlink (temp_path);
        free (temp_path);
    }
    if (text) {
        sodium_memzero (text, text_size);
        sodium_free (text);
    }
    if (secret_txt) {
        sodium_memzero (secret_txt, 2 * crypto_sign_SECRETKEYBYTES + 1);
        sodium_free (secret_txt);
    }
    return rc;
}
