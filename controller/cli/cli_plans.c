//  cli_plans - jadctl deploy, plans, plan show: start and follow plans
//  SPDX-License-Identifier: MPL-2.0
//
//  `deploy --wait` follows the plan by asking for the events after the last
//  one it printed, and exits with the plan's outcome: 0 when every target
//  is healthy, 1 when the plan failed.
//
//  --json: a plan is always PLAN under "plan" ({"plan": PLAN}), whether it
//  was just made (deploy, rollback), followed to its end (--wait: with
//  every event, and the controller's rollback under "rollback"), shown,
//  paused, resumed, aborted or approved.

#include "cli.h"
#include "jad_util.h"

#include <string.h>
#include <unistd.h>

#define S_POLL_MS 250

json_t *cli_plan_complete (json_t *plan)
{
    if (json_is_object (plan) && !json_object_get (plan, "decisions"))
        json_object_set_new (plan, "decisions", json_array ());
    return plan;
}

//  One event as a line: "12:03:04 web-1  smoke  failed  exit 3".
static void s_print_event (json_t *event)
{
    const char *time = cli_str (event, "time");
    const char *clock = strlen (time) >= 19 ? time + 11 : time;
    const char *detail = json_string_value (json_object_get (event, "detail"));
    printf ("%.8s  %-20s %-13s %-11s %s\n", clock, cli_str (event, "host"), cli_str (event, "step"),
            cli_str (event, "status"), detail ? detail : "");
}

//  Print the failing hooks' output for a human after a failed plan; each
//  line of it after "  | ", so that none passes for one of ours.
static void s_print_outputs (json_t *events)
{
    size_t index;
    json_t *event;
    json_array_foreach (events, index, event)
    {
        const char *output = json_string_value (json_object_get (event, "output"));
        if (output && *output && streq (cli_str (event, "status"), "failed")) {
            printf ("--- output of %s on %s ---\n", cli_str (event, "step"),
                    cli_str (event, "host"));
            cli_print_block (output, "  | ");
        }
    }
}

//  On a tty: one progress line per batch, rewritten in place.
static void s_progress (json_t *plan, json_int_t *shown_batch, bool *line_open)
{
    json_int_t batch = json_integer_value (json_object_get (plan, "batch"));
    json_int_t batches = json_integer_value (json_object_get (plan, "batches"));
    if (*line_open && batch != *shown_batch)
        printf ("\n");
    *shown_batch = batch;
    printf (
        "\r\033[Kbatch %lld/%lld: %lld/%lld healthy  [%s%s]", (long long)batch, (long long)batches,
        (long long)json_integer_value (json_object_get (plan, "batch_healthy")),
        (long long)json_integer_value (json_object_get (plan, "batch_hosts")),
        cli_str (plan, "phase"), json_is_true (json_object_get (plan, "paused")) ? ", paused" : "");
    fflush (stdout);
    *line_open = true;
}

//  Follow one plan to its end; sets *rolled_back_by (caller frees) when
//  the controller rolled it back, and with --json *final (caller decrefs)
//  to the ended plan with every event. Returns the exit code.
static int s_follow (cli_t *cli, const char *plan_id, json_t **final, char **rolled_back_by)
{
    json_t *all_events = json_array ();
    if (!all_events)
        return cli_error (CLI_FAILED, "out of memory");
    json_int_t last_event = 0;
    bool tty = !cli->json && isatty (STDOUT_FILENO);
    json_int_t shown_batch = 0;
    bool line_open = false;
    while (true) {
        char since[32];
        snprintf (since, sizeof since, "%lld", (long long)last_event);
        const char *request[] = {"id", plan_id, "since", since, NULL};
        json_t *result = NULL;
        int status = cli_request_again (cli, "plan.show", request, &result);
        if (status != CLI_OK || !result) {
            json_decref (result);
            json_decref (all_events);
            return status == CLI_OK ? CLI_FAILED : status;
        }
        json_t *plan = json_object_get (result, "plan");
        size_t index;
        json_t *event;
        json_array_foreach (json_object_get (plan, "events"), index, event)
        {
            last_event = json_integer_value (json_object_get (event, "id"));
            json_array_append (all_events, event);
            //  a tty shows decisions and failures between progress lines
            bool notable = streq (cli_str (event, "host"), "controller") ||
                           streq (cli_str (event, "status"), "failed") ||
                           streq (cli_str (event, "status"), "rolled_back");
            if (!cli->json && (!tty || notable)) {
                if (line_open) {
                    printf ("\r\033[K");
                    line_open = false;
                }
                s_print_event (event);
            }
        }
        const char *state = cli_str (plan, "state");
        if (tty && (streq (state, "running") || streq (state, "approval")))
            s_progress (plan, &shown_batch, &line_open);
        if (!streq (state, "running") && !streq (state, "approval")) {
            if (line_open)
                printf ("\n");
            int code = streq (state, "succeeded") ? CLI_OK : CLI_FAILED;
            const char *rollback = json_string_value (json_object_get (plan, "rolled_back_by"));
            if (rollback && code != CLI_OK)
                *rolled_back_by = strdup (rollback);
            if (!cli->json) {
                if (code != CLI_OK)
                    s_print_outputs (all_events);
                printf ("plan %s %s: %s\n", plan_id, state, cli_str (plan, "reason"));
            } else {
                json_object_set (plan, "events", all_events);
                *final = json_incref (cli_plan_complete (plan));
            }
            json_decref (all_events);
            json_decref (result);
            return code;
        }
        json_decref (result);
        usleep (S_POLL_MS * 1000);
    }
}

