//  cli - jadctl's shared pieces: options, the API client, output helpers
//  SPDX-License-Identifier: MPL-2.0

#ifndef CLI_H_INCLUDED
#define CLI_H_INCLUDED

#include "jad_keys.h"
#include "jad_wire.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

//  Exit codes (DESIGN §3).
#define CLI_OK          0
#define CLI_FAILED      1
#define CLI_USAGE       2
#define CLI_UNREACHABLE 3

//  How long jadctl waits for the controller (connect, each reply) unless
//  --timeout says otherwise.
#define CLI_DEFAULT_TIMEOUT_MS 15000

//  Global state of one jadctl run.
typedef struct {
    const char *config_path;  //  --config, or NULL
    bool json;                //  --json
    uint32_t timeout_ms;      //  --timeout, or CLI_DEFAULT_TIMEOUT_MS
    int argc;                 //  the command's own arguments
    char **argv;              //  argv[0] is the command word
    const char *usage;        //  the command's usage line(s), for errors
    void *client;             //  cli_client_t *, connected lazily
    bool refused;             //  the controller refused this operator key
} cli_t;

//  A command handler; returns the exit code.
typedef int (cli_fn) (cli_t *cli);

//  Print an error "jadctl: ..." to stderr; returns `code` for chaining.
int cli_error (int code, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

//  Hold back the error lines printed from now on (a request that may be
//  tried again), until cli_errors_release prints them (print) or drops
//  them. Only the newest lines are kept when they are many.
void cli_errors_hold (void);
void cli_errors_release (bool print);

//  Flag parsing for a command: walks cli->argv[1..]; `spec` lists flags
//  ("--env=" takes a value, "--wait" does not). Positional arguments are
//  collected in order. Returns 0 or CLI_USAGE (error printed naming the
//  flag).
#define CLI_MAX_FLAGS      16
#define CLI_MAX_POSITIONAL 8
typedef struct {
    const char *names[CLI_MAX_FLAGS];   //  flag names as given in spec
    const char *values[CLI_MAX_FLAGS];  //  value, "" for switches, NULL if absent
    const char *positional[CLI_MAX_POSITIONAL];
    int positional_count;
} cli_args_t;

int cli_args_parse (cli_t *cli, const char *const *spec, cli_args_t *args);
//  Value of a flag, or NULL if absent.
const char *cli_args_get (const cli_args_t *args, const char *name);
bool cli_args_has (const cli_args_t *args, const char *name);

//  Send one request and wait for the reply. On success returns the status
//  the controller gave (0, 1, 2) and sets *result (caller decrefs) when
//  the reply carries JSON; the controller's error line is printed. Returns
//  CLI_UNREACHABLE when the controller cannot be reached or refuses us.
//  `args` is a NULL-terminated key, value, key, value... list; NULL values
//  are skipped.
int cli_request (cli_t *cli, const char *command, const char *const *args, const uint8_t *blob,
                 size_t blob_size, json_t **result);

//  A read command's usual path: request, then either print the JSON result
//  (--json) or hand it to the caller to draw a table. Returns the exit
//  code; *result is set (caller decrefs) only when the caller must draw.
int cli_query (cli_t *cli, const char *command, const char *const *args, json_t **result);

//  The operator's Ed25519 signing key: the key file of the client file's
//  `key` with ".signing" appended (jadctl keygen writes both). NULL with
//  the error printed. Caller destroys.
jad_keypair_t *cli_signing_key (cli_t *cli);

//  Close the connection, if any.
void cli_disconnect (cli_t *cli);

//  cli_request for a read that may be asked again (plan.show while --wait
//  follows a plan): when the controller cannot be reached or stops
//  answering (a restart, a failover to the standby), try the client
//  file's controllers again every second for up to CLI_RIDE_OUT_MS,
//  saying so once on stderr. A refused key ends it at once.
#define CLI_RIDE_OUT_MS 120000
int cli_request_again (cli_t *cli, const char *command, const char *const *args, json_t **result);

//  HOST:PORT of the controller once a request was made, else NULL.
const char *cli_endpoint (cli_t *cli);

//  Print JSON (pretty, ASCII only: every other character is a \u escape)
//  to stdout.
void cli_print_json (json_t *value);

//  Print {"KEY": value} (value borrowed), the shape of one thing in
//  --json output.
void cli_print_json_as (const char *key, json_t *value);

//  --------------------------------------------------------------------------
//  Text for humans (cli_text.c)

//  Copy of remote text fit for a terminal: control characters (C0, DEL,
//  C1), invalid UTF-8, Unicode line separators and bidi controls become
//  visible escapes (\n, \t, \r, \e, \xNN, \uNNNN). With `multiline`, \n
//  and \t stay. Caller frees; NULL if text is NULL or out of memory.
char *cli_escape (const char *text, bool multiline);

//  Escape every string and object key in a reply, in place, before a
//  table is drawn from it (members "output" and "notes" keep their
//  newlines: print them with cli_print_block). Returns 0 or -1 (no memory).
int cli_escape_json (json_t *value);

//  Print text line by line, each line after `prefix`, so that no line of
//  it can pass for one of jadctl's own.
void cli_print_block (const char *text, const char *prefix);

//  "; did you mean 'X'?" naming the candidates closest to word (edit
//  distance, or a unique start), or " (valid: A, B, ...)" when none is
//  close. Caller frees; NULL if out of memory.
char *cli_hint (const char *word, const char *const *candidates, size_t count);

//  Print "jadctl: WHAT 'WORD'" and the hint; returns code.
int cli_unknown (int code, const char *what, const char *word, const char *const *candidates,
                 size_t count);

//  Print "jadctl: MESSAGE" and "usage: jadctl USAGE" of the running
//  command; returns CLI_USAGE.
int cli_usage_error (cli_t *cli, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

//  String member of an object, or "-" when missing or null.
const char *cli_str (json_t *object, const char *key);

//  Commands
int cli_status (cli_t *cli);
int cli_agents (cli_t *cli);
int cli_controllers (cli_t *cli);
int cli_release (cli_t *cli);
int cli_deploy (cli_t *cli);
int cli_plans (cli_t *cli);
int cli_plan (cli_t *cli);
int cli_rollback (cli_t *cli);
int cli_db_rollback (cli_t *cli);
int cli_incident (cli_t *cli);
int cli_keygen (cli_t *cli);
int cli_alerts (cli_t *cli);
int cli_schedule (cli_t *cli);
int cli_alert (cli_t *cli);
int cli_metrics (cli_t *cli);
//  jadctl __complete envs|apps|versions APP|plans: one word a line for
//  bash completion, nothing on errors (not listed by `jadctl help`).
int cli_complete (cli_t *cli);

//  Make a full PLAN from the controller one shape: "decisions" is always
//  there (the controller leaves it out when there are none). Returns plan.
json_t *cli_plan_complete (json_t *plan);

//  Print a plan's automatic decisions (rule, values, window, time).
void cli_print_decisions (json_t *decisions);
int cli_operator (cli_t *cli);
int cli_audit (cli_t *cli);
int cli_policy (cli_t *cli);

#endif
