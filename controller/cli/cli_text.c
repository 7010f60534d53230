//  cli_text - jadctl's text for humans: remote text made safe for a
//  terminal, "did you mean" for mistyped words, and the error line
//  SPDX-License-Identifier: MPL-2.0
//
//  Everything a table shows comes from the controller, and much of it from
//  other people: release notes, emergency reasons, hook output, agent
//  names, audit arguments. A raw ESC could clear the operator's screen or
//  rewrite what it shows, a raw newline could forge a line of the table.
//  So before a reply is drawn, every string in it (and every object key)
//  is escaped once, in one place: C0 controls, DEL and C1 controls,
//  invalid UTF-8, and Unicode's line separators and bidirectional
//  overrides become visible escapes (\n, \e, \x01, \u202e). --json output
//  is not touched here: jansson escapes it, and jadctl prints it as ASCII.

#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Error lines held back by cli_errors_hold (the last ones, bounded).
static bool s_holding;
static char s_held[4096];

//  "jadctl: " and the message, one line on stderr (or held back)
static void s_error_line (const char *format, va_list argptr)
{
    if (!s_holding) {
        fprintf (stderr, "jadctl: ");
        vfprintf (stderr, format, argptr);
        fprintf (stderr, "\n");
        return;
    }
    char line[1024];
    vsnprintf (line, sizeof line, format, argptr);
    size_t used = strlen (s_held);
    if (used + strlen (line) + 10 > sizeof s_held)
        used = 0;  //  the newest line matters most
    snprintf (s_held + used, sizeof s_held - used, "jadctl: %s\n", line);
}

void cli_errors_hold (void)
{
    s_holding = true;
    s_held[0] = 0;
}

void cli_errors_release (bool print)
{
    if (print)
        fputs (s_held, stderr);
    s_holding = false;
    s_held[0] = 0;
}

int cli_error (int code, const char *format, ...)
{
    va_list argptr;
    va_start (argptr, format);
    s_error_line (format, argptr);
    va_end (argptr);
    return code;
}

int cli_usage_error (cli_t *cli, const char *format, ...)
{
    va_list argptr;
    va_start (argptr, format);
    s_error_line (format, argptr);
    va_end (argptr);
    if (cli->usage)
        fprintf (stderr, "usage: jadctl %s\n", cli->usage);
    return CLI_USAGE;
}

