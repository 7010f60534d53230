//  jad_tz - time zones from the tz database, without touching TZ
//  SPDX-License-Identifier: MPL-2.0
//
//  A TZif file (RFC 8536) is a table of transitions (UTC second -> the
//  local time type from then on) and, from version 2, a POSIX TZ rule
//  for times after the last transition. Debian ships "fat" files with
//  transitions up to 2037 today, but a "slim" file has only a few: the
//  rule does the rest either way. Version 1 data (32-bit times) is
//  skipped when a version 2 block follows.

#include "jad_tz.h"

#include "jad_util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_TYPES_MAX       256     //  local time types in one file
#define S_TRANSITIONS_MAX 100000  //  transitions in one file
#define S_CHARS_MAX       1024    //  abbreviation bytes in one file
#define S_ABBR_MAX        16      //  one abbreviation, with its NUL
#define S_FILE_MAX        (1024 * 1024)

typedef struct {
    int32_t offset;         //  seconds east of UTC
    char abbr[S_ABBR_MAX];  //  "CEST"
} s_type_t;

//  A POSIX rule's date: Jn (1..365, no Feb 29), n (0..365) or Mm.w.d
typedef struct {
    char kind;     //  'J', 'N' or 'M'
    int number;    //  J and N: the day
    int month;     //  M: 1..12
    int week;      //  M: 1..5 (5: the last)
    int weekday;   //  M: 0 Sunday .. 6
    int32_t time;  //  seconds after local midnight (may be negative or past 24 h)
} s_when_t;

typedef struct {
    bool present;  //  the file (or caller) gave a rule
    s_type_t std;
    s_type_t dst;
    bool has_dst;
    s_when_t start;  //  into daylight time, read in standard time
    s_when_t end;    //  back to standard time, read in daylight time
} s_rule_t;

struct _jad_tz_t {
    char *name;         //  as given
    int64_t *times;     //  transitions, ascending UTC seconds
    uint8_t *indices;   //  the type from each transition on
    size_t count;       //  transitions
    s_type_t *types;    //  local time types
    size_t type_count;  //  at least one unless a rule is present
    s_rule_t rule;      //  after the last transition (or always, without any)
};

bool jad_tz_name_valid (const char *name)
{
    if (!name || !*name || *name == '/' || *name == '-' || strlen (name) > 64 ||
        jad_path_has_dotdot (name))
        return false;
    for (const char *cursor = name; *cursor; cursor++) {
        unsigned char c = (unsigned char)*cursor;
        if (!(isalnum (c) || c == '/' || c == '_' || c == '+' || c == '-'))
            return false;
        if (c == '/' && (cursor[1] == '/' || cursor[1] == 0))
            return false;
    }
    return true;
}

