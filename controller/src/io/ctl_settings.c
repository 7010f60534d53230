//  ctl_settings - the running configuration (controller.yaml) and its
//  reload on SIGHUP
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_settings.h"
#include "jad_log.h"
#include "jad_util.h"

#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _ctl_settings_t {
    char *data_dir;
    jad_controller_config_t *config;  //  the running one
};

ctl_settings_t *ctl_settings_new (const char *data_dir, jad_controller_config_t **config_p)
{
    ctl_settings_t *self = (ctl_settings_t *)calloc (1, sizeof (ctl_settings_t));
    if (self)
        self->data_dir = strdup (data_dir);
    if (!self || !self->data_dir) {
        jad_controller_config_destroy (config_p);
        ctl_settings_destroy (&self);
        return NULL;
    }
    self->config = *config_p;
    *config_p = NULL;
    return self;
}

void ctl_settings_destroy (ctl_settings_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_settings_t *self = *self_p;
    jad_controller_config_destroy (&self->config);
    free (self->data_dir);
    free (self);
    *self_p = NULL;
}

const jad_controller_config_t *ctl_settings_config (ctl_settings_t *self)
{
    return self->config;
}

const char *ctl_settings_data_dir (ctl_settings_t *self)
{
    return self->data_dir;
}

static bool s_str_equal (const char *one, const char *two)
{
    return (!one && !two) || (one && two && strcmp (one, two) == 0);
}

static bool s_list_equal (char **one, size_t one_count, char **two, size_t two_count)
{
    if (one_count != two_count)
        return false;
    for (size_t index = 0; index < one_count; index++)
        if (!s_str_equal (one[index], two[index]))
            return false;
    return true;
}

static bool s_approvers_equal (const jad_env_config_t *one, const jad_env_config_t *two)
{
    if (one->emergency_approval_count != two->emergency_approval_count)
        return false;
    for (size_t index = 0; index < one->emergency_approval_count; index++)
        if (!s_str_equal (one->emergency_approvals[index].role,
                          two->emergency_approvals[index].role) ||
            !s_str_equal (one->emergency_approvals[index].when,
                          two->emergency_approvals[index].when))
            return false;
    return true;
}

static bool s_env_equal (const jad_env_config_t *one, const jad_env_config_t *two)
{
    return s_str_equal (one->name, two->name) && s_str_equal (one->track, two->track) &&
           one->auto_deploy == two->auto_deploy && s_str_equal (one->requires, two->requires) &&
           s_str_equal (one->strategy, two->strategy) && s_str_equal (one->batch, two->batch) &&
           one->canary == two->canary && one->bake_ms == two->bake_ms &&
           one->concurrency == two->concurrency && s_str_equal (one->timezone, two->timezone) &&
           s_str_equal (one->schedule, two->schedule) &&
           s_list_equal (one->windows, one->window_count, two->windows, two->window_count) &&
           s_approvers_equal (one, two);
}

static bool s_envs_equal (const jad_controller_config_t *one, const jad_controller_config_t *two)
{
    if (one->environment_count != two->environment_count)
        return false;
    for (size_t index = 0; index < one->environment_count; index++)
        if (!s_env_equal (&one->environments[index], &two->environments[index]))
            return false;
    return true;
}

static bool s_alerts_equal (const jad_controller_config_t *one, const jad_controller_config_t *two)
{
    if (one->alert_count != two->alert_count)
        return false;
    for (size_t index = 0; index < one->alert_count; index++) {
        const jad_alert_config_t *left = &one->alerts[index], *right = &two->alerts[index];
        if (!s_str_equal (left->env, right->env) || !s_str_equal (left->metric, right->metric) ||
            left->above != right->above || left->threshold != right->threshold ||
            left->for_ms != right->for_ms || !s_str_equal (left->action, right->action) ||
            !s_str_equal (left->query, right->query) ||
            !s_str_equal (left->aggregate, right->aggregate) ||
            left->window_ms != right->window_ms || left->min_samples != right->min_samples)
            return false;
    }
    return true;
}

//  Append ",name" (or "name") to a bounded list of changed keys.
static void s_changed (char *list, size_t len, const char *name)
{
    size_t used = strlen (list);
    snprintf (list + used, len - used, "%s%s", used ? "," : "", name);
}

int ctl_settings_reload (ctl_settings_t *self, unsigned *changed_p)
{
    assert (self);
    *changed_p = 0;
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/controller.yaml", self->data_dir);
    jad_problems_t *problems = jad_problems_new ();
    if (!problems)
        return -1;
    jad_controller_config_t *fresh = jad_controller_config_load (path, problems);
    if (!fresh) {
        for (size_t index = 0; index < jad_problems_count (problems); index++)
            jad_log_error ("controller: %s", jad_problems_get (problems, index));
        jad_log_error ("controller: reload refused problems=%zu; the running configuration stays",
                       jad_problems_count (problems));
        jad_problems_destroy (&problems);
        return -1;
    }
    jad_problems_destroy (&problems);

    jad_controller_config_t *running = self->config;
    char changed[256] = "";
    if (!s_str_equal (running->listen, fresh->listen) || running->port != fresh->port) {
        jad_log_warning ("controller: listen or port changed (listen=%s port=%u); "
                         "restart the controller to apply; keeping listen=%s port=%u",
                         fresh->listen, fresh->port, running->listen, running->port);
        //  the sockets stay where they are bound: keep saying so
        char *listen = running->listen;
        running->listen = fresh->listen;
        fresh->listen = listen;
        fresh->port = running->port;
    }
    if (running->heartbeat_ms != fresh->heartbeat_ms)
        s_changed (changed, sizeof changed, "heartbeat");
    if (running->signed_heartbeat_ms != fresh->signed_heartbeat_ms) {
        s_changed (changed, sizeof changed, "signed-heartbeat");
        *changed_p |= CTL_SETTINGS_SIGNED_HEARTBEAT;
    }
    if (running->resend_ms != fresh->resend_ms)
        s_changed (changed, sizeof changed, "resend");
    if (running->plan_ttl_ms != fresh->plan_ttl_ms)
        s_changed (changed, sizeof changed, "plan-ttl");
    if (running->step_deadline_ms != fresh->step_deadline_ms)
        s_changed (changed, sizeof changed, "step-deadline");
    if (running->progress_deadline_ms != fresh->progress_deadline_ms)
        s_changed (changed, sizeof changed, "progress-deadline");
    if (!s_envs_equal (running, fresh)) {
        s_changed (changed, sizeof changed, "environments");
        *changed_p |= CTL_SETTINGS_ENVIRONMENTS;
    }
    if (!s_alerts_equal (running, fresh)) {
        s_changed (changed, sizeof changed, "alerts");
        *changed_p |= CTL_SETTINGS_ALERTS;
    }
    self->config = fresh;
    jad_controller_config_destroy (&running);
    jad_log_info ("controller: configuration reloaded changed=%s environments=%zu alerts=%zu",
                  changed[0] ? changed : "nothing", fresh->environment_count, fresh->alert_count);
    return 0;
}
