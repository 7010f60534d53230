//  jad_config - the YAML files: agent.yaml, controller.yaml, jadctl client
//  files and a release's jadugar.yaml (libfyaml)
//  SPDX-License-Identifier: MPL-2.0
//
//  Design notes
//  - libfyaml builds a document from the text; its diagnostics are collected
//    (never printed) and turned into "FILE:LINE: YAML syntax error: ..."
//    lines. Duplicate keys are syntax errors there.
//  - Every mapping is described by a table (s_table_t): one descriptor per
//    key, naming its type, where its value goes in our struct (offset) and
//    what it must be (validator kind, range, required). One parser
//    (s_table_parse) walks any mapping against its table: unknown keys are
//    reported (with a suggestion when one is close), each known key is read
//    by its type, lists of values, lists of mappings and mappings of named
//    mappings recurse into their item tables, and a table's check function
//    then applies the rules between keys (exactly one of two, defaults that
//    depend on another key, references to other parts of the file). Every
//    reader reports its own problem and goes on, so one pass finds every
//    problem in a file; the same tables free what the parser allocated.
//  - libfyaml 0.7 has no start mark for collection nodes, so the line of a
//    mapping or a list is the line of its first scalar, or of the key that
//    holds it when it is empty. Marks are 0-based; problems print 1-based.
//  - Aliases are refused: configuration is small, and an alias bomb in a
//    release manifest must not cost the agent anything.
//  - Values echoed into problems are sanitized and bounded; tokens are never
//    echoed.

#include "jad_config.h"
#include "jad_attest.h"  //  predicate type names only: jadcommon does not link jadattest
#include "jad_calendar.h"
#include "jad_role.h"
#include "jad_util.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <libfyaml.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
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
    bool on_host;              //  also check the file against this host (S_USER)
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

//  True if libfyaml 0.7 reads the text of scalar node right. Its text
//  iterator and its length count disagree on some scalars (line breaks such
//  as NEL or a lone CR inside quotes, runs of '' escapes, an empty block
//  scalar at the end of the file): fy_node_get_scalar then returns a cut or
//  wrong value, and fy_atom_format_text leaks its chunk array when the text
//  does not fit (found by fuzz_config). The text its iterator
//  yields must have the length the library counted; this walks the chunks
//  without keeping them and never formats the text.
static bool s_scalar_readable (struct fy_node *node)
{
    size_t expected = fy_node_get_scalar_length (node);
    struct fy_token_iter *iter = fy_token_iter_create (fy_node_get_scalar_token (node));
    if (!iter)
        return false;
    size_t length = 0;
    int error = 0;
    const struct fy_iter_chunk *chunk = NULL;
    while (length <= expected && (chunk = fy_token_iter_chunk_next (iter, chunk, &error)))
        length += chunk->len;
    fy_token_iter_destroy (iter);
    return error == 0 && length == expected;
}

