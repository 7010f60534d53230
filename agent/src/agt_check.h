//  agt_check - jadugar-agent check: validate the configuration
//  SPDX-License-Identifier: MPL-2.0

#ifndef AGT_CHECK_H_INCLUDED
#define AGT_CHECK_H_INCLUDED

#define AGT_CHECK_USAGE "jadugar-agent check --data DIR"

//  Print every problem of DATA/agent.yaml and the key file, one per line
//  (FILE:LINE: ...), or "ok". Returns 0 if none, 2 otherwise.
int agt_check_main (int argc, char **argv);

#endif
