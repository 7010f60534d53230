//  jad_config - the YAML files: agent.yaml, controller.yaml, jadctl client
//  files and a release's jadugar.yaml (libfyaml)
//  SPDX-License-Identifier: MPL-2.0
//
//  Design notes
//  - libfyaml builds a document from the text; its diagnostics are collected
//    (never printed) and turned into "FILE:LINE: YAML syntax error: ..."
//    lines. Duplicate keys are syntax errors there.
//  - Each mapping is walked once against a table of known keys: unknown keys
//    are reported (with a suggestion when one is close), known ones land in a
//    slot, and the typed getters then check each slot. A getter reports its
//    own problem and goes on, so one pass finds every problem in a file.
//  - libfyaml 0.7 has no start mark for collection nodes, so the line of a
//    mapping or a list is the line of its first scalar, or of the key that
//    holds it when it is empty. Marks are 0-based; problems print 1-based.
//  - Aliases are refused: configuration is small, and an alias bomb in a
//    release manifest must not cost the agent anything.
//  - Values echoed into problems are sanitized and bounded; tokens are never
//    echoed.

#include "jad_config.h"
#include "jad_util.h"

#include <ctype.h>
#include <errno.h>
#include <libfyaml.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  Largest configuration file or manifest we read
#define S_FILE_MAX (1024 * 1024)
//  Longest value echoed back in a problem line
#define S_ECHO_MAX 80

struct _jad_problems_t {
    char **lines;     //  problem lines, each owned
    size_t count;     //  lines in use
    size_t capacity;  //  lines allocated
};

jad_problems_t *jad_problems_new (void)
{
    return calloc (1, sizeof (jad_problems_t));
}

void jad_problems_destroy (jad_problems_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_problems_t *self = *self_p;
    for (size_t index = 0; index < self->count; index++)
        free (self->lines[index]);
    free (self->lines);
    free (self);
    *self_p = NULL;
}

void jad_problems_add (jad_problems_t *self, const char *format, ...)
{
    if (!self)
        return;
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 8;
        char **lines = realloc (self->lines, capacity * sizeof (char *));
        if (!lines)
            return;
        self->lines = lines;
        self->capacity = capacity;
    }
    va_list args;
    va_start (args, format);
    char *line = NULL;
    int rc = vasprintf (&line, format, args);
    va_end (args);
    if (rc < 0)
        return;
    self->lines[self->count++] = line;
}

size_t jad_problems_count (const jad_problems_t *self)
{
    return self ? self->count : 0;
}

const char *jad_problems_get (const jad_problems_t *self, size_t index)
{
    if (!self || index >= self->count)
        return NULL;
    return self->lines[index];
}

//  --------------------------------------------------------------------------
//  Load context and problem reporting

typedef struct {
    const char *origin;        //  file path or origin named in problems
    jad_problems_t *problems;  //  where problems go
    size_t failures;           //  problems found in this load (even if not stored)
    size_t first;              //  index of this load's first line in problems
} s_ctx_t;

//  Report "ORIGIN:LINE: [WHERE: ]message". Line is 1-based; 0 omits it.
static void s_problem (s_ctx_t *ctx, int line, const char *where, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

static void s_problem (s_ctx_t *ctx, int line, const char *where, const char *format, ...)
{
    ctx->failures++;
    va_list args;
    va_start (args, format);
    char *message = NULL;
    int rc = vasprintf (&message, format, args);
    va_end (args);
    if (rc < 0)
        return;
    char position[32] = "";
    if (line > 0)
        snprintf (position, sizeof (position), ":%d", line);
    jad_problems_add (ctx->problems, "%s%s: %s%s%s", ctx->origin, position, where ? where : "",
                      where ? ": " : "", message);
    free (message);
}

//  Line number of a problem line of this load, 0 if it has none.
static long s_problem_line (const s_ctx_t *ctx, const char *problem)
{
    size_t origin_len = strlen (ctx->origin);
    if (strncmp (problem, ctx->origin, origin_len) != 0 || problem[origin_len] != ':')
        return 0;
    return strtol (problem + origin_len + 1, NULL, 10);
}

//  Sort this load's problems by line (stable), so a file reads top down.
static void s_problems_sort (const s_ctx_t *ctx)
{
    jad_problems_t *problems = ctx->problems;
    if (!problems)
        return;
    for (size_t index = ctx->first + 1; index < problems->count; index++) {
        char *line = problems->lines[index];
        long number = s_problem_line (ctx, line);
        size_t slot = index;
        while (slot > ctx->first && s_problem_line (ctx, problems->lines[slot - 1]) > number) {
            problems->lines[slot] = problems->lines[slot - 1];
            slot--;
        }
        problems->lines[slot] = line;
    }
}

//  Sanitized, bounded copy of a value for a problem line; caller frees.
static char *s_echo (const char *value)
{
    char *echo = jad_text_sanitize (value, strlen (value), S_ECHO_MAX);
    return echo ? echo : strdup ("?");
}

//  True if node is absent or a null/empty plain scalar ("key:", "~", "null")
static bool s_is_empty (struct fy_node *node)
{
    if (!node)
        return true;
    if (!fy_node_is_scalar (node) || fy_node_is_alias (node) ||
        fy_node_get_style (node) != FYNS_PLAIN)
        return false;
    const char *text = fy_node_get_scalar0 (node);
    return !text || !*text || jad_str_equal (text, "~") || jad_str_equal (text, "null");
}

//  1-based line of a node: its scalar token, else its first child, else
//  fallback.
static int s_node_line (struct fy_node *node, int fallback)
{
    if (!node)
        return fallback;
    if (fy_node_is_scalar (node)) {
        struct fy_token *token = fy_node_get_scalar_token (node);
        const struct fy_mark *mark = token ? fy_token_start_mark (token) : NULL;
        return mark ? mark->line + 1 : fallback;
    }
    void *iter = NULL;
    if (fy_node_is_mapping (node)) {
        struct fy_node_pair *pair = fy_node_mapping_iterate (node, &iter);
        return pair ? s_node_line (fy_node_pair_key (pair), fallback) : fallback;
    }
    if (fy_node_is_sequence (node))
        return s_node_line (fy_node_sequence_iterate (node, &iter), fallback);
    return fallback;
}

static void s_diag_discard (struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag;
    (void)user;
    (void)buf;
    (void)len;
}

//  True if text holds only blank lines, comments and document markers,
//  which libfyaml refuses as "no document" without saying why.
static bool s_text_blank (const char *text, size_t size)
{
    size_t index = 0;
    while (index < size) {
        while (index < size && (text[index] == ' ' || text[index] == '\t' || text[index] == '\r'))
            index++;
        bool marker = size - index >= 3 && (memcmp (text + index, "---", 3) == 0 ||
                                            memcmp (text + index, "...", 3) == 0);
        if (index < size && text[index] != '\n' && text[index] != '#' && !marker)
            return false;
        while (index < size && text[index] != '\n')
            index++;
        index++;
    }
    return true;
}

//  Parse text into a document. Syntax errors become problems and return
//  NULL with *failed set; an empty document returns NULL with *failed
//  clear. Caller destroys the document.
static struct fy_document *s_document_parse (s_ctx_t *ctx, const char *text, size_t size,
                                             bool *failed)
{
    *failed = true;
    //  YAML allows only printable text. Checking that first also keeps
    //  input away from libfyaml 0.7.12's scanner, which loops forever on
    //  some malformed directives holding control bytes or invalid UTF-8
    //  (found by tests/fuzz/fuzz_config; regression seed in its corpus).
    if (!jad_utf8_valid (text, size)) {
        s_problem (ctx, 1, NULL, "not UTF-8 text (or holds a NUL byte)");
        return NULL;
    }
    int line = 1;
    for (size_t index = 0; index < size; index++) {
        unsigned char c = (unsigned char)text[index];
        if (c == '\n')
            line++;
        else if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
            s_problem (ctx, line, NULL, "control character 0x%02x is not allowed in YAML", c);
            return NULL;
        }
    }
    struct fy_diag_cfg diag_cfg;
    fy_diag_cfg_default (&diag_cfg);
    diag_cfg.fp = NULL;
    diag_cfg.output_fn = s_diag_discard;
    diag_cfg.colorize = false;
    struct fy_diag *diag = fy_diag_create (&diag_cfg);
    if (!diag) {
        s_problem (ctx, 0, NULL, "cannot parse: out of memory");
        return NULL;
    }
    fy_diag_set_collect_errors (diag, true);
    struct fy_parse_cfg parse_cfg = {.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG, .diag = diag};
    struct fy_document *document = fy_document_build_from_string (&parse_cfg, text, size);

    size_t errors = 0;
    void *iter = NULL;
    struct fy_diag_error *error;
    while ((error = fy_diag_errors_iterate (diag, &iter))) {
        if (error->type < FYET_ERROR)
            continue;
        //  libfyaml's collected error lines are already 1-based
        s_problem (ctx, error->line > 0 ? error->line : 1, NULL,
                   "YAML syntax error: %s (column %d)", error->msg ? error->msg : "invalid YAML",
                   error->column > 0 ? error->column : 1);
        errors++;
    }
    if (errors == 0 && !document && !s_text_blank (text, size)) {
        s_problem (ctx, 1, NULL, "YAML syntax error: invalid YAML");
        errors++;
    }
    if (errors) {
        fy_document_destroy (document);
        document = NULL;
    }
    //  destroy, not unref: only destroy frees the collected errors; a
    //  document still holding a reference keeps the object itself alive
    fy_diag_destroy (diag);
    if (errors)
        return NULL;
    *failed = false;
    return document;  //  NULL if the text holds no document (empty, comments)
}

