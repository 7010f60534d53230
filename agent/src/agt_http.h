//  agt_http - HTTP for the agent (libcurl): smoke checks, URL artifacts
//  SPDX-License-Identifier: MPL-2.0

#ifndef AGT_HTTP_H_INCLUDED
#define AGT_HTTP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  GET url (http or https only, no redirects) within timeout_ms and
//  compare the status with `expect`. Returns 0 if it matches, else -1
//  with a one-line reason in detail (size len).
int agt_http_check (const char *url, uint32_t expect, uint32_t timeout_ms, char *detail,
                    size_t len);

//  Download url into path (created 0600, truncated) within timeout_ms,
//  refusing more than max_bytes. Returns 0 or -1 with a reason in detail.
//  The caller checks the hash and the length.
int agt_http_download (const char *url, const char *path, uint64_t max_bytes, uint32_t timeout_ms,
                       char *detail, size_t len);

#endif
