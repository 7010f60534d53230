//  jad_tz - time zones from the tz database, without touching TZ
//  SPDX-License-Identifier: MPL-2.0
//
//  An environment's `timezone:` (an IANA name, "Europe/Berlin") is read
//  once, with the configuration, from the tz database's compiled files
//  (/usr/share/zoneinfo, Debian's tzdata; TZif, RFC 8536): transitions,
//  then the file's POSIX TZ rule for times after the last one. The
//  process's own TZ and localtime_r are left alone, so every thread may
//  convert in any zone at once. Everything but jad_tz_load is pure.

#ifndef JAD_TZ_H_INCLUDED
#define JAD_TZ_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _jad_tz_t jad_tz_t;

//  Where the tz database is (Debian's tzdata).
#define JAD_TZ_DIR "/usr/share/zoneinfo"

//  True if name may name a zone: 1-64 of A-Z a-z 0-9 / _ + -, no "..",
//  not starting with '/' or '-'.
bool jad_tz_name_valid (const char *name);

//  Load zone `name` from dir (NULL: JAD_TZ_DIR). Returns a new zone, or
//  NULL with why in err ("unknown time zone 'Europe/Berln' (no
//  /usr/share/zoneinfo/Europe/Berln; is tzdata installed?)").
//  Caller owns the zone and destroys it.
jad_tz_t *jad_tz_load (const char *name, const char *dir, char *err, size_t errlen);

//  A zone from a TZif file's bytes. NULL with why in err if they are not
//  a well-formed TZif file. Caller owns the zone.
jad_tz_t *jad_tz_parse (const char *name, const uint8_t *data, size_t size, char *err,
                        size_t errlen);

//  A zone from a POSIX TZ rule alone ("CET-1CEST,M3.5.0,M10.5.0/3",
//  "UTC0"). NULL with why in err if the rule is malformed. Caller owns it.
jad_tz_t *jad_tz_from_rule (const char *name, const char *rule, char *err, size_t errlen);

void jad_tz_destroy (jad_tz_t **self_p);

//  The zone's name as given, borrowed.
const char *jad_tz_name (const jad_tz_t *self);

//  Offset east of UTC, in seconds, at UTC second t; *abbr_p (if given)
//  gets the abbreviation in use then ("CEST"), borrowed from the zone.
int32_t jad_tz_offset (const jad_tz_t *self, int64_t t, const char **abbr_p);

//  Wall clock of UTC second t in the zone.
typedef struct {
    int year, month, day;  //  2026, 1..12, 1..31
    int weekday;           //  0 Sunday .. 6 Saturday
    int hour, minute, second;
    int32_t offset;    //  seconds east of UTC
    const char *abbr;  //  "CET", borrowed from the zone
} jad_tz_clock_t;

void jad_tz_clock (const jad_tz_t *self, int64_t t, jad_tz_clock_t *clock);

//  The UTC second at which the zone's wall clock shows `local` (seconds
//  since 1970-01-01 00:00 of wall time, as if it were UTC). A wall time
//  that happens twice (clocks go back) is its first occurrence; one that
//  never happens (clocks go forward) is read with the offset before the
//  change, so 02:30 on the morning clocks jump from 02:00 to 03:00 is
//  03:30.
int64_t jad_tz_utc (const jad_tz_t *self, int64_t local);

//  Days since 1970-01-01 of a proleptic Gregorian date, and back.
int64_t jad_tz_days (int year, int month, int day);
void jad_tz_date (int64_t days, int *year, int *month, int *day);

#ifdef __cplusplus
}
#endif

#endif
