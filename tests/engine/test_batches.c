//  test_batches - a plan's batch layout: every strategy, overrides,
//  concurrency, canary and bake, rollbacks and tasks
//  SPDX-License-Identifier: MPL-2.0

#include "engine/ctl_batches.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *strategy;
    const char *batch;
    uint32_t canary;
    uint32_t bake_ms;
    uint32_t concurrency;
} s_env_t;

typedef struct {
    const char *strategy;
    const char *batch;
    uint32_t canary;
    uint32_t bake_ms;
    size_t batches;
    const char *numbers;  //  batch of each host, in name order
} s_want_t;

typedef struct {
    const char *name;
    s_env_t env;
    ctl_batches_ask_t ask;
    s_want_t want;
} s_case_t;

static const s_case_t s_cases[] = {
    {"all: one batch",
     {"all", NULL, 0, 0, 0},
     {.kind = "deploy", .hosts = 4},
     {"all", NULL, 0, 0, 1, "0,0,0,0"}},
    {"all: concurrency splits it",
     {"all", NULL, 0, 0, 3},
     {.kind = "deploy", .hosts = 7},
     {"all", NULL, 0, 0, 3, "0,0,0,1,1,1,2"}},
    {"no strategy anywhere is all",
     {NULL, NULL, 0, 0, 0},
     {.kind = "deploy", .hosts = 2},
     {"all", NULL, 0, 0, 1, "0,0"}},
    {"all keeps no batch size",
     {"all", "2", 0, 0, 0},
     {.kind = "deploy", .hosts = 3},
     {"all", NULL, 0, 0, 1, "0,0,0"}},
    {"rolling: N hosts",
     {"rolling", "2", 0, 0, 0},
     {.kind = "deploy", .hosts = 5},
     {"rolling", "2", 0, 0, 3, "0,0,1,1,2"}},
    {"rolling: N% rounds up",
     {"rolling", "50%", 0, 0, 0},
     {.kind = "deploy", .hosts = 5},
     {"rolling", "50%", 0, 0, 2, "0,0,0,1,1"}},
    {"rolling: 1% is one host",
     {"rolling", "1%", 0, 0, 0},
     {.kind = "deploy", .hosts = 3},
     {"rolling", "1%", 0, 0, 3, "0,1,2"}},
    {"rolling: no batch is everything",
     {"rolling", NULL, 0, 0, 0},
     {.kind = "deploy", .hosts = 3},
     {"rolling", NULL, 0, 0, 1, "0,0,0"}},
    {"rolling: concurrency caps a batch",
     {"rolling", "50%", 0, 0, 2},
     {.kind = "deploy", .hosts = 6},
     {"rolling", "50%", 0, 0, 3, "0,0,1,1,2,2"}},
    {"rolling: the ask overrides the env",
     {"rolling", "50%", 0, 0, 0},
     {.kind = "deploy", .hosts = 4, .batch = "1"},
     {"rolling", "1", 0, 0, 4, "0,1,2,3"}},
    {"canary: env's canary, bake and batch",
     {"canary", "25%", 1, 600000, 0},
     {.kind = "deploy", .hosts = 9},
     {"canary", "25%", 1, 600000, 4, "0,1,1,1,2,2,2,3,3"}},
    {"canary: one canary when env has none",
     {"canary", NULL, 0, 1000, 0},
     {.kind = "deploy", .hosts = 3},
     {"canary", NULL, 1, 1000, 2, "0,1,1"}},
    {"canary: ask's canary and bake (0 ms)",
     {"canary", NULL, 1, 1000, 0},
     {.kind = "deploy", .hosts = 4, .canary = 2, .bake_set = true, .bake_ms = 0},
     {"canary", NULL, 2, 0, 2, "0,0,1,1"}},
    {"canary: never more canaries than hosts",
     {"canary", NULL, 5, 1000, 0},
     {.kind = "deploy", .hosts = 2},
     {"canary", NULL, 2, 1000, 1, "0,0"}},
    {"canary: concurrency caps the canary",
     {"canary", "1", 3, 1000, 2},
     {.kind = "deploy", .hosts = 4},
     {"canary", "1", 2, 1000, 3, "0,0,1,2"}},
    {"canary: emergency_skips bake",
     {"canary", NULL, 1, 600000, 0},
     {.kind = "deploy", .hosts = 2, .skip_bake = true},
     {"canary", NULL, 1, 0, 2, "0,1"}},
    {"canary asked in a rolling env",
     {"rolling", "1", 0, 0, 0},
     {.kind = "deploy",
      .hosts = 3,
      .strategy = "canary",
      .canary = 1,
      .bake_set = true,
      .bake_ms = 500},
     {"canary", "1", 1, 500, 3, "0,1,2"}},
    {"all asked in a canary env",
     {"canary", "25%", 1, 1000, 0},
     {.kind = "deploy", .hosts = 3, .strategy = "all"},
     {"all", NULL, 0, 0, 1, "0,0,0"}},
    {"rollback: no canary, no bake, one batch",
     {"canary", "25%", 1, 600000, 0},
     {.kind = "rollback", .hosts = 5},
     {"rolling", NULL, 0, 0, 1, "0,0,0,0,0"}},
    {"rollback: concurrency still limits it",
     {"canary", "25%", 1, 600000, 2},
     {.kind = "rollback", .hosts = 5},
     {"rolling", NULL, 0, 0, 3, "0,0,1,1,2"}},
    {"rollback: the ask's strategy is ignored",
     {"all", NULL, 0, 0, 0},
     {.kind = "rollback", .hosts = 2, .strategy = "canary", .batch = "1", .canary = 1},
     {"rolling", NULL, 0, 0, 1, "0,0"}},
    {"task: everywhere at once, never limited",
     {"canary", "1", 1, 1000, 1},
     {.kind = "task", .hosts = 3},
     {"all", NULL, 0, 0, 1, "0,0,0"}},
};

