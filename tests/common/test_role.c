//  test_role - the one list of roles an operator may hold
//  SPDX-License-Identifier: MPL-2.0

#include "jad_role.h"

#include <criterion/criterion.h>
#include <string.h>

Test (role, knows_the_design_roles_and_no_others)
{
    const char *known[] = {"admin",     "deployer",      "viewer", "security",
                           "tech-lead", "product-owner", "qa",     "release-manager"};
    for (size_t index = 0; index < sizeof known / sizeof known[0]; index++)
        cr_assert (jad_role_known (known[index]), "%s", known[index]);
    cr_assert_not (jad_role_known ("produkt-owner"));
    cr_assert_not (jad_role_known ("Admin"), "roles are case-sensitive");
    cr_assert_not (jad_role_known ("admin "));
    cr_assert_not (jad_role_known (""));
    cr_assert_not (jad_role_known (NULL));
}

Test (role, list_is_null_terminated_and_counted)
{
    size_t count = 0;
    const char *const *roles = jad_roles_list (&count);
    cr_assert_eq (count, 8);
    cr_assert_null (roles[count]);
    for (size_t index = 0; index < count; index++)
        cr_assert (jad_role_known (roles[index]));
    cr_assert_eq (jad_roles_list (NULL), roles);
}

Test (role, join_lists_every_role_or_whole_names_only)
{
    char buf[256];
    cr_assert_str_eq (jad_roles_join (buf, sizeof buf),
                      "admin, deployer, viewer, security, tech-lead, product-owner, qa, "
                      "release-manager");
    char small[20];
    cr_assert_str_eq (jad_roles_join (small, sizeof small), "admin, deployer", "no half name");
    char tiny[3] = "xy";
    cr_assert_str_eq (jad_roles_join (tiny, sizeof tiny), "");
    cr_assert_eq (jad_roles_join (tiny, 0), tiny);
}