//  Decode one UTF-8 character at text (left bytes). Returns its length
//  (1..4) and sets *code, or 0 when the bytes are not valid UTF-8
//  (overlong forms, surrogates and code points above U+10FFFF are not).
static size_t s_decode (const unsigned char *text, size_t left, uint32_t *code)
{
    unsigned char lead = text[0];
    size_t len;
    uint32_t value, least;
    if (lead < 0x80) {
        *code = lead;
        return 1;
    }
    if (lead >= 0xC2 && lead <= 0xDF)
        len = 2, value = lead & 0x1F, least = 0x80;
    else if (lead >= 0xE0 && lead <= 0xEF)
        len = 3, value = lead & 0x0F, least = 0x800;
    else if (lead >= 0xF0 && lead <= 0xF4)
        len = 4, value = lead & 0x07, least = 0x10000;
    else
        return 0;
    if (left < len)
        return 0;
    for (size_t index = 1; index < len; index++) {
        if ((text[index] & 0xC0) != 0x80)
            return 0;
        value = (value << 6) | (text[index] & 0x3F);
    }
    if (value < least || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
        return 0;
    *code = value;
    return len;
}

//  True for the code points a terminal acts on or that reorder or break
//  the line: C1 controls, LRM/RLM, ALM, line and paragraph separators, the
//  bidi embeddings, overrides and isolates.
static bool s_unsafe_code (uint32_t code)
{
    return (code >= 0x80 && code <= 0x9F) || code == 0x061C || code == 0x200E || code == 0x200F ||
           code == 0x2028 || code == 0x2029 || (code >= 0x202A && code <= 0x202E) ||
           (code >= 0x2066 && code <= 0x2069);
}

char *cli_escape (const char *text, bool multiline)
{
    if (!text)
        return NULL;
    size_t size = 0;
    char *result = NULL;
    FILE *stream = open_memstream (&result, &size);
    if (!stream)
        return NULL;
    const unsigned char *cursor = (const unsigned char *)text;
    size_t left = strlen (text);
    while (left > 0) {
        uint32_t code = 0;
        size_t step = s_decode (cursor, left, &code);
        if (step == 0) {
            fprintf (stream, "\\x%02x", *cursor);
            step = 1;
        } else if (code == '\n')
            fputs (multiline ? "\n" : "\\n", stream);
        else if (code == '\t')
            fputs (multiline ? "\t" : "\\t", stream);
        else if (code == '\r')
            fputs ("\\r", stream);
        else if (code == 0x1B)
            fputs ("\\e", stream);
        else if (code < 0x20 || code == 0x7F)
            fprintf (stream, "\\x%02x", (unsigned)code);
        else if (s_unsafe_code (code))
            fprintf (stream, "\\u%04x", (unsigned)code);
        else
            fwrite (cursor, 1, step, stream);
        cursor += step;
        left -= step;
    }
    if (fclose (stream) != 0) {
        free (result);
        return NULL;
    }
    return result;
}

//  True if text needs no escape (single-line rules).
static bool s_safe (const char *text)
{
    for (const unsigned char *cursor = (const unsigned char *)text; *cursor; cursor++)
        if (*cursor < 0x20 || *cursor >= 0x7F)
            return false;  //  plain ASCII is the fast path; the rest is checked
    return true;
}

//  Members whose text is several lines by nature: they keep their
//  newlines, and whoever prints them marks each line as theirs.
static bool s_multiline_key (const char *key)
{
    return key && (streq (key, "output") || streq (key, "notes") || streq (key, "report"));
}

//  Escape the string `value` (a member named key, or NULL) in place.
static int s_escape_string (json_t *value, const char *key)
{
    const char *text = json_string_value (value);
    if (s_safe (text))
        return 0;
    char *escaped = cli_escape (text, s_multiline_key (key));
    if (!escaped)
        return -1;
    int rc = json_string_set (value, escaped);
    free (escaped);
    return rc;
}

int cli_escape_json (json_t *value)
{
    if (json_is_array (value)) {
        size_t index;
        json_t *item;
        json_array_foreach (value, index, item)
        {
            if (json_is_string (item) ? s_escape_string (item, NULL) : cli_escape_json (item))
                return -1;
        }
        return 0;
    }
    if (!json_is_object (value))
        return 0;
    const char *key;
    json_t *item;
    json_t *unsafe_keys = json_array ();
    if (!unsafe_keys)
        return -1;
    json_object_foreach (value, key, item)
    {
        if ((json_is_string (item) ? s_escape_string (item, key) : cli_escape_json (item)) ||
            (!s_safe (key) && json_array_append_new (unsafe_keys, json_string (key)))) {
            json_decref (unsafe_keys);
            return -1;
        }
    }
    //  Keys (app names, counter names, refusal reasons) cannot change in
    //  place: move each unsafe one under its escaped name.
    int rc = 0;
    size_t index;
    json_array_foreach (unsafe_keys, index, item)
    {
        const char *old_key = json_string_value (item);
        char *new_key = cli_escape (old_key, false);
        if (!new_key) {
            rc = -1;
            break;
        }
        if (!streq (new_key, old_key)) {
            json_t *moved = json_incref (json_object_get (value, old_key));
            json_object_del (value, old_key);
            rc = json_object_set_new (value, new_key, moved);
        }
        free (new_key);
        if (rc)
            break;
    }
    json_decref (unsafe_keys);
    return rc;
}

void cli_print_block (const char *text, const char *prefix)
{
    while (text && *text) {
        size_t len = strcspn (text, "\n");
        printf ("%s%.*s\n", prefix, (int)len, text);
        text += len + (text[len] ? 1 : 0);
    }
}

//  Edit distance with adjacent transpositions (optimal string alignment),
//  bounded: words longer than 64 characters are never close to anything.
static size_t s_distance (const char *one, const char *two)
{
    size_t len_one = strlen (one), len_two = strlen (two);
    if (len_one > 64 || len_two > 64)
        return SIZE_MAX;
    size_t rows[3][65];
    for (size_t column = 0; column <= len_two; column++)
        rows[0][column] = column;
    size_t *before = NULL, *previous = rows[0], *current = rows[1];
    for (size_t row = 1; row <= len_one; row++) {
        current[0] = row;
        for (size_t column = 1; column <= len_two; column++) {
            size_t cost = one[row - 1] == two[column - 1] ? 0 : 1;
            size_t best = previous[column - 1] + cost;
            if (previous[column] + 1 < best)
                best = previous[column] + 1;
            if (current[column - 1] + 1 < best)
                best = current[column - 1] + 1;
            if (before && row > 1 && column > 1 && one[row - 1] == two[column - 2] &&
                one[row - 2] == two[column - 1] && before[column - 2] + 1 < best)
                best = before[column - 2] + 1;
            current[column] = best;
        }
        size_t *spare = before ? before : rows[2];
        before = previous;
        previous = current;
        current = spare;
    }
    return previous[len_two];
}

char *cli_hint (const char *word, const char *const *candidates, size_t count)
{
    //  "--evn" and "--env" are one edit apart; so are "deplyo" and "deploy".
    size_t len = strlen (word);
    size_t limit = len <= 4 ? 1 : (len <= 8 ? 2 : 3);
    size_t best = SIZE_MAX;
    for (size_t index = 0; index < count; index++) {
        size_t distance = s_distance (word, candidates[index]);
        //  a unique start of a longer word is as good as one edit
        if (distance > 1 && len >= 3 && strncmp (candidates[index], word, len) == 0)
            distance = 1;
        if (distance < best)
            best = distance;
    }
    size_t size = 0;
    char *text = NULL;
    FILE *stream = open_memstream (&text, &size);
    if (!stream)
        return NULL;
    if (best <= limit) {
        fputs ("; did you mean ", stream);
        int shown = 0;
        for (size_t index = 0; index < count && shown < 3; index++) {
            size_t distance = s_distance (word, candidates[index]);
            if (distance > 1 && len >= 3 && strncmp (candidates[index], word, len) == 0)
                distance = 1;
            if (distance == best)
                fprintf (stream, "%s'%s'", shown++ ? " or " : "", candidates[index]);
        }
        fputs ("?", stream);
    } else {
        fputs (" (valid: ", stream);
        for (size_t index = 0; index < count; index++)
            fprintf (stream, "%s%s", index ? ", " : "", candidates[index]);
        fputs (")", stream);
    }
    if (fclose (stream) != 0) {
        free (text);
        return NULL;
    }
    return text;
}

int cli_unknown (int code, const char *what, const char *word, const char *const *candidates,
                 size_t count)
{
    char *shown = cli_escape (word, false);
    char *hint = cli_hint (word, candidates, count);
    cli_error (code, "%s '%s'%s", what, shown ? shown : "?", hint ? hint : "");
    free (hint);
    free (shown);
    return code;
}
