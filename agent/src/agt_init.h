//  agt_init - jadugar-agent init: a new data directory
//  SPDX-License-Identifier: MPL-2.0
//
//  Creates DATA (0700), DATA/keys/agent.key (CURVE pair, 0600),
//  DATA/state.db and, last, DATA/agent.yaml (commented; 0600 since it may
//  hold the enrollment token), then prints `key: value` lines for scripts:
//  name, public-key, fingerprint, config, hook-user. agent.yaml is written
//  last, so a failed init can simply be run again; an existing agent.yaml
//  is never overwritten. Run as root without --hook-user on a host where
//  the package's `jadugar` user exists, hooks are set to run as that user.

#ifndef AGT_INIT_H_INCLUDED
#define AGT_INIT_H_INCLUDED

#define AGT_INIT_USAGE                                                                             \
    "jadugar-agent init --data DIR --controller HOST:BASE --controller-key CURVEPUB"               \
    " --signing-key SIGNPUB --env ENV [--name NAME] [--token TOKEN] [--root DIR]"                  \
    " [--hook-user USER] [--policy-key POLICYPUB]"

//  Run the command with its arguments (argv[0] is "init"). Returns the
//  exit status: 0, 1 (could not write), 2 (bad usage).
int agt_init_main (int argc, char **argv);

#define AGT_FINGERPRINT_USAGE "jadugar-agent fingerprint --data DIR"

//  The user hooks run as when init is given no --hook-user: the package's
//  unprivileged user when running as root and it exists, else NULL.
#define AGT_INIT_HOOK_USER "jadugar"

//  `jadugar-agent fingerprint --data DIR`: print this agent's public key
//  and its fingerprint (first 8 bytes of SHA-256 of the CURVE public key,
//  in hex), as `jadctl agents` shows them, for an operator to compare
//  before `jadctl agents accept`. Returns 0, 1 (cannot load) or 2 (usage).
int agt_fingerprint_main (int argc, char **argv);

#endif
