//  test_sessions - how many connections the controller takes, and how many
//  libzmq I/O threads serve them
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_sessions.h"

#include <criterion/criterion.h>
#include <sys/resource.h>

Test (sessions, io_threads_follow_the_connections_up_to_one_per_core)
{
    struct {
        size_t connections;
        long cores;
        size_t threads;
    } cases[] = {
        {0, 2, 1},        //  none: still one
        {100, 2, 1},      //  a small fleet
        {5000, 8, 1},     //  2,500 agents: one thread
        {5001, 8, 2},     //  one connection more: a second
        {20000, 8, 4},    //  10,000 agents: four
        {57344, 2, 2},    //  LimitNOFILE=65536 on two cores
        {57344, 16, 12},  //  on sixteen
        {1000000, 0, 1},  //  cores unknown (sysconf failed): one
        {1000000, -1, 1},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++)
        cr_expect_eq (ctl_sessions_io_threads (cases[index].connections, cases[index].cores),
                      cases[index].threads, "%zu connections, %ld cores", cases[index].connections,
                      cases[index].cores);
}

Test (sessions, the_cap_is_max_connections_within_the_descriptor_limit)
{
    struct rlimit limit = {.rlim_cur = 2048, .rlim_max = 2048};
    cr_assert_eq (setrlimit (RLIMIT_NOFILE, &limit), 0);
    //  2048 descriptors less an eighth (256) kept for the rest
    cr_expect_eq (ctl_sessions_cap (0), 1792);
    cr_expect_eq (ctl_sessions_cap (1000), 1000);
    cr_expect_eq (ctl_sessions_cap (5000), 1792, "more than the descriptors allow is lowered");
    limit.rlim_cur = limit.rlim_max = 256;
    cr_assert_eq (setrlimit (RLIMIT_NOFILE, &limit), 0);
    //  the reserve is at least 128
    cr_expect_eq (ctl_sessions_cap (0), 128);
}
