//  test_calendar - windows and schedules: parsed as controller.yaml
//  writes them, read in an environment's time zone across clock changes
//  and week boundaries
//  SPDX-License-Identifier: MPL-2.0

#include "engine/ctl_calendar.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static jad_tz_t *s_berlin;
static jad_tz_t *s_utc;

static void s_setup (void)
{
    setenv ("TZ", "UTC", 1);
    tzset ();
    s_berlin = jad_tz_load ("Europe/Berlin", NULL, NULL, 0);
    s_utc = jad_tz_load ("UTC", NULL, NULL, 0);
    cr_assert (s_berlin && s_utc);
}

static void s_teardown (void)
{
    jad_tz_destroy (&s_berlin);
    jad_tz_destroy (&s_utc);
}

TestSuite (calendar, .init = s_setup, .fini = s_teardown);

Test (calendar, parses_windows_and_names_what_is_wrong)
{
    struct {
        const char *text;
        int days, start, end;  //  days -1: refused, then `why` is in the error
        const char *why;
    } rows[] = {
        {"Tue 09:00-17:00", 1 << 2, 540, 1020, NULL},
        {"Mon-Fri 09:00-17:00", 0x3e, 540, 1020, NULL},
        {"Fri-Mon 00:00-24:00", 0x63, 0, 1440, NULL},
        {"Tue,Thu 10:30-11:00", (1 << 2) | (1 << 4), 630, 660, NULL},
        {"Mon-Wed,Sat 08:00-09:00", 0x4e, 480, 540, NULL},
        {"Tus 09:00-17:00", -1, 0, 0, "days like Tue"},
        {"Mon-Fry 09:00-17:00", -1, 0, 0, "days like Tue"},
        {"Mon, Tue 09:00-17:00", -1, 0, 0, "days like"},
        {"Tue 17:00-09:00", -1, 0, 0, "start before it ends"},
        {"Tue 09:00-24:01", -1, 0, 0, "hours like"},
        {"Tue 24:00-24:00", -1, 0, 0, "hours like"},
        {"Tue 09:00-17:00 ", -1, 0, 0, "hours like"},
        {"", -1, 0, 0, "days like"},
    };
    for (size_t row = 0; row < sizeof rows / sizeof *rows; row++) {
        jad_window_t window;
        char err[128] = "";
        int rc = jad_window_parse (rows[row].text, &window, err, sizeof err);
        if (rows[row].days < 0) {
            cr_assert_eq (rc, -1, "%s", rows[row].text);
            cr_assert (strstr (err, rows[row].why), "%s: %s", rows[row].text, err);
            continue;
        }
        cr_assert_eq (rc, 0, "%s: %s", rows[row].text, err);
        cr_assert_eq (window.days, rows[row].days, "%s", rows[row].text);
        cr_assert_eq (window.start, rows[row].start);
        cr_assert_eq (window.end, rows[row].end);
    }
}

