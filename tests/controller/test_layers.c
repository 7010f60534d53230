//  test_layers - the controller's floors: no include cycle, no upward
//  include, no SQL outside store/
//  SPDX-License-Identifier: MPL-2.0
//
//  controller/src is built in floors (docs/architecture.md):
//
//      main.c  ->  io/  ->  engine/  ->  store/  ->  common
//
//  A file may include headers of its own floor and of the floors below,
//  never above (store including engine or io, engine including io). A
//  module is a header and its .c (ctl_x.h + ctl_x.c); the
//  graph of modules has no cycle. Only store/ speaks SQL: no file outside
//  it mentions sqlite3, libpq or PGconn.

#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define S_MAX_FILES   512
#define S_MAX_MODULES 256
#define S_REPORT      16384

typedef struct {
    char path[PATH_MAX];  //  relative to the root
    char module[128];     //  basename without extension
    int floor;            //  4 main, 3 io, 2 engine, 1 store
} s_file_t;

typedef struct {
    s_file_t files[S_MAX_FILES];
    size_t count;
    char modules[S_MAX_MODULES][128];
    int module_floor[S_MAX_MODULES];
    bool edges[S_MAX_MODULES][S_MAX_MODULES];
    size_t module_count;
    char report[S_REPORT];
    int problems;
} s_tree_t;

static void s_problem (s_tree_t *tree, const char *format, const char *one, const char *two)
{
    size_t used = strlen (tree->report);
    snprintf (tree->report + used, sizeof tree->report - used, format, one, two);
    used = strlen (tree->report);
    snprintf (tree->report + used, sizeof tree->report - used, "\n");
    tree->problems++;
}

static int s_floor_of (const char *relative)
{
    if (strncmp (relative, "io/", 3) == 0)
        return 3;
    if (strncmp (relative, "engine/", 7) == 0)
        return 2;
    if (strncmp (relative, "store/", 6) == 0)
        return 1;
    return 4;  //  main.c at the top
}

static const char *s_floor_name (int floor)
{
    static const char *const names[] = {"common", "store", "engine", "io", "main"};
    return floor >= 0 && floor <= 4 ? names[floor] : "?";
}

//  Collect the .c and .h files under root/dir.
static void s_walk (s_tree_t *tree, const char *root, const char *dir)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s%s%s", root, *dir ? "/" : "", dir);
    DIR *handle = opendir (path);
    cr_assert_not_null (handle, "cannot read %s", path);
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        if (entry->d_name[0] == '.')
            continue;
        char relative[PATH_MAX];
        snprintf (relative, sizeof relative, "%s%s%s", dir, *dir ? "/" : "", entry->d_name);
        char full[2 * PATH_MAX];
        snprintf (full, sizeof full, "%s/%s", root, relative);
        struct stat info;
        cr_assert_eq (stat (full, &info), 0);
        if (S_ISDIR (info.st_mode)) {
            s_walk (tree, root, relative);
            continue;
        }
        size_t len = strlen (entry->d_name);
        if (len < 3 || entry->d_name[len - 2] != '.' ||
            (entry->d_name[len - 1] != 'c' && entry->d_name[len - 1] != 'h'))
            continue;
        cr_assert_lt (tree->count, S_MAX_FILES);
        s_file_t *file = &tree->files[tree->count++];
        snprintf (file->path, sizeof file->path, "%s", relative);
        snprintf (file->module, sizeof file->module, "%.*s", (int)(len - 2), entry->d_name);
        file->floor = s_floor_of (relative);
    }
    closedir (handle);
}

//  Index of a module, added when `add`; -1 if unknown.
static int s_module (s_tree_t *tree, const char *name, int floor, bool add)
{
    for (size_t index = 0; index < tree->module_count; index++)
        if (strcmp (tree->modules[index], name) == 0)
            return (int)index;
    if (!add)
        return -1;
    cr_assert_lt (tree->module_count, S_MAX_MODULES);
    snprintf (tree->modules[tree->module_count], sizeof tree->modules[0], "%s", name);
    tree->module_floor[tree->module_count] = floor;
    return (int)tree->module_count++;
}