int64_t jad_tz_days (int year, int month, int day)
{
    //  Howard Hinnant's days_from_civil
    int64_t y = (int64_t)year - (month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void jad_tz_date (int64_t days, int *year, int *month, int *day)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    *year = (int)(yoe + era * 400 + (m <= 2));
    *month = (int)m;
    *day = (int)d;
}

static int64_t s_floor_div (int64_t value, int64_t by)
{
    int64_t quotient = value / by;
    return (value % by != 0 && (value < 0) != (by < 0)) ? quotient - 1 : quotient;
}

static bool s_leap (int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

//  0 Sunday .. 6 Saturday of a day since 1970 (a Thursday)
static int s_weekday (int64_t days)
{
    return (int)(days + 4 - s_floor_div (days + 4, 7) * 7);
}

static int s_month_days (int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && s_leap (year) ? 29 : days[month - 1];
}

//  --------------------------------------------------------------------------
//  POSIX TZ rules

//  A zone abbreviation: 3+ letters, or <...> of letters, digits, + and -.
static const char *s_rule_abbr (const char *cursor, char *out)
{
    size_t len = 0;
    if (*cursor == '<') {
        cursor++;
        while (*cursor && *cursor != '>') {
            unsigned char c = (unsigned char)*cursor;
            if (!(isalnum (c) || c == '+' || c == '-') || len + 1 >= S_ABBR_MAX)
                return NULL;
            out[len++] = *cursor++;
        }
        if (*cursor != '>')
            return NULL;
        cursor++;
    } else
        while (isalpha ((unsigned char)*cursor)) {
            if (len + 1 >= S_ABBR_MAX)
                return NULL;
            out[len++] = *cursor++;
        }
    out[len] = 0;
    return len >= 3 ? cursor : NULL;
}

//  [+-]h[h][:mm[:ss]] with hours up to max_hours, into seconds.
static const char *s_rule_hms (const char *cursor, int max_hours, int32_t *seconds)
{
    int sign = 1;
    if (*cursor == '+' || *cursor == '-')
        sign = *cursor++ == '-' ? -1 : 1;
    int parts[3] = {0, 0, 0};
    for (int part = 0; part < 3; part++) {
        if (part && *cursor != ':')
            break;
        if (part)
            cursor++;
        int digits = 0, value = 0;
        while (isdigit ((unsigned char)*cursor) && digits < 3) {
            value = value * 10 + (*cursor++ - '0');
            digits++;
        }
        if (digits == 0 || (part && (digits != 2 || value > 59)))
            return NULL;
        parts[part] = value;
    }
    if (parts[0] > max_hours)
        return NULL;
    *seconds = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
    return cursor;
}

static const char *s_rule_number (const char *cursor, int min, int max, int *value)
{
    int digits = 0;
    *value = 0;
    while (isdigit ((unsigned char)*cursor) && digits < 4) {
        *value = *value * 10 + (*cursor++ - '0');
        digits++;
    }
    return digits && *value >= min && *value <= max ? cursor : NULL;
}

static const char *s_rule_when (const char *cursor, s_when_t *when)
{
    memset (when, 0, sizeof *when);
    when->time = 7200;
    if (*cursor == 'J') {
        when->kind = 'J';
        cursor = s_rule_number (cursor + 1, 1, 365, &when->number);
    } else if (*cursor == 'M') {
        when->kind = 'M';
        cursor = s_rule_number (cursor + 1, 1, 12, &when->month);
        if (cursor && *cursor == '.')
            cursor = s_rule_number (cursor + 1, 1, 5, &when->week);
        else
            cursor = NULL;
        if (cursor && *cursor == '.')
            cursor = s_rule_number (cursor + 1, 0, 6, &when->weekday);
        else
            cursor = NULL;
    } else {
        when->kind = 'N';
        cursor = s_rule_number (cursor, 0, 365, &when->number);
    }
    if (cursor && *cursor == '/')
        cursor = s_rule_hms (cursor + 1, 167, &when->time);
    return cursor;
}

static int s_rule_parse (const char *text, s_rule_t *rule)
{
    memset (rule, 0, sizeof *rule);
    int32_t offset;
    const char *cursor = s_rule_abbr (text, rule->std.abbr);
    cursor = cursor ? s_rule_hms (cursor, 24, &offset) : NULL;
    if (!cursor)
        return -1;
    rule->std.offset = -offset;  //  POSIX counts west of UTC
    rule->present = true;
    if (*cursor == 0)
        return 0;
    cursor = s_rule_abbr (cursor, rule->dst.abbr);
    if (!cursor)
        return -1;
    rule->has_dst = true;
    rule->dst.offset = rule->std.offset + 3600;
    if (*cursor && *cursor != ',') {
        cursor = s_rule_hms (cursor, 24, &offset);
        if (!cursor)
            return -1;
        rule->dst.offset = -offset;
    }
    if (*cursor == 0) {
        //  POSIX leaves the dates to the implementation: the US rule, as glibc
        cursor = s_rule_when ("M3.2.0", &rule->start);
        cursor = s_rule_when ("M11.1.0", &rule->end);
        return 0;
    }
    cursor = s_rule_when (cursor + 1, &rule->start);
    if (!cursor || *cursor != ',')
        return -1;
    cursor = s_rule_when (cursor + 1, &rule->end);
    return cursor && *cursor == 0 ? 0 : -1;
}

//  Days since 1970 of when's date in year.
static int64_t s_when_day (const s_when_t *when, int year)
{
    int64_t first = jad_tz_days (year, 1, 1);
    if (when->kind == 'J')
        return first + when->number - 1 + (s_leap (year) && when->number >= 60 ? 1 : 0);
    if (when->kind == 'N')
        return first + when->number;
    int64_t month_first = jad_tz_days (year, when->month, 1);
    int64_t day =
        month_first + (when->weekday - s_weekday (month_first) + 7) % 7 + (when->week - 1) * 7;
    while (day >= month_first + s_month_days (year, when->month))
        day -= 7;
    return day;
}

static const s_type_t *s_rule_type (const s_rule_t *rule, int64_t t)
{
    if (!rule->has_dst)
        return &rule->std;
    int64_t local_days = s_floor_div (t + rule->std.offset, 86400);
    int year, month, day;
    jad_tz_date (local_days, &year, &month, &day);
    int64_t start = s_when_day (&rule->start, year) * 86400 + rule->start.time - rule->std.offset;
    int64_t end = s_when_day (&rule->end, year) * 86400 + rule->end.time - rule->dst.offset;
    bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    return dst ? &rule->dst : &rule->std;
}

//  --------------------------------------------------------------------------
//  TZif files

static uint32_t s_be32 (const uint8_t *bytes)
{
    return (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 |
           (uint32_t)bytes[3];
}

static int64_t s_be64 (const uint8_t *bytes)
{
    return (int64_t)((uint64_t)s_be32 (bytes) << 32 | s_be32 (bytes + 4));
}

typedef struct {
    uint32_t isut, isstd, leap, time, type, chars;
} s_counts_t;

//  The header at data[0..44): its counts, bounded. -1 if not TZif.
static int s_header (const uint8_t *data, size_t size, s_counts_t *counts)
{
    if (size < 44 || memcmp (data, "TZif", 4) != 0)
        return -1;
    counts->isut = s_be32 (data + 20);
    counts->isstd = s_be32 (data + 24);
    counts->leap = s_be32 (data + 28);
    counts->time = s_be32 (data + 32);
    counts->type = s_be32 (data + 36);
    counts->chars = s_be32 (data + 40);
    if (counts->time > S_TRANSITIONS_MAX || counts->type > S_TYPES_MAX ||
        counts->chars > S_CHARS_MAX || counts->leap > S_TRANSITIONS_MAX ||
        counts->isut > S_TYPES_MAX || counts->isstd > S_TYPES_MAX)
        return -1;
    return 0;
}

static size_t s_block_size (const s_counts_t *counts, size_t time_size)
{
    return counts->time * time_size + counts->time + counts->type * 6 + counts->chars +
           counts->leap * (time_size + 4) + counts->isstd + counts->isut;
}

static jad_tz_t *s_new (const char *name)
{
    jad_tz_t *self = calloc (1, sizeof *self);
    if (self)
        self->name = strdup (name ? name : "");
    if (self && !self->name)
        jad_tz_destroy (&self);
    return self;
}

jad_tz_t *jad_tz_parse (const char *name, const uint8_t *data, size_t size, char *err,
                        size_t errlen)
{
    s_counts_t counts;
    const char *why = "not a TZif file";
    jad_tz_t *self = NULL;
    if (!data || s_header (data, size, &counts) != 0)
        goto bad;
    size_t time_size = 4, at = 0;
    if (data[4] >= '2') {
        //  skip the version 1 block to the 64-bit one
        at = 44 + s_block_size (&counts, 4);
        time_size = 8;
        if (at > size || s_header (data + at, size - at, &counts) != 0)
            goto bad;
    }
    const uint8_t *block = data + at + 44;
    size_t block_size = s_block_size (&counts, time_size);
    why = "truncated TZif data";
    if (block_size > size - at - 44)
        goto bad;
    why = "malformed TZif data";
    if (counts.type == 0 || counts.chars == 0)
        goto bad;
    self = s_new (name);
    if (!self) {
        why = "out of memory";
        goto bad;
    }
    self->count = counts.time;
    self->type_count = counts.type;
    self->times = calloc (counts.time + 1, sizeof (int64_t));
    self->indices = calloc (counts.time + 1, 1);
    self->types = calloc (counts.type, sizeof (s_type_t));
    if (!self->times || !self->indices || !self->types) {
        why = "out of memory";
        goto bad;
    }
    const uint8_t *cursor = block;
    for (size_t index = 0; index < counts.time; index++, cursor += time_size) {
        self->times[index] = time_size == 8 ? s_be64 (cursor) : (int64_t)(int32_t)s_be32 (cursor);
        if (index && self->times[index] <= self->times[index - 1])
            goto bad;
    }
    for (size_t index = 0; index < counts.time; index++, cursor++) {
        self->indices[index] = *cursor;
        if (*cursor >= counts.type)
            goto bad;
    }
    const uint8_t *chars = cursor + counts.type * 6;
    for (size_t index = 0; index < counts.type; index++, cursor += 6) {
        int32_t offset = (int32_t)s_be32 (cursor);
        uint8_t abbr_at = cursor[5];
        if (offset <= -25 * 3600 || offset >= 26 * 3600 || abbr_at >= counts.chars)
            goto bad;
        size_t len = strnlen ((const char *)chars + abbr_at, counts.chars - abbr_at);
        if (len == counts.chars - abbr_at || len >= S_ABBR_MAX)
            goto bad;
        self->types[index].offset = offset;
        memcpy (self->types[index].abbr, chars + abbr_at, len);
    }
    if (time_size == 8) {
        //  the footer: "\nRULE\n", RULE possibly empty
        const uint8_t *footer = block + block_size;
        size_t left = size - at - 44 - block_size;
        if (left < 2 || footer[0] != '\n')
            goto bad;
        const uint8_t *end = memchr (footer + 1, '\n', left - 1);
        if (!end || end - footer - 1 > 255)
            goto bad;
        char rule[256];
        memcpy (rule, footer + 1, (size_t)(end - footer - 1));
        rule[end - footer - 1] = 0;
        why = "malformed TZ rule in the TZif footer";
        if (*rule && s_rule_parse (rule, &self->rule) != 0)
            goto bad;
    }
    return self;
bad:
    jad_seterr (err, errlen, "%s", why);
    jad_tz_destroy (&self);
    return NULL;
}

jad_tz_t *jad_tz_from_rule (const char *name, const char *rule, char *err, size_t errlen)
{
    jad_tz_t *self = s_new (name);
    if (!self) {
        jad_seterr (err, errlen, "out of memory");
        return NULL;
    }
    if (!rule || strlen (rule) > 255 || s_rule_parse (rule, &self->rule) != 0) {
        jad_seterr (err, errlen, "malformed TZ rule '%.64s'", rule ? rule : "");
        jad_tz_destroy (&self);
    }
    return self;
}

jad_tz_t *jad_tz_load (const char *name, const char *dir, char *err, size_t errlen)
{
    if (!jad_tz_name_valid (name)) {
        jad_seterr (err, errlen,
                    "'%.64s' is not a time zone name (an IANA name like Europe/Berlin or UTC)",
                    name ? name : "");
        return NULL;
    }
    char path[512];
    snprintf (path, sizeof path, "%s/%s", dir ? dir : JAD_TZ_DIR, name);
    size_t size = 0;
    char *bytes = jad_file_read (path, S_FILE_MAX, &size);
    if (!bytes) {
        if (errno == ENOENT || errno == ENOTDIR)
            jad_seterr (err, errlen, "unknown time zone '%s' (no %s; is tzdata installed?)", name,
                        path);
        else
            jad_seterr (err, errlen, "time zone '%s': cannot read %s: %s", name, path,
                        strerror (errno));
        return NULL;
    }
    char why[128];
    jad_tz_t *self = jad_tz_parse (name, (const uint8_t *)bytes, size, why, sizeof why);
    free (bytes);
    if (!self)
        jad_seterr (err, errlen, "time zone '%s': %s: %s", name, path, why);
    return self;
}

void jad_tz_destroy (jad_tz_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_tz_t *self = *self_p;
    free (self->name);
    free (self->times);
    free (self->indices);
    free (self->types);
    free (self);
    *self_p = NULL;
}

const char *jad_tz_name (const jad_tz_t *self)
{
    return self->name;
}

static const s_type_t *s_type (const jad_tz_t *self, int64_t t)
{
    if (self->rule.present && (self->count == 0 || t >= self->times[self->count - 1]))
        return s_rule_type (&self->rule, t);
    if (self->count == 0 || t < self->times[0])
        return &self->types[0];
    size_t low = 0, high = self->count;  //  times[low] <= t < times[high]
    while (high - low > 1) {
        size_t middle = low + (high - low) / 2;
        if (self->times[middle] <= t)
            low = middle;
        else
            high = middle;
    }
    return &self->types[self->indices[low]];
}

int32_t jad_tz_offset (const jad_tz_t *self, int64_t t, const char **abbr_p)
{
    const s_type_t *type = s_type (self, t);
    if (abbr_p)
        *abbr_p = type->abbr;
    return type->offset;
}

void jad_tz_clock (const jad_tz_t *self, int64_t t, jad_tz_clock_t *clock)
{
    const s_type_t *type = s_type (self, t);
    int64_t local = t + type->offset;
    int64_t days = s_floor_div (local, 86400);
    int64_t seconds = local - days * 86400;
    jad_tz_date (days, &clock->year, &clock->month, &clock->day);
    clock->weekday = s_weekday (days);
    clock->hour = (int)(seconds / 3600);
    clock->minute = (int)(seconds / 60 % 60);
    clock->second = (int)(seconds % 60);
    clock->offset = type->offset;
    clock->abbr = type->abbr;
}

int64_t jad_tz_utc (const jad_tz_t *self, int64_t local)
{
    //  The offsets a day before and a day after: a zone changes at most
    //  once in two days, so the wall time is read with one of them.
    int32_t before = jad_tz_offset (self, local - 86400, NULL);
    int32_t after = jad_tz_offset (self, local + 86400, NULL);
    int64_t first = local - before, second = local - after;
    bool first_ok = jad_tz_offset (self, first, NULL) == before;
    bool second_ok = jad_tz_offset (self, second, NULL) == after;
    if (first_ok && second_ok)
        return first < second ? first : second;
    if (second_ok)
        return second;
    return first;  //  in a gap: the offset before the change
}