//  Follow a plan to its end, and the rollback the controller started for
//  it if it failed. Returns the plan's exit code (1 if it failed, even
//  when the rollback succeeded).
//  With --json, prints {"plan": PLAN} (and "rollback": PLAN) at the end.
static int s_wait (cli_t *cli, const char *plan_id)
{
    json_t *plan = NULL, *rollback_plan = NULL;
    char *rollback = NULL;
    int code = s_follow (cli, plan_id, &plan, &rollback);
    if (rollback) {
        if (!cli->json)
            printf ("rolling back with plan %s\n", rollback);
        char *again = NULL;
        int rollback_code = s_follow (cli, rollback, &rollback_plan, &again);
        free (again);
        if (rollback_code == CLI_UNREACHABLE)
            code = rollback_code;
        free (rollback);
    }
    if (plan) {
        json_t *out = json_pack ("{s:O}", "plan", plan);
        if (out && rollback_plan)
            json_object_set (out, "rollback", rollback_plan);
        if (out)
            cli_print_json (out);
        json_decref (out);
    }
    json_decref (plan);
    json_decref (rollback_plan);
    return code;
}

//  Print a created plan's summary line.
static void s_print_created (json_t *plan, const char *verb)
{
    size_t hosts = json_array_size (json_object_get (plan, "hosts"));
    printf ("plan %s: %s %s %s to %s (%zu host%s, %s, %lld batch%s)\n", cli_str (plan, "id"), verb,
            cli_str (plan, "app"), cli_str (plan, "version"), cli_str (plan, "env"), hosts,
            hosts == 1 ? "" : "s", cli_str (plan, "strategy"),
            (long long)json_integer_value (json_object_get (plan, "batches")),
            json_integer_value (json_object_get (plan, "batches")) == 1 ? "" : "es");
    if (streq (cli_str (plan, "state"), "approval"))
        printf ("plan %s waits for emergency approvals: jadctl plan approve %s\n",
                cli_str (plan, "id"), cli_str (plan, "id"));
}

//  A dry run's answer: what the plan would be, nothing made. Takes result.
static int s_print_dry_run (cli_t *cli, json_t *result)
{
    if (cli->json) {
        cli_print_json (result);
        json_decref (result);
        return CLI_OK;
    }
    json_t *dry = json_object_get (result, "dry_run");
    printf ("dry run: %s %s %s to %s: nothing was changed\n", cli_str (dry, "kind"),
            cli_str (dry, "app"), cli_str (dry, "version"), cli_str (dry, "env"));
    printf ("policy:   %s (%s)\n", cli_str (dry, "policy"), cli_str (dry, "reason"));
    size_t index;
    json_t *item;
    json_array_foreach (json_object_get (dry, "approvals"), index, item)
        printf ("%s %s\n", index ? "          " : "approval:", json_string_value (item));
    json_array_foreach (json_object_get (dry, "checks"), index, item)
        printf ("%s %s: %s%s%s\n", index ? "         " : "checks:  ", cli_str (item, "name"),
                cli_str (item, "state"), *cli_str (item, "why") ? " - " : "",
                json_string_value (json_object_get (item, "why")) ? cli_str (item, "why") : "");
    printf ("strategy: %s, %lld host%s in %zu batch%s (batch %s, canary %lld, bake %llds)\n",
            cli_str (dry, "strategy"),
            (long long)json_integer_value (json_object_get (dry, "hosts_total")),
            json_integer_value (json_object_get (dry, "hosts_total")) == 1 ? "" : "s",
            json_array_size (json_object_get (dry, "batches")),
            json_array_size (json_object_get (dry, "batches")) == 1 ? "" : "es",
            cli_str (dry, "batch"), (long long)json_integer_value (json_object_get (dry, "canary")),
            (long long)json_integer_value (json_object_get (dry, "bake_ms")) / 1000);
    json_array_foreach (json_object_get (dry, "batches"), index, item)
    {
        printf ("  batch %lld:", (long long)json_integer_value (json_object_get (item, "batch")));
        size_t host_index;
        json_t *host;
        json_array_foreach (json_object_get (item, "hosts"), host_index, host)
            printf ("%s%s", host_index ? ", " : " ", json_string_value (host));
        printf ("\n");
    }
    if (json_is_true (json_object_get (dry, "migrate_up")))
        printf ("migrations: migrate_up of %s, once in %s (unless it ran there already)\n",
                cli_str (dry, "version"), cli_str (dry, "env"));
    json_array_foreach (json_object_get (dry, "migrate_down"), index, item) printf (
        "%s migrate_down of %s\n", index ? "           " : "migrations:", json_string_value (item));
    printf ("rollback target if it fails: %s\n", cli_str (dry, "rollback_target"));
    json_decref (result);
    return CLI_OK;
}

