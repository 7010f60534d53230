//  agt_pipe - the apply helper's pipe protocol: jobs and events as
//  length-prefixed ApplyJob / ApplyEvent frames
//  SPDX-License-Identifier: MPL-2.0
//
//  jadugar-agent (agt_worker) and jadugar-apply talk over two pipes. A
//  frame is a 4-byte big-endian length and that many bytes of an ApplyJob
//  or ApplyEvent (proto/jadugar.proto). The daemon writes one job frame;
//  the helper writes event frames, the last one DONE, and after each
//  event that starts a step it waits for the one byte AGT_PIPE_GO, which
//  the daemon writes once it has recorded that step.
//
//  Also home of the job and event constructors, so that the daemon does
//  not link agt_apply (and with it libarchive and libcurl).

#ifndef AGT_PIPE_H_INCLUDED
#define AGT_PIPE_H_INCLUDED

#include "agt_apply.h"

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGT_PIPE_MAX_FRAME (1024 * 1024)  //  an event carries at most 16 KiB of output
#define AGT_PIPE_GO        'g'

//  A whole frame (length prefix included); caller destroys. NULL on OOM.
zchunk_t *agt_pipe_job_encode (const agt_job_t *job);
zchunk_t *agt_pipe_event_encode (const agt_event_t *event);

//  Decode a frame's bytes (without the prefix). NULL with a reason in err
//  (size len) if they are not a valid job / event.
agt_job_t *agt_pipe_job_decode (const uint8_t *data, size_t size, char *err, size_t len);
agt_event_t *agt_pipe_event_decode (const uint8_t *data, size_t size, char *err, size_t len);

//  Write all of data to fd (blocking; EINTR retried). Returns 0 or -1.
int agt_pipe_write (int fd, const void *data, size_t size);

//  Read one whole frame from a blocking fd into *data_p (caller frees)
//  and *size_p. Returns 0, 1 at end of file before a frame, -1 on error
//  or a truncated or oversized frame (reason in err).
int agt_pipe_read_frame (int fd, uint8_t **data_p, size_t *size_p, char *err, size_t len);

#endif
