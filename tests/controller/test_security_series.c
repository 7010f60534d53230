//  test_security_series - the controller's refusal counters read as series
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_security.h"
#include "jad_config.h"

#include <criterion/criterion.h>
#include <stdlib.h>

static double s_value (ctl_security_t *security, const char *metric, int64_t since)
{
    double *values = NULL;
    uint32_t *hosts = NULL;
    size_t count = 0;
    cr_assert_eq (ctl_security_values (security, metric, since, &values, &hosts, &count), 0);
    cr_assert_eq (count, 1);
    cr_assert_eq (hosts[0], 1);
    double value = values[0];
    free (values);
    free (hosts);
    return value;
}

Test (security_series, refusals_in_the_window_by_series)
{
    ctl_counters_t counters = {0};
    counters.value[CTL_COUNT_ZAP_DENIED] = 7;  //  before the first sample: not counted
    ctl_security_t *security = ctl_security_new (&counters);
    cr_assert_not_null (security);
    double *values = NULL;
    uint32_t *hosts = NULL;
    size_t count = 5;
    cr_assert_eq (
        ctl_security_values (security, "jadugar_security_refusals", 0, &values, &hosts, &count), 0);
    cr_assert_eq (count, 0, "no value before the first sample");
    int64_t t0 = 1000000;
    ctl_security_tick (security, t0);
    cr_assert_eq (s_value (security, "jadugar_security_zap_denied", 0), 0);
    counters.value[CTL_COUNT_ENROLL_TOKEN_WRONG] += 3;
    counters.value[CTL_COUNT_ENROLL_THROTTLED] += 2;
    ctl_security_tick (security, t0 + 500);  //  within the second: not sampled
    ctl_security_tick (security, t0 + 1000);
    counters.value[CTL_COUNT_AGENT_BAD_SIGNATURE] += 4;
    counters.value[CTL_COUNT_API_DENIED] += 1;
    ctl_security_tick (security, t0 + 2000);
    cr_assert_eq (s_value (security, "jadugar_security_bad_token", 0), 5);
    cr_assert_eq (s_value (security, "jadugar_security_bad_signature", 0), 4);
    cr_assert_eq (s_value (security, "jadugar_security_api_denied", 0), 1);
    cr_assert_eq (s_value (security, "jadugar_security_refusals", 0), 10);
    //  a window that starts after the tokens came
    cr_assert_eq (s_value (security, "jadugar_security_refusals", t0 + 1500), 5);
    cr_assert_eq (s_value (security, "jadugar_security_bad_token", t0 + 1500), 0);
    //  every series jad_config knows has counters here
    const char *names[] = {"jadugar_security_refusals",    "jadugar_security_bad_signature",
                           "jadugar_security_unknown_key", "jadugar_security_stale_epoch",
                           "jadugar_security_zap_denied",  "jadugar_security_api_denied",
                           "jadugar_security_bad_token"};
    for (size_t index = 0; index < sizeof names / sizeof *names; index++) {
        cr_assert (jad_controller_series_valid (names[index]), "%s", names[index]);
        s_value (security, names[index], 0);
    }
    cr_assert_eq (ctl_security_values (security, "http_errors", 0, &values, &hosts, &count), -1);
    ctl_security_destroy (&security);
    cr_assert_null (security);
}

Test (security_series, the_last_hour_is_kept)
{
    ctl_counters_t counters = {0};
    ctl_security_t *security = ctl_security_new (&counters);
    int64_t t0 = 5000000;
    for (int second = 0; second <= 4000; second++) {
        counters.value[CTL_COUNT_ZAP_DENIED]++;
        ctl_security_tick (security, t0 + second * 1000);
    }
    //  the first sample counts nothing; 3600 samples are kept, one each
    cr_assert_eq (s_value (security, "jadugar_security_zap_denied", 0), 3600);
    ctl_security_destroy (&security);
}
