//  ctl_settings - the running configuration (controller.yaml) and its
//  reload on SIGHUP
//  SPDX-License-Identifier: MPL-2.0
//
//  Classes of the loop's thread read the configuration through their
//  settings each time they need it and keep no pointer into it across
//  loop iterations: a reload replaces it. Threads of their own (HTTP,
//  notifications) are handed copies of what they need instead.
//
//  What a reload can change at once: environments and their policy, alert
//  rules, notification targets, heartbeat, signed-heartbeat, resend,
//  plan-ttl, step-deadline, progress-deadline. listen and port are bound
//  sockets: a change is logged as needing a restart and the running
//  values are kept. A file with problems is refused as a whole: every
//  problem is logged and the running configuration stays.

#ifndef CTL_SETTINGS_H_INCLUDED
#define CTL_SETTINGS_H_INCLUDED

#include "jad_config.h"

#include <stdbool.h>

typedef struct _ctl_settings_t ctl_settings_t;

//  What a reload changed (flags).
#define CTL_SETTINGS_SIGNED_HEARTBEAT 1  //  the signed heartbeat's interval
#define CTL_SETTINGS_ALERTS           2  //  the alert rules
#define CTL_SETTINGS_ENVIRONMENTS     4  //  environments or their policy

//  Settings of the controller in data_dir, running *config_p (taken over,
//  nulled). NULL if out of memory (the config is destroyed).
ctl_settings_t *ctl_settings_new (const char *data_dir, jad_controller_config_t **config_p);
void ctl_settings_destroy (ctl_settings_t **self_p);

//  The running configuration: valid until the next reload (never keep it
//  across loop iterations).
const jad_controller_config_t *ctl_settings_config (ctl_settings_t *self);

//  The data directory (--data DIR).
const char *ctl_settings_data_dir (ctl_settings_t *self);

//  Re-read DIR/controller.yaml. Returns 0 if the new file was taken
//  (changed or not; *changed_p gets the CTL_SETTINGS_ flags), -1 if it
//  was refused (the running configuration stays).
int ctl_settings_reload (ctl_settings_t *self, unsigned *changed_p);

#endif
