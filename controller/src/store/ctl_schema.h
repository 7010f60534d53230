//  ctl_schema - the store's schema, one list of migrations per backend
//  SPDX-License-Identifier: MPL-2.0
//
//  Migration i brings a database from schema version i to i + 1, in its
//  own transaction. Migrations are appended, never edited: a newer
//  controller must open every older state.db (tests/fixtures/
//  controller-v1.sql). Each has a name that says what it does.

#ifndef CTL_SCHEMA_H_INCLUDED
#define CTL_SCHEMA_H_INCLUDED

typedef struct {
    const char *name;  //  what it does, e.g. "plans_seq"
    const char *sql;   //  the script
} ctl_migration_t;

#define CTL_SCHEMA_SQLITE_MAX 64

//  SQLite's migrations, ended by an entry with sql NULL.
extern const ctl_migration_t ctl_schema_sqlite[];

#define CTL_SCHEMA_PG_MAX 64

//  PostgreSQL's migrations, the same by name and order, ended likewise.
extern const ctl_migration_t ctl_schema_pg[];

#endif
