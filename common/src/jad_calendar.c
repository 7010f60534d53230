//  jad_calendar - deploy windows and release schedules as controller.yaml
//  writes them
//  SPDX-License-Identifier: MPL-2.0

#include "jad_calendar.h"

#include "jad_tz.h"
#include "jad_util.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char *s_days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

const char *jad_weekday_name (int weekday)
{
    return weekday >= 0 && weekday < 7 ? s_days[weekday] : "?";
}

static int s_day (const char *text)
{
    for (int index = 0; index < 7; index++)
        if (strncmp (text, s_days[index], 3) == 0)
            return index;
    return -1;
}

//  DAYS at text up to a space; *end after it. Returns the day mask, 0 if bad.
static uint8_t s_days_parse (const char *text, const char **end)
{
    uint8_t mask = 0;
    const char *cursor = text;
    for (;;) {
        int first = s_day (cursor), last;
        if (first < 0)
            return 0;
        cursor += 3;
        last = first;
        if (*cursor == '-') {
            last = s_day (cursor + 1);
            if (last < 0)
                return 0;
            cursor += 4;
        }
        for (int day = first;; day = (day + 1) % 7) {
            mask |= (uint8_t)(1u << day);
            if (day == last)
                break;
        }
        if (*cursor != ',')
            break;
        cursor++;
    }
    *end = cursor;
    return mask;
}

//  "HH:MM" into minutes; 24:00 only if allow_end. -1 if bad.
static int s_clock (const char *text, bool allow_end)
{
    if (!isdigit ((unsigned char)text[0]) || !isdigit ((unsigned char)text[1]) || text[2] != ':' ||
        !isdigit ((unsigned char)text[3]) || !isdigit ((unsigned char)text[4]))
        return -1;
    int hours = (text[0] - '0') * 10 + (text[1] - '0');
    int minutes = (text[3] - '0') * 10 + (text[4] - '0');
    if (minutes > 59 || hours > 24 || (hours == 24 && (!allow_end || minutes != 0)))
        return -1;
    return hours * 60 + minutes;
}

int jad_window_parse (const char *text, jad_window_t *window, char *err, size_t errlen)
{
    const char *cursor = text;
    memset (window, 0, sizeof *window);
    window->days = text ? s_days_parse (text, &cursor) : 0;
    if (!window->days || *cursor != ' ') {
        jad_seterr (err, errlen, "days like Tue, Mon-Fri or Tue,Thu (Mon..Sun) first");
        return -1;
    }
    cursor++;
    window->start = s_clock (cursor, false);
    window->end = strlen (cursor) == 11 && cursor[5] == '-' ? s_clock (cursor + 6, true) : -1;
    if (window->start < 0 || window->end < 0) {
        jad_seterr (err, errlen, "hours like 09:00-17:00 after the days");
        return -1;
    }
    if (window->start >= window->end) {
        jad_seterr (err, errlen, "the window must start before it ends (24:00 ends a day)");
        return -1;
    }
    return 0;
}

//  "YYYY-MM-DD" into days since 1970; -1 with *ok false if bad.
static int64_t s_date (const char *text, bool *ok)
{
    int year, month, day, used = 0;
    *ok = strlen (text) == 10 && sscanf (text, "%4d-%2d-%2d%n", &year, &month, &day, &used) == 3 &&
          used == 10 && text[4] == '-' && text[7] == '-' && year >= 1970 && year <= 9999 &&
          month >= 1 && month <= 12 && day >= 1;
    if (!*ok)
        return -1;
    int next_year = month == 12 ? year + 1 : year, next_month = month == 12 ? 1 : month + 1;
    int64_t days = jad_tz_days (year, month, day);
    *ok = days < jad_tz_days (next_year, next_month, 1);
    return days;
}

int jad_schedule_parse (const char *text, jad_schedule_t *schedule, char *err, size_t errlen)
{
    memset (schedule, 0, sizeof *schedule);
    schedule->weeks = 1;
    if (!text) {
        jad_seterr (err, errlen, "no schedule");
        return -1;
    }
    const char *cursor = text;
    bool weekly = false;
    if (strncmp (cursor, "daily ", 6) == 0) {
        schedule->days = 0x7f;
        cursor += 6;
    } else if (strncmp (cursor, "weekly ", 7) == 0) {
        weekly = true;
        cursor += 7;
    } else if (strncmp (cursor, "every ", 6) == 0) {
        cursor += 6;
        unsigned weeks = 0;
        int used = 0;
        if (strncmp (cursor, "week ", 5) == 0)
            cursor += 5;
        else if (sscanf (cursor, "%2u weeks %n", &weeks, &used) == 1 && used > 0 &&
                 cursor[used - 1] == ' ' && weeks >= 1 && weeks <= 52 &&
                 isdigit ((unsigned char)*cursor)) {
            schedule->weeks = weeks;
            cursor += used;
        } else {
            jad_seterr (err, errlen, "'every' takes 'week' or 'N weeks' (N 1..52)");
            return -1;
        }
        weekly = true;
    } else {
        jad_seterr (err, errlen,
                    "a schedule starts with daily, weekly or every N weeks (\"daily 09:00\", "
                    "\"every 2 weeks Tue 10:00 from 2026-12-08\")");
        return -1;
    }
    if (weekly) {
        schedule->days = s_days_parse (cursor, &cursor);
        if (!schedule->days || *cursor != ' ') {
            jad_seterr (err, errlen,
                        "days like Tue, Mon-Fri or Tue,Thu (Mon..Sun) before the time");
            return -1;
        }
        cursor++;
    }
    schedule->minute = s_clock (cursor, false);
    if (schedule->minute < 0 || (cursor[5] != 0 && cursor[5] != ' ')) {
        jad_seterr (err, errlen, "a time like 10:00 (00:00..23:59)");
        return -1;
    }
    cursor += 5;
    if (*cursor) {
        bool ok = strncmp (cursor, " from ", 6) == 0;
        schedule->from_day = ok ? s_date (cursor + 6, &ok) : -1;
        if (!ok) {
            jad_seterr (err, errlen, "after the time only 'from YYYY-MM-DD' (a real date)");
            return -1;
        }
        schedule->has_from = true;
    }
    if (schedule->weeks > 1 && !schedule->has_from) {
        jad_seterr (err, errlen, "every %u weeks needs 'from YYYY-MM-DD': the week it counts from",
                    (unsigned)schedule->weeks);
        return -1;
    }
    return 0;
}