static void s_print_deploy (json_t *plan)
{
    s_print_created (plan, "deploy");
}

static void s_print_rollback (json_t *plan)
{
    s_print_created (plan, "roll back");
    printf ("undoes plan %s\n", cli_str (plan, "undoes"));
}

static void s_print_db_rollback (json_t *plan)
{
    json_t *host = json_array_get (json_object_get (plan, "hosts"), 0);
    printf ("plan %s: db-rollback of %s in %s to %s: migrate_down of %s on %s\n",
            cli_str (plan, "id"), cli_str (plan, "app"), cli_str (plan, "env"),
            cli_str (plan, "version"), cli_str (plan, "migrations"), cli_str (host, "name"));
}

//  Send `command` (a plan-making one: deploy, rollback, db-rollback) with
//  `request`; print its dry run, or the plan it made (print_plan; with
//  --json the answer as it came); with --wait follow the plan to its end.
//  The exit status.
static int s_plan_command (cli_t *cli, const char *command, const char **request,
                           const cli_args_t *args, void (*print_plan) (json_t *plan))
{
    json_t *result = NULL;
    int status = cli_request (cli, command, request, NULL, 0, &result);
    if (status != CLI_OK || !result) {
        json_decref (result);
        return status;
    }
    if (cli_args_has (args, "--dry-run"))
        return s_print_dry_run (cli, result);
    bool wait = cli_args_has (args, "--wait");
    json_t *plan = json_object_get (result, "plan");
    char *plan_id = strdup (cli_str (plan, "id"));
    if (!plan_id) {
        json_decref (result);
        return cli_error (CLI_FAILED, "%s: out of memory", command);
    }
    if (!cli->json)
        print_plan (plan);
    else if (!wait) {
        cli_plan_complete (plan);
        cli_print_json (result);
    }
    json_decref (result);
    if (wait)
        status = s_wait (cli, plan_id);
    free (plan_id);
    return status;
}

