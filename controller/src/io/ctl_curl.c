//  ctl_curl - what the controller's threads that use libcurl share
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_curl.h"

#include <openssl/crypto.h>

void ctl_curl_thread_end (void)
{
    OPENSSL_thread_stop ();
}
