//  jad_keys - key pairs and key files
//  SPDX-License-Identifier: MPL-2.0
//
//  Two kinds of pair: Ed25519 signing keys (public key printed as 64 hex
//  characters) and CURVE (X25519) transport keys (public key printed as 40
//  Z85 characters, as ZeroMQ expects). Secret halves live in sodium_malloc
//  memory, are wiped on destroy and are never logged.
//
//  Key file format (text, mode 0600, one `name: value` per line, `#`
//  comments):
//      kind: ed25519 | curve
//      public: <hex or z85>
//      secret: <hex or z85>
//  Loading refuses a file that is group- or world-readable, or malformed,
//  naming the file and line.

#ifndef JAD_KEYS_H_INCLUDED
#define JAD_KEYS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    JAD_KEY_ED25519 = 1,
    JAD_KEY_CURVE = 2,
} jad_key_kind_t;

typedef struct _jad_keypair_t jad_keypair_t;

//  Generate a new random pair. Returns NULL if out of memory.
jad_keypair_t *jad_keypair_new (jad_key_kind_t kind);

//  Ed25519 pair from a 32-byte seed (crypto_sign_seed_keypair), for
//  known-answer tests and deterministic fixtures. Returns NULL if out of
//  memory.
jad_keypair_t *jad_keypair_from_seed (const uint8_t seed[32]);

//  Load a key file. On error returns NULL and writes "FILE:LINE: reason"
//  (or "FILE: reason") into err (size errlen).
jad_keypair_t *jad_keypair_load (const char *path, char *err, size_t errlen);

//  Write the pair to path with mode 0600 (atomically, via a temp file and
//  rename). Returns 0 or -1 (errno-style reason in err).
int jad_keypair_save (const jad_keypair_t *self, const char *path, char *err, size_t errlen);

void jad_keypair_destroy (jad_keypair_t **self_p);

jad_key_kind_t jad_keypair_kind (const jad_keypair_t *self);

//  Raw public key: 32 bytes. Borrowed.
const uint8_t *jad_keypair_public (const jad_keypair_t *self);

//  Raw secret key: 64 bytes for Ed25519 (libsodium layout), 32 for CURVE.
//  Borrowed, lives in guarded memory.
const uint8_t *jad_keypair_secret (const jad_keypair_t *self);

//  Printable public key: hex (Ed25519) or Z85 (CURVE). Borrowed.
const char *jad_keypair_public_txt (const jad_keypair_t *self);

//  Printable secret key: Z85 of the CURVE secret (for zsock options).
//  Caller must wipe and free with jad_secret_free. NULL for Ed25519.
char *jad_keypair_curve_secret_z85 (const jad_keypair_t *self);
void jad_secret_free (char **secret_p);
//  Overwrite a secret string with zero bytes (up to its NUL) in place;
//  jad_secret_free does this before freeing. NULL is accepted.
void jad_secret_wipe (char *secret);

//  Decode a printed public key. hex64 -> 32 bytes (Ed25519); z85 of 40
//  chars -> 32 bytes (CURVE). Return 0 or -1 if malformed.
int jad_key_from_hex (const char *txt, uint8_t out[32]);
int jad_key_from_z85 (const char *txt, uint8_t out[32]);

//  8-byte key id: first 8 bytes of SHA-256 of the 32-byte public key.
void jad_key_id (const uint8_t public_key[32], uint8_t key_id[8]);

//  Refuse to run with core dumps enabled: sets RLIMIT_CORE to 0 and
//  PR_SET_DUMPABLE to 0. Returns 0 or -1.
int jad_keys_harden_process (void);

#ifdef __cplusplus
}
#endif

#endif
