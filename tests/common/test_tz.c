//  test_tz - time zones read from the tz database: every zone's offsets
//  agree with the C library's, past the last transition too (the TZif
//  footer's rule), wall times across clock changes, and bad files and
//  names refused with why
//  SPDX-License-Identifier: MPL-2.0

#include "jad_tz.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *s_zones[] = {
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Sao_Paulo",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/St_Johns",
    "Africa/Casablanca",
    "UTC",
    "Asia/Tokyo",
};

//  The C library, reading the same file through TZ, is the oracle.
Test (tz, offsets_agree_with_the_c_library_from_1990_to_2060)
{
    for (size_t zone = 0; zone < sizeof s_zones / sizeof *s_zones; zone++) {
        char err[256] = "";
        jad_tz_t *tz = jad_tz_load (s_zones[zone], NULL, err, sizeof err);
        cr_assert_not_null (tz, "%s: %s", s_zones[zone], err);
        cr_assert_str_eq (jad_tz_name (tz), s_zones[zone]);
        setenv ("TZ", s_zones[zone], 1);
        tzset ();
        //  every 3 days and 7 hours and 13 seconds: every hour of the day
        //  and every day of the week come round
        for (int64_t t = 631152000; t < 2871763200; t += 3 * 86400 + 7 * 3600 + 13) {
            time_t seconds = (time_t)t;
            struct tm local;
            cr_assert_not_null (localtime_r (&seconds, &local));
            jad_tz_clock_t clock;
            jad_tz_clock (tz, t, &clock);
            cr_assert_eq (clock.offset, local.tm_gmtoff, "%s at %lld: %d, libc %ld", s_zones[zone],
                          (long long)t, clock.offset, local.tm_gmtoff);
            cr_assert_str_eq (clock.abbr, local.tm_zone, "%s at %lld", s_zones[zone], (long long)t);
            cr_assert_eq (clock.year, local.tm_year + 1900);
            cr_assert_eq (clock.month, local.tm_mon + 1);
            cr_assert_eq (clock.day, local.tm_mday);
            cr_assert_eq (clock.weekday, local.tm_wday);
            cr_assert_eq (clock.hour, local.tm_hour);
            cr_assert_eq (clock.minute, local.tm_min);
            cr_assert_eq (clock.second, local.tm_sec);
        }
        jad_tz_destroy (&tz);
        cr_assert_null (tz);
        jad_tz_destroy (&tz);
    }
    unsetenv ("TZ");
    tzset ();
}

//  Berlin's clock changes of 2027 (the last Sundays of March and October,
//  at 01:00 UTC), and one in 2040, after the file's last transition.
Test (tz, berlin_changes_at_one_utc)
{
    struct {
        int64_t t;
        int32_t offset;
        const char *abbr;
    } rows[] = {
        {1806195599, 3600, "CET"}, {1806195600, 7200, "CEST"}, {1824944399, 7200, "CEST"},
        {1824944400, 3600, "CET"}, {2224756800, 7200, "CEST"}, {2209032000, 3600, "CET"},
    };
    jad_tz_t *tz = jad_tz_load ("Europe/Berlin", NULL, NULL, 0);
    cr_assert_not_null (tz);
    for (size_t row = 0; row < sizeof rows / sizeof *rows; row++) {
        const char *abbr = NULL;
        cr_assert_eq (jad_tz_offset (tz, rows[row].t, &abbr), rows[row].offset, "row %zu", row);
        cr_assert_str_eq (abbr, rows[row].abbr, "row %zu", row);
    }
    jad_tz_destroy (&tz);
}

//  Wall time to UTC: a time clocks skip is read with the offset before
//  (02:30 is 03:30 CEST), a time they repeat is its first occurrence.
Test (tz, wall_time_across_gaps_and_repeats)
{
    struct {
        const char *rule;
        int year, month, day, hour, minute;
        int64_t utc;
    } rows[] = {
        //  spring forward, Berlin 2027-03-28: 02:00 CET -> 03:00 CEST
        {"CET-1CEST,M3.5.0,M10.5.0/3", 2027, 3, 28, 1, 59, 1806195540},
        {"CET-1CEST,M3.5.0,M10.5.0/3", 2027, 3, 28, 2, 30, 1806197400},
        {"CET-1CEST,M3.5.0,M10.5.0/3", 2027, 3, 28, 3, 0, 1806195600},
        //  fall back, 2027-10-31: 03:00 CEST -> 02:00 CET; 02:30 twice
        {"CET-1CEST,M3.5.0,M10.5.0/3", 2027, 10, 31, 2, 30, 1824942600},
        {"CET-1CEST,M3.5.0,M10.5.0/3", 2027, 10, 31, 3, 0, 1824948000},
        //  the southern hemisphere: Sydney's summer spans the new year
        {"AEST-10AEDT,M10.1.0,M4.1.0/3", 2027, 1, 15, 10, 0, 1799967600},
        {"AEST-10AEDT,M10.1.0,M4.1.0/3", 2027, 7, 15, 10, 0, 1815609600},
        {"UTC0", 2026, 12, 8, 10, 0, 1796724000},
    };
    for (size_t row = 0; row < sizeof rows / sizeof *rows; row++) {
        char err[128] = "";
        jad_tz_t *tz = jad_tz_from_rule ("test", rows[row].rule, err, sizeof err);
        cr_assert_not_null (tz, "%s: %s", rows[row].rule, err);
        int64_t local = jad_tz_days (rows[row].year, rows[row].month, rows[row].day) * 86400 +
                        rows[row].hour * 3600 + rows[row].minute * 60;
        cr_assert_eq (jad_tz_utc (tz, local), rows[row].utc, "row %zu: %lld", row,
                      (long long)jad_tz_utc (tz, local));
        jad_tz_destroy (&tz);
    }
}

