//  ctl_json - small JSON helpers of the operator API and the HTTP pages
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_json.h"

#include <time.h>

const char *ctl_json_iso_time (int64_t ms, char *buf, size_t len)
{
    if (ms <= 0) {
        if (len)
            buf[0] = 0;
        return buf;
    }
    time_t seconds = (time_t)(ms / 1000);
    struct tm parts;
    gmtime_r (&seconds, &parts);
    if (strftime (buf, len, "%Y-%m-%dT%H:%M:%SZ", &parts) == 0 && len)
        buf[0] = 0;
    return buf;
}

json_t *ctl_json_time (int64_t ms, bool known)
{
    if (!known)
        return json_null ();
    char buf[32];
    return json_string (ctl_json_iso_time (ms, buf, sizeof buf));
}

json_t *ctl_json_text (const char *text)
{
    return text ? json_string (text) : json_null ();
}
