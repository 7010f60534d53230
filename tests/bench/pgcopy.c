//  pgcopy - the COPY floor of metrics ingestion on PostgreSQL
//  SPDX-License-Identifier: MPL-2.0
//
//  Writes ROWS metric samples into TABLE (the layout of the controller's
//  `samples`: tests/bench/failover.sh creates it LIKE samples INCLUDING
//  ALL, so with its identity key and its (metric, ts) index, partitioned
//  by day as samples is) with COPY, in
//  batches of the shape jadsim sends: BATCH samples over 20 series of one
//  host, the hosts taken in turn, each batch one COPY statement in its own
//  transaction (a batch is acknowledged once it is committed). One
//  connection, as the controller has one. Prints
//    copy rows=R batches=B ms=T rate=SAMPLES_PER_S
//  Exit 0, 1 on a database error (printed), 2 on bad arguments.

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_SERIES 20
#define S_ROW    96  //  one text row at most: 4 numbers

static int64_t s_wall_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static int64_t s_mono_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void s_usage (void)
{
    fprintf (stderr, "usage: pgcopy --conninfo CONNINFO --table TABLE --rows N [--batch N] "
                     "[--hosts N]\n");
}

//  One batch: COPY of `rows` rows of host `host`. 0 or -1 (printed).
static int s_batch (PGconn *pg, const char *copy, char *buf, size_t size, long host, long rows)
{
    int64_t now = s_wall_ms ();
    size_t used = 0;
    for (long sample = 0; sample < rows; sample++) {
        //  as jadsim's batches: 20 series, times a few ms apart, small values
        int wrote = snprintf (
            buf + used, size - used, "%ld\t%ld\t%lld\t%.17g\n", sample % S_SERIES + 1, host,
            (long long)(now - (rows - sample) / S_SERIES), (double)(sample % 97) / 7.0);
        if (wrote < 0 || (size_t)wrote >= size - used) {
            fprintf (stderr, "pgcopy: a batch does not fit its buffer\n");
            return -1;
        }
        used += (size_t)wrote;
    }
    PGresult *result = PQexec (pg, copy);
    bool ok = PQresultStatus (result) == PGRES_COPY_IN;
    PQclear (result);
    if (!ok) {
        fprintf (stderr, "pgcopy: %s: %s", copy, PQerrorMessage (pg));
        return -1;
    }
    if (PQputCopyData (pg, buf, (int)used) != 1 || PQputCopyEnd (pg, NULL) != 1) {
        fprintf (stderr, "pgcopy: sending the rows: %s", PQerrorMessage (pg));
        return -1;
    }
    ok = true;
    while ((result = PQgetResult (pg))) {
        if (PQresultStatus (result) != PGRES_COMMAND_OK) {
            fprintf (stderr, "pgcopy: COPY: %s", PQresultErrorMessage (result));
            ok = false;
        }
        PQclear (result);
    }
    return ok ? 0 : -1;
}

int main (int argc, char **argv)
{
    const char *conninfo = NULL, *table = NULL;
    long rows = 0, batch = 1000, hosts = 50;
    for (int index = 1; index + 1 < argc; index += 2) {
        const char *name = argv[index], *value = argv[index + 1];
        if (strcmp (name, "--conninfo") == 0)
            conninfo = value;
        else if (strcmp (name, "--table") == 0)
            table = value;
        else if (strcmp (name, "--rows") == 0)
            rows = strtol (value, NULL, 10);
        else if (strcmp (name, "--batch") == 0)
            batch = strtol (value, NULL, 10);
        else if (strcmp (name, "--hosts") == 0)
            hosts = strtol (value, NULL, 10);
        else {
            s_usage ();
            return 2;
        }
    }
    if (argc % 2 != 1 || !conninfo || !table || rows <= 0 || batch <= 0 || batch > 100000 ||
        hosts <= 0 || strspn (table, "abcdefghijklmnopqrstuvwxyz_") != strlen (table)) {
        s_usage ();
        return 2;
    }
    char copy[128];
    snprintf (copy, sizeof copy, "COPY %s (metric, host, ts, value) FROM STDIN", table);
    size_t size = (size_t)batch * S_ROW;
    char *buf = malloc (size);
    PGconn *pg = PQconnectdb (conninfo);
    if (!buf || PQstatus (pg) != CONNECTION_OK) {
        fprintf (stderr, "pgcopy: cannot connect: %s", PQerrorMessage (pg));
        PQfinish (pg);
        free (buf);
        return 1;
    }
    int64_t start = s_mono_ms ();
    long done = 0, batches = 0;
    int rc = 0;
    while (done < rows && rc == 0) {
        long take = rows - done < batch ? rows - done : batch;
        rc = s_batch (pg, copy, buf, size, batches % hosts + 1, take);
        done += take;
        batches++;
    }
    int64_t took = s_mono_ms () - start;
    PQfinish (pg);
    free (buf);
    if (rc)
        return 1;
    printf ("copy rows=%ld batches=%ld ms=%lld rate=%.0f\n", done, batches, (long long)took,
            took > 0 ? (double)done * 1000.0 / (double)took : 0.0);
    return 0;
}