//  Check every scalar of a document before anything reads it (see
//  s_scalar_readable); a value is named by its key (key, at key_line).
//  libfyaml refuses documents nested deeper than 64 levels, which bounds
//  the recursion. Returns the number of problems found.
static size_t s_document_check (s_ctx_t *ctx, struct fy_node *node, bool is_key, const char *key,
                                int key_line)
{
    if (!node || fy_node_is_alias (node))
        return 0;
    size_t problems = 0;
    void *iter = NULL;
    if (fy_node_is_scalar (node)) {
        if (s_scalar_readable (node))
            return 0;
        if (key)
            s_problem (ctx, key_line, NULL,
                       "key '%s': libfyaml 0.7 cannot read this value reliably (it miscounts "
                       "some quoted and block scalars); write it on one line, without escapes",
                       key);
        else
            s_problem (ctx, s_node_line (node, 1), NULL,
                       "libfyaml 0.7 cannot read this %s reliably (it miscounts some quoted and "
                       "block scalars); write it on one line, without escapes",
                       is_key ? "key" : "value");
        return 1;
    }
    if (fy_node_is_mapping (node)) {
        struct fy_node_pair *pair;
        while ((pair = fy_node_mapping_iterate (node, &iter))) {
            struct fy_node *name = fy_node_pair_key (pair);
            size_t bad = s_document_check (ctx, name, true, NULL, 0);
            problems += bad;
            //  a readable key names its value's problem
            bool plain = !bad && name && fy_node_is_scalar (name) && !fy_node_is_alias (name);
            char *echo = plain ? s_echo (fy_node_get_scalar0 (name)) : NULL;
            problems += s_document_check (ctx, fy_node_pair_value (pair), false, echo,
                                          s_node_line (name, 1));
            free (echo);
        }
    } else if (fy_node_is_sequence (node)) {
        struct fy_node *item;
        while ((item = fy_node_sequence_iterate (node, &iter)))
            problems += s_document_check (ctx, item, false, NULL, 0);
    }
    return problems;
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
    //  destroy, not unref: only destroy frees the collected errors; a
    //  document still holding a reference keeps the object itself alive
    fy_diag_destroy (diag);
    if (!errors && document)
        errors = s_document_check (ctx, fy_document_root (document), false, NULL, 0);
    if (errors) {
        fy_document_destroy (document);
        return NULL;
    }
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

typedef enum {
    S_UNSET,  //  key absent or without a value (or not read: see s_table_parse)
    S_SET,    //  value read into the struct
    S_BAD,    //  value refused, with a problem reported
} s_state_t;

typedef struct {
    struct fy_node *key;    //  key node, NULL if absent
    struct fy_node *value;  //  value node, may be NULL
    int line;               //  1-based line of the key
    s_state_t state;        //  what reading the value gave
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

//  Walk a mapping node: fill slots[i] for keys[i] (key_count keys), report
//  unknown and malformed keys. Returns 0, or -1 if node is not a mapping
//  (reported at line).
static int s_map_walk (s_ctx_t *ctx, struct fy_node *node, int line, const char *where,
                       const char *const keys[], size_t key_count, s_slot_t slots[])
{
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
static int s_require (s_ctx_t *ctx, int line, const char *where, const char *name,
                      const s_slot_t *slot)
{
    if (!slot->key) {
        s_problem (ctx, line, where, "missing required key '%s'", name);
        return -1;
    }
    if (s_is_empty (slot->value)) {
        s_problem (ctx, slot->line, where, "key '%s' has no value", name);
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
    S_TEXT,       //  any non-empty text without control characters
    S_SECRET,     //  like S_TEXT, never echoed
    S_NAME,       //  jad_name_valid
    S_HOSTPORT,   //  HOST:PORT, port 1..65535
    S_HOSTPORTS,  //  HOST:PORT[,HOST:PORT...] (or a YAML list), up to JAD_ENDPOINTS_MAX
    S_Z85KEY,     //  40 Z85 characters (CURVE public key)
    S_HEXKEY,     //  64 hex characters (Ed25519 public key)
    S_ABSPATH,    //  absolute path
    S_PATH,       //  any path
    S_HOOKPATH,   //  relative path inside the release, no ".."
    S_URL,        //  http:// or https:// URL
    S_STORE,      //  sqlite, or a postgresql:// URL (may hold a password: never echoed)
    S_WINDOW,     //  "DAYS HH:MM-HH:MM" (jad_window_parse)
    S_TIMEZONE,   //  an IANA zone name (jad_tz_name_valid; loaded by the env check)
    S_BATCH,      //  "N" or "N%"
    S_STRATEGY,   //  all | rolling | canary
    S_METRIC,     //  metric name
    S_ADDRESS,    //  bind address
    S_ACTION,     //  rollback
    S_AGGREGATE,  //  avg | max | sum | p95
    S_ROLE,       //  a role an operator may hold (jad_role.h)
    S_USER,       //  a user name; on this host's users when loading on the host
    S_SKIP,       //  a rule an emergency may skip: requires | bake
    S_SEVERITY,   //  a vulnerability severity: negligible | low | medium | high | critical
    S_EMAIL,      //  an email address: LOCAL@DOMAIN
    S_EVENT,      //  an event pattern: *, FAMILY.*, FAMILY.NAME (jad_event_pattern_valid)
    S_CANARY,     //  how canary analysis judges the canary hosts: host | aggregate | off
    S_COMPARE,    //  what canary analysis compares the canary hosts with: baseline
    S_FAILURES,   //  failed hosts a deploy may go on with: "N" or "N%", 0 included
    S_WHEN,       //  when an emergency approver is asked: security
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

bool jad_endpoint_next (const char **cursor, char *out, size_t len)
{
    const char *at = *cursor;
    while (*at == ' ' || *at == ',')
        at++;
    if (!*at)
        return false;
    const char *end = strchr (at, ',');
    if (!end)
        end = at + strlen (at);
    size_t size = (size_t)(end - at);
    while (size > 0 && at[size - 1] == ' ')
        size--;
    if (size + 1 > len)
        return false;
    memcpy (out, at, size);
    out[size] = 0;
    *cursor = end;
    return true;
}

//  Every item of a comma-separated list is HOST:PORT: 1 to
//  JAD_ENDPOINTS_MAX of them, none empty.
static bool s_hostports_valid (const char *text)
{
    size_t count = 0;
    const char *at = text;
    while (*at) {
        const char *end = strchr (at, ',');
        if (!end)
            end = at + strlen (at);
        char item[300];
        size_t size = (size_t)(end - at);
        while (size > 0 && *at == ' ') {
            at++;
            size--;
        }
        while (size > 0 && at[size - 1] == ' ')
            size--;
        if (size == 0 || size >= sizeof item || ++count > JAD_ENDPOINTS_MAX)
            return false;
        memcpy (item, at, size);
        item[size] = 0;
        if (!s_hostport_valid (item))
            return false;
        at = *end ? end + 1 : end;
        if (*end && !*at)
            return false;  //  a trailing comma
    }
    return count > 0;
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

//  "sqlite", or a libpq URL: postgresql:// (or postgres://), then
//  [USER[:PASSWORD]@][HOST[:PORT][,...]][/DB][?...], printable without
//  spaces; a host in brackets closes them, a port is 1..65535.
static bool s_store_valid (const char *text)
{
    if (jad_str_equal (text, "sqlite"))
        return true;
    const char *rest = NULL;
    if (strncmp (text, "postgresql://", 13) == 0)
        rest = text + 13;
    else if (strncmp (text, "postgres://", 11) == 0)
        rest = text + 11;
    if (!rest)
        return false;
    for (const unsigned char *cursor = (const unsigned char *)rest; *cursor; cursor++)
        if (*cursor <= ' ' || *cursor >= 0x7F)
            return false;
    const char *end = rest + strcspn (rest, "/?");
    const char *at = NULL;
    for (const char *cursor = rest; cursor < end; cursor++)
        if (*cursor == '@')
            at = cursor;
    const char *host = at ? at + 1 : rest;
    while (host < end) {
        const char *stop = host;
        if (*host == '[') {
            stop = memchr (host, ']', (size_t)(end - host));
            if (!stop)
                return false;
            stop++;
        }
        while (stop < end && *stop != ':' && *stop != ',')
            stop++;
        if (stop < end && *stop == ':') {
            char *after = NULL;
            long port = strtol (stop + 1, &after, 10);
            if (after == stop + 1 || port < 1 || port > 65535 || (after < end && *after != ','))
                return false;
            stop = after;
        }
        host = stop < end ? stop + 1 : end;
    }
    return true;
}

static bool s_batch_valid (const char *text)
{
    size_t len = strlen (text);
    uint32_t value;
    if (len > 1 && text[len - 1] == '%')
        return s_parse_uint (text, len - 1, 1, 100, &value) == 0;
    return s_parse_uint (text, len, 1, 1000000, &value) == 0;
}

static bool s_failures_valid (const char *text)
{
    size_t len = strlen (text);
    uint32_t value;
    if (len > 1 && text[len - 1] == '%')
        return s_parse_uint (text, len - 1, 0, 100, &value) == 0;
    return s_parse_uint (text, len, 0, 1000000, &value) == 0;
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

//  LOCAL@DOMAIN: one '@', both sides non-empty, no spaces, quotes, angle
//  brackets, commas or control characters (an address, never a header)
static bool s_email_valid (const char *text)
{
    const char *at = strchr (text, '@');
    size_t len = strlen (text);
    if (!at || at == text || !at[1] || strchr (at + 1, '@') || len > 254)
        return false;
    for (const char *cursor = text; *cursor; cursor++) {
        unsigned char c = (unsigned char)*cursor;
        if (c <= ' ' || c >= 0x7f || strchr ("<>()[]\\,;:\"", c))
            return false;
    }
    return at[1] != '.' && text[len - 1] != '.';
}

bool jad_controller_series_valid (const char *metric)
{
    static const char *const names[] = {
        "jadugar_security_refusals",    "jadugar_security_bad_signature",
        "jadugar_security_unknown_key", "jadugar_security_stale_epoch",
        "jadugar_security_zap_denied",  "jadugar_security_api_denied",
        "jadugar_security_bad_token"};
    for (size_t index = 0; metric && index < sizeof names / sizeof *names; index++)
        if (jad_str_equal (names[index], metric))
            return true;
    return false;
}

static const char *const s_event_families[] = {"deploy", "rollback", "alert",   "approval",
                                               "plan",   "security", "incident"};

bool jad_event_pattern_valid (const char *pattern)
{
    if (!pattern)
        return false;
    if (jad_str_equal (pattern, "*"))
        return true;
    const char *dot = strchr (pattern, '.');
    if (!dot || !dot[1])
        return false;
    bool known = false;
    for (size_t index = 0; index < sizeof s_event_families / sizeof *s_event_families; index++)
        if (strlen (s_event_families[index]) == (size_t)(dot - pattern) &&
            strncmp (s_event_families[index], pattern, (size_t)(dot - pattern)) == 0)
            known = true;
    if (!known)
        return false;
    if (jad_str_equal (dot + 1, "*"))
        return true;
    size_t len = strlen (dot + 1);
    if (len > 32)
        return false;
    for (const char *cursor = dot + 1; *cursor; cursor++)
        if (!(islower ((unsigned char)*cursor) || isdigit ((unsigned char)*cursor) ||
              *cursor == '_' || *cursor == '.'))
            return false;
    return true;
}

bool jad_event_matches (const char *pattern, const char *kind)
{
    if (!pattern || !kind)
        return false;
    if (jad_str_equal (pattern, "*"))
        return true;
    size_t len = strlen (pattern);
    if (len >= 2 && pattern[len - 1] == '*' && pattern[len - 2] == '.')
        return strncmp (pattern, kind, len - 1) == 0;
    return jad_str_equal (pattern, kind);
}

bool jad_notify_route_matches (const jad_notify_config_t *route, const char *kind, const char *env)
{
    bool event = route->event_count == 0;
    for (size_t index = 0; !event && index < route->event_count; index++)
        event = jad_event_matches (route->events[index], kind);
    if (!event)
        return false;
    if (route->env_count == 0)
        return true;
    for (size_t index = 0; env && *env && index < route->env_count; index++)
        if (jad_str_equal (route->envs[index], env))
            return true;
    return false;
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
        case S_HOSTPORTS:
            return s_hostports_valid (text) ? NULL
                                            : "HOST:PORT (port 1..65535), or a list of up to 8 "
                                              "of them";
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
        case S_STORE:
            return s_store_valid (text) ? NULL
                                        : "sqlite or a PostgreSQL URL "
                                          "(postgresql://USER@HOST:PORT/DB)";
        case S_WINDOW:
            return jad_window_parse (text, &(jad_window_t){0}, NULL, 0) == 0
                       ? NULL
                       : "a window like \"Tue 09:00-17:00\" or \"Mon-Fri 09:00-17:00\" "
                         "(Mon..Sun, start before end)";
        case S_TIMEZONE:
            return jad_tz_name_valid (text) ? NULL : "a time zone name like Europe/Berlin or UTC";
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
        case S_USER:  //  that the user exists is checked by s_get_string
        case S_ROLE:  //  a known role is checked by s_get_string, naming them all
            return jad_name_valid (text) ? NULL
                                         : "a valid name (1-64 of A-Z a-z 0-9 . _ -, "
                                           "not starting with . or -)";
        case S_SKIP:
            return jad_str_equal (text, "requires") || jad_str_equal (text, "bake")
                       ? NULL
                       : "requires or bake (an emergency always skips windows)";
        case S_SEVERITY:
            //  the names jad_severity_rank (jad_attest.h) ranks
            return jad_str_equal (text, "negligible") || jad_str_equal (text, "low") ||
                           jad_str_equal (text, "medium") || jad_str_equal (text, "high") ||
                           jad_str_equal (text, "critical")
                       ? NULL
                       : "a severity (negligible, low, medium, high or critical)";
        case S_FAILURES:
            return s_failures_valid (text) ? NULL
                                           : "a number of failed hosts (N, or N% from 0% to 100%)";
        case S_CANARY:
            return jad_str_equal (text, "host") || jad_str_equal (text, "aggregate") ||
                           jad_str_equal (text, "off")
                       ? NULL
                       : "a canary judgement (host, aggregate or off)";
        case S_COMPARE:
            return jad_str_equal (text, "baseline") ? NULL : "a comparison (baseline)";
        case S_WHEN:
            return jad_str_equal (text, "security")
                       ? NULL
                       : "a condition (security: asked only for deploy --emergency --security)";
        case S_AGGREGATE:
            return jad_str_equal (text, "avg") || jad_str_equal (text, "max") ||
                           jad_str_equal (text, "sum") || jad_str_equal (text, "p95")
                       ? NULL
                       : "an aggregate (avg, max, sum or p95)";
        case S_EMAIL:
            return s_email_valid (text) ? NULL : "an email address (name@example.com)";
        case S_EVENT:
            return jad_event_pattern_valid (text) ? NULL
                                                  : "an event pattern (*, FAMILY.* or FAMILY.NAME; "
                                                    "families: " JAD_EVENT_FAMILIES ")";
    }
    return "valid";
}

//  --------------------------------------------------------------------------
//  Typed getters: absent keys leave *dest alone; bad values are reported
//  and return -1.

//  A list's items joined by ',' into buf (a YAML list of single values),
//  or the scalar as s_scalar reads it. Returns as s_scalar.
static int s_joined (s_ctx_t *ctx, const char *where, const char *name, const s_slot_t *slot,
                     char *buf, size_t len, const char **text, int *line)
{
    if (!slot->key || !slot->value || !fy_node_is_sequence (slot->value))
        return s_scalar (ctx, where, name, slot, text, line);
    *text = NULL;
    *line = s_node_line (slot->value, slot->line);
    size_t used = 0;
    buf[0] = 0;
    void *iter = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate (slot->value, &iter))) {
        const char *value = fy_node_is_scalar (item) ? fy_node_get_scalar0 (item) : NULL;
        if (!value || !*value) {
            s_problem (ctx, *line, where, "key '%s': every item must be a single value", name);
            return -1;
        }
        int wrote = snprintf (buf + used, len - used, "%s%s", used ? "," : "", value);
        if (wrote < 0 || (size_t)wrote >= len - used) {
            s_problem (ctx, *line, where, "key '%s': more than %d endpoints", name,
                       JAD_ENDPOINTS_MAX);
            return -1;
        }
        used += (size_t)wrote;
    }
    if (!used)
        return 0;
    *text = buf;
    return 1;
}

static int s_get_string (s_ctx_t *ctx, const char *where, const char *name, const s_slot_t *slot,
                         s_kind_t kind, char **dest)
{
    const char *text;
    int line;
    char joined[JAD_ENDPOINTS_MAX * 300];
    int rc = kind == S_HOSTPORTS
                 ? s_joined (ctx, where, name, slot, joined, sizeof joined, &text, &line)
                 : s_scalar (ctx, where, name, slot, &text, &line);
    if (rc <= 0)
        return rc;
    const char *expected = s_check (kind, text);
    if (expected) {
        if (kind == S_SECRET || kind == S_STORE)
            s_problem (ctx, line, where, "key '%s': value is not %s", name, expected);
        else {
            char *echo = s_echo (text);
            s_problem (ctx, line, where, "key '%s': \"%s\" is not %s", name, echo, expected);
            free (echo);
        }
        return -1;
    }
    if (kind == S_USER && ctx->on_host && !jad_user_exists (text)) {
        s_problem (ctx, line, where, "%s: no user named \"%s\" on this host", name, text);
        return -1;
    }
    if (kind == S_ROLE && !jad_role_known (text)) {
        char known[256];
        s_problem (ctx, line, where, "key '%s': unknown role '%s' (known: %s)", name, text,
                   jad_roles_join (known, sizeof known));
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
    if (jad_long_duration_parse (text, dest) == 0)
        return 0;
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

//  Common end of a load: NULL the result if this load found problems.
static bool s_ctx_failed (const s_ctx_t *ctx)
{
    s_problems_sort (ctx);
    return ctx->failures > 0;
}

//  --------------------------------------------------------------------------
//  Descriptors: one table per mapping, one parser for all of them

typedef enum {
    S_FIELD_STRING,         //  char *, checked by kind
    S_FIELD_UINT,           //  uint32_t in min..max
    S_FIELD_PORT,           //  uint16_t in min..max
    S_FIELD_DURATION,       //  uint32_t ms; min 1: must be longer than zero
    S_FIELD_LONG_DURATION,  //  uint64_t ms, whole days up to 10 years
    S_FIELD_BOOL,           //  bool
    S_FIELD_NUMBER,         //  double, finite
    S_FIELD_STRINGS,        //  list of values: char ** and a size_t count, each checked by kind
    S_FIELD_LIST,           //  list of mappings: an array of table->size items and a count
    S_FIELD_NAMED,          //  mapping of NAME: mapping: the same, NAME at table->name_offset
    S_FIELD_SECTION,        //  a mapping whose keys fill the same struct ("hooks:")
} s_type_t;

typedef struct _s_table_t s_table_t;

typedef struct {
    const char *key;         //  as written in the file
    s_type_t type;           //  how the value is read
    size_t offset;           //  of the value in the struct being filled
    size_t count_offset;     //  lists: of the size_t count beside the array
    s_kind_t kind;           //  strings and lists of strings: what each must be
    uint32_t min, max;       //  whole numbers; durations: min 1 = longer than zero
    bool required;           //  absent or empty is a problem
    const s_table_t *table;  //  lists of mappings, named mappings, sections
} s_field_t;

#define S_FIELDS_MAX 32  //  keys in one table, at most

//  One mapping being read, as a table's check function sees it
typedef struct {
    s_ctx_t *ctx;
    const s_table_t *table;
    const char *where;  //  "environment 'prod'", "alert 2", or NULL at the top
    int line;           //  1-based line of the mapping
    s_slot_t *slots;    //  one per field, in table order
    void *base;         //  the struct being filled
    void *root;         //  the struct of the whole file
} s_map_t;

//  Defaults of a new item, before its keys are read. Returns 0, or -1 if
//  out of memory.
typedef int (s_init_fn) (void *base);
//  Rules between keys, once every key of the mapping has been read.
typedef void (s_check_fn) (s_map_t *map);
//  Free what a check function attached to an item beyond its keys.
typedef void (s_fini_fn) (void *base);

struct _s_table_t {
    const s_field_t *fields;     //  ended by a NULL key
    size_t size;                 //  lists and named mappings: bytes of one item
    const char *item;            //  lists: "alert" (then "alert 2"); named: "environment"
    const char *expected;        //  lists: what the key must hold ("a list of alert rules")
    size_t name_offset;          //  named: of the item's name (char *)
    const char *one_of[2];       //  exactly one of these keys must be given, or NULL
    const char *one_of_hint[2];  //  what each of them is ("a URL"), or NULL
    s_init_fn *init;             //  may be NULL
    s_check_fn *check;           //  may be NULL
    s_fini_fn *fini;             //  may be NULL
    bool empty_ok;               //  "name:" with no value is a mapping with every default
    const char *scalar_key;      //  lists: a bare value VALUE is read as {scalar_key: VALUE}
};

#define S_AT(base, offset)       ((void *)((char *)(base) + (offset)))
#define S_CONST_AT(base, offset) ((const void *)((const char *)(base) + (offset)))

static size_t s_field_count (const s_table_t *table)
{
    size_t count = 0;
    while (table->fields[count].key)
        count++;
    assert (count <= S_FIELDS_MAX);
    return count;
}

//  Slot of key in a mapping being read (key must be in its table)
static s_slot_t *s_map_slot (const s_map_t *map, const char *key)
{
    for (size_t index = 0; map->table->fields[index].key; index++)
        if (jad_str_equal (map->table->fields[index].key, key))
            return &map->slots[index];
    assert (false);
    return NULL;
}

//  Line of a key's value, or of the key
static int s_map_line (const s_map_t *map, const char *key)
{
    const s_slot_t *slot = s_map_slot (map, key);
    return s_node_line (slot->value, slot->line);
}

static int s_table_parse (s_ctx_t *ctx, struct fy_node *node, int line, const char *where,
                          const s_table_t *table, void *base, void *root);
static int s_table_walk (s_ctx_t *ctx, struct fy_node *node, int line, const char *where,
                         const s_table_t *table, s_slot_t slots[]);
static int s_table_fill (s_ctx_t *ctx, struct fy_node *node, int line, const char *where,
                         const s_table_t *table, s_slot_t slots[], void *base, void *root);

//  A list of values, a list of mappings, or a mapping of named mappings:
//  the array is allocated for every item given, and the count says how
//  many were read (an item that is not a mapping is left out).
static int s_list_parse (s_ctx_t *ctx, const char *where, const s_field_t *field,
                         const s_slot_t *slot, void *base, void *root)
{
    if (!slot->key || s_is_empty (slot->value))
        return 0;
    const s_table_t *table = field->table;
    bool named = field->type == S_FIELD_NAMED;
    bool strings = field->type == S_FIELD_STRINGS;
    struct fy_node *value = slot->value;
    int line = s_node_line (value, slot->line);
    if (named ? !fy_node_is_mapping (value) : !fy_node_is_sequence (value)) {
        s_problem (ctx, line, where, "key '%s': expected %s", field->key,
                   strings ? "a list, like [a, b]" : table->expected);
        return -1;
    }
    int count = named ? fy_node_mapping_item_count (value) : fy_node_sequence_item_count (value);
    if (count <= 0)
        return 0;
    size_t size = strings ? sizeof (char *) : table->size;
    char *items = calloc ((size_t)count, size);
    if (!items) {
        s_problem (ctx, line, where, "key '%s': out of memory", field->key);
        return -1;
    }
    *(void **)S_AT (base, field->offset) = items;
    size_t *used = (size_t *)S_AT (base, field->count_offset);
    int rc = 0;
    size_t number = 0;
    void *iter = NULL;
    while (*used < (size_t)count) {
        struct fy_node *key = NULL, *item = NULL;
        if (named) {
            struct fy_node_pair *pair = fy_node_mapping_iterate (value, &iter);
            if (!pair)
                break;
            key = fy_node_pair_key (pair);
            item = fy_node_pair_value (pair);
        } else if (!(item = fy_node_sequence_iterate (value, &iter)))
            break;
        number++;
        char *entry = items + *used * size;
        if (strings) {
            s_slot_t item_slot = {.key = slot->key, .value = item, .line = line};
            char *text = NULL;
            if (!fy_node_is_scalar (item) || fy_node_is_alias (item)) {
                s_problem (ctx, s_node_line (item, line), where,
                           "key '%s': every item must be a single value", field->key);
                rc = -1;
            } else if (s_get_string (ctx, where, field->key, &item_slot, field->kind, &text) != 0)
                rc = -1;
            else if (text) {
                *(char **)entry = text;
                (*used)++;
            }
            continue;
        }
        char item_where[JAD_NAME_MAX + 32];
        s_slot_t slots[S_FIELDS_MAX];
        if (named) {
            //  a named item is kept even if its mapping is bad: others refer to it
            int key_line = s_node_line (key, line);
            const char *name = key && fy_node_is_scalar (key) && !fy_node_is_alias (key)
                                   ? fy_node_get_scalar0 (key)
                                   : NULL;
            if (!name || !jad_name_valid (name)) {
                char *echo = s_echo (name ? name : "?");
                s_problem (ctx, key_line, where,
                           "key '%s': \"%s\" is not a valid %s name "
                           "(1-64 of A-Z a-z 0-9 . _ -, not starting with . or -)",
                           field->key, echo, table->item);
                free (echo);
                rc = -1;
                continue;
            }
            char *copy = strdup (name);
            if (!copy) {
                s_problem (ctx, key_line, where, "key '%s': out of memory", field->key);
                rc = -1;
                continue;
            }
            *(char **)S_AT (entry, table->name_offset) = copy;
            (*used)++;
            snprintf (item_where, sizeof item_where, "%s '%s'", table->item, name);
            if (s_table_parse (ctx, item, key_line, item_where, table, entry, root) != 0)
                rc = -1;
        } else if (table->scalar_key && fy_node_is_scalar (item) && !fy_node_is_alias (item)) {
            //  "tech-lead" in a list whose items may say more ({role: R, when: W})
            const s_field_t *key_field = table->fields;
            while (key_field->key && !jad_str_equal (key_field->key, table->scalar_key))
                key_field++;
            assert (key_field->key && key_field->type == S_FIELD_STRING);
            s_slot_t item_slot = {.key = slot->key, .value = item, .line = line};
            char *text = NULL;
            if (table->init && table->init (entry) != 0) {
                s_problem (ctx, s_node_line (item, line), where, "key '%s': out of memory",
                           field->key);
                rc = -1;
            } else if (s_get_string (ctx, where, field->key, &item_slot, key_field->kind, &text) !=
                       0)
                rc = -1;
            else if (text) {
                *(char **)S_AT (entry, key_field->offset) = text;
                (*used)++;
            }
        } else {
            //  a list that may hold bare values lives inside a mapping: name both
            if (table->scalar_key && where)
                snprintf (item_where, sizeof item_where, "%.*s, %s %zu", JAD_NAME_MAX + 16, where,
                          table->item, number);
            else
                snprintf (item_where, sizeof item_where, "%s %zu", table->item, number);
            int item_line = s_node_line (item, line);
            if (s_table_walk (ctx, item, item_line, item_where, table, slots) != 0) {
                rc = -1;
                continue;
            }
            (*used)++;
            if (s_table_fill (ctx, item, item_line, item_where, table, slots, entry, root) != 0)
                rc = -1;
        }
    }
    return rc;
}

//  Read one key's value into base by its descriptor. Returns 0 or -1.
static int s_field_parse (s_ctx_t *ctx, const char *where, const s_field_t *field,
                          const s_slot_t *slot, void *base, void *root)
{
    void *value = S_AT (base, field->offset);
    switch (field->type) {
        case S_FIELD_STRING:
            return s_get_string (ctx, where, field->key, slot, field->kind, (char **)value);
        case S_FIELD_UINT:
            return s_get_uint (ctx, where, field->key, slot, field->min, field->max,
                               (uint32_t *)value);
        case S_FIELD_PORT: {
            uint32_t port = *(uint16_t *)value;
            if (s_get_uint (ctx, where, field->key, slot, field->min, field->max, &port) != 0)
                return -1;
            *(uint16_t *)value = (uint16_t)port;
            return 0;
        }
        case S_FIELD_DURATION:
            return s_get_duration (ctx, where, field->key, slot, field->min > 0, (uint32_t *)value);
        case S_FIELD_LONG_DURATION:
            return s_get_long_duration (ctx, where, field->key, slot, (uint64_t *)value);
        case S_FIELD_BOOL:
            return s_get_bool (ctx, where, field->key, slot, (bool *)value);
        case S_FIELD_NUMBER:
            return s_get_number (ctx, where, field->key, slot, (double *)value);
        case S_FIELD_STRINGS:
        case S_FIELD_LIST:
        case S_FIELD_NAMED:
            return s_list_parse (ctx, where, field, slot, base, root);
        case S_FIELD_SECTION:
            if (!slot->key || s_is_empty (slot->value))
                return 0;  //  "hooks:" with nothing: none, and defaults
            return s_table_parse (ctx, slot->value, slot->line, field->key, field->table, base,
                                  root);
    }
    return -1;
}

//  Match a mapping's keys to a table's fields. An absent node (an empty
//  file), or an empty value where the table allows it, has no keys.
//  Returns 0, or -1 if node is not a mapping (reported).
static int s_table_walk (s_ctx_t *ctx, struct fy_node *node, int line, const char *where,
                         const s_table_t *table, s_slot_t slots[])
{
    size_t count = s_field_count (table);
    const char *keys[S_FIELDS_MAX];
    for (size_t index = 0; index < count; index++)
        keys[index] = table->fields[index].key;
    if (!node || (table->empty_ok && s_is_empty (node))) {
        memset (slots, 0, count * sizeof (s_slot_t));
        return 0;
    }
    return s_map_walk (ctx, node, line, where, keys, count, slots);
}

//  Read every key of a walked mapping into base, then apply the table's
//  rules. Returns 0, or -1 if any problem was found.
static int s_table_fill (s_ctx_t *ctx, struct fy_node *node, int line, const char *where,
                         const s_table_t *table, s_slot_t slots[], void *base, void *root)
{
    size_t failures = ctx->failures;
    s_map_t map = {ctx, table, where, s_node_line (node, line), slots, base, root};
    if (table->init && table->init (base) != 0) {
        s_problem (ctx, map.line, where, "out of memory");
        return -1;
    }
    //  Exactly one of two keys: neither is read when both are given
    s_slot_t *first = table->one_of[0] ? s_map_slot (&map, table->one_of[0]) : NULL;
    s_slot_t *second = table->one_of[1] ? s_map_slot (&map, table->one_of[1]) : NULL;
    bool skip_one_of = false;
    if (first && second) {
        const char *const *key = table->one_of;
        const char *const *hint = table->one_of_hint;
        if (first->key && second->key) {
            if (hint[0])
                s_problem (ctx, second->line, where, "give either '%s' (%s) or '%s' (%s), not both",
                           key[0], hint[0], key[1], hint[1]);
            else
                s_problem (ctx, second->line, where, "give exactly one of '%s' or '%s', not both",
                           key[0], key[1]);
            skip_one_of = true;
        } else if (!first->key && !second->key) {
            if (hint[0])
                s_problem (ctx, map.line, where, "missing required key '%s' (%s) or '%s' (%s)",
                           key[0], hint[0], key[1], hint[1]);
            else
                s_problem (ctx, map.line, where, "missing required key '%s' or '%s'", key[0],
                           key[1]);
        }
    }
    for (size_t index = 0; table->fields[index].key; index++) {
        const s_field_t *field = &table->fields[index];
        s_slot_t *slot = &slots[index];
        if (skip_one_of && (slot == first || slot == second))
            continue;
        if (field->required && s_require (ctx, map.line, where, field->key, slot) != 0) {
            slot->state = S_BAD;
            continue;
        }
        if (s_field_parse (ctx, where, field, slot, base, root) != 0)
            slot->state = S_BAD;
        else if (slot->key && !s_is_empty (slot->value))
            slot->state = S_SET;
    }
    if (table->check)
        table->check (&map);
    return ctx->failures > failures ? -1 : 0;
}

//  Read a mapping node into base by its table. Returns 0, or -1 if any
//  problem was found.
static int s_table_parse (s_ctx_t *ctx, struct fy_node *node, int line, const char *where,
                          const s_table_t *table, void *base, void *root)
{
    s_slot_t slots[S_FIELDS_MAX];
    if (s_table_walk (ctx, node, line, where, table, slots) != 0)
        return -1;
    return s_table_fill (ctx, node, line, where, table, slots, base, root);
}

//  Free what the parser allocated into base by its table (not base itself).
static void s_table_free (const s_table_t *table, void *base)
{
    for (const s_field_t *field = table->fields; field->key; field++) {
        void *value = S_AT (base, field->offset);
        switch (field->type) {
            case S_FIELD_STRING:
                free (*(char **)value);
                *(char **)value = NULL;
                break;
            case S_FIELD_STRINGS:
            case S_FIELD_LIST:
            case S_FIELD_NAMED: {
                char *items = *(char **)value;
                size_t *count = (size_t *)S_AT (base, field->count_offset);
                size_t size = field->type == S_FIELD_STRINGS ? sizeof (char *) : field->table->size;
                for (size_t index = 0; items && index < *count; index++) {
                    char *entry = items + index * size;
                    if (field->type == S_FIELD_STRINGS)
                        free (*(char **)entry);
                    else {
                        s_table_free (field->table, entry);
                        if (field->type == S_FIELD_NAMED)
                            free (*(char **)S_AT (entry, field->table->name_offset));
                    }
                }
                free (items);
                *(char **)value = NULL;
                *count = 0;
                break;
            }
            case S_FIELD_SECTION:
                s_table_free (field->table, base);
                break;
            default:
                break;
        }
    }
    if (table->fini)
        table->fini (base);
}

//  Descriptor shorthands: T is the struct, M the member, N the count
// clang-format off
#define S_STRING(key, T, M, kind)     {key, S_FIELD_STRING, offsetof (T, M), 0, kind, 0, 0, false, NULL}
#define S_REQUIRED(key, T, M, kind)   {key, S_FIELD_STRING, offsetof (T, M), 0, kind, 0, 0, true, NULL}
#define S_UINT(key, T, M, min, max)   {key, S_FIELD_UINT, offsetof (T, M), 0, S_TEXT, min, max, false, NULL}
#define S_DURATION(key, T, M, min)    {key, S_FIELD_DURATION, offsetof (T, M), 0, S_TEXT, min, 0, false, NULL}
#define S_LONG_DURATION(key, T, M)    {key, S_FIELD_LONG_DURATION, offsetof (T, M), 0, S_TEXT, 0, 0, false, NULL}
#define S_BOOL(key, T, M)             {key, S_FIELD_BOOL, offsetof (T, M), 0, S_TEXT, 0, 0, false, NULL}
#define S_NUMBER(key, T, M)           {key, S_FIELD_NUMBER, offsetof (T, M), 0, S_TEXT, 0, 0, false, NULL}
#define S_STRINGS(key, T, M, N, kind) {key, S_FIELD_STRINGS, offsetof (T, M), offsetof (T, N), kind, 0, 0, false, NULL}
#define S_LIST(key, T, M, N, table)   {key, S_FIELD_LIST, offsetof (T, M), offsetof (T, N), S_TEXT, 0, 0, false, table}
#define S_NAMED(key, T, M, N, table)  {key, S_FIELD_NAMED, offsetof (T, M), offsetof (T, N), S_TEXT, 0, 0, false, table}
#define S_SECTION(key, table)         {key, S_FIELD_SECTION, 0, 0, S_TEXT, 0, 0, false, table}
#define S_END                         {NULL, S_FIELD_STRING, 0, 0, S_TEXT, 0, 0, false, NULL}
// clang-format on

//  Load a file (path) or a text into a new struct of struct_size bytes
//  described by table: defaults from table->init, then every key. Returns
//  NULL if this load found any problem (all of them are in problems).
static void *s_load (const char *origin, const char *path, const char *text, size_t size,
                     const s_table_t *table, size_t struct_size, bool on_host,
                     jad_problems_t *problems)
{
    jad_problems_t *own_problems = problems ? NULL : jad_problems_new ();
    s_ctx_t ctx = {.origin = origin,
                   .problems = problems ? problems : own_problems,
                   .first = jad_problems_count (problems ? problems : own_problems),
                   .on_host = on_host};
    void *self = calloc (1, struct_size);
    struct fy_document *document = NULL;
    char *file_text = NULL;
    if (!self) {
        s_problem (&ctx, 0, NULL, "out of memory");
        goto done;
    }
    if (!path && !text) {
        s_problem (&ctx, 0, NULL, "no file given");
        goto done;
    }
    if (path) {
        file_text = s_file_read (&ctx, path, &size);
        if (!file_text)
            goto done;
        text = file_text;
    }
    bool failed;
    document = s_document_parse (&ctx, text, size, &failed);
    if (failed)
        goto done;
    //  The root's defaults come from its table's init, as any mapping's do
    s_table_parse (&ctx, document ? fy_document_root (document) : NULL, 1, NULL, table, self, self);

done:
    fy_document_destroy (document);
    free (file_text);
    if (s_ctx_failed (&ctx) && self) {
        s_table_free (table, self);
        free (self);
        self = NULL;
    }
    jad_problems_destroy (&own_problems);
    return self;
}

//  --------------------------------------------------------------------------
//  agent.yaml

static int s_agent_init (void *base)
{
    jad_agent_config_t *self = base;
    self->root = strdup ("/srv/jadugar");
    self->key_file = strdup ("keys/agent.key");
    self->keep_releases = 5;
    self->heartbeat_ms = 5000;
    self->hook_timeout_ms = 30000;
    self->metrics_interval_ms = 10000;
    self->metrics_buffer = 100000;
    self->stale_after_ms = 30000;
    return self->root && self->key_file ? 0 : -1;
}

//  name defaults to the host name
static void s_agent_check (s_map_t *map)
{
    jad_agent_config_t *self = map->base;
    if (self->name || s_map_slot (map, "name")->state == S_BAD)
        return;
    char host[256] = "";
    if (gethostname (host, sizeof (host) - 1) != 0 || !jad_name_valid (host)) {
        char *echo = s_echo (host);
        s_problem (map->ctx, map->line, NULL,
                   "key 'name' is not set and the host name \"%s\" is not a valid name; "
                   "set 'name'",
                   echo);
        free (echo);
    } else if (!(self->name = strdup (host)))
        s_problem (map->ctx, map->line, NULL, "out of memory");
}

#define S_A jad_agent_config_t
static const s_field_t s_agent_fields[] = {
    S_STRING ("name", S_A, name, S_NAME),
    S_REQUIRED ("environment", S_A, environment, S_NAME),
    S_REQUIRED ("controller", S_A, controller, S_HOSTPORTS),
    S_REQUIRED ("controller-key", S_A, controller_key, S_Z85KEY),
    S_REQUIRED ("signing-key", S_A, signing_key, S_HEXKEY),
    S_STRING ("token", S_A, token, S_SECRET),
    S_STRING ("root", S_A, root, S_ABSPATH),
    S_STRING ("key-file", S_A, key_file, S_PATH),
    S_UINT ("keep-releases", S_A, keep_releases, 1, 100),
    S_DURATION ("heartbeat", S_A, heartbeat_ms, 1),
    S_DURATION ("hook-timeout", S_A, hook_timeout_ms, 1),
    S_STRING ("hook-user", S_A, hook_user, S_USER),
    S_DURATION ("metrics-interval", S_A, metrics_interval_ms, 1),
    S_UINT ("metrics-buffer", S_A, metrics_buffer, 100, 10000000),
    S_DURATION ("stale-after", S_A, stale_after_ms, 1),
    S_STRING ("policy-key", S_A, policy_key, S_HEXKEY),
    S_END};
#undef S_A
static const s_table_t s_agent_table = {
    .fields = s_agent_fields, .init = s_agent_init, .check = s_agent_check};

jad_agent_config_t *jad_agent_config_load (const char *path, jad_problems_t *problems)
{
    return s_load (path ? path : "agent.yaml", path, NULL, 0, &s_agent_table,
                   sizeof (jad_agent_config_t), false, problems);
}

jad_agent_config_t *jad_agent_config_load_on_host (const char *path, jad_problems_t *problems)
{
    return s_load (path ? path : "agent.yaml", path, NULL, 0, &s_agent_table,
                   sizeof (jad_agent_config_t), true, problems);
}

void jad_agent_config_destroy (jad_agent_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_table_free (&s_agent_table, *self_p);
    free (*self_p);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  controller.yaml

static int s_env_init (void *base)
{
    jad_env_config_t *env = base;
    env->strategy = strdup ("all");
    return env->strategy ? 0 : -1;
}

//  What an attestation check may hold beside its type, and an approval
//  beside its roles; a key trusted by a check is one of attestation_keys
//  (read before environments, so the root knows them all).
static void s_check_check (s_map_t *map)
{
    jad_check_config_t *check = map->base;
    const jad_controller_config_t *config = map->root;
    static const char *const attestation_only[] = {"keys", "max_age", "max_severity", "builder_id",
                                                   "source"};
    for (size_t index = 0; index < sizeof attestation_only / sizeof *attestation_only; index++)
        if (!check->type && s_map_slot (map, "approval")->key &&
            s_map_slot (map, attestation_only[index])->key)
            s_problem (map->ctx, s_map_slot (map, attestation_only[index])->line, map->where,
                       "key '%s' belongs to an attestation check (with 'type'), not an approval",
                       attestation_only[index]);
    if (check->type && s_map_slot (map, "not_deployer")->key)
        s_problem (map->ctx, s_map_slot (map, "not_deployer")->line, map->where,
                   "key 'not_deployer' belongs to an approval check (with 'approval')");
    if (check->type && check->key_count == 0 && s_map_slot (map, "keys")->state != S_BAD)
        s_problem (map->ctx, s_map_line (map, "type"), map->where,
                   "key 'keys' is required with 'type': the attestation_keys whose signatures "
                   "count for this check");
    if (s_map_slot (map, "approval")->state == S_SET && check->approval_count == 0)
        s_problem (map->ctx, s_map_line (map, "approval"), map->where,
                   "key 'approval': name at least one role");
    for (size_t index = 0; index < check->key_count; index++)
        if (!jad_controller_config_key (config, check->keys[index]))
            s_problem (map->ctx, s_map_line (map, "keys"), map->where,
                       "key 'keys': unknown attestation key '%s' (declare it under "
                       "attestation_keys)",
                       check->keys[index]);
    if (check->type && check->max_severity && !jad_str_equal (check->type, JAD_ATTEST_VULNS))
        s_problem (map->ctx, s_map_slot (map, "max_severity")->line, map->where,
                   "key 'max_severity' needs type %s", JAD_ATTEST_VULNS);
    if (check->type && (check->builder_id || check->source) &&
        !jad_str_equal (check->type, JAD_ATTEST_SLSA))
        s_problem (map->ctx, s_map_slot (map, check->builder_id ? "builder_id" : "source")->line,
                   map->where, "key '%s' needs type %s",
                   check->builder_id ? "builder_id" : "source", JAD_ATTEST_SLSA);
}

#define S_K jad_check_config_t
static const s_field_t s_check_fields[] = {
    S_STRING ("type", S_K, type, S_URL),
    S_STRINGS ("keys", S_K, keys, key_count, S_NAME),
    S_LONG_DURATION ("max_age", S_K, max_age_ms),
    S_STRING ("max_severity", S_K, max_severity, S_SEVERITY),
    S_STRING ("builder_id", S_K, builder_id, S_TEXT),
    S_STRING ("source", S_K, source, S_TEXT),
    S_STRINGS ("approval", S_K, approval, approval_count, S_ROLE),
    S_BOOL ("not_deployer", S_K, not_deployer),
    S_END};
#undef S_K
static const s_table_t s_check_table = {
    .fields = s_check_fields,
    .size = sizeof (jad_check_config_t),
    .item = "check",
    .expected = "a mapping of checks",
    .name_offset = offsetof (jad_check_config_t, name),
    .one_of = {"type", "approval"},
    .one_of_hint = {"an attestation's predicate type", "the roles that approve"},
    .check = s_check_check};

//  The zone windows and schedule are read in, loaded now so that `check`
//  names a zone the tz database lacks; a schedule that parses, on an
//  environment that deploys a tracked branch by itself.
static void s_env_calendar (s_map_t *map)
{
    jad_env_config_t *env = map->base;
    char err[256];
    if (env->timezone) {
        env->tz = jad_tz_load (env->timezone, NULL, err, sizeof err);
        if (!env->tz)
            s_problem (map->ctx, s_map_line (map, "timezone"), map->where, "key 'timezone': %s",
                       err);
    }
    if (!env->schedule)
        return;
    if (jad_schedule_parse (env->schedule, &env->slots, err, sizeof err) != 0)
        s_problem (map->ctx, s_map_line (map, "schedule"), map->where, "key 'schedule': '%s': %s",
                   env->schedule, err);
    else if (!env->auto_deploy || !env->track)
        s_problem (map->ctx, s_map_line (map, "schedule"), map->where,
                   "key 'schedule': slots are for auto_deploy: it needs 'track' and "
                   "'auto_deploy: true'");
}

static void s_env_fini (void *base)
{
    jad_env_config_t *env = base;
    jad_tz_destroy (&env->tz);
}

//  A canary strategy without a count means one canary host; an emergency
//  waives only checks the environment has
static void s_env_check (s_map_t *map)
{
    jad_env_config_t *env = map->base;
    s_env_calendar (map);
    for (size_t index = 0; index < env->emergency_waive_count; index++)
        if (!jad_env_config_check (env, env->emergency_waives[index]))
            s_problem (map->ctx, s_map_line (map, "emergency_waives"), map->where,
                       "key 'emergency_waives': '%s' is not one of this environment's checks",
                       env->emergency_waives[index]);
    s_slot_t *canary = s_map_slot (map, "canary");
    if (!env->strategy || !jad_str_equal (env->strategy, "canary") || canary->state == S_BAD)
        return;
    if (!canary->key)
        env->canary = 1;
    else if (env->canary == 0)
        s_problem (map->ctx, s_map_line (map, "canary"), map->where,
                   "key 'canary': must be at least 1 with strategy canary");
}

//  emergency_approvals: [tech-lead, {role: security, when: security}]
#define S_A jad_approver_config_t
static const s_field_t s_approver_fields[] = {S_REQUIRED ("role", S_A, role, S_ROLE),
                                              S_STRING ("when", S_A, when, S_WHEN), S_END};
#undef S_A

static const s_table_t s_approver_table = {
    .fields = s_approver_fields,
    .size = sizeof (jad_approver_config_t),
    .item = "approver",
    .expected = "a list of roles, like [tech-lead, {role: security, when: security}]",
    .scalar_key = "role"};

#define S_E jad_env_config_t
static const s_field_t s_env_fields[] = {
    S_STRING ("track", S_E, track, S_TEXT),
    S_BOOL ("auto_deploy", S_E, auto_deploy),
    S_STRING ("requires", S_E, requires, S_NAME),
    S_STRING ("strategy", S_E, strategy, S_STRATEGY),
    S_STRING ("batch", S_E, batch, S_BATCH),
    S_UINT ("canary", S_E, canary, 0, 1000000),
    S_DURATION ("bake", S_E, bake_ms, 0),
    S_STRINGS ("windows", S_E, windows, window_count, S_WINDOW),
    S_STRING ("timezone", S_E, timezone, S_TIMEZONE),
    S_STRING ("schedule", S_E, schedule, S_TEXT),
    S_LIST ("emergency_approvals", S_E, emergency_approvals, emergency_approval_count,
            &s_approver_table),
    S_STRINGS ("emergency_skips", S_E, emergency_skips, emergency_skip_count, S_SKIP),
    S_UINT ("concurrency", S_E, concurrency, 0, 1000000),
    S_NAMED ("checks", S_E, checks, check_count, &s_check_table),
    S_STRINGS ("emergency_waives", S_E, emergency_waives, emergency_waive_count, S_NAME),
    S_STRING ("max_failures", S_E, max_failures, S_FAILURES),
    S_END};
#undef S_E
static const s_table_t s_env_table = {.fields = s_env_fields,
                                      .size = sizeof (jad_env_config_t),
                                      .item = "environment",
                                      .expected = "a mapping of environments",
                                      .name_offset = offsetof (jad_env_config_t, name),
                                      .init = s_env_init,
                                      .check = s_env_check,
                                      .fini = s_env_fini,
                                      .empty_ok = true};

static int s_alert_init (void *base)
{
    jad_alert_config_t *alert = base;
    alert->min_samples = 3;
    return 0;
}

static void s_alert_check (s_map_t *map)
{
    jad_alert_config_t *alert = map->base;
    const jad_controller_config_t *config = map->root;
    if (alert->env && !jad_controller_config_env (config, alert->env))
        s_problem (map->ctx, s_map_line (map, "env"), map->where,
                   "key 'env': unknown environment '%s'", alert->env);
    alert->above = s_map_slot (map, "above")->key != NULL;
    //  the controller's own series: no environment, nothing to roll back
    bool series = alert->metric && jad_controller_series_valid (alert->metric);
    if (!series && alert->metric && strncmp (alert->metric, "jadugar_security_", 17) == 0)
        s_problem (map->ctx, s_map_line (map, "metric"), map->where,
                   "key 'metric': '%s' is not a controller series (known: " JAD_SECURITY_SERIES ")",
                   alert->metric);
    else if (series && s_map_slot (map, "env")->key)
        s_problem (map->ctx, s_map_slot (map, "env")->line, map->where,
                   "key 'env': '%s' is the controller's own series, not an environment's: leave "
                   "'env' out",
                   alert->metric);
    else if (!series && !alert->env && s_map_slot (map, "env")->state != S_BAD)
        s_problem (map->ctx, map->line, map->where, "missing required key 'env'");
    if (series && !s_map_slot (map, "min_samples")->key)
        alert->min_samples = 1;  //  one sample a second from the controller's start
    if (series && alert->action)
        s_problem (map->ctx, s_map_slot (map, "action")->line, map->where,
                   "key 'action': a rule on '%s' alerts only (it watches no deploy)",
                   alert->metric);
    if (series && alert->query)
        s_problem (map->ctx, s_map_slot (map, "query")->line, map->where,
                   "key 'query': a rule on '%s' reads the controller, not Prometheus",
                   alert->metric);
    if (s_map_slot (map, "window")->state != S_SET)
        alert->window_ms = alert->for_ms > 60000 ? alert->for_ms : 60000;
    if (alert->query && !s_map_slot (map, "min_samples")->key)
        alert->min_samples = 1;  //  a query answers with one value per series
    if (alert->query && !config->prometheus)
        s_problem (map->ctx, s_map_slot (map, "query")->line, map->where,
                   "key 'query' needs the top-level key 'prometheus' (the server's URL)");
    //  canary analysis reads the agents' samples of each canary host
    const char *canary_keys[] = {"canary", "compare", "ratio", "difference"};
    for (size_t index = 0; alert->query && index < 4; index++)
        if (s_map_slot (map, canary_keys[index])->key)
            s_problem (map->ctx, s_map_slot (map, canary_keys[index])->line, map->where,
                       "key '%s' judges canary hosts by the agents' samples: not with 'query'",
                       canary_keys[index]);
    if (alert->query)
        return;
    bool ratio = s_map_slot (map, "ratio")->key != NULL;
    alert->has_difference = s_map_slot (map, "difference")->key != NULL;
    if (alert->compare && ratio == alert->has_difference)
        s_problem (map->ctx, s_map_line (map, "compare"), map->where,
                   "key 'compare': give exactly one of 'ratio' or 'difference'");
    if (!alert->compare && s_map_slot (map, "compare")->state != S_BAD &&
        (ratio || alert->has_difference))
        s_problem (map->ctx, s_map_line (map, ratio ? "ratio" : "difference"), map->where,
                   "key '%s' needs 'compare: baseline'", ratio ? "ratio" : "difference");
    if (ratio && !(alert->ratio > 0))
        s_problem (map->ctx, s_map_line (map, "ratio"), map->where,
                   "key 'ratio': must be above 0 (the canary against the baseline's value)");
    if (alert->has_difference && alert->difference < 0)
        s_problem (map->ctx, s_map_line (map, "difference"), map->where,
                   "key 'difference': must be 0 or more (how far the canary may be worse)");
    if (alert->compare && alert->canary && jad_str_equal (alert->canary, "off"))
        s_problem (map->ctx, s_map_line (map, "compare"), map->where,
                   "key 'compare' needs canary analysis: not with 'canary: off'");
}

#define S_L jad_alert_config_t
static const s_field_t s_alert_fields[] = {
    S_STRING ("env", S_L, env, S_NAME),  //  required unless a controller series
    {"metric", S_FIELD_STRING, offsetof (S_L, metric), 0, S_METRIC, 0, 0, true, NULL},
    S_NUMBER ("above", S_L, threshold),
    S_NUMBER ("below", S_L, threshold),
    {"for", S_FIELD_DURATION, offsetof (S_L, for_ms), 0, S_TEXT, 0, 0, true, NULL},
    S_STRING ("action", S_L, action, S_ACTION),
    S_STRING ("aggregate", S_L, aggregate, S_AGGREGATE),
    S_DURATION ("window", S_L, window_ms, 1),
    S_UINT ("min_samples", S_L, min_samples, 1, 1000000),
    S_STRING ("query", S_L, query, S_TEXT),
    S_STRING ("canary", S_L, canary, S_CANARY),
    S_STRING ("compare", S_L, compare, S_COMPARE),
    S_NUMBER ("ratio", S_L, ratio),
    S_NUMBER ("difference", S_L, difference),
    S_END};
#undef S_L
static const s_table_t s_alert_table = {.fields = s_alert_fields,
                                        .size = sizeof (jad_alert_config_t),
                                        .item = "alert",
                                        .expected = "a list of alert rules",
                                        .one_of = {"above", "below"},
                                        .init = s_alert_init,
                                        .check = s_alert_check};

//  A contact is told somehow; email needs the relay
static void s_contact_check (s_map_t *map)
{
    jad_contact_config_t *contact = map->base;
    const jad_controller_config_t *config = map->root;
    if (!s_map_slot (map, "email")->key && !s_map_slot (map, "webhook")->key &&
        !s_map_slot (map, "command")->key)
        s_problem (map->ctx, map->line, map->where,
                   "missing required key 'email' (an address), 'webhook' (a URL) or 'command' "
                   "(an absolute path)");
    if (contact->email && !config->smtp_host)
        s_problem (map->ctx, s_map_line (map, "email"), map->where,
                   "key 'email' needs the top-level key 'smtp' (the relay's host and from)");
}

#define S_P jad_contact_config_t
static const s_field_t s_contact_fields[] = {S_STRING ("email", S_P, email, S_EMAIL),
                                             S_STRING ("webhook", S_P, webhook, S_URL),
                                             S_STRING ("command", S_P, command, S_ABSPATH), S_END};
#undef S_P
static const s_table_t s_contact_table = {
    .fields = s_contact_fields,
    .size = sizeof (jad_contact_config_t),
    .item = "contact",
    .expected = "a mapping of contact names to { email, webhook, command }",
    .name_offset = offsetof (jad_contact_config_t, name),
    .check = s_contact_check};

//  A route tells someone; the contacts and environments it names exist
static void s_notify_check (s_map_t *map)
{
    jad_notify_config_t *route = map->base;
    const jad_controller_config_t *config = map->root;
    if (!s_map_slot (map, "command")->key && !s_map_slot (map, "webhook")->key &&
        !s_map_slot (map, "email")->key && !s_map_slot (map, "to")->key)
        s_problem (map->ctx, map->line, map->where,
                   "missing required key 'to' (contact names), 'webhook' (a URL), 'command' (an "
                   "absolute path) or 'email' (an address)");
    if (s_map_slot (map, "to")->state == S_SET && route->to_count == 0)
        s_problem (map->ctx, s_map_line (map, "to"), map->where,
                   "key 'to': name at least one contact");
    for (size_t index = 0; index < route->to_count; index++)
        if (!jad_controller_config_contact (config, route->to[index]))
            s_problem (map->ctx, s_map_line (map, "to"), map->where,
                       "key 'to': unknown contact '%s' (declare it under contacts)",
                       route->to[index]);
    for (size_t index = 0; index < route->env_count; index++)
        if (!jad_controller_config_env (config, route->envs[index]))
            s_problem (map->ctx, s_map_line (map, "envs"), map->where,
                       "key 'envs': unknown environment '%s'", route->envs[index]);
    if (route->email && !config->smtp_host)
        s_problem (map->ctx, s_map_line (map, "email"), map->where,
                   "key 'email' needs the top-level key 'smtp' (the relay's host and from)");
}

#define S_N jad_notify_config_t
static const s_field_t s_notify_fields[] = {S_STRING ("command", S_N, command, S_ABSPATH),
                                            S_STRING ("webhook", S_N, webhook, S_URL),
                                            S_STRING ("email", S_N, email, S_EMAIL),
                                            S_STRINGS ("to", S_N, to, to_count, S_NAME),
                                            S_STRINGS ("events", S_N, events, event_count, S_EVENT),
                                            S_STRINGS ("envs", S_N, envs, env_count, S_NAME),
                                            S_END};
#undef S_N
static const s_table_t s_notify_table = {.fields = s_notify_fields,
                                         .size = sizeof (jad_notify_config_t),
                                         .item = "notify",
                                         .expected = "a list of notification routes",
                                         .check = s_notify_check};

//  smtp: a relay and a sender; AUTH only over STARTTLS, with its password
//  in a file
static void s_smtp_check (s_map_t *map)
{
    jad_controller_config_t *self = map->base;
    if (!s_map_slot (map, "host")->key)
        s_problem (map->ctx, map->line, "smtp", "missing required key 'host'");
    if (!s_map_slot (map, "from")->key)
        s_problem (map->ctx, map->line, "smtp", "missing required key 'from' (an address)");
    bool user = s_map_slot (map, "user")->key, password = s_map_slot (map, "password_file")->key;
    if (user && !password)
        s_problem (map->ctx, s_map_slot (map, "user")->line, "smtp",
                   "key 'user' needs 'password_file' (a file holding the password)");
    if (password && !user)
        s_problem (map->ctx, s_map_slot (map, "password_file")->line, "smtp",
                   "key 'password_file' needs 'user'");
    if (user && !self->smtp_starttls)
        s_problem (map->ctx, s_map_slot (map, "user")->line, "smtp",
                   "key 'user' needs 'starttls: true' (a password is never sent in clear)");
}

static int s_controller_init (void *base)
{
    jad_controller_config_t *self = base;
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
    self->series_per_agent = 10000;
    self->label_sets_per_metric = 1000;
    self->apps_per_agent = 256;
    self->release_unpacked_mib = 4096;
    self->release_ratio = 100;
    self->http_listen = strdup ("127.0.0.1");
    self->connections_per_ip = 1024;
    self->smtp_port = 25;
    self->smtp_timeout_ms = 30 * 1000;
    return self->listen && self->http_listen ? 0 : -1;
}

//  Value of key in a mapping node, or NULL
static struct fy_node *s_mapping_get (struct fy_node *node, const char *key)
{
    if (!node || !fy_node_is_mapping (node))
        return NULL;
    void *iter = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate (node, &iter))) {
        struct fy_node *name = fy_node_pair_key (pair);
        if (name && fy_node_is_scalar (name) && !fy_node_is_alias (name) &&
            jad_str_equal (fy_node_get_scalar0 (name), key))
            return fy_node_pair_value (pair);
    }
    return NULL;
}

//  Line of an environment's key in the file, for problems found once
//  every environment is known
static int s_env_line (s_map_t *map, const char *name, const char *key)
{
    s_slot_t *environments = s_map_slot (map, "environments");
    struct fy_node *env = s_mapping_get (environments->value, name);
    return s_node_line (s_mapping_get (env, key), s_node_line (env, environments->line));
}

//  The deprecated top-level keys and their place under retention:
static const char *const s_retention_aliases[2][2] = {{"metrics-retention", "metrics"},
                                                      {"rollup-retention", "rollups"}};

//  A deprecated key is remembered (its line) unless retention: sets the
//  same thing, which is a problem: one value in one place.
static void s_retention_aliases_check (s_map_t *map)
{
    jad_controller_config_t *self = map->base;
    struct fy_node *retention = s_map_slot (map, "retention")->value;
    for (size_t index = 0; index < 2; index++) {
        s_slot_t *slot = s_map_slot (map, s_retention_aliases[index][0]);
        if (!slot->key)
            continue;
        if (s_mapping_get (retention, s_retention_aliases[index][1]))
            s_problem (map->ctx, slot->line, NULL,
                       "key '%s': retention: %s says it too (keep only that one)",
                       s_retention_aliases[index][0], s_retention_aliases[index][1]);
        else
            self->deprecated_lines[index] = slot->line;
    }
}

size_t jad_controller_config_deprecated (const jad_controller_config_t *config, const char *origin,
                                         jad_problems_t *notes)
{
    size_t count = 0;
    for (size_t index = 0; config && index < 2; index++)
        if (config->deprecated_lines[index] > 0) {
            jad_problems_add (notes,
                              "%s:%d: warning: key '%s' is deprecated: write it as retention: %s",
                              origin ? origin : "controller.yaml", config->deprecated_lines[index],
                              s_retention_aliases[index][0], s_retention_aliases[index][1]);
            count++;
        }
    return count;
}

//  retention: audit is kept at least a day
static void s_retention_check (s_map_t *map)
{
    jad_controller_config_t *self = map->base;
    if (s_map_slot (map, "audit")->key && self->audit_retention_ms > 0 &&
        self->audit_retention_ms < 24ull * 3600 * 1000)
        s_problem (map->ctx, s_map_line (map, "audit"), "retention",
                   "key 'audit': keep the audit log at least 1d");
}

//  requires: names another environment, and never loops back
static void s_controller_check (s_map_t *map)
{
    jad_controller_config_t *self = map->base;
    s_retention_aliases_check (map);
    for (size_t index = 0; index < self->environment_count; index++) {
        jad_env_config_t *env = &self->environments[index];
        if (!env->requires)
            continue;
        char where[JAD_NAME_MAX + 32];
        snprintf (where, sizeof (where), "environment '%s'", env->name);
        int line = s_env_line (map, env->name, "requires");
        if (jad_str_equal (env->requires, env->name)) {
            s_problem (map->ctx, line, where, "key 'requires': '%s' requires itself", env->name);
            continue;
        }
        if (!jad_controller_config_env (self, env->requires)) {
            s_problem (map->ctx, line, where, "key 'requires': unknown environment '%s'",
                       env->requires);
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
                    s_problem (map->ctx, line, where,
                               "key 'requires': '%s' leads back to '%s' (a cycle)", env->requires,
                               env->name);
                break;
            }
        }
    }
}

//  attestation_keys come before environments, whose checks refer to them;
//  environments and prometheus come before alerts, which refer to them
#define S_A jad_attestation_key_t
static const s_field_t s_attestation_key_fields[] = {S_REQUIRED ("ed25519", S_A, ed25519, S_HEXKEY),
                                                     S_END};
#undef S_A
static const s_table_t s_attestation_key_table = {
    .fields = s_attestation_key_fields,
    .size = sizeof (jad_attestation_key_t),
    .item = "attestation key",
    .expected = "a mapping of key names to { ed25519: HEX }",
    .name_offset = offsetof (jad_attestation_key_t, name)};
#define S_C jad_controller_config_t
//  limits: what one agent (metric series, label sets, apps) or one release
//  (its unpacked size, its ratio to the archive) may cost the controller
static const s_field_t s_limits_fields[] = {
    S_UINT ("series-per-agent", S_C, series_per_agent, 1, 10000000),
    S_UINT ("label-sets-per-metric", S_C, label_sets_per_metric, 1, 10000000),
    S_UINT ("apps-per-agent", S_C, apps_per_agent, 1, 100000),
    S_UINT ("release-unpacked-mib", S_C, release_unpacked_mib, 1, 1048576),
    S_UINT ("release-ratio", S_C, release_ratio, 1, 100000),
    S_END};
static const s_table_t s_limits_table = {.fields = s_limits_fields};
//  retention: how long each kind of history is kept (absent: audit and
//  plans forever, metrics 24h, rollups 30d)
static const s_field_t s_retention_fields[] = {
    S_LONG_DURATION ("audit", S_C, audit_retention_ms),
    S_LONG_DURATION ("plans", S_C, plans_retention_ms),
    S_LONG_DURATION ("metrics", S_C, metrics_retention_ms),
    S_LONG_DURATION ("rollups", S_C, rollup_retention_ms), S_END};
static const s_table_t s_retention_table = {.fields = s_retention_fields,
                                            .check = s_retention_check};
static const s_field_t s_smtp_fields[] = {
    S_STRING ("host", S_C, smtp_host, S_ADDRESS),
    {"port", S_FIELD_PORT, offsetof (S_C, smtp_port), 0, S_TEXT, 1, 65535, false, NULL},
    S_STRING ("from", S_C, smtp_from, S_EMAIL),
    S_BOOL ("starttls", S_C, smtp_starttls),
    S_STRING ("user", S_C, smtp_user, S_TEXT),
    S_STRING ("password_file", S_C, smtp_password_file, S_ABSPATH),
    S_DURATION ("timeout", S_C, smtp_timeout_ms, 1),
    S_END};
static const s_table_t s_smtp_table = {.fields = s_smtp_fields, .check = s_smtp_check};
static const s_field_t s_controller_fields[] = {
    S_STRING ("listen", S_C, listen, S_ADDRESS),
    //  The controller binds PORT..PORT+3
    {"port", S_FIELD_PORT, offsetof (S_C, port), 0, S_TEXT, 1, 65532, false, NULL},
    S_DURATION ("heartbeat", S_C, heartbeat_ms, 1),
    S_DURATION ("resend", S_C, resend_ms, 1),
    S_DURATION ("plan-ttl", S_C, plan_ttl_ms, 1),
    S_DURATION ("step-deadline", S_C, step_deadline_ms, 1),
    S_DURATION ("progress-deadline", S_C, progress_deadline_ms, 1),
    S_NAMED ("attestation_keys", S_C, attestation_keys, attestation_key_count,
             &s_attestation_key_table),
    S_NAMED ("environments", S_C, environments, environment_count, &s_env_table),
    S_DURATION ("watch", S_C, watch_ms, 1),
    //  deprecated: retention: metrics and rollups (s_retention_aliases)
    S_LONG_DURATION ("metrics-retention", S_C, metrics_retention_ms),
    S_LONG_DURATION ("rollup-retention", S_C, rollup_retention_ms),
    S_SECTION ("retention", &s_retention_table),
    S_SECTION ("limits", &s_limits_table),
    S_STRING ("http-listen", S_C, http_listen, S_ADDRESS),
    S_STRINGS ("http-hosts", S_C, http_hosts, http_host_count, S_TEXT),
    S_UINT ("connections-per-ip", S_C, connections_per_ip, 0, 1000000),
    S_UINT ("max-connections", S_C, max_connections, 0, 10000000),
    S_STRING ("prometheus", S_C, prometheus, S_URL),
    S_STRING ("store", S_C, store, S_STORE),
    S_DURATION ("prometheus-timeout", S_C, prometheus_timeout_ms, 1),
    //  0 turns the signed heartbeat off (agents then raise their stale alarm)
    S_DURATION ("signed-heartbeat", S_C, signed_heartbeat_ms, 0),
    S_LIST ("alerts", S_C, alerts, alert_count, &s_alert_table),
    //  smtp and contacts come before notify, which refers to them
    S_SECTION ("smtp", &s_smtp_table),
    S_NAMED ("contacts", S_C, contacts, contact_count, &s_contact_table),
    S_LIST ("notify", S_C, notify, notify_count, &s_notify_table),
    S_END};
#undef S_C
static const s_table_t s_controller_table = {
    .fields = s_controller_fields, .init = s_controller_init, .check = s_controller_check};

static bool s_table_equal (const s_table_t *table, const void *one, const void *two);

static bool s_field_equal (const s_field_t *field, const void *one, const void *two)
{
    const void *left = S_CONST_AT (one, field->offset), *right = S_CONST_AT (two, field->offset);
    switch (field->type) {
        case S_FIELD_STRING:
            return jad_str_equal (*(char *const *)left, *(char *const *)right);
        case S_FIELD_UINT:
        case S_FIELD_DURATION:
            return *(const uint32_t *)left == *(const uint32_t *)right;
        case S_FIELD_PORT:
            return *(const uint16_t *)left == *(const uint16_t *)right;
        case S_FIELD_LONG_DURATION:
            return *(const uint64_t *)left == *(const uint64_t *)right;
        case S_FIELD_BOOL:
            return *(const bool *)left == *(const bool *)right;
        case S_FIELD_NUMBER:
            return *(const double *)left == *(const double *)right;
        case S_FIELD_SECTION:
            return s_table_equal (field->table, one, two);
        case S_FIELD_STRINGS:
        case S_FIELD_LIST:
        case S_FIELD_NAMED: {
            size_t count = *(const size_t *)S_CONST_AT (one, field->count_offset);
            if (count != *(const size_t *)S_CONST_AT (two, field->count_offset))
                return false;
            const char *first = *(char *const *)left, *second = *(char *const *)right;
            size_t size = field->type == S_FIELD_STRINGS ? sizeof (char *) : field->table->size;
            for (size_t index = 0; index < count; index++) {
                const char *item_one = first + index * size, *item_two = second + index * size;
                if (field->type == S_FIELD_STRINGS) {
                    s_field_t text = {.type = S_FIELD_STRING};
                    if (!s_field_equal (&text, item_one, item_two))
                        return false;
                    continue;
                }
                if (field->type == S_FIELD_NAMED) {
                    s_field_t name = {.type = S_FIELD_STRING, .offset = field->table->name_offset};
                    if (!s_field_equal (&name, item_one, item_two))
                        return false;
                }
                if (!s_table_equal (field->table, item_one, item_two))
                    return false;
            }
            return true;
        }
    }
    return false;
}

static bool s_table_equal (const s_table_t *table, const void *one, const void *two)
{
    for (const s_field_t *field = table->fields; field->key; field++)
        if (!s_field_equal (field, one, two))
            return false;
    return true;
}

size_t jad_controller_config_changed (const jad_controller_config_t *one,
                                      const jad_controller_config_t *two, const char **keys,
                                      size_t max)
{
    assert (one && two && (keys || max == 0));
    size_t count = 0;
    for (const s_field_t *field = s_controller_table.fields; field->key && count < max; field++)
        if (!s_field_equal (field, one, two))
            keys[count++] = field->key;
    return count;
}

jad_controller_config_t *jad_controller_config_load (const char *path, jad_problems_t *problems)
{
    return s_load (path ? path : "controller.yaml", path, NULL, 0, &s_controller_table,
                   sizeof (jad_controller_config_t), false, problems);
}

void jad_controller_config_destroy (jad_controller_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_table_free (&s_controller_table, *self_p);
    free (*self_p);
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

const jad_check_config_t *jad_env_config_check (const jad_env_config_t *env, const char *name)
{
    if (!env || !name)
        return NULL;
    for (size_t index = 0; index < env->check_count; index++)
        if (env->checks[index].name && jad_str_equal (env->checks[index].name, name))
            return &env->checks[index];
    return NULL;
}

const jad_contact_config_t *jad_controller_config_contact (const jad_controller_config_t *self,
                                                           const char *name)
{
    if (!self || !name)
        return NULL;
    for (size_t index = 0; index < self->contact_count; index++)
        if (self->contacts[index].name && jad_str_equal (self->contacts[index].name, name))
            return &self->contacts[index];
    return NULL;
}

const jad_attestation_key_t *jad_controller_config_key (const jad_controller_config_t *self,
                                                        const char *name)
{
    if (!self || !name)
        return NULL;
    for (size_t index = 0; index < self->attestation_key_count; index++)
        if (self->attestation_keys[index].name &&
            jad_str_equal (self->attestation_keys[index].name, name))
            return &self->attestation_keys[index];
    return NULL;
}

//  --------------------------------------------------------------------------
//  jadctl client file

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

//  key is relative to the client file
static void s_client_check (s_map_t *map)
{
    jad_client_config_t *self = map->base;
    if (!self->key)
        return;
    char *absolute = s_path_absolute (map->ctx->origin, self->key);
    free (self->key);
    self->key = absolute;
    if (!self->key)
        s_problem (map->ctx, s_map_slot (map, "key")->line, NULL,
                   "key 'key': cannot make the path absolute");
}

#define S_K jad_client_config_t
static const s_field_t s_client_fields[] = {
    S_REQUIRED ("controller", S_K, controller, S_HOSTPORTS),
    S_REQUIRED ("controller-key", S_K, controller_key, S_Z85KEY),
    S_REQUIRED ("key", S_K, key, S_PATH), S_END};
#undef S_K
static const s_table_t s_client_table = {.fields = s_client_fields, .check = s_client_check};

jad_client_config_t *jad_client_config_load (const char *path, jad_problems_t *problems)
{
    return s_load (path ? path : "jadctl.yaml", path, NULL, 0, &s_client_table,
                   sizeof (jad_client_config_t), false, problems);
}

void jad_client_config_destroy (jad_client_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_table_free (&s_client_table, *self_p);
    free (*self_p);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  jadugar.yaml (release manifest)

static int s_smoke_init (void *base)
{
    jad_smoke_t *smoke = base;
    smoke->expect = 200;
    smoke->timeout_ms = 30000;
    return 0;
}

static void s_smoke_check (s_map_t *map)
{
    jad_smoke_t *smoke = map->base;
    s_slot_t *expect = s_map_slot (map, "expect");
    if (smoke->run && expect->key)
        s_problem (map->ctx, expect->line, map->where,
                   "key 'expect' only applies to an 'http' check");
}

#define S_S jad_smoke_t
static const s_field_t s_smoke_fields[] = {
    S_STRING ("run", S_S, run, S_HOOKPATH), S_STRING ("http", S_S, http, S_URL),
    S_UINT ("expect", S_S, expect, 100, 599), S_DURATION ("timeout", S_S, timeout_ms, 1), S_END};
#undef S_S
static const s_table_t s_smoke_table = {.fields = s_smoke_fields,
                                        .size = sizeof (jad_smoke_t),
                                        .item = "smoke",
                                        .expected = "a list",
                                        .one_of = {"run", "http"},
                                        .one_of_hint = {"a hook path", "a URL"},
                                        .init = s_smoke_init,
                                        .check = s_smoke_check};

#define S_P jad_metric_source_t
static const s_field_t s_source_fields[] = {S_STRING ("prometheus", S_P, prometheus, S_URL),
                                            S_STRING ("command", S_P, command, S_HOOKPATH), S_END};
#undef S_P
static const s_table_t s_source_table = {.fields = s_source_fields,
                                         .size = sizeof (jad_metric_source_t),
                                         .item = "source",
                                         .expected = "a list",
                                         .one_of = {"prometheus", "command"},
                                         .one_of_hint = {"a URL", "a hook path"}};

#define S_M jad_manifest_t
static const s_field_t s_hooks_fields[] = {
    S_STRING ("pre_activate", S_M, pre_activate, S_HOOKPATH),
    S_STRING ("migrate_up", S_M, migrate_up, S_HOOKPATH),
    S_STRING ("migrate_down", S_M, migrate_down, S_HOOKPATH),
    S_STRING ("activate", S_M, activate, S_HOOKPATH),
    S_LIST ("smoke", S_M, smoke, smoke_count, &s_smoke_table),
    S_DURATION ("smoke_every", S_M, smoke_every_ms, 1),
    S_END};

//  smoke_every re-runs the smoke checks: there must be some, and a period
//  of at least a second.
static void s_hooks_check (s_map_t *map)
{
    jad_manifest_t *manifest = map->base;
    s_slot_t *every = s_map_slot (map, "smoke_every");
    if (every->state != S_SET)
        return;
    if (manifest->smoke_count == 0)
        s_problem (map->ctx, every->line, map->where,
                   "key 'smoke_every' needs smoke checks to re-run (key 'smoke')");
    else if (manifest->smoke_every_ms < 1000)
        s_problem (map->ctx, every->line, map->where, "key 'smoke_every': at least 1s");
}
static const s_table_t s_hooks_table = {.fields = s_hooks_fields, .check = s_hooks_check};

static const s_field_t s_metrics_fields[] = {
    S_DURATION ("interval", S_M, metrics_interval_ms, 1),
    S_LIST ("sources", S_M, sources, source_count, &s_source_table), S_END};
static const s_table_t s_metrics_table = {.fields = s_metrics_fields};

static int s_manifest_init (void *base)
{
    jad_manifest_t *self = base;
    self->metrics_interval_ms = 10000;
    return 0;
}

//  "hooks:" or "metrics:" with nothing means none, and defaults
static const s_field_t s_manifest_fields[] = {S_SECTION ("hooks", &s_hooks_table),
                                              S_SECTION ("metrics", &s_metrics_table), S_END};
#undef S_M
static const s_table_t s_manifest_table = {.fields = s_manifest_fields, .init = s_manifest_init};

jad_manifest_t *jad_manifest_parse (const char *text, size_t size, const char *origin,
                                    jad_problems_t *problems)
{
    if (!text) {
        jad_problems_add (problems, "%s: no manifest text", origin ? origin : "jadugar.yaml");
        return NULL;
    }
    return s_load (origin ? origin : "jadugar.yaml", NULL, text, size, &s_manifest_table,
                   sizeof (jad_manifest_t), false, problems);
}

jad_manifest_t *jad_manifest_load (const char *path, jad_problems_t *problems)
{
    return s_load (path ? path : "jadugar.yaml", path, NULL, 0, &s_manifest_table,
                   sizeof (jad_manifest_t), false, problems);
}

void jad_manifest_destroy (jad_manifest_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_table_free (&s_manifest_table, *self_p);
    free (*self_p);
    *self_p = NULL;
}
