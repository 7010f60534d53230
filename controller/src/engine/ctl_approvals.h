//  ctl_approvals - emergency approvals: who covers which role
//  SPDX-License-Identifier: MPL-2.0
//
//  An emergency deploy waits until, for every role the environment lists
//  in emergency_approvals, an operator holding that role approved it.
//  Each listed role needs its own operator: one operator counts for one
//  role only, whatever roles they hold. Which operator covers which role
//  is jad_approval_match (common/, shared with release checks and with
//  the agents), recomputed on every approval, so the order of approvals
//  does not matter. An operator with the admin role holds every role. The
//  operator who asked for the emergency deploy never approves it. A role listed as {role: R,
//  when: security} is asked only of a security emergency (jadctl deploy
//  --emergency --security); every other role of every emergency.
//
//  Pure: approvals and roles come in as plain rows, the verdict and the
//  decision texts go out; the caller stores the approval and starts the
//  plan. Replaces the matching and every refusal of ctl_policy_approve
//  (the former legacy/ctl_policy.c).

#ifndef CTL_APPROVALS_H_INCLUDED
#define CTL_APPROVALS_H_INCLUDED

#include "jad_approval.h"
#include "jad_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  At most this many roles and approvers take part in a matching; more
//  are ignored.
#define CTL_APPROVALS_MAX_ROLES     JAD_APPROVAL_MAX_ROLES
#define CTL_APPROVALS_MAX_APPROVERS JAD_APPROVAL_MAX_APPROVERS

//  An operator who approved (or approves now). Strings are borrowed.
typedef struct {
    const char *name;   //  operator name
    const char *roles;  //  the operator's roles now, comma-separated (operators.roles)
} ctl_approver_t;

//  The plan an approval is for. Strings are borrowed.
typedef struct {
    const char *id;        //  plan id
    const char *state;     //  plans.state
    bool emergency;        //  plans.emergency is set
    const char *deployer;  //  plans.deployer
    bool security;         //  a security emergency: roles with `when: security` are asked too
} ctl_approval_plan_t;

//  The verdict on one approval.
typedef struct {
    bool accepted;        //  store it (as `as_role`); false: refused, text says why
    char text[1024];      //  refused: the message for the operator, else ""
    const char *as_role;  //  accepted: the role this operator covers (borrowed from env)
    size_t covered;       //  roles covered with this approval
    size_t required;      //  roles listed
    const char *missing[CTL_APPROVALS_MAX_ROLES];  //  roles still uncovered (borrowed)
    size_t missing_count;
    bool complete;                //  every role covered: start the plan
    char decision[512];           //  accepted: the emergency_approvals "approved" decision
    char complete_decision[128];  //  complete: the "complete" decision, else ""
} ctl_approval_t;

//  Judge operator `who` approving `plan` in environment `env` (NULL:
//  unknown), given the approvals stored so far (in the order they were
//  given). Fills *result and returns 0 if accepted, 2 if refused (the
//  status the API answers with).
int ctl_approvals_judge (const ctl_approval_plan_t *plan, const jad_env_config_t *env,
                         const ctl_approver_t *approvals, size_t count, const ctl_approver_t *who,
                         ctl_approval_t *result);

//  The roles env's emergency_approvals asks of an emergency (security:
//  a security emergency), in their order, into roles (borrowed from env).
//  Returns how many: at most CTL_APPROVALS_MAX_ROLES.
size_t ctl_approvals_roles (const jad_env_config_t *env, bool security,
                            const char *roles[CTL_APPROVALS_MAX_ROLES]);

//  How many of the roles asked of an emergency (ctl_approvals_roles) the
//  approvals cover (maximum matching). Equal to that count when the plan
//  may start: a plan left in state approval after a restart resumes from
//  this.
size_t ctl_approvals_covered (const jad_env_config_t *env, bool security,
                              const ctl_approver_t *approvals, size_t count);

#endif
