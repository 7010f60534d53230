//  nocurve - LD_PRELOAD shim: a libzmq that says it has no CURVE
//  SPDX-License-Identifier: MPL-2.0
//
//  Used by tests/integration/test_security.c to prove that the daemons
//  refuse to run rather than fall back to unencrypted sockets.

#include <string.h>

int zmq_has (const char *capability);

int zmq_has (const char *capability)
{
    return capability && strcmp (capability, "curve") == 0 ? 0 : 1;
}
