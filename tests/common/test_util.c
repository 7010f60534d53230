//  test_util - small helpers of jad_util: bounded bodies, descriptors,
//  formatting, text and path checks, writes, the `current` link
//  SPDX-License-Identifier: MPL-2.0

#include "jad_testlib.h"
#include "jad_util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

Test (util, text_copy_ends_a_blob_without_reading_past_it)
{
    //  exactly `size` bytes, no NUL among them: the copy ends there (under
    //  ASan, reading one byte more fails the test)
    uint8_t *blob = malloc (5);
    cr_assert_not_null (blob);
    memcpy (blob, "hello", 5);
    char *text = jad_text_copy (blob, 5);
    cr_assert_str_eq (text, "hello");
    free (text);
    //  a NUL inside: the copy is shorter than the blob, as callers check
    blob[2] = 0;
    text = jad_text_copy (blob, 5);
    cr_assert_eq (strlen (text), 2);
    free (text);
    text = jad_text_copy (blob, 0);
    cr_assert_str_eq (text, "");
    free (text);
    free (blob);
}

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

Test (util, body_write_takes_curl_sized_pieces)
{
    jad_body_t body = {.max = 8};
    cr_assert_eq (jad_body_write ("abcd", 2, 2, &body), 4);
    cr_assert_eq (jad_body_write ("efgh", 1, 4, &body), 4);
    cr_assert_str_eq (body.data, "abcdefgh");
    cr_assert_eq (jad_body_write ("i", 1, 1, &body), 0, "past max aborts the transfer");
    cr_assert (body.too_large);
    //  size * count that would wrap is refused, not truncated
    cr_assert_eq (jad_body_write ("x", SIZE_MAX / 2, 3, &body), 0);
    cr_assert_eq (body.size, 8);
    free (body.data);
    cr_assert_eq (jad_body_discard ("anything", 3, 5, NULL), 15);
}

Test (util, format_says_whether_the_text_fit)
{
    char buf[8];
    cr_assert_eq (jad_format (buf, sizeof buf, "%s-%d", "ab", 12), 0);
    cr_assert_str_eq (buf, "ab-12");
    cr_assert_eq (jad_format (buf, sizeof buf, "%s", "1234567"), 0, "exactly full fits");
    cr_assert_eq (jad_format (buf, sizeof buf, "%s", "12345678"), -1);
    cr_assert_str_eq (buf, "1234567", "the start is kept, terminated");
}

Test (util, seterr_fills_an_optional_buffer)
{
    char err[6] = "xxxxx";
    jad_seterr (err, sizeof err, "bad %s", "input");
    cr_assert_str_eq (err, "bad i", "cut short to fit");
    jad_seterr (NULL, 10, "ignored %d", 1);
    char untouched[4] = "abc";
    jad_seterr (untouched, 0, "ignored");
    cr_assert_str_eq (untouched, "abc");
}

Test (util, str_equal_handles_null)
{
    cr_assert (jad_str_equal (NULL, NULL));
    cr_assert (jad_str_equal ("a", "a"));
    cr_assert_not (jad_str_equal ("a", NULL));
    cr_assert_not (jad_str_equal (NULL, "a"));
    cr_assert_not (jad_str_equal ("a", "ab"));
    cr_assert (jad_str_equal ("", ""));
}

Test (util, text_has_control_finds_c0_and_del)
{
    cr_assert_not (jad_text_has_control (""));
    cr_assert_not (jad_text_has_control ("plain text, caf\xc3\xa9"));
    cr_assert (jad_text_has_control ("tab\there"));
    cr_assert (jad_text_has_control ("line\n"));
    cr_assert (jad_text_has_control ("\x1b[2J"));
    cr_assert (jad_text_has_control ("del\x7f"));
}

