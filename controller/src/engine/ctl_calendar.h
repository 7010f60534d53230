//  ctl_calendar - deploy windows and release slots in an environment's
//  time zone
//  SPDX-License-Identifier: MPL-2.0
//
//  Pure: the texts (validated by the config check, parsed by
//  jad_calendar), a zone (jad_tz, loaded with the configuration) and a
//  time in; an answer out. Without a zone (no `timezone:`) times are the
//  controller's local time, as the process's TZ says.

#ifndef CTL_CALENDAR_H_INCLUDED
#define CTL_CALENDAR_H_INCLUDED

#include "jad_calendar.h"
#include "jad_tz.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  True if wall time now_ms, read in tz, falls in one of the windows
//  (texts as jad_window_parse reads them; one it cannot read matches
//  nothing), or count is 0.
bool ctl_calendar_in_window (char *const *windows, size_t count, const jad_tz_t *tz,
                             int64_t now_ms);

//  The first slot of schedule at or after after_ms, read in tz (wall ms),
//  or -1 if there is none within the next 54 weeks (cannot happen with a
//  parsed schedule whose `from` is within a year).
int64_t ctl_calendar_next_slot (const jad_schedule_t *schedule, const jad_tz_t *tz,
                                int64_t after_ms);

//  The slot the controller deploys at now: the newest slot of schedule
//  after last_ms (the last one it deployed at) and at or before now_ms,
//  if it came at most grace_ms ago; else -1 (none came, or the newest
//  came too long ago: a controller that was down skips it).
int64_t ctl_calendar_due (const jad_schedule_t *schedule, const jad_tz_t *tz, int64_t last_ms,
                          int64_t now_ms, int64_t grace_ms);

//  Up to max slots from after_ms on, into slots; returns how many.
size_t ctl_calendar_slots (const jad_schedule_t *schedule, const jad_tz_t *tz, int64_t after_ms,
                           int64_t *slots, size_t max);

//  Wall time t_ms in tz as "Tue 2026-12-08 10:00 CET" (format "%a
//  %Y-%m-%d %H:%M %Z"), or "%a %H:%M" when short; returns buf.
const char *ctl_calendar_format (const jad_tz_t *tz, int64_t t_ms, bool short_form, char *buf,
                                 size_t len);

#endif
