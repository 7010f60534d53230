//  test_util - small helpers of jad_util: bounded bodies, descriptors
//  SPDX-License-Identifier: MPL-2.0

#include "jad_util.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

Test (util, body_collects_up_to_its_bound)
{
    jad_body_t body = {.max = 10};
    cr_assert_eq (jad_body_append (&body, "hello", 5), 5);
    cr_assert_eq (jad_body_append (&body, " you", 4), 4);
    cr_assert_str_eq (body.data, "hello you");
    cr_assert_eq (body.size, 9);
    cr_assert_not (body.too_large);
    //  one byte more fits exactly, the next does not and changes nothing
    cr_assert_eq (jad_body_append (&body, "!", 1), 1);
    cr_assert_eq (jad_body_append (&body, "?", 1), 0);
    cr_assert (body.too_large);
    cr_assert_str_eq (body.data, "hello you!");
    cr_assert_eq (body.size, 10);
    free (body.data);
}

Test (util, body_refuses_a_length_that_would_wrap)
{
    jad_body_t body = {.max = 16};
    cr_assert_eq (jad_body_append (&body, "abc", 3), 3);
    cr_assert_eq (jad_body_append (&body, "x", SIZE_MAX), 0);
    cr_assert (body.too_large);
    cr_assert_eq (body.size, 3);
    free (body.data);
}

Test (util, fd_above_moves_low_descriptors_only)
{
    int pair[2];
    cr_assert_eq (pipe (pair), 0);
    int high = jad_fd_above (pair[0], 3);
    cr_assert_eq (high, pair[0], "a descriptor above the bound stays");
    //  free descriptor 0, so that the next one opened is low
    int saved = dup (0);
    cr_assert_geq (saved, 0);
    close (0);
    int low = dup (pair[1]);
    cr_assert_eq (low, 0);
    int moved = jad_fd_above (low, 3);
    cr_assert_geq (moved, 3, "moved to %d", moved);
    cr_assert_eq (fcntl (0, F_GETFD), -1, "the low descriptor is closed");
    cr_assert (fcntl (moved, F_GETFD) & FD_CLOEXEC);
    cr_assert_eq (write (moved, "x", 1), 1);
    char byte = 0;
    cr_assert_eq (read (pair[0], &byte, 1), 1);
    cr_assert_eq (byte, 'x');
    cr_assert_eq (jad_fd_above (-1, 3), -1);
    cr_assert_eq (dup2 (saved, 0), 0);
    close (saved);
    close (moved);
    close (pair[0]);
    close (pair[1]);
}
