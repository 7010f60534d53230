//  jad_role - the roles an operator may hold
//  SPDX-License-Identifier: MPL-2.0
//
//  The one list of role names: the operator API checks `operator add`
//  against it, and the configuration checks every role it names
//  (emergency_approvals) against it, so that a typo is refused where it
//  is written instead of waiting for an approver who can never exist.
//  admin, deployer, viewer and security grant permissions (DESIGN §6);
//  the others are approval roles, which only read.

#ifndef JAD_ROLE_H_INCLUDED
#define JAD_ROLE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

//  True if role (NULL is not) is one an operator may hold.
bool jad_role_known (const char *role);

//  The role names, NULL-terminated, borrowed; *count_p (if not NULL) gets
//  their number.
const char *const *jad_roles_list (size_t *count_p);

//  The role names joined by ", " into buf (len bytes), for messages such
//  as "unknown role 'x' (known: admin, deployer, ...)". Returns buf.
const char *jad_roles_join (char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