//  Depth-first search for a cycle through `node`; `path` holds the
//  current chain. Returns true (and reports it) when one is found.
static bool s_cycle (s_tree_t *tree, int node, int *state, int *path, size_t depth)
{
    state[node] = 1;  //  on the chain
    path[depth] = node;
    for (size_t next = 0; next < tree->module_count; next++) {
        if (!tree->edges[node][next])
            continue;
        if (state[next] == 1) {
            char chain[2048] = "";
            size_t from = 0;
            while (path[from] != (int)next)
                from++;
            for (size_t index = from; index <= depth; index++)
                snprintf (chain + strlen (chain), sizeof chain - strlen (chain), "%s -> ",
                          tree->modules[path[index]]);
            s_problem (tree, "include cycle: %s%s", chain, tree->modules[next]);
            return true;
        }
        if (state[next] == 0 && s_cycle (tree, (int)next, state, path, depth + 1))
            return true;
    }
    state[node] = 2;  //  done, no cycle through it
    return false;
}

//  Check the tree at root (controller/src) against the headers of common
//  (common_include). Returns the number of problems, described in
//  tree->report.
static int s_check (s_tree_t *tree, const char *root, const char *common_include)
{
    memset (tree, 0, sizeof *tree);
    s_walk (tree, root, "");
    for (size_t index = 0; index < tree->count; index++) {
        s_file_t *file = &tree->files[index];
        int known = s_module (tree, file->module, file->floor, false);
        if (known >= 0 && tree->module_floor[known] != file->floor)
            s_problem (tree, "%s: a module of the same name lives on another floor (%s)",
                       file->path, tree->modules[known]);
        s_module (tree, file->module, file->floor, true);
    }
    for (size_t index = 0; index < tree->count; index++) {
        s_file_t *file = &tree->files[index];
        char full[2 * PATH_MAX];
        snprintf (full, sizeof full, "%s/%s", root, file->path);
        char *text = jt_read_file (full);
        cr_assert_not_null (text, "cannot read %s", full);
        if (file->floor != 1 && strstr (text, "sqlite3"))
            s_problem (tree, "%s: speaks SQLite outside store/%s", file->path, "");
        if (file->floor != 1 && (strstr (text, "libpq") || strstr (text, "PGconn")))
            s_problem (tree, "%s: speaks PostgreSQL outside store/%s", file->path, "");
        int from = s_module (tree, file->module, file->floor, false);
        for (char *line = text; line && *line;) {
            char *end = strchr (line, '\n');
            char name[256];
            if (sscanf (line, " # include \"%255[^\"]\"", name) == 1) {
                char module[256];
                snprintf (module, sizeof module, "%s", name);
                char *dot = strrchr (module, '.');
                if (dot)
                    *dot = 0;
                int to = s_module (tree, module, 0, false);
                if (to < 0) {
                    char header[2 * PATH_MAX];
                    snprintf (header, sizeof header, "%s/%s", common_include, name);
                    struct stat info;
                    if (stat (header, &info) != 0)
                        s_problem (tree, "%s: includes %s, found on no floor", file->path, name);
                } else {
                    int floor = tree->module_floor[to];
                    if (floor > file->floor) {
                        char what[512];
                        snprintf (what, sizeof what, "%s (%s)", name, s_floor_name (floor));
                        s_problem (tree, "%s: upward include of %s", file->path, what);
                    }
                    if (to != from)
                        tree->edges[from][to] = true;
                }
            }
            line = end ? end + 1 : NULL;
        }
        free (text);
    }
    int state[S_MAX_MODULES] = {0};
    int path[S_MAX_MODULES];
    for (size_t index = 0; index < tree->module_count; index++)
        if (state[index] == 0 && s_cycle (tree, (int)index, state, path, 0))
            break;
    return tree->problems;
}