Test (calendar, parses_schedules_and_names_what_is_wrong)
{
    struct {
        const char *text;
        int days;  //  -1: refused, `why` in the error
        int minute;
        unsigned weeks;
        const char *from;  //  NULL: none
        const char *why;
    } rows[] = {
        {"daily 09:00", 0x7f, 540, 1, NULL, NULL},
        {"daily 09:00 from 2027-01-01", 0x7f, 540, 1, "2027-01-01", NULL},
        {"weekly Tue,Thu 10:00", (1 << 2) | (1 << 4), 600, 1, NULL, NULL},
        {"every week Mon-Fri 23:59", 0x3e, 1439, 1, NULL, NULL},
        {"every 2 weeks Tue 10:00 from 2026-12-08", 1 << 2, 600, 2, "2026-12-08", NULL},
        {"every 52 weeks Sun 00:00 from 2028-02-29", 1, 0, 52, "2028-02-29", NULL},
        {"every 2 weeks Tue 10:00", -1, 0, 0, NULL, "needs 'from YYYY-MM-DD'"},
        {"every 53 weeks Tue 10:00 from 2026-12-08", -1, 0, 0, NULL, "'every' takes"},
        {"every 0 weeks Tue 10:00 from 2026-12-08", -1, 0, 0, NULL, "'every' takes"},
        {"every 2 weeksTue 10:00 from 2026-12-08", -1, 0, 0, NULL, "'every' takes"},
        {"every -2 weeks Tue 10:00 from 2026-12-08", -1, 0, 0, NULL, "'every' takes"},
        {"hourly 10:00", -1, 0, 0, NULL, "starts with daily"},
        {"daily 24:00", -1, 0, 0, NULL, "a time like"},
        {"daily 9:00", -1, 0, 0, NULL, "a time like"},
        {"weekly 10:00", -1, 0, 0, NULL, "days like"},
        {"daily 09:00 from 2027-02-29", -1, 0, 0, NULL, "a real date"},
        {"daily 09:00 from 2027-13-01", -1, 0, 0, NULL, "a real date"},
        {"daily 09:00 until 2027-01-01", -1, 0, 0, NULL, "only 'from"},
        {"daily 09:00 from 2027-01-01 ", -1, 0, 0, NULL, "a real date"},
    };
    for (size_t row = 0; row < sizeof rows / sizeof *rows; row++) {
        jad_schedule_t schedule;
        char err[160] = "";
        int rc = jad_schedule_parse (rows[row].text, &schedule, err, sizeof err);
        if (rows[row].days < 0) {
            cr_assert_eq (rc, -1, "%s", rows[row].text);
            cr_assert (strstr (err, rows[row].why), "%s: %s", rows[row].text, err);
            continue;
        }
        cr_assert_eq (rc, 0, "%s: %s", rows[row].text, err);
        cr_assert_eq (schedule.days, rows[row].days, "%s", rows[row].text);
        cr_assert_eq (schedule.minute, rows[row].minute);
        cr_assert_eq (schedule.weeks, rows[row].weeks);
        cr_assert_eq (schedule.has_from, rows[row].from != NULL);
        if (rows[row].from) {
            int year, month, day;
            cr_assert_eq (sscanf (rows[row].from, "%d-%d-%d", &year, &month, &day), 3);
            cr_assert_eq (schedule.from_day, jad_tz_days (year, month, day));
        }
    }
}

//  "Mon-Fri 09:00-17:00" in Berlin and in the controller's zone (UTC here)
Test (calendar, windows_are_read_in_the_zone)
{
    char *windows[] = {"Mon-Fri 09:00-17:00"};
    struct {
        int64_t now;
        bool berlin, utc;
    } rows[] = {
        {1796630340000, false, false},  //  Mon 07:59 UTC, 08:59 CET
        {1796630400000, true, false},   //  Mon 08:00 UTC, 09:00 CET
        {1796634000000, true, true},    //  Mon 09:00 UTC
        {1797004740000, true, true},    //  Fri 15:59 UTC, 16:59 CET
        {1797004800000, false, true},   //  Fri 16:00 UTC, 17:00 CET
        {1797069600000, false, false},  //  Sat
        {1812351540000, false, false},  //  Mon 2027-06-07 06:59 UTC, 08:59 CEST
        {1812351600000, true, false},   //  07:00 UTC, 09:00 CEST
    };
    for (size_t row = 0; row < sizeof rows / sizeof *rows; row++) {
        cr_assert_eq (ctl_calendar_in_window (windows, 1, s_berlin, rows[row].now),
                      rows[row].berlin, "row %zu", row);
        cr_assert_eq (ctl_calendar_in_window (windows, 1, NULL, rows[row].now), rows[row].utc,
                      "row %zu", row);
        cr_assert_eq (ctl_calendar_in_window (windows, 1, s_utc, rows[row].now), rows[row].utc,
                      "row %zu", row);
    }
    cr_assert (ctl_calendar_in_window (NULL, 0, s_berlin, 0));
}

