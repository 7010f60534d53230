//  cli_alerts - jadctl alerts, alert add|rm, metrics
//  SPDX-License-Identifier: MPL-2.0

#include "cli.h"
#include "jad_util.h"

#include <math.h>
#include <string.h>

static const char *const s_bars[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                     "\u2585", "\u2586", "\u2587", "\u2588"};

static double s_number (json_t *object, const char *key)
{
    json_t *value = json_object_get (object, key);
    return json_is_number (value) ? json_number_value (value) : NAN;
}

void cli_print_decisions (json_t *decisions)
{
    size_t index;
    json_t *decision;
    json_array_foreach (decisions, index, decision)
    {
        json_t *values = json_object_get (decision, "values");
        printf ("decision  %s (automatic) at %s\n", cli_str (decision, "what"),
                cli_str (decision, "time"));
        printf ("  why     %s\n", cli_str (values, "summary"));
        printf ("  rule    %s: %s\n", cli_str (values, "rule"), cli_str (values, "checks"));
        printf ("  value   %g (%s %g) from %lld samples on %lld hosts\n",
                s_number (values, "value"), cli_str (values, "comparison"),
                s_number (values, "threshold"),
                (long long)json_integer_value (json_object_get (values, "samples")),
                (long long)json_integer_value (json_object_get (values, "hosts")));
        printf ("  window  %s .. %s\n", cli_str (values, "window_start"),
                cli_str (values, "window_end"));
        printf ("  release %s %s -> %s (bad plan %s, rollback plan %s)\n", cli_str (values, "app"),
                cli_str (values, "from_version"), cli_str (values, "to_version"),
                cli_str (values, "bad_plan"), cli_str (values, "plan"));
    }
}

//  "host", "aggregate vs baseline x1.5", "host vs baseline +0.02", "off"
//  or "-" (a rule canary analysis does not use) of one rule of `alerts`.
static void s_canary_text (json_t *rule, char *buf, size_t size)
{
    const char *canary = json_string_value (json_object_get (rule, "canary"));
    const char *compare = json_string_value (json_object_get (rule, "compare"));
    double ratio = s_number (rule, "ratio"), difference = s_number (rule, "difference");
    if (!canary)
        snprintf (buf, size, "-");
    else if (compare && isfinite (ratio))
        snprintf (buf, size, "%s vs %s x%g", canary, compare, ratio);
    else if (compare && isfinite (difference))
        snprintf (buf, size, "%s vs %s +%g", canary, compare, difference);
    else
        snprintf (buf, size, "%s", canary);
}

int cli_alerts (cli_t *cli)
{
    cli_args_t args;
    if (cli_args_parse (cli, NULL, &args))
        return CLI_USAGE;
    if (args.positional_count)
        return cli_usage_error (cli, "alerts: unexpected argument '%s'", args.positional[0]);
    json_t *result = NULL;
    int status = cli_query (cli, "alerts", NULL, &result);
    if (!result)
        return status;
    printf ("%-10s %-8s %-13s %-40s %-9s %-16s %s\n", "ID", "ENV", "STATE", "CHECKS", "ACTION",
            "VALUE (SAMPLES)", "CANARY");
    size_t index;
    json_t *rule;
    json_array_foreach (json_object_get (result, "alerts"), index, rule)
    {
        char checks[160];
        const char *query = json_string_value (json_object_get (rule, "query"));
        snprintf (checks, sizeof checks, "%s(%s) %s %g for %llds", cli_str (rule, "aggregate"),
                  query ? query : cli_str (rule, "metric"),
                  streq (cli_str (rule, "comparison"), "above") ? ">" : "<",
                  s_number (rule, "threshold"),
                  (long long)json_integer_value (json_object_get (rule, "for_ms")) / 1000);
        double value = s_number (rule, "value");
        const char *env = cli_str (rule, "env");
        printf ("%-10s %-8s %-13s %-40s %-9s ", cli_str (rule, "id"), *env ? env : "-",
                cli_str (rule, "state"), checks,
                json_string_value (json_object_get (rule, "action")) ? cli_str (rule, "action")
                                                                     : "notify");
        char reading[48];
        long long samples = (long long)json_integer_value (json_object_get (rule, "samples"));
        if (isfinite (value))
            snprintf (reading, sizeof reading, "%g (%lld)", value, samples);
        else
            snprintf (reading, sizeof reading, "- (%lld)", samples);
        //  canary analysis: host | aggregate | off, and the comparison
        char canary[96];
        s_canary_text (rule, canary, sizeof canary);
        printf ("%-16s %s\n", reading, canary);
    }
    json_decref (result);
    return CLI_OK;
}

//  The rule `id` as `alerts` lists it (caller decrefs), or NULL.
static json_t *s_rule (cli_t *cli, const char *id)
{
    json_t *list = NULL, *found = NULL;
    if (cli_request (cli, "alerts", NULL, NULL, 0, &list) == CLI_OK) {
        size_t index;
        json_t *rule;
        json_array_foreach (json_object_get (list, "alerts"), index, rule)
        {
            if (streq (cli_str (rule, "id"), id))
                found = json_incref (rule);
        }
    }
    json_decref (list);
    return found;
}

