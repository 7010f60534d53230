//  jad_monitor - a socket's connection events, read without stalling it
//  SPDX-License-Identifier: MPL-2.0

#include "jad_monitor.h"

#include <errno.h>

zsock_t *jad_monitor_new (zsock_t *socket, const char *endpoint, int events)
{
    zsock_t *monitor = zsock_new (ZMQ_PAIR);
    if (!monitor)
        return NULL;
    //  Before connecting: an inproc pipe has no limit when one side's is 0.
    zsock_set_rcvhwm (monitor, 0);
    zsock_set_sndhwm (monitor, 0);
    if (zmq_socket_monitor (zsock_resolve (socket), endpoint, events) != 0) {
        int error = errno;
        zsock_destroy (&monitor);
        errno = error;
        return NULL;
    }
    if (zsock_connect (monitor, "%s", endpoint) != 0) {
        int error = errno;
        zmq_socket_monitor (zsock_resolve (socket), NULL, 0);
        zsock_destroy (&monitor);
        errno = error;
        return NULL;
    }
    return monitor;
}

void jad_monitor_destroy (zsock_t *socket, zsock_t **monitor_p)
{
    if (!monitor_p || !*monitor_p)
        return;
    if (socket)
        zmq_socket_monitor (zsock_resolve (socket), NULL, 0);
    zsock_destroy (monitor_p);
}
