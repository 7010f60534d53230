//  ctl_releases_repo - releases (artifact metadata), security floors, bad
//  marks
//  SPDX-License-Identifier: MPL-2.0
//
//  A release is (app, version) with its artifact's SHA-256 and length (the
//  artifact itself is a file named by its SHA-256, io's business), where
//  it came from (branch, commit, notes), whether it carries migrate_up and
//  migrate_down hooks, and its release counter: 1, 2, 3 ... per app in the
//  order releases were added. An app's security floor is a counter no
//  plan may go below. An automatic rollback marks the release it undid
//  bad, with why.
//
//  A release's attestations (DESIGN §10) are the DSSE envelopes uploaded
//  for it, kept as uploaded (their text is what was signed over) with
//  what the controller found on arrival: the predicate type and the
//  attestation key that signed it. At most CTL_ATTESTATIONS_MAX per
//  release.
//
//  Lookups return 0 (found, *result owned by the caller), 1 (none) or -1
//  (database error, logged). Lists are zlistx_t (destructors set; caller
//  destroys), NULL on error.

#ifndef CTL_RELEASES_REPO_H_INCLUDED
#define CTL_RELEASES_REPO_H_INCLUDED

#include "ctl_store.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    char *app;
    char *version;
    char *sha256;  //  hex
    int64_t length;
    int64_t unpacked_size;  //  its regular files' sizes, measured at add (0: unknown)
    char *branch;
    char *commit_id;
    char *notes;
    int64_t created;
    int64_t counter;  //  release counter (per app)
    bool migrate_up;
    bool migrate_down;
    char *bad;  //  why an automatic rollback marked it bad, or NULL
    //  the app's security floor
    bool has_floor;
    int64_t floor;        //  its counter
    char *floor_version;  //  the release that set it
    //  only from ctl_releases_repo_list: environments where a deploy plan
    //  of this release succeeded (tasks do not count), comma-separated by
    //  name, or NULL
    char *succeeded_in;
} ctl_release_t;

void ctl_release_destroy (ctl_release_t **self_p);

#define CTL_ATTESTATIONS_MAX 64

//  An attestation of a release.
typedef struct {
    char *app;
    char *version;
    char *sha256;    //  hex SHA-256 of the envelope text (its identity)
    char *type;      //  the statement's predicateType
    char *signer;    //  the attestation key (controller.yaml name) it verified under
    char *added_by;  //  the operator who uploaded it
    int64_t created;
    char *envelope;  //  the DSSE envelope's JSON text
} ctl_attestation_t;

void ctl_attestation_destroy (ctl_attestation_t **self_p);

//  A security floor.
typedef struct {
    char *app;
    int64_t counter;
    char *version;
    char *operator_name;
    int64_t time;
} ctl_floor_t;

void ctl_floor_destroy (ctl_floor_t **self_p);

//  The release app/version, with its app's floor.
int ctl_releases_repo_get (ctl_store_t *store, const char *app, const char *version,
                           ctl_release_t **release_p);

//  A release whose artifact has this SHA-256 (hex), the first added.
int ctl_releases_repo_by_sha (ctl_store_t *store, const char *sha256, ctl_release_t **release_p);

//  Add a release (app, version, sha256, length, unpacked_size, branch,
//  commit_id, notes, migrate_up, migrate_down from `release`; the rest is
//  ignored), created
//  now, with the next counter of its app. Returns 0, 1 if app/version
//  exists already, -1 on error.
int ctl_releases_repo_add (ctl_store_t *store, const ctl_release_t *release, int64_t now);

//  Releases of `app` (NULL: every app), by app, counter, creation; each
//  with its floor and the environments it succeeded in.
zlistx_t *ctl_releases_repo_list (ctl_store_t *store, const char *app);

//  The last schedule slot (wall ms) env's releases were deployed at
//  (meta 'slot/ENV'): 0 with it in *slot_p, 1 if none is on record, -1
//  on error.
int ctl_releases_repo_slot (ctl_store_t *store, const char *env, int64_t *slot_p);

//  Record slot as env's last. Returns 0 or -1.
int ctl_releases_repo_slot_set (ctl_store_t *store, const char *env, int64_t slot);