Test (calendar, next_slot_across_weeks_and_clock_changes)
{
    struct {
        const char *schedule;
        bool berlin;  //  else UTC
        int64_t after, slot;
    } rows[] = {
        //  the first slot is the from date's
        {"every 2 weeks Tue 10:00 from 2026-12-08", true, 1796558400000, 1796720400000},
        //  at a slot is that slot; a second later, two weeks on
        {"every 2 weeks Tue 10:00 from 2026-12-08", true, 1796720400000, 1796720400000},
        {"every 2 weeks Tue 10:00 from 2026-12-08", true, 1796720401000, 1797930000000},
        //  10:00 stays 10:00 when summer time starts (08:00 UTC)
        {"every 2 weeks Tue 10:00 from 2026-12-08", true, 1805187601000, 1806393600000},
        {"daily 09:00", false, 1796558400000, 1796634000000},
        //  02:30 does not happen on 2027-03-28: 03:30 CEST
        {"daily 02:30", true, 1806145200000, 1806197400000},
        //  02:30 happens twice on 2027-10-31: the first
        {"weekly Sun 02:30", true, 1824890400000, 1824942600000},
        //  Friday 11:00 after Friday's slot: Monday
        {"weekly Mon-Fri 10:00", true, 1796983200000, 1797238800000},
        //  weeks run Monday to Sunday: Sunday is in Monday's week
        {"every 2 weeks Mon,Sun 10:00 from 2026-12-07", true, 1796634001000, 1797152400000},
        {"every 2 weeks Mon,Sun 10:00 from 2026-12-07", true, 1797152401000, 1797843600000},
        {"daily 09:00 from 2027-01-01", true, 1796558400000, 1798790400000},
        //  across the new year
        {"every 2 weeks Thu 10:00 from 2026-12-31", false, 1798711201000, 1799920800000},
    };
    for (size_t row = 0; row < sizeof rows / sizeof *rows; row++) {
        jad_schedule_t schedule;
        cr_assert_eq (jad_schedule_parse (rows[row].schedule, &schedule, NULL, 0), 0);
        int64_t slot = ctl_calendar_next_slot (&schedule, rows[row].berlin ? s_berlin : s_utc,
                                               rows[row].after);
        char got[64], want[64];
        cr_assert_eq (slot, rows[row].slot, "row %zu (%s): %s, want %s", row, rows[row].schedule,
                      ctl_calendar_format (s_berlin, slot, false, got, sizeof got),
                      ctl_calendar_format (s_berlin, rows[row].slot, false, want, sizeof want));
    }
}

Test (calendar, lists_the_coming_slots)
{
    jad_schedule_t schedule;
    cr_assert_eq (
        jad_schedule_parse ("every 2 weeks Tue 10:00 from 2026-12-08", &schedule, NULL, 0), 0);
    int64_t slots[3];
    cr_assert_eq (ctl_calendar_slots (&schedule, s_berlin, 1796558400000, slots, 3), 3);
    char text[64];
    cr_assert_str_eq (ctl_calendar_format (s_berlin, slots[0], false, text, sizeof text),
                      "Tue 2026-12-08 10:00 CET");
    cr_assert_str_eq (ctl_calendar_format (s_berlin, slots[1], false, text, sizeof text),
                      "Tue 2026-12-22 10:00 CET");
    cr_assert_str_eq (ctl_calendar_format (s_berlin, slots[2], false, text, sizeof text),
                      "Tue 2027-01-05 10:00 CET");
    cr_assert_str_eq (ctl_calendar_format (s_berlin, slots[2], true, text, sizeof text),
                      "Tue 10:00");
}

//  The slot the controller deploys at: the newest one since the last,
//  if it came within the grace; a controller down longer skips it.
Test (calendar, due_slot_is_the_newest_since_the_last_within_grace)
{
    jad_schedule_t schedule;
    cr_assert_eq (jad_schedule_parse ("daily 09:00", &schedule, NULL, 0), 0);
    int64_t mon = 1796634000000;  //  Mon 2026-12-07 09:00 UTC
    int64_t day = 86400000, hour = 3600000;
    struct {
        int64_t last, now, due;
    } rows[] = {
        {mon - 1, mon - 1, -1},                 //  not yet
        {mon - day, mon, mon},                  //  at the slot
        {mon - day, mon + hour, mon},           //  an hour late: still
        {mon - day, mon + hour + 1, -1},        //  later: skipped
        {mon, mon + 1000, -1},                  //  done already
        {mon - 3 * day, mon + 1000, mon},       //  down for days: only the newest
        {mon - 3 * day, mon + day - 1000, -1},  //  ... if it is recent
        {mon, mon + day, mon + day},            //  the next day's
    };
    for (size_t row = 0; row < sizeof rows / sizeof *rows; row++)
        cr_assert_eq (
            ctl_calendar_due (&schedule, s_utc, rows[row].last, rows[row].now, hour), rows[row].due,
            "row %zu: %lld", row,
            (long long)ctl_calendar_due (&schedule, s_utc, rows[row].last, rows[row].now, hour));
}
