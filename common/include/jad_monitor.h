//  jad_monitor - a socket's connection events, read without stalling it
//  SPDX-License-Identifier: MPL-2.0
//
//  libzmq sends a monitored socket's events from its I/O threads, under
//  the socket's monitor lock, with a blocking send to an inproc PAIR. With
//  the default high-water marks, 1,000 events not yet read (a fleet that
//  reconnects at once while the daemon's loop is busy) block the I/O
//  threads: every connection of the socket stalls until the loop reads,
//  and a daemon that stops monitoring then (its shutdown) deadlocks. The
//  PAIR made here has no high-water mark, so the events wait in memory.

#ifndef JAD_MONITOR_H_INCLUDED
#define JAD_MONITOR_H_INCLUDED

#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Monitor `events` (ZMQ_EVENT_*) of `socket` through `endpoint`
//  (inproc://, unique in the process). Returns the PAIR that receives
//  them, or NULL with errno set (the socket is then not monitored).
zsock_t *jad_monitor_new (zsock_t *socket, const char *endpoint, int events);

//  Stop monitoring `socket` and destroy *monitor_p (NULL: nothing to do).
void jad_monitor_destroy (zsock_t *socket, zsock_t **monitor_p);

#ifdef __cplusplus
}
#endif

#endif