Test (util, path_has_dotdot_finds_whole_segments_only)
{
    cr_assert (jad_path_has_dotdot (".."));
    cr_assert (jad_path_has_dotdot ("../x"));
    cr_assert (jad_path_has_dotdot ("a/../b"));
    cr_assert (jad_path_has_dotdot ("a/.."));
    cr_assert (jad_path_has_dotdot ("/.."));
    cr_assert_not (jad_path_has_dotdot (""));
    cr_assert_not (jad_path_has_dotdot ("..x/ok"));
    cr_assert_not (jad_path_has_dotdot ("a/x.."));
    cr_assert_not (jad_path_has_dotdot ("./a/./b"));
    cr_assert_not (jad_path_has_dotdot ("a/.../b"));
}

Test (util, write_all_writes_everything_or_says_why)
{
    int pair[2];
    cr_assert_eq (pipe (pair), 0);
    static char big[200000];
    memset (big, 'z', sizeof big);
    //  more than a pipe holds: read it from a child while writing
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        close (pair[1]);
        size_t total = 0;
        char chunk[4096];
        ssize_t got;
        while ((got = read (pair[0], chunk, sizeof chunk)) > 0)
            total += (size_t)got;
        _exit (total == sizeof big ? 0 : 1);
    }
    close (pair[0]);
    cr_assert_eq (jad_write_all (pair[1], big, sizeof big), 0);
    close (pair[1]);
    int status = 0;
    cr_assert_eq (waitpid (pid, &status, 0), pid);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "the reader got every byte");

    errno = 0;
    cr_assert_eq (jad_write_all (-1, "x", 1), -1);
    cr_assert_eq (errno, EBADF);
}

Test (util, dir_sync_needs_a_directory)
{
    char *dir = jt_tempdir ("jad-util");
    cr_assert_eq (jad_dir_sync (dir), 0);
    char path[4096];
    snprintf (path, sizeof path, "%s/file", dir);
    jt_write_file (path, "x", 0600);
    errno = 0;
    cr_assert_eq (jad_dir_sync (path), -1);
    cr_assert_eq (errno, ENOTDIR);
    snprintf (path, sizeof path, "%s/missing", dir);
    cr_assert_eq (jad_dir_sync (path), -1);
    cr_assert_eq (errno, ENOENT);
    jt_rmtree (dir);
    free (dir);
}

Test (util, current_version_reads_only_releases_links)
{
    char *dir = jt_tempdir ("jad-util");
    char link[4096], version[JAD_NAME_MAX + 1] = "";
    snprintf (link, sizeof link, "%s/current", dir);
    cr_assert_not (jad_current_version (link, version), "no link");
    cr_assert_eq (symlink ("releases/1.2.3", link), 0);
    cr_assert (jad_current_version (link, version));
    cr_assert_str_eq (version, "1.2.3");

    //  a longest valid name fits; anything else is refused
    char longest[JAD_NAME_MAX + 16];
    memset (longest, 0, sizeof longest);
    memcpy (longest, "releases/", 9);
    memset (longest + 9, 'v', JAD_NAME_MAX);
    const char *targets[] = {longest,         "releases/..",           "releases/",
                             "elsewhere/1.0", "/srv/app/releases/1.0", "releases/a/b"};
    for (size_t index = 0; index < sizeof targets / sizeof targets[0]; index++) {
        cr_assert_eq (unlink (link), 0);
        cr_assert_eq (symlink (targets[index], link), 0);
        bool expected = index == 0;
        cr_assert_eq (jad_current_version (link, version), expected, "%s", targets[index]);
    }
    cr_assert_eq (strlen (version), JAD_NAME_MAX);
    longest[9 + JAD_NAME_MAX] = 'v';  //  one byte longer than a name
    cr_assert_eq (unlink (link), 0);
    cr_assert_eq (symlink (longest, link), 0);
    cr_assert_not (jad_current_version (link, version));

    //  a regular file is not a link
    cr_assert_eq (unlink (link), 0);
    jt_write_file (link, "releases/1.0", 0644);
    cr_assert_not (jad_current_version (link, version));
    jt_rmtree (dir);
    free (dir);
}

