//  ctl_calendar - deploy windows and release slots in an environment's
//  time zone
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_calendar.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

//  Wall clock of UTC second t in tz, or in the controller's local time.
static void s_clock (const jad_tz_t *tz, int64_t t, jad_tz_clock_t *clock)
{
    if (tz) {
        jad_tz_clock (tz, t, clock);
        return;
    }
    time_t seconds = (time_t)t;
    struct tm local;
    memset (&local, 0, sizeof local);
    localtime_r (&seconds, &local);
    clock->year = local.tm_year + 1900;
    clock->month = local.tm_mon + 1;
    clock->day = local.tm_mday;
    clock->weekday = local.tm_wday;
    clock->hour = local.tm_hour;
    clock->minute = local.tm_min;
    clock->second = local.tm_sec;
    clock->offset = (int32_t)local.tm_gmtoff;
    clock->abbr = local.tm_zone ? local.tm_zone : "";
}

//  UTC second of wall time `local` (seconds as if UTC) in tz, or in the
//  controller's local time (the same rule for gaps and repeats).
static int64_t s_utc (const jad_tz_t *tz, int64_t local)
{
    if (tz)
        return jad_tz_utc (tz, local);
    jad_tz_clock_t clock;
    s_clock (NULL, local - 86400, &clock);
    int32_t before = clock.offset;
    s_clock (NULL, local + 86400, &clock);
    int32_t after = clock.offset;
    int64_t first = local - before, second = local - after;
    s_clock (NULL, first, &clock);
    bool first_ok = clock.offset == before;
    s_clock (NULL, second, &clock);
    bool second_ok = clock.offset == after;
    if (first_ok && second_ok)
        return first < second ? first : second;
    return second_ok ? second : first;
}

bool ctl_calendar_in_window (char *const *windows, size_t count, const jad_tz_t *tz, int64_t now_ms)
{
    if (count == 0)
        return true;
    jad_tz_clock_t clock;
    s_clock (tz, now_ms / 1000, &clock);
    int minute = clock.hour * 60 + clock.minute;
    for (size_t index = 0; index < count; index++) {
        jad_window_t window;
        if (jad_window_parse (windows[index], &window, NULL, 0) != 0)
            continue;
        if ((window.days & (1u << clock.weekday)) && minute >= window.start && minute < window.end)
            return true;
    }
    return false;
}

static int64_t s_floor_div (int64_t value, int64_t by)
{
    int64_t quotient = value / by;
    return (value % by != 0 && (value < 0) != (by < 0)) ? quotient - 1 : quotient;
}

//  True if schedule has a slot on local day `day` (days since 1970).
static bool s_slot_day (const jad_schedule_t *schedule, int64_t day)
{
    int weekday = (int)(day + 4 - s_floor_div (day + 4, 7) * 7);
    if (!(schedule->days & (1u << weekday)))
        return false;
    if (schedule->has_from && day < schedule->from_day)
        return false;
    if (schedule->weeks <= 1)
        return true;
    //  weeks run Monday to Sunday: day 4 (1970-01-05) was a Monday
    int64_t week = s_floor_div (day - 4, 7) - s_floor_div (schedule->from_day - 4, 7);
    return week % schedule->weeks == 0;
}

int64_t ctl_calendar_next_slot (const jad_schedule_t *schedule, const jad_tz_t *tz,
                                int64_t after_ms)
{
    int64_t after = s_floor_div (after_ms + 999, 1000);
    jad_tz_clock_t clock;
    s_clock (tz, after, &clock);
    //  from the day before (a slot read in a zone behind may fall there)
    int64_t day = jad_tz_days (clock.year, clock.month, clock.day) - 1;
    if (schedule->has_from && day < schedule->from_day)
        day = schedule->from_day;
    for (int64_t last = day + 54 * 7 + 2; day <= last; day++) {
        if (!s_slot_day (schedule, day))
            continue;
        int64_t slot = s_utc (tz, day * 86400 + schedule->minute * 60);
        if (slot * 1000 >= after_ms)
            return slot * 1000;
    }
    return -1;
}

int64_t ctl_calendar_due (const jad_schedule_t *schedule, const jad_tz_t *tz, int64_t last_ms,
                          int64_t now_ms, int64_t grace_ms)
{
    //  start no earlier than a year and a bit ago: a slot older than
    //  grace is skipped anyway, and the walk stays short
    int64_t from = last_ms + 1;
    if (from < now_ms - grace_ms - 1)
        from = now_ms - grace_ms - 1;
    int64_t due = -1;
    for (int64_t slot = ctl_calendar_next_slot (schedule, tz, from); slot >= 0 && slot <= now_ms;
         slot = ctl_calendar_next_slot (schedule, tz, slot + 1))
        due = slot;
    return due >= 0 && now_ms - due <= grace_ms ? due : -1;
}

size_t ctl_calendar_slots (const jad_schedule_t *schedule, const jad_tz_t *tz, int64_t after_ms,
                           int64_t *slots, size_t max)
{
    size_t count = 0;
    int64_t from = after_ms;
    while (count < max) {
        int64_t slot = ctl_calendar_next_slot (schedule, tz, from);
        if (slot < 0)
            break;
        slots[count++] = slot;
        from = slot + 1;
    }
    return count;
}

const char *ctl_calendar_format (const jad_tz_t *tz, int64_t t_ms, bool short_form, char *buf,
                                 size_t len)
{
    jad_tz_clock_t clock;
    s_clock (tz, s_floor_div (t_ms, 1000), &clock);
    if (short_form)
        snprintf (buf, len, "%s %02d:%02d", jad_weekday_name (clock.weekday), clock.hour,
                  clock.minute);
    else
        snprintf (buf, len, "%s %04d-%02d-%02d %02d:%02d %s", jad_weekday_name (clock.weekday),
                  clock.year, clock.month, clock.day, clock.hour, clock.minute, clock.abbr);
    return buf;
}
