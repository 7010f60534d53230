//  ctl_reload - SIGHUP: re-read controller.yaml while running
//  SPDX-License-Identifier: MPL-2.0
//
//  What can change at once: environments and their policy, alert rules,
//  heartbeat, resend, plan-ttl, step-deadline, progress-deadline. listen
//  and port are bound sockets: a change is logged as needing a restart and
//  the running values are kept. A file with problems is refused as a
//  whole: every problem is logged and the running configuration stays.

#ifndef CTL_RELOAD_H_INCLUDED
#define CTL_RELOAD_H_INCLUDED

#include "ctl_context.h"

//  Reload DATA/controller.yaml into ctl->config. Returns 0 if the new file
//  was taken (changed or not), -1 if it was refused (old one kept).
//  Nobody may keep pointers into ctl->config across loop iterations.
int ctl_reload (ctl_t *ctl);

#endif