//  Read a whole file for a loader; reports the problem and returns NULL.
static char *s_file_read (s_ctx_t *ctx, const char *path, size_t *size_p)
{
    struct stat info;
    if (stat (path, &info) == 0 && S_ISDIR (info.st_mode)) {
        s_problem (ctx, 0, NULL, "cannot read file: %s", strerror (EISDIR));
        return NULL;
    }
    char *text = jad_file_read (path, S_FILE_MAX, size_p);
    if (!text) {
        if (errno == EFBIG)
            s_problem (ctx, 0, NULL, "cannot read file: larger than %d bytes", S_FILE_MAX);
        else
            s_problem (ctx, 0, NULL, "cannot read file: %s", strerror (errno));
    }
    return text;
}

//  --------------------------------------------------------------------------
//  Mapping walker: one slot per known key

typedef struct {
    struct fy_node *key;    //  key node, NULL if absent
    struct fy_node *value;  //  value node, may be NULL
    int line;               //  1-based line of the key
} s_slot_t;

//  Edit distance, for "did you mean" on short key names
static size_t s_distance (const char *left, const char *right)
{
    size_t left_len = strlen (left), right_len = strlen (right);
    if (left_len > 40 || right_len > 40)
        return SIZE_MAX;
    size_t row[41];
    for (size_t col = 0; col <= right_len; col++)
        row[col] = col;
    for (size_t line = 1; line <= left_len; line++) {
        size_t diagonal = row[0];
        row[0] = line;
        for (size_t col = 1; col <= right_len; col++) {
            size_t above = row[col];
            size_t cost = left[line - 1] == right[col - 1] ? 0 : 1;
            size_t best = diagonal + cost;
            if (above + 1 < best)
                best = above + 1;
            if (row[col - 1] + 1 < best)
                best = row[col - 1] + 1;
            row[col] = best;
            diagonal = above;
        }
    }
    return row[right_len];
}

//  Walk a mapping node: fill slots[i] for keys[i] (keys is NULL-terminated),
//  report unknown and malformed keys. Returns 0, or -1 if node is not a
//  mapping (reported at line).
static int s_map_walk (s_ctx_t *ctx, struct fy_node *node, int line, const char *where,
                       const char *const keys[], s_slot_t slots[])
{
    size_t key_count = 0;
    while (keys[key_count])
        key_count++;
    memset (slots, 0, key_count * sizeof (s_slot_t));
    if (node && fy_node_is_alias (node)) {
        s_problem (ctx, s_node_line (node, line), where, "aliases are not supported");
        return -1;
    }
    if (!node || !fy_node_is_mapping (node)) {
        s_problem (ctx, s_node_line (node, line), where, "expected a mapping of keys");
        return -1;
    }
    void *iter = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate (node, &iter))) {
        struct fy_node *key = fy_node_pair_key (pair);
        int key_line = s_node_line (key, s_node_line (fy_node_pair_value (pair), line));
        if (!key || !fy_node_is_scalar (key) || fy_node_is_alias (key)) {
            s_problem (ctx, key_line, where, "keys must be plain words");
            continue;
        }
        const char *name = fy_node_get_scalar0 (key);
        if (!name)
            continue;
        size_t index;
        for (index = 0; index < key_count; index++)
            if (jad_str_equal (name, keys[index]))
                break;
        if (index < key_count) {
            slots[index].key = key;
            slots[index].value = fy_node_pair_value (pair);
            slots[index].line = key_line;
            continue;
        }
        char *echo = s_echo (name);
        const char *closest = NULL;
        size_t closest_distance = 3;  //  suggest at distance 1 or 2 only
        for (index = 0; index < key_count; index++) {
            size_t distance = s_distance (name, keys[index]);
            if (distance < closest_distance) {
                closest_distance = distance;
                closest = keys[index];
            }
        }
        if (closest)
            s_problem (ctx, key_line, where, "unknown key '%s' (did you mean '%s'?)", echo,
                       closest);
        else
            s_problem (ctx, key_line, where, "unknown key '%s'", echo);
        free (echo);
    }
    return 0;
}

//  Report a missing required key at the mapping's line. Returns -1 if missing.
static int s_require (s_ctx_t *ctx, int line, const char *where, const char *const keys[],
                      const s_slot_t slots[], size_t index)
{
    if (!slots[index].key) {
        s_problem (ctx, line, where, "missing required key '%s'", keys[index]);
        return -1;
    }
    if (s_is_empty (slots[index].value)) {
        s_problem (ctx, slots[index].line, where, "key '%s' has no value", keys[index]);
        return -1;
    }
    return 0;
}

//  Scalar text of a slot. Returns 1 with *text set, 0 if the key is absent
//  or its value empty/null, -1 after reporting a non-scalar value.
static int s_scalar (s_ctx_t *ctx, const char *where, const char *name, const s_slot_t *slot,
                     const char **text, int *line)
{
    *text = NULL;
    *line = s_node_line (slot->value, slot->line);
    if (!slot->key)
        return 0;
    struct fy_node *value = slot->value;
    if (!value)
        return 0;
    if (fy_node_is_alias (value)) {
        s_problem (ctx, *line, where, "key '%s': aliases are not supported", name);
        return -1;
    }
    if (!fy_node_is_scalar (value)) {
        s_problem (ctx, *line, where, "key '%s': expected a single value, not a %s", name,
                   fy_node_is_mapping (value) ? "mapping" : "list");
        return -1;
    }
    size_t len = 0;
    const char *raw = fy_node_get_scalar (value, &len);
    const char *zero = fy_node_get_scalar0 (value);
    if (!raw || !zero)
        return 0;
    if (strlen (zero) != len) {
        s_problem (ctx, *line, where, "key '%s': value contains a NUL character", name);
        return -1;
    }
    if (s_is_empty (value))
        return 0;
    *text = zero;
    return 1;
}

//  --------------------------------------------------------------------------
//  Value checks: each returns NULL if text is fine, else what it should be

typedef enum {
    S_TEXT,      //  any non-empty text without control characters
    S_SECRET,    //  like S_TEXT, never echoed
    S_NAME,      //  jad_name_valid
    S_HOSTPORT,  //  HOST:PORT, port 1..65535
    S_Z85KEY,    //  40 Z85 characters (CURVE public key)
    S_HEXKEY,    //  64 hex characters (Ed25519 public key)
    S_ABSPATH,   //  absolute path
    S_PATH,      //  any path
    S_HOOKPATH,  //  relative path inside the release, no ".."
    S_URL,       //  http:// or https:// URL
    S_WINDOW,    //  "Ddd HH:MM-HH:MM"
    S_BATCH,     //  "N" or "N%"
    S_STRATEGY,  //  all | rolling | canary
    S_METRIC,    //  metric name
    S_ADDRESS,   //  bind address
    S_ACTION,    //  rollback
    S_AGGREGATE  //  avg | max | sum | p95
} s_kind_t;

//  Parse a whole decimal number in min..max. Returns 0 or -1.
static int s_parse_uint (const char *text, size_t len, uint32_t min, uint32_t max, uint32_t *result)
{
    if (len == 0 || len > 10)
        return -1;
    uint64_t value = 0;
    for (size_t index = 0; index < len; index++) {
        if (!isdigit ((unsigned char)text[index]))
            return -1;
        value = value * 10 + (uint64_t)(text[index] - '0');
    }
    if (value < min || value > max)
        return -1;
    *result = (uint32_t)value;
    return 0;
}

static bool s_hostport_valid (const char *text)
{
    const char *colon = strrchr (text, ':');
    if (!colon || colon == text)
        return false;
    size_t host_len = (size_t)(colon - text);
    if (text[0] == '[') {
        if (host_len < 3 || text[host_len - 1] != ']')
            return false;
    } else if (memchr (text, ':', host_len))
        return false;  //  bare IPv6 must be bracketed
    for (size_t index = 0; index < host_len; index++) {
        unsigned char c = (unsigned char)text[index];
        if (c <= ' ' || c == '/' || c == 0x7F)
            return false;
    }
    uint32_t port;
    return s_parse_uint (colon + 1, strlen (colon + 1), 1, 65535, &port) == 0;
}