//  Mark app/version bad with `why`. Returns 0 or -1.
int ctl_releases_repo_mark_bad (ctl_store_t *store, const char *app, const char *version,
                                const char *why);

//  The floor of `app`.
int ctl_releases_repo_floor (ctl_store_t *store, const char *app, ctl_floor_t **floor_p);

//  Set app's floor (insert or replace; the caller checks that it goes up).
//  Returns 0 or -1.
int ctl_releases_repo_floor_set (ctl_store_t *store, const char *app, int64_t counter,
                                 const char *version, const char *operator_name, int64_t now);

//  Keep an attestation (every field of `attestation` but created) of a
//  release, created now (the caller checks that the release exists and
//  that the envelope verifies). Returns 0, 1 if the release holds this
//  envelope already, 2 if it holds CTL_ATTESTATIONS_MAX already, -1 on
//  error.
int ctl_releases_repo_attest (ctl_store_t *store, const ctl_attestation_t *attestation,
                              int64_t now);

//  The attestations of app/version, oldest first (a list of
//  ctl_attestation_t), NULL on error.
zlistx_t *ctl_releases_repo_attestations (ctl_store_t *store, const char *app, const char *version);

//  Keep env's signed policy (text) at `version`, pushed by operator_name
//  now, replacing the one kept unless that one's version is higher or
//  equal (the caller verified nothing: the controller holds no policy
//  key). Returns 0, 1 if the kept version is >= version (*kept_p gets it),
//  -1 on error.
int ctl_releases_repo_policy_set (ctl_store_t *store, const char *env, int64_t version,
                                  const char *body, const char *operator_name, int64_t now,
                                  int64_t *kept_p);

//  env's policy text (caller frees) and its version. Returns 0, 1 if env
//  has none, -1 on error.
int ctl_releases_repo_policy (ctl_store_t *store, const char *env, char **body_p,
                              int64_t *version_p);

//  Keep a bundle (its SHA-256 hex, the JSON text) sent with plans of
//  app/version in env, once. Returns 0 or -1.
int ctl_releases_repo_bundle_put (ctl_store_t *store, const char *sha256, const char *app,
                                  const char *version, const char *env, const char *body,
                                  int64_t now);

//  A bundle by SHA-256 (hex): its text (caller frees) and what it is for
//  (app_p, version_p, env_p: caller frees). Returns 0, 1 if none, -1.
int ctl_releases_repo_bundle (ctl_store_t *store, const char *sha256, char **body_p, char **app_p,
                              char **version_p, char **env_p);

//  Release archives in the store (a shared store: a standby serves what
//  the leader stored). An archive is kept as chunks of CTL_CHUNK_BYTES,
//  numbered from 0 (the last one may be shorter), under its SHA-256 (hex).

#define CTL_CHUNK_BYTES (256 * 1024)  //  = JAD_CHUNK_SIZE: a fetch spans at most two

//  Keep chunk `seq` of archive sha256 (size 1 to CTL_CHUNK_BYTES bytes).
//  The same chunk again changes nothing (content-addressed). Returns 0 or
//  -1.
int ctl_releases_repo_chunk_put (ctl_store_t *store, const char *sha256, int64_t seq,
                                 const void *data, size_t size);

//  Copy `length` bytes of archive sha256 from `offset` into out. Returns
//  0, 1 if a chunk of that range is missing or short, -1 on error.
int ctl_releases_repo_chunks_read (ctl_store_t *store, const char *sha256, uint64_t offset,
                                   size_t length, uint8_t *out);

//  Copy the file at `path` into the store as archive sha256 (the caller
//  checked that it is), in one transaction; an archive already whole there
//  is left as it is. Returns 0, or -1 with the reason in `reason`.
int ctl_releases_repo_chunks_from_file (ctl_store_t *store, const char *sha256, const char *path,
                                        char *reason, size_t reasonlen);

//  True (1) if every byte of archive sha256 (`length` bytes) is in the
//  store, 0 if not, -1 on error.
int ctl_releases_repo_chunks_complete (ctl_store_t *store, const char *sha256, uint64_t length);

#endif
