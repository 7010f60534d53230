//  agt_init - jadugar-agent init: a new data directory
//  SPDX-License-Identifier: MPL-2.0
//
//  Creates DATA (0700), DATA/keys/agent.key (CURVE pair, 0600),
//  DATA/state.db and, last, DATA/agent.yaml (commented; 0600 since it may
//  hold the enrollment token), then prints `key: value` lines for scripts:
//  name, public-key, config. agent.yaml is written last, so a failed init
//  can simply be run again; an existing agent.yaml is never overwritten.

#ifndef AGT_INIT_H_INCLUDED
#define AGT_INIT_H_INCLUDED

#define AGT_INIT_USAGE                                                                             \
    "jadugar-agent init --data DIR --controller HOST:BASE --controller-key CURVEPUB"               \
    " --signing-key SIGNPUB --env ENV [--name NAME] [--token TOKEN] [--root DIR]"                  \
    " [--hook-user USER]"

//  Run the command with its arguments (argv[0] is "init"). Returns the
//  exit status: 0, 1 (could not write), 2 (bad usage).
int agt_init_main (int argc, char **argv);

#endif
