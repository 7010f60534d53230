//  agt_pipe - the apply helper's pipe: frames of ApplyJob / ApplyEvent
//  SPDX-License-Identifier: MPL-2.0
//
//  jadugar-agent (agt_worker) and jadugar-apply talk over two pipes. A
//  frame is a 4-byte big-endian length and that many bytes of a message
//  of the wire codec (jad_apply_job_encode, jad_apply_event_encode in
//  jad_wire.h, which also decodes them under its size caps and budget).
//  The daemon writes one job frame; the helper writes event frames, the
//  last one DONE, and after each event that starts a step it waits for
//  the one byte AGT_PIPE_GO, which the daemon writes once it has recorded
//  that step. This class is the framing and the blocking I/O only.

#ifndef AGT_PIPE_H_INCLUDED
#define AGT_PIPE_H_INCLUDED

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#define AGT_PIPE_GO 'g'

//  The length a frame's 4-byte prefix announces.
size_t agt_pipe_frame_size (const uint8_t prefix[4]);

//  Write payload (an encoded message) as one frame to a blocking fd
//  (EINTR retried). Returns 0, or -1 with errno set.
int agt_pipe_send (int fd, const zchunk_t *payload);

//  Read one whole frame from a blocking fd into *data_p (caller frees)
//  and *size_p. Returns 0, 1 at end of file before a frame, -1 on error
//  or a truncated or oversized frame (more than JAD_MAX_APPLY_MSG; reason
//  in err).
int agt_pipe_read_frame (int fd, uint8_t **data_p, size_t *size_p, char *err, size_t len);

#endif