int cli_alert (cli_t *cli)
{
    static const char *const spec[] = {
        "--env=",       "--metric=",  "--above=",       "--below=",      "--for=",
        "--aggregate=", "--window=",  "--min-samples=", "--action=",     "--query=",
        "--canary=",    "--compare=", "--ratio=",       "--difference=", NULL};
    cli_args_t args;
    if (cli_args_parse (cli, spec, &args))
        return CLI_USAGE;
    const char *action = args.positional_count ? args.positional[0] : "";
    json_t *result = NULL;
    int status;
    if (streq (action, "add") && args.positional_count == 1) {
        //  --env is left out for the controller's own series (the controller
        //  says which)
        if (!cli_args_get (&args, "--metric") || !cli_args_get (&args, "--for"))
            return cli_usage_error (cli, "alert add: needs --metric M and --for DURATION (and "
                                         "--env E but for a jadugar_security_* series)");
        const char *request[] = {"env",         cli_args_get (&args, "--env"),
                                 "metric",      cli_args_get (&args, "--metric"),
                                 "above",       cli_args_get (&args, "--above"),
                                 "below",       cli_args_get (&args, "--below"),
                                 "for",         cli_args_get (&args, "--for"),
                                 "aggregate",   cli_args_get (&args, "--aggregate"),
                                 "window",      cli_args_get (&args, "--window"),
                                 "min-samples", cli_args_get (&args, "--min-samples"),
                                 "action",      cli_args_get (&args, "--action"),
                                 "query",       cli_args_get (&args, "--query"),
                                 "canary",      cli_args_get (&args, "--canary"),
                                 "compare",     cli_args_get (&args, "--compare"),
                                 "ratio",       cli_args_get (&args, "--ratio"),
                                 "difference",  cli_args_get (&args, "--difference"),
                                 NULL};
        status = cli_request (cli, "alert.add", request, NULL, 0, &result);
        if (status == CLI_OK && result && !cli->json)
            printf ("id: %s\n", cli_str (result, "id"));
        else if (status == CLI_OK && result) {
            //  {"alert": RULE}, the rule as `alerts` shows it
            json_t *rule = s_rule (cli, cli_str (result, "id"));
            cli_print_json_as ("alert", rule ? rule : result);
            json_decref (rule);
            json_decref (result);
            return status;
        }
    } else if (streq (action, "rm") && args.positional_count == 2) {
        const char *request[] = {"id", args.positional[1], NULL};
        status = cli_request (cli, "alert.rm", request, NULL, 0, &result);
        if (status == CLI_OK && result && !cli->json)
            printf ("removed: %s\n", cli_str (result, "removed"));
    } else if (streq (action, "rm") && args.positional_count == 1)
        return cli_usage_error (cli, "alert rm: needs a rule ID (see: jadctl alerts)");
    else if (streq (action, "add") || streq (action, "rm"))
        return cli_usage_error (cli, "alert %s: unexpected argument '%s'", action,
                                args.positional[args.positional_count - 1]);
    else if (!*action)
        return cli_usage_error (cli, "alert: needs an action (add, rm)");
    else {
        static const char *const actions[] = {"add", "rm"};
        return cli_unknown (CLI_USAGE, "alert: unknown action", action, actions, 2);
    }
    if (status == CLI_OK && result && cli->json)
        cli_print_json (result);
    json_decref (result);
    return status;
}

//  "▁▂▅█▇" of the points' values between lo and hi.
static void s_sparkline (json_t *points, double lo, double hi)
{
    size_t index;
    json_t *point;
    json_array_foreach (points, index, point)
    {
        double value = json_number_value (json_array_get (point, 1));
        int level = hi > lo ? (int)((value - lo) / (hi - lo) * 7.0 + 0.5) : 3;
        level = level < 0 ? 0 : (level > 7 ? 7 : level);
        fputs (s_bars[level], stdout);
    }
}

int cli_metrics (cli_t *cli)
{
    static const char *const spec[] = {"--host=", "--env=", "--name=", "--since=", NULL};
    cli_args_t args;
    if (cli_args_parse (cli, spec, &args))
        return CLI_USAGE;
    if (args.positional_count)
        return cli_usage_error (cli, "metrics: unexpected argument '%s'", args.positional[0]);
    if ((cli_args_get (&args, "--host") != NULL) == (cli_args_get (&args, "--env") != NULL))
        return cli_usage_error (cli, "metrics: needs one of --host H and --env E");
    const char *request[] = {
        "host", cli_args_get (&args, "--host"), "env",   cli_args_get (&args, "--env"),
        "name", cli_args_get (&args, "--name"), "since", cli_args_get (&args, "--since"),
        NULL};
    json_t *result = NULL;
    int status = cli_query (cli, "metrics", request, &result);
    if (!result)
        return status;
    json_t *series = json_object_get (result, "series");
    if (json_array_size (series) == 0)
        printf ("no samples in this period\n");
    size_t index;
    json_t *item;
    json_array_foreach (series, index, item)
    {
        double lo = s_number (item, "min"), hi = s_number (item, "max");
        printf ("%-12s %-32s ", cli_str (item, "host"), cli_str (item, "name"));
        s_sparkline (json_object_get (item, "points"), lo, hi);
        printf ("  min %g avg %g max %g (%lld samples)\n", lo, s_number (item, "avg"), hi,
                (long long)json_integer_value (json_object_get (item, "count")));
    }
    //  the controller reads at most max_series series and max_rows rows
    if (json_is_true (json_object_get (result, "truncated")))
        printf ("(cut short: at most %lld series and %lld rows are read; narrow it with --name "
                "or --host)\n",
                (long long)json_integer_value (json_object_get (result, "max_series")),
                (long long)json_integer_value (json_object_get (result, "max_rows")));
    json_decref (result);
    return CLI_OK;
}