Test (util, user_exists_asks_this_host)
{
    cr_assert (jad_user_exists ("root"));
    cr_assert_not (jad_user_exists ("no-such-user-x"));
    cr_assert_not (jad_user_exists (""));
    cr_assert_not (jad_user_exists (NULL));
}

Test (util, iso_time_is_utc_and_empty_when_unknown)
{
    char buf[32] = "x";
    cr_assert_str_eq (jad_iso_time (1796724000000LL, buf, sizeof buf), "2026-12-08T10:00:00Z");
    cr_assert_str_eq (jad_iso_time (1796724000999LL, buf, sizeof buf), "2026-12-08T10:00:00Z");
    cr_assert_str_eq (jad_iso_time (0, buf, sizeof buf), "");
    cr_assert_str_eq (jad_iso_time (-5, buf, sizeof buf), "");
    char small[8] = "x";
    cr_assert_str_eq (jad_iso_time (1796724000000LL, small, sizeof small), "",
                      "a buffer too small gets nothing rather than a cut time");
}

Test (util, text_is_never_true_for_a_null)
{
    cr_assert (jad_text_is ("deploy", "deploy"));
    cr_assert_not (jad_text_is ("deploy", "deploys"));
    cr_assert_not (jad_text_is (NULL, "deploy"));
    cr_assert_not (jad_text_is ("deploy", NULL));
    cr_assert_not (jad_text_is (NULL, NULL));
}

Test (util, long_durations_take_whole_days_beyond_24_days)
{
    uint64_t ms = 0;
    cr_assert_eq (jad_long_duration_parse ("90d", &ms), 0);
    cr_assert_eq (ms, 90ull * 86400000);
    cr_assert_eq (jad_long_duration_parse ("3650d", &ms), 0);
    cr_assert_eq (ms, 3650ull * 86400000);
    cr_assert_eq (jad_long_duration_parse ("2h", &ms), 0);
    cr_assert_eq (ms, 7200000);
    cr_assert_eq (jad_long_duration_parse ("1.5d", &ms), 0, "short ones as jad_duration_parse");
    cr_assert_eq (ms, 129600000);
    ms = 7;
    const char *bad[] = {"3651d", "0d", "0", "d", "-1d", "90x", "", "99999999999d", NULL};
    for (int index = 0; bad[index]; index++)
        cr_assert_eq (jad_long_duration_parse (bad[index], &ms), -1, "%s", bad[index]);
    cr_assert_eq (jad_long_duration_parse (NULL, &ms), -1);
    cr_assert_eq (ms, 7, "nothing written on error");
}

Test (util, mkdirs_makes_every_missing_level_and_refuses_a_file_in_the_way)
{
    char *dir = jt_tempdir ("mkdirs");
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/a/b/c", dir);
    cr_assert_eq (jad_mkdirs (path, 0750), 0, "%s", strerror (errno));
    struct stat info;
    cr_assert_eq (stat (path, &info), 0);
    cr_assert (S_ISDIR (info.st_mode));
    cr_assert_eq (info.st_mode & 0777, 0750);
    //  there already: nothing to do, and fine
    cr_assert_eq (jad_mkdirs (path, 0750), 0);
    //  a file where a directory should be, at the end or on the way
    snprintf (path, sizeof path, "%s/a/file", dir);
    jt_write_file (path, "x", 0600);
    errno = 0;
    cr_assert_eq (jad_mkdirs (path, 0750), -1);
    cr_assert_eq (errno, ENOTDIR);
    snprintf (path, sizeof path, "%s/a/file/d", dir);
    errno = 0;
    cr_assert_eq (jad_mkdirs (path, 0750), -1);
    cr_assert_eq (errno, ENOTDIR);
    jt_rmtree (dir);
    free (dir);
}