static bool s_z85_valid (const char *text)
{
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   ".-:+=^!/*?&<>()[]{}@%$#";
    if (strlen (text) != 40)
        return false;
    for (const char *cursor = text; *cursor; cursor++)
        if (!strchr (alphabet, *cursor))
            return false;
    return true;
}

static bool s_hex_valid (const char *text, size_t len)
{
    if (strlen (text) != len)
        return false;
    for (const char *cursor = text; *cursor; cursor++)
        if (!isxdigit ((unsigned char)*cursor))
            return false;
    return true;
}

static bool s_hook_path_valid (const char *text)
{
    return *text && *text != '/' && !jad_text_has_control (text) && !jad_path_has_dotdot (text);
}

static bool s_url_valid (const char *text)
{
    const char *rest = NULL;
    if (strncmp (text, "http://", 7) == 0)
        rest = text + 7;
    else if (strncmp (text, "https://", 8) == 0)
        rest = text + 8;
    if (!rest || !*rest || *rest == '/')
        return false;
    for (const unsigned char *cursor = (const unsigned char *)rest; *cursor; cursor++)
        if (*cursor <= ' ' || *cursor == 0x7F)
            return false;
    return true;
}

//  "HH:MM" at text into minutes since midnight; 24:00 only if allow_end.
static int s_clock_parse (const char *text, bool allow_end)
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

static bool s_window_valid (const char *text)
{
    static const char *days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    if (strlen (text) != 15 || text[3] != ' ' || text[9] != '-')
        return false;
    bool day_known = false;
    for (size_t index = 0; index < 7; index++)
        if (strncmp (text, days[index], 3) == 0)
            day_known = true;
    int start = s_clock_parse (text + 4, false);
    int end = s_clock_parse (text + 10, true);
    return day_known && start >= 0 && end >= 0 && start < end;
}

static bool s_batch_valid (const char *text)
{
    size_t len = strlen (text);
    uint32_t value;
    if (len > 1 && text[len - 1] == '%')
        return s_parse_uint (text, len - 1, 1, 100, &value) == 0;
    return s_parse_uint (text, len, 1, 1000000, &value) == 0;
}

