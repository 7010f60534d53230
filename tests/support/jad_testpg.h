//  jad_testpg - a real PostgreSQL 15 for the tests, and the store under test
//  SPDX-License-Identifier: MPL-2.0
//
//  A test binary that runs on PostgreSQL starts its own server once, before
//  its tests (JT_PG_SERVER () in the file: Criterion's PRE_ALL hook, in
//  the runner process, or JADUGAR_TEST_STORE=postgresql; the tests, which Criterion runs as new processes,
//  find it through JADUGAR_TEST_PG_PORT in their environment, and so does
//  a program a test starts; a runner that finds it set uses that server): initdb in
//  a temporary directory as the `postgres` user (the current user when not
//  root), postgres on a free port from the test port locks, listening on
//  127.0.0.1 only, trust authentication. Each test takes a database of its
//  own and drops it. The server is stopped by its pid at the end, and dies
//  with the runner if the runner dies first (parent-death signal).
//  JADUGAR_PG_BIN names the directory of initdb and postgres (default
//  /usr/lib/postgresql/15/bin).

#ifndef JAD_TESTPG_H_INCLUDED
#define JAD_TESTPG_H_INCLUDED

#include <stdbool.h>

//  Start the server; it is stopped when this process exits (not when a
//  forked child does). Returns 0, or -1 with the reason printed to
//  stderr. Safe to call again (it is started once).
int jt_pg_start (void);
//  Stop the server (fast shutdown, by pid) and remove its directory.
void jt_pg_stop (void);
//  A new empty database on the server: its URL (postgresql://...), which
//  the caller frees. NULL if the server is not running or on error.
char *jt_pg_database (void);
//  Drop the database of `url` (made by jt_pg_database), sessions and all.
void jt_pg_drop (const char *url);

//  The file's tests need the server: it is started before them (in
//  Criterion's PRE_ALL hook, jad_testpg.c) and stopped when the runner
//  exits. Without it the server is started only when JADUGAR_TEST_STORE
//  is postgresql (test fleets on PostgreSQL, jad_testlib.h).
#define JT_PG_SERVER() const bool jt_pg_wanted = true;

extern const bool jt_pg_wanted __attribute__ ((weak));

//  True if JADUGAR_TEST_STORE=postgresql: test fleets keep their
//  controller's state in a database of the test server.
bool jt_pg_fleets (void);

//  Where a test's store is: a SQLite file in a temp dir, or a database of
//  the test PostgreSQL.
typedef struct {
    bool pg;       //  PostgreSQL
    char *dir;     //  a temp dir of the test (both kinds have one)
    char *target;  //  what ctl_store_open takes
} jt_store_target_t;

//  A fresh, empty store target. Aborts the test on error.
void jt_store_target_new (jt_store_target_t *self, bool pg, const char *prefix);
//  Drop the database or remove the file, free the strings.
void jt_store_target_free (jt_store_target_t *self);

//  One test body, two tests: suite.name on SQLite and suite_pg.name on
//  PostgreSQL (the two suites' fixtures choose the target). Use it as
//  Test: JT_STORE_TEST (suite, name) { ... }
#define JT_STORE_TEST(suite, name, ...)                                                            \
    static void suite##_##name##_body (void);                                                      \
    Test (suite, name, ##__VA_ARGS__)                                                              \
    {                                                                                              \
        suite##_##name##_body ();                                                                  \
    }                                                                                              \
    Test (suite##_pg, name, ##__VA_ARGS__)                                                         \
    {                                                                                              \
        suite##_##name##_body ();                                                                  \
    }                                                                                              \
    static void suite##_##name##_body (void)

#endif
