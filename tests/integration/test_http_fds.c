//  test_http_fds - the HTTP endpoint works when the controller's
//  descriptors are past FD_SETSIZE, as they are with a large fleet
//  SPDX-License-Identifier: MPL-2.0

#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define S_HELD 1100

Test (http_fds, status_page_answers_with_descriptors_past_fd_setsize, .timeout = 120)
{
    //  The controller inherits 1100 open descriptors, so every socket it
    //  opens (the HTTP listener and its connections) is numbered > 1024:
    //  select() cannot watch them, epoll can.
    struct rlimit limit;
    cr_assert_eq (getrlimit (RLIMIT_NOFILE, &limit), 0);
    cr_assert (limit.rlim_max > S_HELD + 200, "hard file limit %llu too low for this test",
               (unsigned long long)limit.rlim_max);
    limit.rlim_cur = limit.rlim_max;
    cr_assert_eq (setrlimit (RLIMIT_NOFILE, &limit), 0);
    int held[S_HELD];
    for (int index = 0; index < S_HELD; index++) {
        held[index] = open ("/dev/null", O_RDONLY);  //  inherited: no O_CLOEXEC
        cr_assert (held[index] >= 0);
    }
    jt_fleet_t *fleet = jt_fleet_new ();
    for (int index = 0; index < S_HELD; index++)
        close (held[index]);
    jt_fleet_add_agent (fleet, "web-1", "dev");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000));
    char *output = NULL;
    int rc = jt_run (&output,
                     "curl -s -o /dev/null -w '%%{http_code}' --max-time 10 "
                     "http://127.0.0.1:%d/api/status",
                     fleet->port + 3);
    cr_assert_eq (rc, 0, "curl failed: %s", output);
    cr_assert_str_eq (output, "200", "status page answered %s", output);
    free (output);
    jt_fleet_destroy (&fleet);
}