static bool s_metric_valid (const char *text)
{
    size_t len = strlen (text);
    if (len == 0 || len > 128 || isdigit ((unsigned char)*text))
        return false;
    for (const char *cursor = text; *cursor; cursor++) {
        unsigned char c = (unsigned char)*cursor;
        if (!(isalnum (c) || c == '_' || c == ':' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static const char *s_check (s_kind_t kind, const char *text)
{
    switch (kind) {
        case S_TEXT:
        case S_SECRET:
        case S_PATH:
            return *text && !jad_text_has_control (text) ? NULL : "a non-empty single-line text";
        case S_NAME:
            return jad_name_valid (text) ? NULL
                                         : "a valid name (1-64 of A-Z a-z 0-9 . _ -, "
                                           "not starting with . or -)";
        case S_HOSTPORT:
            return s_hostport_valid (text) ? NULL : "HOST:PORT with a port 1..65535";
        case S_Z85KEY:
            return s_z85_valid (text) ? NULL : "a CURVE public key (40 Z85 characters)";
        case S_HEXKEY:
            return s_hex_valid (text, 64) ? NULL : "a signing public key (64 hex characters)";
        case S_ABSPATH:
            return *text == '/' && !jad_text_has_control (text) ? NULL : "an absolute path";
        case S_HOOKPATH:
            return s_hook_path_valid (text) ? NULL
                                            : "a path inside the release (relative, without '..')";
        case S_URL:
            return s_url_valid (text) ? NULL : "an http:// or https:// URL";
        case S_WINDOW:
            return s_window_valid (text) ? NULL
                                         : "a window like \"Tue 09:00-17:00\" (Mon..Sun, "
                                           "start before end)";
        case S_BATCH:
            return s_batch_valid (text) ? NULL : "a batch size (N hosts, or N% from 1% to 100%)";
        case S_STRATEGY:
            return jad_str_equal (text, "all") || jad_str_equal (text, "rolling") ||
                           jad_str_equal (text, "canary")
                       ? NULL
                       : "a strategy (all, rolling or canary)";
        case S_METRIC:
            return s_metric_valid (text) ? NULL : "a metric name";
        case S_ADDRESS:
            return *text && !strpbrk (text, " \t/") && !jad_text_has_control (text)
                       ? NULL
                       : "a bind address";
        case S_ACTION:
            return jad_str_equal (text, "rollback") ? NULL
                                                    : "an action (rollback, or leave it out)";
        case S_AGGREGATE:
            return jad_str_equal (text, "avg") || jad_str_equal (text, "max") ||
                           jad_str_equal (text, "sum") || jad_str_equal (text, "p95")
                       ? NULL
                       : "an aggregate (avg, max, sum or p95)";
    }
    return "valid";
}

//  --------------------------------------------------------------------------
//  Typed getters: absent keys leave *dest alone; bad values are reported
//  and return -1.

static int s_get_string (s_ctx_t *ctx, const char *where, const char *name, const s_slot_t *slot,
                         s_kind_t kind, char **dest)
{
    const char *text;
    int line;
    int rc = s_scalar (ctx, where, name, slot, &text, &line);
    if (rc <= 0)
        return rc;
    const char *expected = s_check (kind, text);
    if (expected) {
        if (kind == S_SECRET)
            s_problem (ctx, line, where, "key '%s': value is not %s", name, expected);
        else {
            char *echo = s_echo (text);
            s_problem (ctx, line, where, "key '%s': \"%s\" is not %s", name, echo, expected);
            free (echo);
        }
        return -1;
    }
    char *copy = strdup (text);
    if (!copy) {
        s_problem (ctx, line, where, "key '%s': out of memory", name);
        return -1;
    }
    free (*dest);
    *dest = copy;
    return 0;
}

static int s_get_uint (s_ctx_t *ctx, const char *where, const char *name, const s_slot_t *slot,
                       uint32_t min, uint32_t max, uint32_t *dest)
{
    const char *text;
    int line;
    int rc = s_scalar (ctx, where, name, slot, &text, &line);
    if (rc <= 0)
        return rc;
    if (s_parse_uint (text, strlen (text), 0, UINT32_MAX, dest) == 0 && *dest >= min &&
        *dest <= max)
        return 0;
    char *echo = s_echo (text);
    s_problem (ctx, line, where, "key '%s': \"%s\" is not a whole number from %u to %u", name, echo,
               min, max);
    free (echo);
    return -1;
}

static int s_get_duration (s_ctx_t *ctx, const char *where, const char *name, const s_slot_t *slot,
                           bool positive, uint32_t *dest)
{
    const char *text;
    int line;
    int rc = s_scalar (ctx, where, name, slot, &text, &line);
    if (rc <= 0)
        return rc;
    uint32_t ms = 0;
    char *echo = s_echo (text);
    if (jad_duration_parse (text, &ms) != 0) {
        s_problem (ctx, line, where, "key '%s': \"%s\" is not a duration (use 500ms, 30s, 10m, 1h)",
                   name, echo);
        rc = -1;
    } else if (positive && ms == 0) {
        s_problem (ctx, line, where, "key '%s': \"%s\" must be longer than zero", name, echo);
        rc = -1;
    } else {
        *dest = ms;
        rc = 0;
    }
    free (echo);
    return rc;
}

//  A duration that may be longer than 24 days: whole days ("30d", up to
//  10 years) or anything jad_duration_parse takes.
static int s_get_long_duration (s_ctx_t *ctx, const char *where, const char *name,
                                const s_slot_t *slot, uint64_t *dest)
{
    const char *text;
    int line;
    int rc = s_scalar (ctx, where, name, slot, &text, &line);
    if (rc <= 0)
        return rc;
    uint32_t ms = 0, days = 0;
    size_t len = strlen (text);
    if (len > 1 && text[len - 1] == 'd' && s_parse_uint (text, len - 1, 1, 3650, &days) == 0) {
        *dest = (uint64_t)days * 86400000u;
        return 0;
    }
    if (jad_duration_parse (text, &ms) == 0 && ms > 0) {
        *dest = ms;
        return 0;
    }
    char *echo = s_echo (text);
    s_problem (ctx, line, where, "key '%s': \"%s\" is not a duration (use 30m, 24h, 30d)", name,
               echo);
    free (echo);
    return -1;
}

static int s_get_bool (s_ctx_t *ctx, const char *where, const char *name, const s_slot_t *slot,
                       bool *dest)
{
    const char *text;
    int line;
    int rc = s_scalar (ctx, where, name, slot, &text, &line);
    if (rc <= 0)
        return rc;
    if (jad_str_equal (text, "true") || jad_str_equal (text, "True") ||
        jad_str_equal (text, "yes") || jad_str_equal (text, "on")) {
        *dest = true;
        return 0;
    }
    if (jad_str_equal (text, "false") || jad_str_equal (text, "False") ||
        jad_str_equal (text, "no") || jad_str_equal (text, "off")) {
        *dest = false;
        return 0;
    }
    char *echo = s_echo (text);
    s_problem (ctx, line, where, "key '%s': \"%s\" is not true or false", name, echo);
    free (echo);
    return -1;
}

static int s_get_number (s_ctx_t *ctx, const char *where, const char *name, const s_slot_t *slot,
                         double *dest)
{
    const char *text;
    int line;
    int rc = s_scalar (ctx, where, name, slot, &text, &line);
    if (rc <= 0)
        return rc;
    char *end = NULL;
    errno = 0;
    double value = strtod (text, &end);
    if (errno == 0 && end != text && *end == 0 && isfinite (value)) {
        *dest = value;
        return 0;
    }
    char *echo = s_echo (text);
    s_problem (ctx, line, where, "key '%s': \"%s\" is not a number", name, echo);
    free (echo);
    return -1;
}

//  A list of checked strings (a single value is refused: lists say so).
static int s_get_string_list (s_ctx_t *ctx, const char *where, const char *name,
                              const s_slot_t *slot, s_kind_t kind, char ***list_p, size_t *count_p)
{
    if (!slot->key || s_is_empty (slot->value))
        return 0;
    int line = s_node_line (slot->value, slot->line);
    if (!fy_node_is_sequence (slot->value)) {
        s_problem (ctx, line, where, "key '%s': expected a list, like [a, b]", name);
        return -1;
    }
    int count = fy_node_sequence_item_count (slot->value);
    if (count <= 0)
        return 0;
    char **list = calloc ((size_t)count, sizeof (char *));
    if (!list) {
        s_problem (ctx, line, where, "key '%s': out of memory", name);
        return -1;
    }
    int rc = 0;
    size_t used = 0;
    void *iter = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate (slot->value, &iter)) && used < (size_t)count) {
        s_slot_t item_slot = {.key = slot->key, .value = item, .line = line};
        char *text = NULL;
        if (!fy_node_is_scalar (item) || fy_node_is_alias (item)) {
            s_problem (ctx, s_node_line (item, line), where,
                       "key '%s': every item must be a single value", name);
            rc = -1;
        } else if (s_get_string (ctx, where, name, &item_slot, kind, &text) != 0)
            rc = -1;
        else if (text)
            list[used++] = text;
    }
    *list_p = list;
    *count_p = used;
    return rc;
}

static void s_string_list_free (char ***list_p, size_t *count_p)
{
    if (*list_p) {
        for (size_t index = 0; index < *count_p; index++)
            free ((*list_p)[index]);
        free (*list_p);
    }
    *list_p = NULL;
    *count_p = 0;
}

//  Common end of a load: NULL the result if this load found problems.
static bool s_ctx_failed (const s_ctx_t *ctx)
{
    s_problems_sort (ctx);
    return ctx->failures > 0;
}

//  --------------------------------------------------------------------------
//  agent.yaml

enum {
    A_NAME,
    A_ENVIRONMENT,
    A_CONTROLLER,
    A_CONTROLLER_KEY,
    A_SIGNING_KEY,
    A_TOKEN,
    A_ROOT,
    A_KEY_FILE,
    A_KEEP_RELEASES,
    A_HEARTBEAT,
    A_HOOK_TIMEOUT,
    A_HOOK_USER,
    A_METRICS_INTERVAL,
    A_METRICS_BUFFER,
    A_STALE_AFTER,
    A_COUNT
};
static const char *const s_agent_keys[A_COUNT + 1] = {"name",
                                                      "environment",
                                                      "controller",
                                                      "controller-key",
                                                      "signing-key",
                                                      "token",
                                                      "root",
                                                      "key-file",
                                                      "keep-releases",
                                                      "heartbeat",
                                                      "hook-timeout",
                                                      "hook-user",
                                                      "metrics-interval",
                                                      "metrics-buffer",
                                                      "stale-after",
                                                      NULL};

static void s_agent_parse (s_ctx_t *ctx, struct fy_node *root, jad_agent_config_t *self)
{
    s_slot_t slots[A_COUNT];
    int line = s_node_line (root, 1);
    if (!root)
        memset (slots, 0, sizeof (slots));
    else if (s_map_walk (ctx, root, line, NULL, s_agent_keys, slots) != 0)
        return;
    const char *const *keys = s_agent_keys;
    s_get_string (ctx, NULL, keys[A_NAME], &slots[A_NAME], S_NAME, &self->name);
    if (s_require (ctx, line, NULL, keys, slots, A_ENVIRONMENT) == 0)
        s_get_string (ctx, NULL, keys[A_ENVIRONMENT], &slots[A_ENVIRONMENT], S_NAME,
                      &self->environment);
    if (s_require (ctx, line, NULL, keys, slots, A_CONTROLLER) == 0)
        s_get_string (ctx, NULL, keys[A_CONTROLLER], &slots[A_CONTROLLER], S_HOSTPORT,
                      &self->controller);
    if (s_require (ctx, line, NULL, keys, slots, A_CONTROLLER_KEY) == 0)
        s_get_string (ctx, NULL, keys[A_CONTROLLER_KEY], &slots[A_CONTROLLER_KEY], S_Z85KEY,
                      &self->controller_key);
    if (s_require (ctx, line, NULL, keys, slots, A_SIGNING_KEY) == 0)
        s_get_string (ctx, NULL, keys[A_SIGNING_KEY], &slots[A_SIGNING_KEY], S_HEXKEY,
                      &self->signing_key);
    s_get_string (ctx, NULL, keys[A_TOKEN], &slots[A_TOKEN], S_SECRET, &self->token);
    s_get_string (ctx, NULL, keys[A_ROOT], &slots[A_ROOT], S_ABSPATH, &self->root);
    s_get_string (ctx, NULL, keys[A_KEY_FILE], &slots[A_KEY_FILE], S_PATH, &self->key_file);
    s_get_uint (ctx, NULL, keys[A_KEEP_RELEASES], &slots[A_KEEP_RELEASES], 1, 100,
                &self->keep_releases);
    s_get_duration (ctx, NULL, keys[A_HEARTBEAT], &slots[A_HEARTBEAT], true, &self->heartbeat_ms);
    s_get_duration (ctx, NULL, keys[A_HOOK_TIMEOUT], &slots[A_HOOK_TIMEOUT], true,
                    &self->hook_timeout_ms);
    s_get_string (ctx, NULL, keys[A_HOOK_USER], &slots[A_HOOK_USER], S_NAME, &self->hook_user);
    s_get_duration (ctx, NULL, keys[A_METRICS_INTERVAL], &slots[A_METRICS_INTERVAL], true,
                    &self->metrics_interval_ms);
    s_get_uint (ctx, NULL, keys[A_METRICS_BUFFER], &slots[A_METRICS_BUFFER], 100, 10000000,
                &self->metrics_buffer);
    s_get_duration (ctx, NULL, keys[A_STALE_AFTER], &slots[A_STALE_AFTER], true,
                    &self->stale_after_ms);

    if (!self->name) {
        char host[256] = "";
        if (gethostname (host, sizeof (host) - 1) != 0 || !jad_name_valid (host)) {
            char *echo = s_echo (host);
            s_problem (ctx, line, NULL,
                       "key 'name' is not set and the host name \"%s\" is not a valid name; "
                       "set 'name'",
                       echo);
            free (echo);
        } else
            self->name = strdup (host);
    }
}

jad_agent_config_t *jad_agent_config_load (const char *path, jad_problems_t *problems)
{
    jad_problems_t *own_problems = problems ? NULL : jad_problems_new ();
    s_ctx_t ctx = {.origin = path ? path : "agent.yaml",
                   .problems = problems ? problems : own_problems,
                   .first = jad_problems_count (problems ? problems : own_problems)};
    jad_agent_config_t *self = calloc (1, sizeof (jad_agent_config_t));
    struct fy_document *document = NULL;
    char *text = NULL;
    if (!self || !path) {
        s_problem (&ctx, 0, NULL, self ? "no file given" : "out of memory");
        goto done;
    }
    self->root = strdup ("/srv/jadugar");
    self->key_file = strdup ("keys/agent.key");
    self->keep_releases = 5;
    self->heartbeat_ms = 5000;
    self->hook_timeout_ms = 30000;
    self->metrics_interval_ms = 10000;
    self->metrics_buffer = 100000;
    self->stale_after_ms = 30000;
    if (!self->root || !self->key_file) {
        s_problem (&ctx, 0, NULL, "out of memory");
        goto done;
    }
    size_t size = 0;
    text = s_file_read (&ctx, path, &size);
    if (!text)
        goto done;
    bool failed;
    document = s_document_parse (&ctx, text, size, &failed);
    if (failed)
        goto done;
    s_agent_parse (&ctx, document ? fy_document_root (document) : NULL, self);

done:
    fy_document_destroy (document);
    free (text);
    if (s_ctx_failed (&ctx))
        jad_agent_config_destroy (&self);
    jad_problems_destroy (&own_problems);
    return self;
}

void jad_agent_config_destroy (jad_agent_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_agent_config_t *self = *self_p;
    free (self->name);
    free (self->environment);
    free (self->controller);
    free (self->controller_key);
    free (self->signing_key);
    free (self->token);
    free (self->root);
    free (self->key_file);
    free (self->hook_user);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  controller.yaml

enum {
    C_LISTEN,
    C_PORT,
    C_HEARTBEAT,
    C_RESEND,
    C_PLAN_TTL,
    C_STEP_DEADLINE,
    C_PROGRESS_DEADLINE,
    C_ENVIRONMENTS,
    C_ALERTS,
    C_WATCH,
    C_METRICS_RETENTION,
    C_ROLLUP_RETENTION,
    C_HTTP_LISTEN,
    C_PROMETHEUS,
    C_NOTIFY,
    C_PROMETHEUS_TIMEOUT,
    C_SIGNED_HEARTBEAT,
    C_COUNT
};
static const char *const s_controller_keys[C_COUNT + 1] = {"listen",
                                                           "port",
                                                           "heartbeat",
                                                           "resend",
                                                           "plan-ttl",
                                                           "step-deadline",
                                                           "progress-deadline",
                                                           "environments",
                                                           "alerts",
                                                           "watch",
                                                           "metrics-retention",
                                                           "rollup-retention",
                                                           "http-listen",
                                                           "prometheus",
                                                           "notify",
                                                           "prometheus-timeout",
                                                           "signed-heartbeat",
                                                           NULL};

enum {
    E_TRACK,
    E_AUTO_DEPLOY,
    E_REQUIRES,
    E_STRATEGY,
    E_BATCH,
    E_CANARY,
    E_BAKE,
    E_WINDOWS,
    E_EMERGENCY_APPROVALS,
    E_CONCURRENCY,
    E_COUNT
};
static const char *const s_env_keys[E_COUNT + 1] = {
    "track",   "auto_deploy",         "requires",    "strategy", "batch", "canary", "bake",
    "windows", "emergency_approvals", "concurrency", NULL};

enum {
    L_ENV,
    L_METRIC,
    L_ABOVE,
    L_BELOW,
    L_FOR,
    L_ACTION,
    L_AGGREGATE,
    L_WINDOW,
    L_MIN_SAMPLES,
    L_QUERY,
    L_COUNT
};
static const char *const s_alert_keys[L_COUNT + 1] = {
    "env",       "metric", "above",       "below", "for", "action",
    "aggregate", "window", "min_samples", "query", NULL};

enum { N_COMMAND, N_WEBHOOK, N_COUNT };
static const char *const s_notify_keys[N_COUNT + 1] = {"command", "webhook", NULL};

static void s_env_config_free (jad_env_config_t *env)
{
    free (env->name);
    free (env->track);
    free (env->requires);
    free (env->strategy);
    free (env->batch);
    s_string_list_free (&env->windows, &env->window_count);
    s_string_list_free (&env->emergency_approvals, &env->emergency_approval_count);
}

//  Parse one environment's mapping into env (whose name is set).
static void s_env_parse (s_ctx_t *ctx, struct fy_node *node, int line, jad_env_config_t *env,
                         int *requires_line)
{
    char *where = jad_strdup_printf ("environment '%s'", env->name);
    s_slot_t slots[E_COUNT];
    //  An empty value ("dev:") is an environment with every default
    if (!s_is_empty (node)) {
        if (s_map_walk (ctx, node, line, where, s_env_keys, slots) != 0)
            goto done;
    } else
        memset (slots, 0, sizeof (slots));
    line = s_node_line (node, line);
    const char *const *keys = s_env_keys;
    s_get_string (ctx, where, keys[E_TRACK], &slots[E_TRACK], S_TEXT, &env->track);
    s_get_bool (ctx, where, keys[E_AUTO_DEPLOY], &slots[E_AUTO_DEPLOY], &env->auto_deploy);
    s_get_string (ctx, where, keys[E_REQUIRES], &slots[E_REQUIRES], S_NAME, &env->requires);
    *requires_line = s_node_line (slots[E_REQUIRES].value, slots[E_REQUIRES].line);
    s_get_string (ctx, where, keys[E_STRATEGY], &slots[E_STRATEGY], S_STRATEGY, &env->strategy);
    s_get_string (ctx, where, keys[E_BATCH], &slots[E_BATCH], S_BATCH, &env->batch);
    bool canary_ok =
        s_get_uint (ctx, where, keys[E_CANARY], &slots[E_CANARY], 0, 1000000, &env->canary) == 0;
    s_get_duration (ctx, where, keys[E_BAKE], &slots[E_BAKE], false, &env->bake_ms);
    s_get_string_list (ctx, where, keys[E_WINDOWS], &slots[E_WINDOWS], S_WINDOW, &env->windows,
                       &env->window_count);
    s_get_string_list (ctx, where, keys[E_EMERGENCY_APPROVALS], &slots[E_EMERGENCY_APPROVALS],
                       S_NAME, &env->emergency_approvals, &env->emergency_approval_count);
    s_get_uint (ctx, where, keys[E_CONCURRENCY], &slots[E_CONCURRENCY], 0, 1000000,
                &env->concurrency);
    if (env->strategy && jad_str_equal (env->strategy, "canary") && canary_ok) {
        //  A canary strategy without a count means one canary host
        if (!slots[E_CANARY].key)
            env->canary = 1;
        else if (env->canary == 0)
            s_problem (ctx, s_node_line (slots[E_CANARY].value, slots[E_CANARY].line), where,
                       "key 'canary': must be at least 1 with strategy canary");
    }
done:
    free (where);
}

static void s_environments_parse (s_ctx_t *ctx, const s_slot_t *slot, jad_controller_config_t *self)
{
    if (!slot->key || s_is_empty (slot->value))
        return;
    int line = s_node_line (slot->value, slot->line);
    if (!fy_node_is_mapping (slot->value)) {
        s_problem (ctx, line, NULL, "key 'environments': expected a mapping of environments");
        return;
    }
    int count = fy_node_mapping_item_count (slot->value);
    if (count <= 0)
        return;
    self->environments = calloc ((size_t)count, sizeof (jad_env_config_t));
    int *requires_lines = calloc ((size_t)count, sizeof (int));
    if (!self->environments || !requires_lines) {
        s_problem (ctx, line, NULL, "key 'environments': out of memory");
        free (requires_lines);
        return;
    }
    void *iter = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate (slot->value, &iter)) &&
           self->environment_count < (size_t)count) {
        struct fy_node *key = fy_node_pair_key (pair);
        struct fy_node *value = fy_node_pair_value (pair);
        int key_line = s_node_line (key, line);
        const char *name = key && fy_node_is_scalar (key) && !fy_node_is_alias (key)
                               ? fy_node_get_scalar0 (key)
                               : NULL;
        if (!name || !jad_name_valid (name)) {
            char *echo = s_echo (name ? name : "?");
            s_problem (ctx, key_line, NULL,
                       "key 'environments': \"%s\" is not a valid environment name "
                       "(1-64 of A-Z a-z 0-9 . _ -, not starting with . or -)",
                       echo);
            free (echo);
            continue;
        }
        jad_env_config_t *env = &self->environments[self->environment_count];
        env->name = strdup (name);
        env->strategy = strdup ("all");
        if (!env->name || !env->strategy) {
            s_env_config_free (env);
            memset (env, 0, sizeof (*env));
            s_problem (ctx, key_line, NULL, "key 'environments': out of memory");
            continue;
        }
        self->environment_count++;
        s_env_parse (ctx, value, key_line, env, &requires_lines[self->environment_count - 1]);
    }

    //  requires: names another environment, and never loops back
    for (size_t index = 0; index < self->environment_count; index++) {
        jad_env_config_t *env = &self->environments[index];
        if (!env->requires)
            continue;
        char where[JAD_NAME_MAX + 32];
        snprintf (where, sizeof (where), "environment '%s'", env->name);
        if (jad_str_equal (env->requires, env->name)) {
            s_problem (ctx, requires_lines[index], where, "key 'requires': '%s' requires itself",
                       env->name);
            continue;
        }
        if (!jad_controller_config_env (self, env->requires)) {
            s_problem (ctx, requires_lines[index], where,
                       "key 'requires': unknown environment '%s'", env->requires);
            continue;
        }
        //  Follow the chain; report a cycle once, at its first member
        const jad_env_config_t *cursor = env;
        bool first = true;
        for (size_t step = 0; step <= self->environment_count && cursor && cursor->requires;
             step++) {
            cursor = jad_controller_config_env (self, cursor->requires);
            if (cursor == env) {
                const jad_env_config_t *member = jad_controller_config_env (self, env->requires);
                while (member && member != env) {
                    if (member < env)
                        first = false;
                    member = jad_controller_config_env (self, member->requires);
                }
                if (first)
                    s_problem (ctx, requires_lines[index], where,
                               "key 'requires': '%s' leads back to '%s' (a cycle)", env->requires,
                               env->name);
                break;
            }
        }
    }
    free (requires_lines);
}

static void s_alerts_parse (s_ctx_t *ctx, const s_slot_t *slot, jad_controller_config_t *self)
{
    if (!slot->key || s_is_empty (slot->value))
        return;
    int line = s_node_line (slot->value, slot->line);
    if (!fy_node_is_sequence (slot->value)) {
        s_problem (ctx, line, NULL, "key 'alerts': expected a list of alert rules");
        return;
    }
    int count = fy_node_sequence_item_count (slot->value);
    if (count <= 0)
        return;
    self->alerts = calloc ((size_t)count, sizeof (jad_alert_config_t));
    if (!self->alerts) {
        s_problem (ctx, line, NULL, "key 'alerts': out of memory");
        return;
    }
    void *iter = NULL;
    struct fy_node *item;
    size_t number = 0;
    while ((item = fy_node_sequence_iterate (slot->value, &iter)) &&
           self->alert_count < (size_t)count) {
        number++;
        char where[32];
        snprintf (where, sizeof (where), "alert %zu", number);
        int item_line = s_node_line (item, line);
        s_slot_t slots[L_COUNT];
        if (s_map_walk (ctx, item, item_line, where, s_alert_keys, slots) != 0)
            continue;
        jad_alert_config_t *alert = &self->alerts[self->alert_count++];
        const char *const *keys = s_alert_keys;
        if (s_require (ctx, item_line, where, keys, slots, L_ENV) == 0 &&
            s_get_string (ctx, where, keys[L_ENV], &slots[L_ENV], S_NAME, &alert->env) == 0 &&
            alert->env && !jad_controller_config_env (self, alert->env))
            s_problem (ctx, s_node_line (slots[L_ENV].value, slots[L_ENV].line), where,
                       "key 'env': unknown environment '%s'", alert->env);
        if (s_require (ctx, item_line, where, keys, slots, L_METRIC) == 0)
            s_get_string (ctx, where, keys[L_METRIC], &slots[L_METRIC], S_METRIC, &alert->metric);
        if (slots[L_ABOVE].key && slots[L_BELOW].key)
            s_problem (ctx, slots[L_BELOW].line, where,
                       "give exactly one of 'above' or 'below', not both");
        else if (!slots[L_ABOVE].key && !slots[L_BELOW].key)
            s_problem (ctx, item_line, where, "missing required key 'above' or 'below'");
        else if (slots[L_ABOVE].key) {
            alert->above = true;
            s_get_number (ctx, where, keys[L_ABOVE], &slots[L_ABOVE], &alert->threshold);
        } else {
            alert->above = false;
            s_get_number (ctx, where, keys[L_BELOW], &slots[L_BELOW], &alert->threshold);
        }
        if (s_require (ctx, item_line, where, keys, slots, L_FOR) == 0)
            s_get_duration (ctx, where, keys[L_FOR], &slots[L_FOR], false, &alert->for_ms);
        s_get_string (ctx, where, keys[L_ACTION], &slots[L_ACTION], S_ACTION, &alert->action);
        alert->window_ms = alert->for_ms > 60000 ? alert->for_ms : 60000;
        alert->min_samples = 3;
        s_get_string (ctx, where, keys[L_AGGREGATE], &slots[L_AGGREGATE], S_AGGREGATE,
                      &alert->aggregate);
        s_get_duration (ctx, where, keys[L_WINDOW], &slots[L_WINDOW], true, &alert->window_ms);
        s_get_uint (ctx, where, keys[L_MIN_SAMPLES], &slots[L_MIN_SAMPLES], 1, 1000000,
                    &alert->min_samples);
        s_get_string (ctx, where, keys[L_QUERY], &slots[L_QUERY], S_TEXT, &alert->query);
        if (alert->query && !slots[L_MIN_SAMPLES].key)
            alert->min_samples = 1;  //  a query answers with one value per series
        if (alert->query && !self->prometheus)
            s_problem (ctx, slots[L_QUERY].line, where,
                       "key 'query' needs the top-level key 'prometheus' (the server's URL)");
    }
}

static void s_notify_parse (s_ctx_t *ctx, const s_slot_t *slot, jad_controller_config_t *self)
{
    if (!slot->key || s_is_empty (slot->value))
        return;
    int line = s_node_line (slot->value, slot->line);
    if (!fy_node_is_sequence (slot->value)) {
        s_problem (ctx, line, NULL, "key 'notify': expected a list of commands and webhooks");
        return;
    }
    int count = fy_node_sequence_item_count (slot->value);
    if (count <= 0)
        return;
    self->notify = calloc ((size_t)count, sizeof (jad_notify_config_t));
    if (!self->notify) {
        s_problem (ctx, line, NULL, "key 'notify': out of memory");
        return;
    }
    void *iter = NULL;
    struct fy_node *item;
    size_t number = 0;
    while ((item = fy_node_sequence_iterate (slot->value, &iter)) &&
           self->notify_count < (size_t)count) {
        number++;
        char where[32];
        snprintf (where, sizeof (where), "notify %zu", number);
        int item_line = s_node_line (item, line);
        s_slot_t slots[N_COUNT];
        if (s_map_walk (ctx, item, item_line, where, s_notify_keys, slots) != 0)
            continue;
        jad_notify_config_t *notify = &self->notify[self->notify_count++];
        if (slots[N_COMMAND].key && slots[N_WEBHOOK].key)
            s_problem (ctx, slots[N_WEBHOOK].line, where,
                       "give either 'command' (an absolute path) or 'webhook' (a URL), not both");
        else if (!slots[N_COMMAND].key && !slots[N_WEBHOOK].key)
            s_problem (ctx, item_line, where,
                       "missing required key 'command' (an absolute path) or 'webhook' (a URL)");
        else if (slots[N_COMMAND].key)
            s_get_string (ctx, where, s_notify_keys[N_COMMAND], &slots[N_COMMAND], S_ABSPATH,
                          &notify->command);
        else
            s_get_string (ctx, where, s_notify_keys[N_WEBHOOK], &slots[N_WEBHOOK], S_URL,
                          &notify->webhook);
    }
}

static void s_controller_parse (s_ctx_t *ctx, struct fy_node *root, jad_controller_config_t *self)
{
    s_slot_t slots[C_COUNT];
    int line = s_node_line (root, 1);
    if (!root)
        memset (slots, 0, sizeof (slots));
    else if (s_map_walk (ctx, root, line, NULL, s_controller_keys, slots) != 0)
        return;
    const char *const *keys = s_controller_keys;
    s_get_string (ctx, NULL, keys[C_LISTEN], &slots[C_LISTEN], S_ADDRESS, &self->listen);
    //  The controller binds PORT..PORT+3
    uint32_t port = self->port;
    if (s_get_uint (ctx, NULL, keys[C_PORT], &slots[C_PORT], 1, 65532, &port) == 0)
        self->port = (uint16_t)port;
    s_get_duration (ctx, NULL, keys[C_HEARTBEAT], &slots[C_HEARTBEAT], true, &self->heartbeat_ms);
    s_get_duration (ctx, NULL, keys[C_RESEND], &slots[C_RESEND], true, &self->resend_ms);
    s_get_duration (ctx, NULL, keys[C_PLAN_TTL], &slots[C_PLAN_TTL], true, &self->plan_ttl_ms);
    //  0 turns the signed heartbeat off (agents then raise their stale alarm)
    s_get_duration (ctx, NULL, keys[C_SIGNED_HEARTBEAT], &slots[C_SIGNED_HEARTBEAT], false,
                    &self->signed_heartbeat_ms);
    s_get_duration (ctx, NULL, keys[C_STEP_DEADLINE], &slots[C_STEP_DEADLINE], true,
                    &self->step_deadline_ms);
    s_get_duration (ctx, NULL, keys[C_PROGRESS_DEADLINE], &slots[C_PROGRESS_DEADLINE], true,
                    &self->progress_deadline_ms);
    s_environments_parse (ctx, &slots[C_ENVIRONMENTS], self);
    s_get_duration (ctx, NULL, keys[C_WATCH], &slots[C_WATCH], true, &self->watch_ms);
    s_get_long_duration (ctx, NULL, keys[C_METRICS_RETENTION], &slots[C_METRICS_RETENTION],
                         &self->metrics_retention_ms);
    s_get_long_duration (ctx, NULL, keys[C_ROLLUP_RETENTION], &slots[C_ROLLUP_RETENTION],
                         &self->rollup_retention_ms);
    s_get_string (ctx, NULL, keys[C_HTTP_LISTEN], &slots[C_HTTP_LISTEN], S_ADDRESS,
                  &self->http_listen);
    s_get_string (ctx, NULL, keys[C_PROMETHEUS], &slots[C_PROMETHEUS], S_URL, &self->prometheus);
    s_get_duration (ctx, NULL, keys[C_PROMETHEUS_TIMEOUT], &slots[C_PROMETHEUS_TIMEOUT], true,
                    &self->prometheus_timeout_ms);
    s_alerts_parse (ctx, &slots[C_ALERTS], self);
    s_notify_parse (ctx, &slots[C_NOTIFY], self);
}

jad_controller_config_t *jad_controller_config_load (const char *path, jad_problems_t *problems)
{
    jad_problems_t *own_problems = problems ? NULL : jad_problems_new ();
    s_ctx_t ctx = {.origin = path ? path : "controller.yaml",
                   .problems = problems ? problems : own_problems,
                   .first = jad_problems_count (problems ? problems : own_problems)};
    jad_controller_config_t *self = calloc (1, sizeof (jad_controller_config_t));
    struct fy_document *document = NULL;
    char *text = NULL;
    if (!self || !path) {
        s_problem (&ctx, 0, NULL, self ? "no file given" : "out of memory");
        goto done;
    }
    self->listen = strdup ("127.0.0.1");
    self->port = 7400;
    self->heartbeat_ms = 5000;
    self->resend_ms = 2000;
    self->plan_ttl_ms = 10 * 60 * 1000;
    self->signed_heartbeat_ms = 5000;
    self->step_deadline_ms = 10 * 60 * 1000;
    self->progress_deadline_ms = 30 * 60 * 1000;
    self->watch_ms = 30 * 60 * 1000;
    self->prometheus_timeout_ms = 10 * 1000;
    self->metrics_retention_ms = 24 * 3600 * 1000;
    self->rollup_retention_ms = 30ull * 24 * 3600 * 1000;
    self->http_listen = strdup ("127.0.0.1");
    if (!self->listen || !self->http_listen) {
        s_problem (&ctx, 0, NULL, "out of memory");
        goto done;
    }
    size_t size = 0;
    text = s_file_read (&ctx, path, &size);
    if (!text)
        goto done;
    bool failed;
    document = s_document_parse (&ctx, text, size, &failed);
    if (failed)
        goto done;
    s_controller_parse (&ctx, document ? fy_document_root (document) : NULL, self);

done:
    fy_document_destroy (document);
    free (text);
    if (s_ctx_failed (&ctx))
        jad_controller_config_destroy (&self);
    jad_problems_destroy (&own_problems);
    return self;
}

void jad_controller_config_destroy (jad_controller_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_controller_config_t *self = *self_p;
    free (self->listen);
    for (size_t index = 0; index < self->environment_count; index++)
        s_env_config_free (&self->environments[index]);
    free (self->environments);
    for (size_t index = 0; index < self->alert_count; index++) {
        free (self->alerts[index].env);
        free (self->alerts[index].metric);
        free (self->alerts[index].action);
        free (self->alerts[index].aggregate);
        free (self->alerts[index].query);
    }
    free (self->alerts);
    for (size_t index = 0; index < self->notify_count; index++) {
        free (self->notify[index].command);
        free (self->notify[index].webhook);
    }
    free (self->notify);
    free (self->http_listen);
    free (self->prometheus);
    free (self);
    *self_p = NULL;
}

const jad_env_config_t *jad_controller_config_env (const jad_controller_config_t *self,
                                                   const char *name)
{
    if (!self || !name)
        return NULL;
    for (size_t index = 0; index < self->environment_count; index++)
        if (self->environments[index].name && jad_str_equal (self->environments[index].name, name))
            return &self->environments[index];
    return NULL;
}

//  --------------------------------------------------------------------------
//  jadctl client file

enum { K_CONTROLLER, K_CONTROLLER_KEY, K_KEY, K_COUNT };
static const char *const s_client_keys[K_COUNT + 1] = {"controller", "controller-key", "key", NULL};

//  Make key absolute: "~/" is $HOME, relative is from the client file's
//  folder (itself from the working directory if relative).
static char *s_path_absolute (const char *client_path, const char *key)
{
    if (*key == '/')
        return strdup (key);
    const char *home = getenv ("HOME");
    if (strncmp (key, "~/", 2) == 0 && home && *home == '/')
        return jad_strdup_printf ("%s/%s", home, key + 2);
    const char *slash = strrchr (client_path, '/');
    char *folder = slash ? strndup (client_path, (size_t)(slash - client_path)) : strdup (".");
    if (!folder)
        return NULL;
    if (!*folder) {
        free (folder);
        folder = strdup ("/");  //  client file at the root
        if (!folder)
            return NULL;
    }
    char *result = NULL;
    if (*folder == '/')
        result = jad_strdup_printf ("%s%s%s", folder, jad_str_equal (folder, "/") ? "" : "/", key);
    else {
        char *cwd = getcwd (NULL, 0);
        if (cwd)
            result = jad_str_equal (folder, ".") ? jad_strdup_printf ("%s/%s", cwd, key)
                                                 : jad_strdup_printf ("%s/%s/%s", cwd, folder, key);
        free (cwd);
    }
    free (folder);
    return result;
}

jad_client_config_t *jad_client_config_load (const char *path, jad_problems_t *problems)
{
    jad_problems_t *own_problems = problems ? NULL : jad_problems_new ();
    s_ctx_t ctx = {.origin = path ? path : "jadctl.yaml",
                   .problems = problems ? problems : own_problems,
                   .first = jad_problems_count (problems ? problems : own_problems)};
    jad_client_config_t *self = calloc (1, sizeof (jad_client_config_t));
    struct fy_document *document = NULL;
    char *text = NULL;
    if (!self || !path) {
        s_problem (&ctx, 0, NULL, self ? "no file given" : "out of memory");
        goto done;
    }
    size_t size = 0;
    text = s_file_read (&ctx, path, &size);
    if (!text)
        goto done;
    bool failed;
    document = s_document_parse (&ctx, text, size, &failed);
    if (failed)
        goto done;
    struct fy_node *root = document ? fy_document_root (document) : NULL;
    s_slot_t slots[K_COUNT];
    int line = s_node_line (root, 1);
    if (!root)
        memset (slots, 0, sizeof (slots));
    else if (s_map_walk (&ctx, root, line, NULL, s_client_keys, slots) != 0)
        goto done;
    const char *const *keys = s_client_keys;
    if (s_require (&ctx, line, NULL, keys, slots, K_CONTROLLER) == 0)
        s_get_string (&ctx, NULL, keys[K_CONTROLLER], &slots[K_CONTROLLER], S_HOSTPORT,
                      &self->controller);
    if (s_require (&ctx, line, NULL, keys, slots, K_CONTROLLER_KEY) == 0)
        s_get_string (&ctx, NULL, keys[K_CONTROLLER_KEY], &slots[K_CONTROLLER_KEY], S_Z85KEY,
                      &self->controller_key);
    char *key = NULL;
    if (s_require (&ctx, line, NULL, keys, slots, K_KEY) == 0 &&
        s_get_string (&ctx, NULL, keys[K_KEY], &slots[K_KEY], S_PATH, &key) == 0 && key) {
        self->key = s_path_absolute (path, key);
        if (!self->key)
            s_problem (&ctx, slots[K_KEY].line, NULL, "key 'key': cannot make the path absolute");
    }
    free (key);

done:
    fy_document_destroy (document);
    free (text);
    if (s_ctx_failed (&ctx))
        jad_client_config_destroy (&self);
    jad_problems_destroy (&own_problems);
    return self;
}

void jad_client_config_destroy (jad_client_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_client_config_t *self = *self_p;
    free (self->controller);
    free (self->controller_key);
    free (self->key);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  jadugar.yaml (release manifest)

enum { M_HOOKS, M_METRICS, M_COUNT };
static const char *const s_manifest_keys[M_COUNT + 1] = {"hooks", "metrics", NULL};

enum { H_PRE_ACTIVATE, H_MIGRATE_UP, H_MIGRATE_DOWN, H_ACTIVATE, H_SMOKE, H_COUNT };
static const char *const s_hooks_keys[H_COUNT + 1] = {"pre_activate", "migrate_up", "migrate_down",
                                                      "activate",     "smoke",      NULL};

enum { S_RUN, S_HTTP, S_EXPECT, S_TIMEOUT, S_SMOKE_COUNT };
static const char *const s_smoke_keys[S_SMOKE_COUNT + 1] = {"run", "http", "expect", "timeout",
                                                            NULL};

enum { X_INTERVAL, X_SOURCES, X_COUNT };
static const char *const s_metrics_keys[X_COUNT + 1] = {"interval", "sources", NULL};

enum { P_PROMETHEUS, P_COMMAND, P_COUNT };
static const char *const s_source_keys[P_COUNT + 1] = {"prometheus", "command", NULL};

//  True if slot holds a list with items; reports a non-list.
static bool s_list_present (s_ctx_t *ctx, const char *where, const char *name, const s_slot_t *slot)
{
    if (!slot->key || s_is_empty (slot->value))
        return false;
    if (!fy_node_is_sequence (slot->value)) {
        s_problem (ctx, s_node_line (slot->value, slot->line), where, "key '%s': expected a list",
                   name);
        return false;
    }
    return fy_node_sequence_item_count (slot->value) > 0;
}

static void s_smoke_parse (s_ctx_t *ctx, const s_slot_t *slot, jad_manifest_t *self)
{
    if (!s_list_present (ctx, "hooks", "smoke", slot))
        return;
    int count = fy_node_sequence_item_count (slot->value);
    int line = s_node_line (slot->value, slot->line);
    self->smoke = calloc ((size_t)count, sizeof (jad_smoke_t));
    if (!self->smoke) {
        s_problem (ctx, line, "hooks", "key 'smoke': out of memory");
        return;
    }
    void *iter = NULL;
    struct fy_node *item;
    size_t number = 0;
    while ((item = fy_node_sequence_iterate (slot->value, &iter)) &&
           self->smoke_count < (size_t)count) {
        number++;
        char where[32];
        snprintf (where, sizeof (where), "smoke %zu", number);
        int item_line = s_node_line (item, line);
        s_slot_t slots[S_SMOKE_COUNT];
        if (s_map_walk (ctx, item, item_line, where, s_smoke_keys, slots) != 0)
            continue;
        jad_smoke_t *smoke = &self->smoke[self->smoke_count++];
        smoke->expect = 200;
        smoke->timeout_ms = 30000;
        const char *const *keys = s_smoke_keys;
        if (slots[S_RUN].key && slots[S_HTTP].key)
            s_problem (ctx, slots[S_HTTP].line, where,
                       "give either 'run' (a hook path) or 'http' (a URL), not both");
        else if (!slots[S_RUN].key && !slots[S_HTTP].key)
            s_problem (ctx, item_line, where,
                       "missing required key 'run' (a hook path) or 'http' (a URL)");
        else if (slots[S_RUN].key) {
            s_get_string (ctx, where, keys[S_RUN], &slots[S_RUN], S_HOOKPATH, &smoke->run);
            if (slots[S_EXPECT].key)
                s_problem (ctx, slots[S_EXPECT].line, where,
                           "key 'expect' only applies to an 'http' check");
        } else
            s_get_string (ctx, where, keys[S_HTTP], &slots[S_HTTP], S_URL, &smoke->http);
        s_get_uint (ctx, where, keys[S_EXPECT], &slots[S_EXPECT], 100, 599, &smoke->expect);
        s_get_duration (ctx, where, keys[S_TIMEOUT], &slots[S_TIMEOUT], true, &smoke->timeout_ms);
    }
}

static void s_sources_parse (s_ctx_t *ctx, const s_slot_t *slot, jad_manifest_t *self)
{
    if (!s_list_present (ctx, "metrics", "sources", slot))
        return;
    int count = fy_node_sequence_item_count (slot->value);
    int line = s_node_line (slot->value, slot->line);
    self->sources = calloc ((size_t)count, sizeof (jad_metric_source_t));
    if (!self->sources) {
        s_problem (ctx, line, "metrics", "key 'sources': out of memory");
        return;
    }
    void *iter = NULL;
    struct fy_node *item;
    size_t number = 0;
    while ((item = fy_node_sequence_iterate (slot->value, &iter)) &&
           self->source_count < (size_t)count) {
        number++;
        char where[32];
        snprintf (where, sizeof (where), "source %zu", number);
        int item_line = s_node_line (item, line);
        s_slot_t slots[P_COUNT];
        if (s_map_walk (ctx, item, item_line, where, s_source_keys, slots) != 0)
            continue;
        jad_metric_source_t *source = &self->sources[self->source_count++];
        const char *const *keys = s_source_keys;
        if (slots[P_PROMETHEUS].key && slots[P_COMMAND].key)
            s_problem (ctx, slots[P_COMMAND].line, where,
                       "give either 'prometheus' (a URL) or 'command' (a hook path), not both");
        else if (!slots[P_PROMETHEUS].key && !slots[P_COMMAND].key)
            s_problem (ctx, item_line, where,
                       "missing required key 'prometheus' (a URL) or 'command' (a hook path)");
        else if (slots[P_PROMETHEUS].key)
            s_get_string (ctx, where, keys[P_PROMETHEUS], &slots[P_PROMETHEUS], S_URL,
                          &source->prometheus);
        else
            s_get_string (ctx, where, keys[P_COMMAND], &slots[P_COMMAND], S_HOOKPATH,
                          &source->command);
    }
}

static void s_manifest_parse (s_ctx_t *ctx, struct fy_node *root, jad_manifest_t *self)
{
    if (!root)
        return;  //  an empty manifest: no hooks, no metrics
    s_slot_t slots[M_COUNT];
    int line = s_node_line (root, 1);
    if (s_map_walk (ctx, root, line, NULL, s_manifest_keys, slots) != 0)
        return;
    //  "hooks:" or "metrics:" with nothing means none, and defaults
    if (slots[M_HOOKS].key && !s_is_empty (slots[M_HOOKS].value)) {
        s_slot_t hooks[H_COUNT];
        if (s_map_walk (ctx, slots[M_HOOKS].value, slots[M_HOOKS].line, "hooks", s_hooks_keys,
                        hooks) == 0) {
            const char *const *keys = s_hooks_keys;
            s_get_string (ctx, "hooks", keys[H_PRE_ACTIVATE], &hooks[H_PRE_ACTIVATE], S_HOOKPATH,
                          &self->pre_activate);
            s_get_string (ctx, "hooks", keys[H_MIGRATE_UP], &hooks[H_MIGRATE_UP], S_HOOKPATH,
                          &self->migrate_up);
            s_get_string (ctx, "hooks", keys[H_MIGRATE_DOWN], &hooks[H_MIGRATE_DOWN], S_HOOKPATH,
                          &self->migrate_down);
            s_get_string (ctx, "hooks", keys[H_ACTIVATE], &hooks[H_ACTIVATE], S_HOOKPATH,
                          &self->activate);
            s_smoke_parse (ctx, &hooks[H_SMOKE], self);
        }
    }
    if (slots[M_METRICS].key && !s_is_empty (slots[M_METRICS].value)) {
        s_slot_t metrics[X_COUNT];
        if (s_map_walk (ctx, slots[M_METRICS].value, slots[M_METRICS].line, "metrics",
                        s_metrics_keys, metrics) == 0) {
            s_get_duration (ctx, "metrics", s_metrics_keys[X_INTERVAL], &metrics[X_INTERVAL], true,
                            &self->metrics_interval_ms);
            s_sources_parse (ctx, &metrics[X_SOURCES], self);
        }
    }
}

jad_manifest_t *jad_manifest_parse (const char *text, size_t size, const char *origin,
                                    jad_problems_t *problems)
{
    jad_problems_t *own_problems = problems ? NULL : jad_problems_new ();
    s_ctx_t ctx = {.origin = origin ? origin : "jadugar.yaml",
                   .problems = problems ? problems : own_problems,
                   .first = jad_problems_count (problems ? problems : own_problems)};
    jad_manifest_t *self = calloc (1, sizeof (jad_manifest_t));
    struct fy_document *document = NULL;
    if (!self) {
        s_problem (&ctx, 0, NULL, "out of memory");
        goto done;
    }
    self->metrics_interval_ms = 10000;
    if (!text) {
        s_problem (&ctx, 0, NULL, "no manifest text");
        goto done;
    }
    bool failed;
    document = s_document_parse (&ctx, text, size, &failed);
    if (failed)
        goto done;
    s_manifest_parse (&ctx, document ? fy_document_root (document) : NULL, self);

done:
    fy_document_destroy (document);
    if (s_ctx_failed (&ctx))
        jad_manifest_destroy (&self);
    jad_problems_destroy (&own_problems);
    return self;
}

jad_manifest_t *jad_manifest_load (const char *path, jad_problems_t *problems)
{
    jad_problems_t *own_problems = problems ? NULL : jad_problems_new ();
    s_ctx_t ctx = {.origin = path ? path : "jadugar.yaml",
                   .problems = problems ? problems : own_problems,
                   .first = jad_problems_count (problems ? problems : own_problems)};
    jad_manifest_t *self = NULL;
    size_t size = 0;
    char *text = path ? s_file_read (&ctx, path, &size) : NULL;
    if (!path)
        s_problem (&ctx, 0, NULL, "no file given");
    if (text)
        self = jad_manifest_parse (text, size, path, ctx.problems);
    free (text);
    jad_problems_destroy (&own_problems);
    return self;
}

void jad_manifest_destroy (jad_manifest_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_manifest_t *self = *self_p;
    free (self->pre_activate);
    free (self->migrate_up);
    free (self->migrate_down);
    free (self->activate);
    for (size_t index = 0; index < self->smoke_count; index++) {
        free (self->smoke[index].run);
        free (self->smoke[index].http);
    }
    free (self->smoke);
    for (size_t index = 0; index < self->source_count; index++) {
        free (self->sources[index].prometheus);
        free (self->sources[index].command);
    }
    free (self->sources);
    free (self);
    *self_p = NULL;
}