int cli_deploy (cli_t *cli)
{
    static const char *const spec[] = {
        "--env=",      "--strategy=", "--batch=", "--canary=",      "--bake=",
        "--emergency", "--reason=",   "--wait",   "--skip-offline", "--force",
        "--dry-run",   "--security",  NULL};
    cli_args_t args;
    if (cli_args_parse (cli, spec, &args))
        return CLI_USAGE;
    if (args.positional_count != 2)
        return cli_usage_error (cli, "deploy: needs APP and VERSION (got %d argument%s)",
                                args.positional_count, args.positional_count == 1 ? "" : "s");
    if (!cli_args_has (&args, "--env"))
        return cli_usage_error (cli, "deploy: needs --env E");
    const char *strategy = cli_args_get (&args, "--strategy");
    if (strategy && !streq (strategy, "all") && !streq (strategy, "rolling") &&
        !streq (strategy, "canary"))
        return cli_error (CLI_USAGE, "deploy: --strategy '%s' is not all, rolling or canary",
                          strategy);
    const char *bake = cli_args_get (&args, "--bake");
    uint32_t bake_ms;
    if (bake && jad_duration_parse (bake, &bake_ms) != 0)
        return cli_error (CLI_USAGE, "deploy: --bake '%s' is not a duration (e.g. 10m)", bake);
    if (cli_args_has (&args, "--emergency") != cli_args_has (&args, "--reason"))
        return cli_error (CLI_USAGE, "deploy: --emergency and --reason TEXT go together");
    if (cli_args_has (&args, "--security") && !cli_args_has (&args, "--emergency"))
        return cli_error (CLI_USAGE,
                          "deploy: --security says the emergency is a security one: it needs "
                          "--emergency --reason TEXT");
    const char *request[] = {"app",
                             args.positional[0],
                             "version",
                             args.positional[1],
                             "env",
                             cli_args_get (&args, "--env"),
                             "strategy",
                             strategy,
                             "batch",
                             cli_args_get (&args, "--batch"),
                             "canary",
                             cli_args_get (&args, "--canary"),
                             "bake",
                             bake,
                             "emergency",
                             cli_args_has (&args, "--emergency") ? "true" : NULL,
                             "reason",
                             cli_args_get (&args, "--reason"),
                             "security",
                             cli_args_has (&args, "--security") ? "true" : NULL,
                             "skip_offline",
                             cli_args_has (&args, "--skip-offline") ? "true" : NULL,
                             "force",
                             cli_args_has (&args, "--force") ? "true" : NULL,
                             "dry_run",
                             cli_args_has (&args, "--dry-run") ? "true" : NULL,
                             NULL};
    if (cli_args_has (&args, "--dry-run") && cli_args_has (&args, "--wait"))
        return cli_usage_error (cli, "deploy: --dry-run makes no plan to --wait for");
    return s_plan_command (cli, "deploy", request, &args, s_print_deploy);
}

int cli_plans (cli_t *cli)
{
    static const char *const spec[] = {"--env=", NULL};
    cli_args_t args;
    if (cli_args_parse (cli, spec, &args))
        return CLI_USAGE;
    if (args.positional_count)
        return cli_usage_error (cli, "plans: unexpected argument '%s'", args.positional[0]);
    const char *request[] = {"env", cli_args_get (&args, "--env"), NULL};
    json_t *result = NULL;
    int status = cli_query (cli, "plans", request, &result);
    if (!result)
        return status;
    //  the deployment log: time, app, version, env, deployer, strategy,
    //  outcome and the rollback that undid it
    printf ("%-20s %-9s %-8s %-12s %-12s %-8s %-12s %-8s %-12s %-9s %s\n", "CREATED", "PLAN",
            "KIND", "APP", "VERSION", "ENV", "BY", "STRATEGY", "OUTCOME", "ROLLBACK", "REASON");
    size_t index;
    json_t *plan;
    json_array_foreach (json_object_get (result, "plans"), index, plan)
    {
        printf ("%-20s %-9s %-8s %-12s %-12s %-8s %-12s %-8s %-12s %-9s %s\n",
                cli_str (plan, "created"), cli_str (plan, "id"), cli_str (plan, "kind"),
                cli_str (plan, "app"), cli_str (plan, "version"), cli_str (plan, "env"),
                cli_str (plan, "deployer"), cli_str (plan, "strategy"), cli_str (plan, "outcome"),
                cli_str (plan, "rolled_back_by"), cli_str (plan, "reason"));
        const char *notes = json_string_value (json_object_get (plan, "notes"));
        if (notes && *notes)
            printf ("    notes: %.*s\n", (int)strcspn (notes, "\n"), notes);
    }
    json_decref (result);
    return CLI_OK;
}

