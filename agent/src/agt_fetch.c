//  agt_fetch - download an artifact from the controller's store in chunks
//  SPDX-License-Identifier: MPL-2.0

#include "agt_fetch.h"
#include "jad_log.h"
#include "jad_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct _agt_fetch_t {
    uint8_t sha256[32];             //  signed hash
    uint64_t length;                //  signed length
    char part[PATH_MAX];            //  DATA/downloads/SHA.part
    char path[PATH_MAX];            //  DATA/downloads/SHA once verified
    int fd;                         //  open .part file, -1 when closed
    crypto_hash_sha256_state hash;  //  over bytes written so far
    uint64_t written;               //  next byte expected
    uint64_t requested;             //  end of the highest request sent
    int64_t last_progress;          //  mono ms of the last useful chunk or retry
    int64_t deadline;               //  mono ms
    agt_fetch_state_t state;
    char error[JAD_MAX_DETAIL];
    agt_fetch_send_fn *send;
    void *arg;
};

agt_fetch_t *agt_fetch_new (const char *downloads, const uint8_t *sha256, uint64_t length,
                            uint32_t deadline_ms, agt_fetch_send_fn *send, void *arg)
{
    agt_fetch_t *self = (agt_fetch_t *)calloc (1, sizeof (agt_fetch_t));
    if (!self)
        return NULL;
    self->fd = -1;
    memcpy (self->sha256, sha256, 32);
    self->length = length;
    self->send = send;
    self->arg = arg;
    char hex[65];
    jad_hex (sha256, 32, hex);
    snprintf (self->part, sizeof self->part, "%s/%s.part", downloads, hex);
    snprintf (self->path, sizeof self->path, "%s/%s", downloads, hex);
    if (jad_mkdirs (downloads, 0700)) {
        jad_log_error ("agent: cannot create downloads dir=%s error=\"%s\"", downloads,
                       strerror (errno));
        goto failed;
    }
    self->fd = open (self->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (self->fd < 0) {
        jad_log_error ("agent: cannot create file=%s error=\"%s\"", self->part, strerror (errno));
        goto failed;
    }
    crypto_hash_sha256_init (&self->hash);
    self->last_progress = jad_mono_ms ();
    self->deadline = self->last_progress + (deadline_ms ? deadline_ms : 600000);
    return self;

failed:
    agt_fetch_destroy (&self);
    return NULL;
}

void agt_fetch_destroy (agt_fetch_t **self_p)
{
    if (self_p && *self_p) {
        agt_fetch_t *self = *self_p;
        if (self->fd >= 0)
            close (self->fd);
        if (self->state != AGT_FETCH_DONE && self->part[0])
            unlink (self->part);
        free (self);
        *self_p = NULL;
    }
}

static agt_fetch_state_t s_fail (agt_fetch_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static agt_fetch_state_t s_fail (agt_fetch_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
    self->state = AGT_FETCH_FAILED;
    if (self->fd >= 0) {
        close (self->fd);
        self->fd = -1;
    }
    unlink (self->part);
    return self->state;
}

//  Size of the chunk that starts at offset.
static uint32_t s_chunk_size (agt_fetch_t *self, uint64_t offset)
{
    uint64_t left = self->length - offset;
    return (uint32_t)(left < JAD_CHUNK_SIZE ? left : JAD_CHUNK_SIZE);
}

//  Ask for more while we have credit.
static void s_request (agt_fetch_t *self)
{
    while (self->requested < self->length &&
           self->requested - self->written < (uint64_t)AGT_FETCH_WINDOW * JAD_CHUNK_SIZE) {
        uint32_t size = s_chunk_size (self, self->requested);
        if (self->send (self->sha256, self->requested, size, self->arg))
            break;  //  not connected: the retry asks again
        self->requested += size;
    }
}

static agt_fetch_state_t s_complete (agt_fetch_t *self)
{
    uint8_t digest[32];
    crypto_hash_sha256_final (&self->hash, digest);
    if (sodium_memcmp (digest, self->sha256, 32) != 0) {
        char got[65], want[65];
        return s_fail (self, "artifact SHA-256 %s differs from the signed %s",
                       jad_hex (digest, 32, got), jad_hex (self->sha256, 32, want));
    }
    if (fsync (self->fd) || close (self->fd)) {
        self->fd = -1;
        return s_fail (self, "cannot write %s: %s", self->part, strerror (errno));
    }
    self->fd = -1;
    if (rename (self->part, self->path))
        return s_fail (self, "cannot rename %s: %s", self->part, strerror (errno));
    self->state = AGT_FETCH_DONE;
    return self->state;
}

agt_fetch_state_t agt_fetch_chunk (agt_fetch_t *self, const uint8_t *sha256, uint64_t offset,
                                   const uint8_t *data, size_t size, uint64_t total,
                                   const char *error)
{
    assert (self);
    if (self->state != AGT_FETCH_RUNNING || memcmp (sha256, self->sha256, 32) != 0)
        return self->state;  //  late chunk of another or finished fetch
    if (error && *error)
        return s_fail (self, "controller refused the fetch: %s", error);
    if (total != self->length)
        return s_fail (self, "store has %llu bytes, the plan signs %llu", (unsigned long long)total,
                       (unsigned long long)self->length);
    if (offset != self->written)
        return self->state;  //  duplicate or out of order: the retry fixes it
    uint32_t expected = s_chunk_size (self, offset);
    if (size > expected)
        return s_fail (self, "more bytes than the signed length %llu",
                       (unsigned long long)self->length);
    if (size < expected)
        return s_fail (self, "short chunk at offset %llu: %zu of %u bytes",
                       (unsigned long long)offset, size, expected);
    size_t done = 0;
    while (done < size) {
        ssize_t rc = write (self->fd, data + done, size - done);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return s_fail (self, "cannot write %s: %s", self->part,
                           rc < 0 ? strerror (errno) : "no space");
        done += (size_t)rc;
    }
    crypto_hash_sha256_update (&self->hash, data, size);
    self->written += size;
    self->last_progress = jad_mono_ms ();
    if (self->written == self->length)
        return s_complete (self);
    s_request (self);
    return self->state;
}

agt_fetch_state_t agt_fetch_tick (agt_fetch_t *self)
{
    assert (self);
    if (self->state != AGT_FETCH_RUNNING)
        return self->state;
    int64_t now = jad_mono_ms ();
    if (now >= self->deadline)
        return s_fail (self, "step deadline passed after %llu of %llu bytes",
                       (unsigned long long)self->written, (unsigned long long)self->length);
    if (now - self->last_progress >= AGT_FETCH_RETRY_MS) {
        //  nothing useful for a while: ask again from the first missing byte
        if (self->requested > self->written)
            jad_log_info ("agent: fetch retry offset=%llu", (unsigned long long)self->written);
        self->requested = self->written;
        self->last_progress = now;
    }
    s_request (self);
    return self->state;
}

agt_fetch_state_t agt_fetch_state (agt_fetch_t *self)
{
    assert (self);
    return self->state;
}

const char *agt_fetch_error (agt_fetch_t *self)
{
    assert (self);
    return self->error;
}

const char *agt_fetch_path (agt_fetch_t *self)
{
    assert (self);
    return self->path;
}

uint64_t agt_fetch_received (agt_fetch_t *self)
{
    assert (self);
    return self->written;
}
