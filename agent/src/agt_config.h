//  agt_config - load and validate DATA/agent.yaml and the agent's key
//  SPDX-License-Identifier: MPL-2.0
//
//  Shared by `check` (prints every problem) and `run` (refuses to start
//  with any). Beyond the YAML loader's own checks: the controller endpoint
//  parses as HOST:BASE, the pinned keys decode, the key file (relative to
//  DATA) loads and holds a CURVE pair.

#ifndef AGT_CONFIG_H_INCLUDED
#define AGT_CONFIG_H_INCLUDED

#include "jad_config.h"
#include "jad_keys.h"

//  Path of DATA/agent.yaml into buf (size len); returns buf.
const char *agt_config_path (const char *data_dir, char *buf, size_t len);

//  Load the configuration and, if key_p is not NULL, the key. Every
//  problem goes to `problems` as "FILE:LINE: ..." or "FILE: ...". Returns
//  the configuration (caller owns) only if there was no problem.
jad_agent_config_t *agt_config_load (const char *data_dir, jad_problems_t *problems,
                                     jad_keypair_t **key_p);

//  Erase the enrollment token from DATA/agent.yaml (the controller has
//  accepted this agent; a token left on the host could enroll other keys).
//  The `token:` line (and its continuation lines) becomes a comment saying
//  so; every other line, comments included, stays as it is. The new text
//  must load with the same settings and no token, or nothing is written;
//  it replaces the file atomically (a symlink's target), keeping its mode
//  and owner. Returns 1 if erased, 0 if there was no token, -1 with the
//  reason in err (the file unchanged).
int agt_config_erase_token (const char *data_dir, char *err, size_t len);

#endif
