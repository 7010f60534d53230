//  jad_role - the roles an operator may hold
//  SPDX-License-Identifier: MPL-2.0

#include "jad_role.h"

#include <string.h>

static const char *const s_roles[] = {"admin",    "deployer",        "viewer",
                                      "security", "tech-lead",       "product-owner",
                                      "qa",       "release-manager", NULL};

bool jad_role_known (const char *role)
{
    if (!role)
        return false;
    for (size_t index = 0; s_roles[index]; index++)
        if (strcmp (s_roles[index], role) == 0)
            return true;
    return false;
}

const char *const *jad_roles_list (size_t *count_p)
{
    if (count_p)
        *count_p = sizeof s_roles / sizeof s_roles[0] - 1;
    return s_roles;
}

const char *jad_roles_join (char *buf, size_t len)
{
    if (len == 0)
        return buf;
    buf[0] = 0;
    size_t used = 0;
    for (size_t index = 0; s_roles[index]; index++) {
        const char *separator = index ? ", " : "";
        size_t need = strlen (separator) + strlen (s_roles[index]);
        if (used + need >= len)
            break;  //  whole names only
        memcpy (buf + used, separator, strlen (separator));
        memcpy (buf + used + strlen (separator), s_roles[index], strlen (s_roles[index]) + 1);
        used += need;
    }
    return buf;
}