//  plan pause|resume|abort|approve ID (ID: the whole id or a unique
//  prefix; the controller resolves it and answers with the whole one)
static int s_plan_control (cli_t *cli, const char *action, const char *given)
{
    char command[32];
    snprintf (command, sizeof command, "plan.%s", action);
    const char *request[] = {"id", given, NULL};
    json_t *result = NULL;
    int status = cli_request (cli, command, request, NULL, 0, &result);
    if (status != CLI_OK || !result) {
        json_decref (result);
        return status;
    }
    json_t *answered = json_object_get (result, "plan");
    const char *full_id = json_is_string (answered)
                              ? json_string_value (answered)
                              : json_string_value (json_object_get (answered, "id"));
    const char *plan_id = full_id ? full_id : given;
    if (cli->json) {
        //  {"plan": PLAN} with every host and event, as `plan show` prints
        //  it (the controller answers these with a summary); approve adds
        //  {"approval": {"operator", "role", "covered", "required", "missing"}}.
        //  Asked by the id the controller answered with: the whole one.
        const char *show[] = {"id", plan_id, NULL};
        json_t *shown = NULL;
        status = cli_request (cli, "plan.show", show, NULL, 0, &shown);
        if (status == CLI_OK && shown) {
            cli_plan_complete (json_object_get (shown, "plan"));
            if (streq (action, "approve")) {
                json_object_del (result, "plan");
                json_object_set (shown, "approval", result);
            }
            cli_print_json (shown);
        }
        json_decref (shown);
    } else if (streq (action, "approve")) {
        json_t *missing = json_object_get (result, "missing");
        printf ("plan %s approved by %s as %s (%lld of %lld roles)\n", plan_id,
                cli_str (result, "operator"), cli_str (result, "role"),
                (long long)json_integer_value (json_object_get (result, "covered")),
                (long long)json_integer_value (json_object_get (result, "required")));
        if (json_array_size (missing) == 0)
            printf ("every role approved: plan %s started\n", plan_id);
        else {
            printf ("still needed:");
            size_t index;
            json_t *role;
            json_array_foreach (missing, index, role) printf (" %s", json_string_value (role));
            printf ("\n");
        }
    } else {
        json_t *plan = json_object_get (result, "plan");
        printf ("plan %s %s: %s%s\n", plan_id, streq (action, "abort") ? "aborted" : action,
                cli_str (plan, "state"),
                json_is_true (json_object_get (plan, "paused")) ? " (paused)" : "");
        if (json_string_value (json_object_get (plan, "rolled_back_by")))
            printf ("rolling back with plan %s\n", cli_str (plan, "rolled_back_by"));
    }
    json_decref (result);
    return status;
}

int cli_plan (cli_t *cli)
{
    cli_args_t args;
    if (cli_args_parse (cli, NULL, &args))
        return CLI_USAGE;
    static const char *const actions[] = {"show", "abort", "pause", "resume", "approve"};
    if (args.positional_count == 0)
        return cli_usage_error (cli, "plan: needs an action and a plan ID");
    const char *action = args.positional[0];
    bool control = streq (action, "abort") || streq (action, "pause") || streq (action, "resume") ||
                   streq (action, "approve");
    if (!streq (action, "show") && !control)
        return cli_unknown (CLI_USAGE, "plan: unknown action", action, actions,
                            sizeof actions / sizeof actions[0]);
    if (args.positional_count != 2)
        return cli_usage_error (cli, "plan %s: needs one plan ID (see: jadctl plans)", action);
    if (control)
        return s_plan_control (cli, action, args.positional[1]);
    const char *request[] = {"id", args.positional[1], NULL};
    json_t *result = NULL;
    int status = cli_request (cli, "plan.show", request, NULL, 0, &result);
    if (status != CLI_OK || !result) {
        json_decref (result);
        return status;
    }
    json_t *plan = json_object_get (result, "plan");
    if (cli->json) {
        cli_plan_complete (plan);
        cli_print_json (result);
        json_decref (result);
        return CLI_OK;
    }
    printf ("plan      %s\n", cli_str (plan, "id"));
    printf ("release   %s %s\n", cli_str (plan, "app"), cli_str (plan, "version"));
    const char *notes = json_string_value (json_object_get (plan, "notes"));
    if (notes && *notes)
        printf ("notes     %.*s\n", (int)strcspn (notes, "\n"), notes);
    printf ("env       %s (%s, strategy %s", cli_str (plan, "env"), cli_str (plan, "kind"),
            cli_str (plan, "strategy"));
    if (json_string_value (json_object_get (plan, "batch_size")))
        printf (", batch %s", cli_str (plan, "batch_size"));
    if (json_integer_value (json_object_get (plan, "canary")))
        printf (", canary %lld, bake %lldms",
                (long long)json_integer_value (json_object_get (plan, "canary")),
                (long long)json_integer_value (json_object_get (plan, "bake_ms")));
    printf (")\n");
    printf ("state     %s (phase %s, batch %lld/%lld%s)\n", cli_str (plan, "state"),
            cli_str (plan, "phase"),
            (long long)json_integer_value (json_object_get (plan, "batch")),
            (long long)json_integer_value (json_object_get (plan, "batches")),
            json_is_true (json_object_get (plan, "paused")) ? ", paused" : "");
    printf ("reason    %s\n", cli_str (plan, "reason"));
    printf ("by        %s\n", cli_str (plan, "deployer"));
    if (json_string_value (json_object_get (plan, "emergency")))
        printf ("emergency %s\n", cli_str (plan, "emergency"));
    if (json_string_value (json_object_get (plan, "undoes")))
        printf ("undoes    %s\n", cli_str (plan, "undoes"));
    if (json_string_value (json_object_get (plan, "rolled_back_by")))
        printf ("rolled back by %s\n", cli_str (plan, "rolled_back_by"));
    printf ("created   %s\n", cli_str (plan, "created"));
    printf ("finished  %s\n", cli_str (plan, "finished"));
    cli_print_decisions (json_object_get (plan, "decisions"));
    size_t index;
    json_t *item;
    json_array_foreach (json_object_get (plan, "approvals"), index, item)
        printf ("approved  by %s as %s at %s\n", cli_str (item, "operator"), cli_str (item, "role"),
                cli_str (item, "time"));
    printf ("\n%-20s %-5s %-9s %-13s %-9s %s\n", "HOST", "BATCH", "STATE", "STEP", "TOOK",
            "DETAIL");
    json_array_foreach (json_object_get (plan, "hosts"), index, item)
    {
        const char *detail = json_string_value (json_object_get (item, "detail"));
        char took[32] = "-";
        if (json_object_get (item, "duration_ms"))
            snprintf (took, sizeof took, "%.1fs",
                      (double)json_integer_value (json_object_get (item, "duration_ms")) / 1000.0);
        printf ("%-20s %-5lld %-9s %-13s %-9s %s\n", cli_str (item, "name"),
                (long long)json_integer_value (json_object_get (item, "batch")),
                cli_str (item, "state"), cli_str (item, "step"), took, detail ? detail : "");
    }
    printf ("\n");
    json_array_foreach (json_object_get (plan, "events"), index, item) s_print_event (item);
    s_print_outputs (json_object_get (plan, "events"));
    json_decref (result);
    return CLI_OK;
}