Test (tz, dates_round_trip)
{
    for (int64_t days = -800000; days < 800000; days += 37) {
        int year, month, day;
        jad_tz_date (days, &year, &month, &day);
        cr_assert_eq (jad_tz_days (year, month, day), days);
    }
    cr_assert_eq (jad_tz_days (1970, 1, 1), 0);
    cr_assert_eq (jad_tz_days (2026, 12, 8), 20795);
}

Test (tz, refuses_bad_names_and_unknown_zones)
{
    char err[256] = "";
    const char *bad[] = {"",   "/etc/passwd",    "../../etc/passwd", "Europe/../../x",
                         "-x", "Europe//Berlin", "Europe/Berlin/",   "Eu rope"};
    for (size_t index = 0; index < sizeof bad / sizeof *bad; index++) {
        cr_assert_not (jad_tz_name_valid (bad[index]), "%s", bad[index]);
        cr_assert_null (jad_tz_load (bad[index], NULL, err, sizeof err));
        cr_assert (strstr (err, "is not a time zone name"), "%s", err);
    }
    cr_assert_null (jad_tz_load ("Europe/Berln", NULL, err, sizeof err));
    cr_assert_str_eq (err, "unknown time zone 'Europe/Berln' (no /usr/share/zoneinfo/Europe/Berln; "
                           "is tzdata installed?)");
    cr_assert_null (jad_tz_load ("Europe", NULL, err, sizeof err));
    cr_assert (strstr (err, "time zone 'Europe'"), "%s", err);
}

Test (tz, refuses_malformed_files_and_rules)
{
    char err[256] = "";
    size_t size = 0;
    FILE *file = fopen ("/usr/share/zoneinfo/Europe/Berlin", "rb");
    cr_assert_not_null (file);
    static uint8_t bytes[65536];
    size = fread (bytes, 1, sizeof bytes, file);
    fclose (file);
    cr_assert_gt (size, 44);
    jad_tz_t *tz = jad_tz_parse ("x", bytes, size, err, sizeof err);
    cr_assert_not_null (tz, "%s", err);
    jad_tz_destroy (&tz);
    //  every truncation is refused, none read past the end
    for (size_t cut = 0; cut < size; cut += cut < 64 ? 1 : 97) {
        cr_assert_null (jad_tz_parse ("x", bytes, cut, err, sizeof err), "cut %zu", cut);
        cr_assert (*err);
    }
    bytes[0] = 'X';
    cr_assert_null (jad_tz_parse ("x", bytes, size, err, sizeof err));
    cr_assert_str_eq (err, "not a TZif file");
    const char *rules[] = {"",
                           "C-1",
                           "CET",
                           "CET-1CEST,M3.5.0",
                           "CET-1CEST,M13.5.0,M10.5.0",
                           "CET-1CEST,M3.6.0,M10.5.0",
                           "CET-99",
                           "CET-1CEST,J0,J10",
                           "CET-1CEST,M3.5.0,M10.5.0/3x",
                           "<+0530"};
    for (size_t index = 0; index < sizeof rules / sizeof *rules; index++) {
        cr_assert_null (jad_tz_from_rule ("x", rules[index], err, sizeof err), "%s", rules[index]);
        cr_assert (strstr (err, "malformed TZ rule"), "%s", err);
    }
    tz = jad_tz_from_rule ("x", "<+0530>-5:30", err, sizeof err);
    cr_assert_not_null (tz, "%s", err);
    const char *abbr = NULL;
    cr_assert_eq (jad_tz_offset (tz, 0, &abbr), 19800);
    cr_assert_str_eq (abbr, "+0530");
    jad_tz_destroy (&tz);
}
