//  agt_pipe - the apply helper's pipe: frames of ApplyJob / ApplyEvent
//  SPDX-License-Identifier: MPL-2.0

#include "agt_pipe.h"
#include "jad_util.h"
#include "jad_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

size_t agt_pipe_frame_size (const uint8_t prefix[4])
{
    return (size_t)prefix[0] << 24 | (size_t)prefix[1] << 16 | (size_t)prefix[2] << 8 |
           (size_t)prefix[3];
}

int agt_pipe_send (int fd, const zchunk_t *payload)
{
    size_t size = zchunk_size ((zchunk_t *)payload);
    if (size > JAD_MAX_APPLY_MSG) {
        errno = EMSGSIZE;
        return -1;
    }
    uint8_t prefix[4] = {(uint8_t)(size >> 24), (uint8_t)(size >> 16), (uint8_t)(size >> 8),
                         (uint8_t)size};
    if (jad_write_all (fd, prefix, sizeof prefix) != 0)
        return -1;
    return jad_write_all (fd, zchunk_data ((zchunk_t *)payload), size);
}

//  Read exactly size bytes. Returns 0, 1 at EOF before any byte, -1.
static int s_read_all (int fd, uint8_t *data, size_t size)
{
    size_t got = 0;
    while (got < size) {
        ssize_t done = read (fd, data + got, size - got);
        if (done < 0 && errno == EINTR)
            continue;
        if (done < 0)
            return -1;
        if (done == 0)
            return got == 0 ? 1 : -1;
        got += (size_t)done;
    }
    return 0;
}

int agt_pipe_read_frame (int fd, uint8_t **data_p, size_t *size_p, char *err, size_t len)
{
    *data_p = NULL;
    *size_p = 0;
    uint8_t prefix[4];
    int rc = s_read_all (fd, prefix, 4);
    if (rc == 1)
        return 1;
    if (rc) {
        snprintf (err, len, "frame: cannot read the length: %s", errno ? strerror (errno) : "EOF");
        return -1;
    }
    size_t size = agt_pipe_frame_size (prefix);
    if (size > JAD_MAX_APPLY_MSG) {
        snprintf (err, len, "frame: %zu bytes, more than %d", size, JAD_MAX_APPLY_MSG);
        return -1;
    }
    uint8_t *data = (uint8_t *)malloc (size ? size : 1);
    if (!data) {
        snprintf (err, len, "frame: out of memory");
        return -1;
    }
    if (s_read_all (fd, data, size) != 0) {
        snprintf (err, len, "frame: truncated (%zu bytes announced)", size);
        free (data);
        return -1;
    }
    *data_p = data;
    *size_p = size;
    return 0;
}
