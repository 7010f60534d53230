//  ctl_artifacts - the release store: uploads from jadctl, chunks to agents
//  SPDX-License-Identifier: MPL-2.0
//
//  Artifacts are named by content (SHA-256). With a SQLite store they live
//  in DIR/artifacts/SHA256.tar.gz; with a shared store (PostgreSQL) in the
//  store itself, as chunks (ctl_releases_repo_chunk_put), so that a
//  standby that takes over serves what the leader stored. An
//  upload is written sequentially to DIR/uploads/ID.part; committing it
//  checks length and SHA-256, then hands the archive to a checker thread
//  (never the loop: reading a large or hostile archive takes time) that
//  validates its jadugar.yaml and measures its unpacked size within the
//  byte and ratio caps (SECURITY-TESTS row 36) and, with a shared store,
//  copies it there; only when the checker answers is it moved into
//  DIR/artifacts (SQLite) and the release recorded, with its
//  unpacked size (which plans sign, and agents check their free space
//  with).

#ifndef CTL_ARTIFACTS_H_INCLUDED
#define CTL_ARTIFACTS_H_INCLUDED

#include "ctl_counters.h"
#include "ctl_store.h"
#include "jad_archive.h"
#include "jad_wire.h"

#include <jansson.h>

#define CTL_MAX_ARTIFACT (1024ULL * 1024 * 1024)  //  1 GiB per release archive

typedef struct _ctl_artifacts_t ctl_artifacts_t;

//  The release store of the controller in data_dir (copied), its releases
//  recorded in `store` (borrowed), opened from store_target (copied): when
//  that is a shared store (ctl_store_target_shared) archives are kept in
//  it, through a handle of the checker's own. NULL if out of memory.
ctl_artifacts_t *ctl_artifacts_new (const char *data_dir, const char *store_target,
                                    ctl_store_t *store, ctl_counters_t *counters);

//  Drop pending uploads (their .part files go) and free.
void ctl_artifacts_destroy (ctl_artifacts_t **self_p);

//  API handlers. Each returns the jadctl exit status (0, 1, 2), sets
//  *result (caller owns) on success, or writes a reason into err.
int ctl_artifacts_begin (ctl_artifacts_t *self, const jad_api_request_t *request, json_t **result,
                         char *err, size_t errlen);
int ctl_artifacts_chunk (ctl_artifacts_t *self, const jad_api_request_t *request, json_t **result,
                         char *err, size_t errlen);
//  The commit checks length and SHA-256 and returns CTL_ARTIFACTS_CHECKING
//  when the archive went to the checker (limits: its caps, copied): the
//  answer comes from ctl_artifacts_checked.
#define CTL_ARTIFACTS_CHECKING (-2)
int ctl_artifacts_commit (ctl_artifacts_t *self, const jad_api_request_t *request,
                          const jad_archive_limits_t *limits, json_t **result, char *err,
                          size_t errlen);

//  The checker's pipe, for the poller: readable when a check is done.
zactor_t *ctl_artifacts_checker (ctl_artifacts_t *self);

//  Take one answer of the checker and finish that commit: store and record
//  the release, or refuse it (counted, logged, the upload removed). Sets
//  *upload_p to the upload's id (caller frees; NULL if nothing was read)
//  and returns the commit's jadctl exit status with *result or err as the
//  API handlers do.
int ctl_artifacts_checked (ctl_artifacts_t *self, char **upload_p, json_t **result, char *err,
                           size_t errlen);

//  Answer accepted agent `agent`'s fetch request for a chunk of a stored
//  artifact. Only the artifact of a running plan in which the agent is
//  unfinished is served; anything else is refused, counted
//  (fetch_refused) and logged at most once a second. Returns the reply
//  message (caller owns) - with `error` set when refused.
jad_ctl_msg_t *ctl_artifacts_fetch (ctl_artifacts_t *self, const char *agent,
                                    const uint8_t sha256[32], uint64_t offset, uint32_t length);

#endif