static s_tree_t s_tree;
static char *s_dir;

static void setup (void)
{
    s_dir = jt_tempdir ("ctl-layers");
}

static void teardown (void)
{
    jt_rmtree (s_dir);
    free (s_dir);
}

TestSuite (layers, .init = setup, .fini = teardown);

Test (layers, the_controller_has_no_cycle_no_upward_include_and_sql_only_in_store)
{
    int problems =
        s_check (&s_tree, JAD_SOURCE_DIR "/controller/src", JAD_SOURCE_DIR "/common/include");
    cr_assert_eq (problems, 0, "%d problems:\n%s", problems, s_tree.report);
    cr_assert_gt (s_tree.module_count, 20, "the walk found too little (%zu modules)",
                  s_tree.module_count);
}

//  A small tree of files: path, content pairs.
static void s_make_tree (const char *const *files)
{
    for (const char *const *cursor = files; *cursor; cursor += 2) {
        char path[PATH_MAX];
        snprintf (path, sizeof path, "%s/src/%s", s_dir, cursor[0]);
        jt_write_file (path, cursor[1], 0644);
    }
}

Test (layers, a_cycle_between_modules_is_found)
{
    const char *files[] = {"io/ctl_a.h", "#include \"ctl_b.h\"\n",
                           "io/ctl_a.c", "#include \"ctl_a.h\"\n",
                           "io/ctl_b.h", "int b;\n",
                           "io/ctl_b.c", "#include \"ctl_b.h\"\n#include \"ctl_a.h\"\n",
                           "main.c",     "#include \"ctl_a.h\"\n",
                           NULL};
    s_make_tree (files);
    char root[PATH_MAX];
    snprintf (root, sizeof root, "%s/src", s_dir);
    int problems = s_check (&s_tree, root, JAD_SOURCE_DIR "/common/include");
    cr_assert_eq (problems, 1, "%s", s_tree.report);
    cr_assert (strstr (s_tree.report, "include cycle: ctl_a -> ctl_b -> ctl_a") ||
                   strstr (s_tree.report, "include cycle: ctl_b -> ctl_a -> ctl_b"),
               "%s", s_tree.report);
}

Test (layers, an_upward_include_and_sql_outside_store_are_found)
{
    const char *files[] = {"store/ctl_s.h",
                           "#include \"ctl_e.h\"\n#include \"jad_util.h\"\n",
                           "engine/ctl_e.h",
                           "#include \"ctl_i.h\"\n",
                           "io/ctl_i.h",
                           "#include <sqlite3.h>\n",
                           "io/ctl_i.c",
                           "#include \"ctl_nowhere.h\"\n",
                           "io/ctl_j.c",
                           "#include <libpq-fe.h>\n",
                           NULL};
    s_make_tree (files);
    char root[PATH_MAX];
    snprintf (root, sizeof root, "%s/src", s_dir);
    int problems = s_check (&s_tree, root, JAD_SOURCE_DIR "/common/include");
    cr_assert_eq (problems, 5, "%s", s_tree.report);
    cr_assert (strstr (s_tree.report, "store/ctl_s.h: upward include of ctl_e.h (engine)"), "%s",
               s_tree.report);
    cr_assert (strstr (s_tree.report, "engine/ctl_e.h: upward include of ctl_i.h (io)"), "%s",
               s_tree.report);
    cr_assert (strstr (s_tree.report, "io/ctl_i.h: speaks SQLite outside store/"), "%s",
               s_tree.report);
    cr_assert (strstr (s_tree.report, "io/ctl_j.c: speaks PostgreSQL outside store/"), "%s",
               s_tree.report);
    cr_assert (strstr (s_tree.report, "io/ctl_i.c: includes ctl_nowhere.h, found on no floor"),
               "%s", s_tree.report);
}
