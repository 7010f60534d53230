//  jad_calendar - deploy windows and release schedules as controller.yaml
//  writes them
//  SPDX-License-Identifier: MPL-2.0
//
//  The texts, parsed into plain values (the config check and the engine
//  read them with the same parser; the engine's ctl_calendar does the
//  arithmetic in the environment's time zone):
//
//      window     DAYS HH:MM-HH:MM          "Tue 09:00-17:00", "Mon-Fri 09:00-17:00"
//      schedule   daily HH:MM [from DATE]                    "daily 09:00"
//                 weekly DAYS HH:MM [from DATE]              "weekly Tue,Thu 10:00"
//                 every N weeks DAYS HH:MM from DATE         "every 2 weeks Tue 10:00 from 2026-12-08"
//
//  DAYS is Mon..Sun, a range ("Mon-Fri", "Fri-Mon" wraps) or a list of
//  either ("Mon,Wed-Thu"); DATE is YYYY-MM-DD. Every N weeks counts weeks
//  (Monday to Sunday) from the one holding DATE, whose week is the first
//  with slots; no slot falls before DATE.

#ifndef JAD_CALENDAR_H_INCLUDED
#define JAD_CALENDAR_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint8_t days;  //  bit d set: weekday d (0 Sunday .. 6 Saturday)
    int start;     //  minutes after local midnight
    int end;       //  start < end <= 1440 (24:00)
} jad_window_t;

//  Parse a window. Returns 0, or -1 with what is wrong in err.
int jad_window_parse (const char *text, jad_window_t *window, char *err, size_t errlen);

typedef struct {
    uint8_t days;      //  bit d set: slots on weekday d (daily: all seven)
    int minute;        //  of the day, local: 0..1439
    uint32_t weeks;    //  every this many weeks, 1..52
    bool has_from;     //  slots start on from_day
    int64_t from_day;  //  days since 1970-01-01 of DATE
} jad_schedule_t;

//  Parse a schedule. Returns 0, or -1 with what is wrong in err.
int jad_schedule_parse (const char *text, jad_schedule_t *schedule, char *err, size_t errlen);

//  "Mon", "Tue"... of weekday 0..6 (0 Sunday).
const char *jad_weekday_name (int weekday);

#ifdef __cplusplus
}
#endif

#endif
