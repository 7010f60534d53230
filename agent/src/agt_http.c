//  agt_http - HTTP for the agent (libcurl): smoke checks, URL artifacts
//  SPDX-License-Identifier: MPL-2.0

#include "agt_http.h"
#include "jad_util.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int fd;  //  destination file
    uint64_t written;
    uint64_t max_bytes;
    int error;  //  errno of a failed write
    int too_large;
} s_download_t;

static size_t s_write_file (char *data, size_t size, size_t count, void *arg)
{
    s_download_t *self = (s_download_t *)arg;
    size_t total = size * count;
    if (self->written + total > self->max_bytes) {
        self->too_large = 1;
        return 0;  //  curl aborts the transfer
    }
    size_t done = 0;
    while (done < total) {
        ssize_t rc = write (self->fd, data + done, total - done);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0) {
            self->error = errno ? errno : EIO;
            return 0;
        }
        done += (size_t)rc;
    }
    self->written += total;
    return total;
}

static CURL *s_easy (const char *url, uint32_t timeout_ms)
{
    CURL *curl = curl_easy_init ();
    if (!curl)
        return NULL;
    if (curl_easy_setopt (curl, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt (curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, (long)(timeout_ms ? timeout_ms : 30000)) !=
            CURLE_OK) {
        curl_easy_cleanup (curl);
        return NULL;
    }
    return curl;
}

int agt_http_check (const char *url, uint32_t expect, uint32_t timeout_ms, char *detail, size_t len)
{
    CURL *curl = s_easy (url, timeout_ms);
    if (!curl) {
        snprintf (detail, len, "http %s: cannot set up the request", url);
        return -1;
    }
    if (expect == 0)
        expect = 200;
    int result = -1;
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, jad_body_discard);
    CURLcode rc = curl_easy_perform (curl);
    long status = 0;
    if (rc != CURLE_OK)
        snprintf (detail, len, "http %s: %s", url, curl_easy_strerror (rc));
    else if (curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        snprintf (detail, len, "http %s: no status", url);
    else if (status != (long)expect)
        snprintf (detail, len, "http %s: status %ld, expected %u", url, status, expect);
    else {
        snprintf (detail, len, "http %s: status %ld", url, status);
        result = 0;
    }
    curl_easy_cleanup (curl);
    return result;
}

int agt_http_download (const char *url, const char *path, uint64_t max_bytes, uint32_t timeout_ms,
                       char *detail, size_t len)
{
    s_download_t download = {.fd = -1, .max_bytes = max_bytes};
    download.fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (download.fd < 0) {
        snprintf (detail, len, "cannot create %s: %s", path, strerror (errno));
        return -1;
    }
    CURL *curl = s_easy (url, timeout_ms);
    if (!curl) {
        snprintf (detail, len, "download %s: cannot set up the request", url);
        close (download.fd);
        return -1;
    }
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_write_file);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &download);
    curl_easy_setopt (curl, CURLOPT_FAILONERROR, 1L);
    CURLcode rc = curl_easy_perform (curl);
    int result = -1;
    if (download.too_large)
        snprintf (detail, len, "download %s: more than the signed %llu bytes", url,
                  (unsigned long long)max_bytes);
    else if (download.error)
        snprintf (detail, len, "download %s: write failed: %s", url, strerror (download.error));
    else if (rc != CURLE_OK)
        snprintf (detail, len, "download %s: %s", url, curl_easy_strerror (rc));
    else if (fsync (download.fd))
        snprintf (detail, len, "download %s: fsync failed: %s", url, strerror (errno));
    else
        result = 0;
    curl_easy_cleanup (curl);
    if (close (download.fd) && result == 0) {
        snprintf (detail, len, "download %s: close failed: %s", url, strerror (errno));
        result = -1;
    }
    return result;
}