int cli_rollback (cli_t *cli)
{
    //  --version V is --to V (DESIGN §11): the words operators reach for
    static const char *const spec[] = {"--env=",  "--to=",     "--version=", "--wait",
                                       "--force", "--dry-run", NULL};
    cli_args_t args;
    if (cli_args_parse (cli, spec, &args))
        return CLI_USAGE;
    if (args.positional_count != 1)
        return cli_usage_error (cli, "rollback: needs one APP (got %d arguments)",
                                args.positional_count);
    if (!cli_args_has (&args, "--env"))
        return cli_usage_error (cli, "rollback: needs --env E");
    const char *to = cli_args_get (&args, "--to");
    const char *version = cli_args_get (&args, "--version");
    if (to && version && !streq (to, version))
        return cli_usage_error (cli,
                                "rollback: --to '%s' and --version '%s' differ (they are "
                                "the same option: give one)",
                                to, version);
    if (!to)
        to = version;
    if (to && !*to)
        return cli_usage_error (cli, "rollback: --to needs a VERSION");
    const char *request[] = {"app",     args.positional[0],
                             "env",     cli_args_get (&args, "--env"),
                             "to",      to,
                             "force",   cli_args_has (&args, "--force") ? "true" : NULL,
                             "dry_run", cli_args_has (&args, "--dry-run") ? "true" : NULL,
                             NULL};
    if (cli_args_has (&args, "--dry-run") && cli_args_has (&args, "--wait"))
        return cli_usage_error (cli, "rollback: --dry-run makes no plan to --wait for");
    return s_plan_command (cli, "rollback", request, &args, s_print_rollback);
}

int cli_db_rollback (cli_t *cli)
{
    static const char *const spec[] = {"--env=", "--to=", "--wait", "--force", NULL};
    cli_args_t args;
    if (cli_args_parse (cli, spec, &args))
        return CLI_USAGE;
    if (args.positional_count != 1)
        return cli_usage_error (cli, "db-rollback: needs one APP (got %d arguments)",
                                args.positional_count);
    if (!cli_args_has (&args, "--env"))
        return cli_usage_error (cli, "db-rollback: needs --env E");
    const char *to = cli_args_get (&args, "--to");
    if (!to || !*to)
        return cli_usage_error (cli, "db-rollback: needs --to VERSION (the release whose "
                                     "database the environment goes back to)");
    const char *request[] = {"app",   args.positional[0],
                             "env",   cli_args_get (&args, "--env"),
                             "to",    to,
                             "force", cli_args_has (&args, "--force") ? "true" : NULL,
                             NULL};
    return s_plan_command (cli, "db-rollback", request, &args, s_print_db_rollback);
}