Test (batches, every_strategy_lays_out_as_documented)
{
    for (size_t index = 0; index < sizeof s_cases / sizeof s_cases[0]; index++) {
        const s_case_t *one = &s_cases[index];
        jad_env_config_t env = {.name = "prod",
                                .strategy = (char *)one->env.strategy,
                                .batch = (char *)one->env.batch,
                                .canary = one->env.canary,
                                .bake_ms = one->env.bake_ms,
                                .concurrency = one->env.concurrency};
        const s_want_t *want = &one->want;
        ctl_batches_t layout;
        char err[128] = "";
        cr_assert_eq (ctl_batches_layout (&env, &one->ask, &layout, err, sizeof err), 0, "%s: %s",
                      one->name, err);
        cr_assert_str_eq (layout.strategy, want->strategy, "%s", one->name);
        if (want->batch)
            cr_assert_str_eq (layout.batch, want->batch, "%s", one->name);
        else
            cr_assert_null (layout.batch, "%s: batch %s", one->name, layout.batch);
        cr_assert_eq (layout.canary, want->canary, "%s: canary %u", one->name, layout.canary);
        cr_assert_eq (layout.bake_ms, want->bake_ms, "%s: bake %u", one->name, layout.bake_ms);
        cr_assert_eq (layout.batches, want->batches, "%s: %zu batches", one->name, layout.batches);
        cr_assert_eq (layout.hosts, one->ask.hosts, "%s", one->name);
        char numbers[128] = "";
        size_t used = 0;
        for (size_t host = 0; host < one->ask.hosts; host++)
            used += (size_t)snprintf (numbers + used, sizeof numbers - used, "%s%zu",
                                      host ? "," : "", ctl_batches_of (&layout, host));
        cr_assert_str_eq (numbers, want->numbers, "%s", one->name);
        //  the last host is in the last batch: no batch is empty
        cr_assert_eq (ctl_batches_of (&layout, one->ask.hosts - 1) + 1, layout.batches, "%s",
                      one->name);
    }
}

Test (batches, no_hosts_is_refused_with_the_environment_named)
{
    jad_env_config_t env = {.name = "prod", .strategy = "rolling", .batch = "2"};
    ctl_batches_ask_t ask = {.kind = "deploy", .hosts = 0};
    ctl_batches_t layout;
    char err[128] = "";
    cr_assert_eq (ctl_batches_layout (&env, &ask, &layout, err, sizeof err), -1);
    cr_assert_str_eq (err, "no agents in environment 'prod'");
    cr_assert_eq (layout.batches, 0);
}

Test (batches, batch_size_of_every_spelling)
{
    static const struct {
        const char *spec;
        size_t total;
        size_t size;
    } cases[] = {
        {NULL, 7, 7},   {"", 7, 7},     {"3", 7, 3},    {"10", 7, 10}, {"50%", 7, 4},
        {"100%", 7, 7}, {"150%", 2, 3}, {"1%", 200, 2}, {"0", 7, 7},   {"-2", 7, 7},
        {"x", 7, 7},    {"0%", 7, 7},   {"10%", 0, 1},  {"33%", 3, 1}, {"34%", 3, 2},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++)
        cr_assert_eq (ctl_batches_size (cases[index].spec, cases[index].total), cases[index].size,
                      "'%s' of %zu: %zu", cases[index].spec ? cases[index].spec : "(null)",
                      cases[index].total, ctl_batches_size (cases[index].spec, cases[index].total));
}

Test (batches, max_failures_from_the_environment)
{
    static const struct {
        const char *spec;
        int64_t total;
        int64_t expected;
    } cases[] = {
        {NULL, 10, 0},  {"", 10, 0},   {"0", 10, 0},  {"2", 10, 2},   {"2", 1, 2},
        {"10%", 10, 1}, {"10%", 4, 0}, {"25%", 9, 2}, {"100%", 7, 7}, {"0%", 7, 0},
        {"x", 7, 0},    {"3x", 7, 0},  {"-1", 7, 0},  {"50%", 0, 0},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++)
        cr_assert_eq (ctl_batches_max_failures (cases[index].spec, cases[index].total),
                      cases[index].expected, "case %zu (%s of %lld)", index,
                      cases[index].spec ? cases[index].spec : "NULL",
                      (long long)cases[index].total);
}
