//  jad_reload - SIGHUP as "re-read your configuration"
//  SPDX-License-Identifier: MPL-2.0

#include "jad_reload.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t s_requested = 0;

static void s_on_hangup (int signum)
{
    (void)signum;
    s_requested = 1;
}

int jad_reload_catch (void)
{
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_hangup;
    sigemptyset (&action.sa_mask);
    action.sa_flags = SA_RESTART;
    return sigaction (SIGHUP, &action, NULL) == 0 ? 0 : -1;
}

bool jad_reload_requested (void)
{
    if (!s_requested)
        return false;
    s_requested = 0;
    return true;
}
