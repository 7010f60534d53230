//  ctl_curl - what the controller's threads that use libcurl share
//  SPDX-License-Identifier: MPL-2.0

#ifndef CTL_CURL_H_INCLUDED
#define CTL_CURL_H_INCLUDED

//  A thread that used libcurl (the notifier, the alert queries) calls this
//  last: it frees the thread's state in libcurl's TLS library (OpenSSL: its
//  random generator, which libcurl uses even without TLS). Freed at the
//  thread's exit instead, it races the process's own exit, whose cleanup
//  may come first and leave it unreachable (a leak report after a stop).
void ctl_curl_thread_end (void);

#endif
