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
    char changed[512] = "";
    if (!jad_str_equal (running->listen, fresh->listen) || running->port != fresh->port) {
        jad_log_warning ("controller: listen or port changed (listen=%s port=%u); "
                         "restart the controller to apply; keeping listen=%s port=%u",
                         fresh->listen, fresh->port, running->listen, running->port);
        //  the sockets stay where they are bound: keep saying so
        char *listen = running->listen;
        running->listen = fresh->listen;
        fresh->listen = listen;
        fresh->port = running->port;
    }
    //  every key the file may hold, compared as it was read
    const char *keys[64];
    size_t key_count = jad_controller_config_changed (running, fresh, keys, 64);
    for (size_t index = 0; index < key_count; index++) {
        s_changed (changed, sizeof changed, keys[index]);
        if (strcmp (keys[index], "signed-heartbeat") == 0)
            *changed_p |= CTL_SETTINGS_SIGNED_HEARTBEAT;
        else if (strcmp (keys[index], "alerts") == 0)
            *changed_p |= CTL_SETTINGS_ALERTS;
        else if (strcmp (keys[index], "environments") == 0)
            *changed_p |= CTL_SETTINGS_ENVIRONMENTS;
    }
    self->config = fresh;
    jad_controller_config_destroy (&running);
    jad_log_info ("controller: configuration reloaded changed=%s environments=%zu alerts=%zu",
                  changed[0] ? changed : "nothing", fresh->environment_count, fresh->alert_count);
    return 0;
}
