//  jad_reload - SIGHUP as "re-read your configuration"
//  SPDX-License-Identifier: MPL-2.0
//
//  A daemon calls jad_reload_catch once at start, then asks
//  jad_reload_requested from its loop (the controller's tick, the agent's
//  timer): the signal handler only sets a flag, the reload itself runs in
//  the loop where it is safe to read files and log.

#ifndef JAD_RELOAD_H_INCLUDED
#define JAD_RELOAD_H_INCLUDED

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Install the SIGHUP handler. Returns 0 or -1.
int jad_reload_catch (void);

//  True once per SIGHUP received since the last call (test and clear).
bool jad_reload_requested (void);

#ifdef __cplusplus
}
#endif

#endif
