//  test_package - the Debian packages: contents, Depends, maintainer
//  scripts, units, and the installed binaries running a fleet
//  SPDX-License-Identifier: MPL-2.0
//
//  The packages are built by the ctest fixture package.build
//  (tests/package/build-packages.sh: a Release build with the documented
//  command) into BUILD/package-build. The tests unpack them with
//  dpkg-deb -x into a temporary root and run the binaries from there.

#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_DEBS JAD_BIN_DIR "/package-build"

static char *s_dir;   //  temp dir of one test
static char *s_root;  //  packages unpacked here

//  Path of the package NAME_*.deb (caller frees); fails the test if absent.
static char *s_deb (const char *name)
{
    char *output = NULL;
    int rc = jt_run (&output, "ls %s/%s_*_*.deb", S_DEBS, name);
    cr_assert_eq (rc, 0, "no package %s in %s (did package.build run?)", name, S_DEBS);
    char *newline = strchr (output, '\n');
    if (newline)
        *newline = 0;
    return output;
}

//  Output of a command that must succeed (caller frees).
static char *s_must (const char *command)
{
    char *output = NULL;
    int rc = jt_run (&output, "%s", command);
    cr_assert_eq (rc, 0, "'%s' failed (%d): %s", command, rc, output ? output : "");
    return output;
}

static void setup (void)
{
    s_dir = jt_tempdir ("jadugar-package");
    s_root = malloc (PATH_MAX);
    cr_assert_not_null (s_root);
    snprintf (s_root, PATH_MAX, "%s/root", s_dir);
    const char *names[] = {"jadugar-controller", "jadugar-agent", "jadctl"};
    for (size_t index = 0; index < 3; index++) {
        char *deb = s_deb (names[index]);
        char command[PATH_MAX * 2];
        snprintf (command, sizeof command, "dpkg-deb -x %s %s", deb, s_root);
        free (s_must (command));
        free (deb);
    }
}

static void teardown (void)
{
    jt_rmtree (s_dir);
    free (s_dir);
    free (s_root);
}

TestSuite (package, .init = setup, .fini = teardown, .timeout = 120);

static void s_expect_files (const char *name, const char *const *paths)
{
    char *deb = s_deb (name);
    char command[PATH_MAX];
    snprintf (command, sizeof command, "dpkg-deb -c %s", deb);
    char *listing = s_must (command);
    for (size_t index = 0; paths[index]; index++)
        cr_expect (strstr (listing, paths[index]) != NULL, "%s lacks %s", name, paths[index]);
    free (listing);
    free (deb);
}

Test (package, each_package_holds_its_files)
{
    const char *controller[] = {" ./usr/bin/jadugar-controller\n",
                                " ./usr/lib/systemd/system/jadugar-controller.service\n",
                                " ./etc/jadugar/controller.env\n",
                                " ./usr/share/man/man8/jadugar-controller.8.gz\n",
                                " ./usr/share/man/man5/controller.yaml.5.gz\n",
                                " ./usr/share/doc/jadugar-controller/examples/controller.yaml\n",
                                NULL};
    const char *agent[] = {" ./usr/bin/jadugar-agent\n",
                           " ./usr/lib/jadugar/jadugar-apply\n",
                           " ./usr/lib/systemd/system/jadugar-agent.service\n",
                           " ./usr/lib/systemd/system/jadugar-agent@.service\n",
                           " ./etc/jadugar/agent.env\n",
                           " ./usr/share/man/man8/jadugar-agent.8.gz\n",
                           " ./usr/share/man/man5/agent.yaml.5.gz\n",
                           " ./usr/share/doc/jadugar-agent/examples/agent.yaml\n",
                           NULL};
    const char *jadctl[] = {" ./usr/bin/jadctl\n",
                            " ./usr/share/man/man1/jadctl.1.gz\n",
                            " ./usr/share/man/man5/jadugar.yaml.5.gz\n",
                            " ./usr/share/bash-completion/completions/jadctl\n",
                            " ./usr/share/doc/jadctl/examples/jadctl.yaml\n",
                            NULL};
    s_expect_files ("jadugar-controller", controller);
    s_expect_files ("jadugar-agent", agent);
    s_expect_files ("jadctl", jadctl);
    //  the controller's binary is not in the agent's package and so on
    char *deb = s_deb ("jadugar-agent");
    char command[PATH_MAX];
    snprintf (command, sizeof command,
              "dpkg-deb -c %s | grep -c 'bin/jadctl\\|bin/jadugar-controller'", deb);
    char *output = NULL;
    jt_run (&output, "%s", command);
    cr_expect_eq (atoi (output ? output : "1"), 0, "the agent package holds other binaries");
    free (output);
    free (deb);
}

static char *s_field (const char *name, const char *field)
{
    char *deb = s_deb (name);
    char command[PATH_MAX];
    snprintf (command, sizeof command, "dpkg-deb -f %s %s", deb, field);
    free (deb);
    return s_must (command);
}

Test (package, depends_name_the_runtime_libraries)
{
    const char *common[] = {"libc6",          "libzmq5",   "libczmq4", "libsodium23",
                            "libprotobuf-c1", "libfyaml0", NULL};
    const char *names[] = {"jadugar-controller", "jadugar-agent", "jadctl"};
    for (size_t index = 0; index < 3; index++) {
        char *depends = s_field (names[index], "Depends");
        for (size_t lib = 0; common[lib]; lib++)
            cr_expect (strstr (depends, common[lib]) != NULL, "%s: Depends lacks %s: %s",
                       names[index], common[lib], depends);
        if (index < 2) {
            //  the daemons keep state in SQLite and create a system user
            cr_expect (strstr (depends, "libsqlite3-0") != NULL, "%s: %s", names[index], depends);
            cr_expect (strstr (depends, "libarchive13") != NULL, "%s: %s", names[index], depends);
            cr_expect (strstr (depends, "adduser") != NULL, "%s: %s", names[index], depends);
        }
        free (depends);
    }
    char *depends = s_field ("jadugar-agent", "Depends");
    cr_expect (strstr (depends, "libcurl4") != NULL, "agent fetches URLs: %s", depends);
    free (depends);
    char *recommends = s_field ("jadugar-controller", "Recommends");
    cr_expect (strstr (recommends, "jadctl") != NULL);
    free (recommends);
}

Test (package, maintainer_scripts_and_conffiles)
{
    const char *names[] = {"jadugar-controller", "jadugar-agent"};
    const char *conffiles[] = {"/etc/jadugar/controller.env\n", "/etc/jadugar/agent.env\n"};
    for (size_t index = 0; index < 2; index++) {
        char *deb = s_deb (names[index]);
        char control[PATH_MAX], command[PATH_MAX * 2];
        snprintf (control, sizeof control, "%s/control-%zu", s_dir, index);
        snprintf (command, sizeof command, "dpkg-deb -e %s %s", deb, control);
        free (s_must (command));
        free (deb);
        //  an edited env file is a conffile: dpkg never overwrites it silently
        snprintf (command, sizeof command, "%s/conffiles", control);
        char *text = jt_read_file (command);
        cr_assert_not_null (text, "%s has no conffiles", names[index]);
        cr_expect_str_eq (text, conffiles[index]);
        free (text);
        const char *scripts[] = {"postinst", "prerm", "postrm"};
        for (size_t script = 0; script < 3; script++) {
            snprintf (command, sizeof command, "%s/%s", control, scripts[script]);
            cr_expect_eq (access (command, X_OK), 0, "%s: %s is not executable", names[index],
                          scripts[script]);
            snprintf (command, sizeof command, "sh -n %s/%s", control, scripts[script]);
            free (s_must (command));
        }
        snprintf (command, sizeof command, "%s/postinst", control);
        text = jt_read_file (command);
        cr_assert_not_null (text);
        cr_expect (strstr (text, "adduser --quiet --system") != NULL);
        cr_expect (strstr (text, "/var/lib/jadugar") != NULL);
        cr_expect (strstr (text, "/etc/jadugar") != NULL);
        free (text);
        //  the agent's scripts stop and restart its instances too
        snprintf (command, sizeof command, "%s/prerm", control);
        text = jt_read_file (command);
        cr_assert_not_null (text);
        cr_expect_eq (strstr (text, "template=\"jadugar-agent@*.service\"") != NULL, index == 1,
                      "%s prerm:\n%s", names[index], text);
        free (text);
    }
}

Test (package, units_pass_systemd_analyze_verify)
{
    //  the template (several agents on one host) is verified as systemd
    //  loads it: instantiated, here as jadugar-agent@i
    const char *units[] = {"jadugar-controller", "jadugar-agent", "jadugar-agent@"};
    for (size_t index = 0; index < 3; index++) {
        char unit[PATH_MAX], copy[PATH_MAX], command[PATH_MAX * 3];
        snprintf (unit, sizeof unit, "%s/usr/lib/systemd/system/%s.service", s_root, units[index]);
        char *text = jt_read_file (unit);
        cr_assert_not_null (text, "no unit %s", unit);
        const char *hardening[] = {"NoNewPrivileges=yes\n",
                                   "ProtectSystem=strict\n",
                                   "ProtectHome=yes\n",
                                   "PrivateTmp=yes\n",
                                   "Restart=on-failure\n",
                                   "ReadWritePaths=/var/lib/jadugar",
                                   NULL};
        for (size_t line = 0; hardening[line]; line++)
            cr_expect (strstr (text, hardening[line]) != NULL, "%s lacks %s", units[index],
                       hardening[line]);
        if (index == 2) {
            //  each instance its own settings and data dir
            cr_expect (strstr (text, "\nEnvironmentFile=-/etc/jadugar/agent@%i.env\n"), "%s", text);
            cr_expect (strstr (text, "\nEnvironment=JADUGAR_DATA=/var/lib/jadugar/agent@%i\n"),
                       "%s", text);
        }
        free (text);
        //  verify checks that ExecStart's binary exists: point it at the
        //  unpacked one (no running systemd is needed for this)
        snprintf (copy, sizeof copy, "%s/%s.service", s_dir, units[index]);
        snprintf (command, sizeof command,
                  "sed 's|/usr/bin/jadugar-|%s/usr/bin/jadugar-|g' %s > %s", s_root, unit, copy);
        free (s_must (command));
        snprintf (command, sizeof command, "systemd-analyze verify --man=no --generators=no %s",
                  copy);
        char *output = NULL;
        int rc = jt_run (&output, "%s", command);
        cr_expect_eq (rc, 0, "%s: %s", units[index], output);
        cr_expect_str_eq (output ? output : "", "", "verify complained about %s", units[index]);
        free (output);
    }
}

Test (package, verify_catches_a_broken_unit)
{
    //  the check above can fail: a unit with a typo and a missing binary
    char unit[PATH_MAX];
    snprintf (unit, sizeof unit, "%s/broken.service", s_dir);
    jt_write_file (
        unit, "[Service]\nExecStart=/nonexistent/jadugar-agent run\nNoNewPrivilege=yes\n", 0644);
    char *output = NULL;
    int rc = jt_run (&output, "systemd-analyze verify --man=no --generators=no %s", unit);
    cr_expect_neq (rc, 0, "%s", output);
    cr_expect (strstr (output, "not executable") != NULL, "%s", output);
    free (output);
}

typedef struct {
    const char *config;
    const char *needle;
} s_status_wait_t;

static bool s_status_has (void *arg)
{
    s_status_wait_t *wait = (s_status_wait_t *)arg;
    char *output = NULL;
    jt_run (&output, "%s/usr/bin/jadctl --config %s --json status", s_root, wait->config);
    bool found = output && strstr (output, wait->needle);
    free (output);
    return found;
}

Test (package, installed_binaries_run_a_fleet, .timeout = 90)
{
    int port = jt_free_port_base (4);
    char command[PATH_MAX * 3], data[PATH_MAX], agent_data[PATH_MAX], log[PATH_MAX];
    char binary[PATH_MAX], agent_binary[PATH_MAX];
    snprintf (binary, sizeof binary, "%s/usr/bin/jadugar-controller", s_root);
    snprintf (agent_binary, sizeof agent_binary, "%s/usr/bin/jadugar-agent", s_root);
    snprintf (data, sizeof data, "%s/controller", s_dir);
    snprintf (agent_data, sizeof agent_data, "%s/agent", s_dir);

    snprintf (command, sizeof command, "%s init --data %s --port %d", binary, data, port);
    char *init = s_must (command);
    char curve[64] = "", signing[80] = "", token[64] = "";
    const char *line = strstr (init, "curve-key: ");
    cr_assert_not_null (line);
    sscanf (line, "curve-key: %40s", curve);
    line = strstr (init, "signing-key: ");
    cr_assert_not_null (line);
    sscanf (line, "signing-key: %64s", signing);
    line = strstr (init, "enroll-token: ");
    cr_assert_not_null (line);
    sscanf (line, "enroll-token: %32s", token);
    free (init);
    snprintf (command, sizeof command, "%s check --data %s", binary, data);
    char *check = s_must (command);
    cr_expect_str_eq (check, "ok\n");
    free (check);

    snprintf (command, sizeof command,
              "%s init --data %s --controller 127.0.0.1:%d --controller-key '%s' "
              "--signing-key %s --env staging --name packaged-1 --token %s --root %s/srv "
              "--hook-user nobody",
              agent_binary, agent_data, port, curve, signing, token, s_dir);
    free (s_must (command));
    snprintf (command, sizeof command, "%s check --data %s", agent_binary, agent_data);
    check = s_must (command);
    cr_expect_str_eq (check, "ok\n");
    free (check);

    snprintf (log, sizeof log, "%s/controller.log", s_dir);
    char *controller_argv[] = {binary, "run", "--data", data, NULL};
    pid_t controller = jt_spawn (log, controller_argv);
    snprintf (log, sizeof log, "%s/agent.log", s_dir);
    char *agent_argv[] = {agent_binary, "run", "--data", agent_data, NULL};
    pid_t agent = jt_spawn (log, agent_argv);

    char config[PATH_MAX + 32];
    snprintf (config, sizeof config, "%s/admin.jadctl.yaml", data);
    s_status_wait_t wait = {config, "\"state\": \"online\""};
    bool online = jt_wait_for (s_status_has, &wait, 30000);
    char *status = NULL;
    jt_run (&status, "%s/usr/bin/jadctl --config %s status", s_root, config);
    cr_expect (online, "packaged-1 never came online: %s", status);
    cr_expect (status && strstr (status, "packaged-1") != NULL, "%s", status);
    free (status);

    //  a deploy runs the packaged apply helper, ../lib/jadugar/jadugar-apply
    const char *files[] = {"jadugar.yaml", "hooks: {}\n", NULL};
    char *archive = jt_make_release (s_dir, "web-1.0", files);
    char *output = NULL;
    int rc = jt_run (&output, "%s/usr/bin/jadctl --config %s release add web 1.0 %s 2>&1", s_root,
                     config, archive);
    cr_expect_eq (rc, 0, "release add: %s", output);
    free (output);
    output = NULL;
    rc = jt_run (&output, "%s/usr/bin/jadctl --config %s deploy web 1.0 --env staging --wait 2>&1",
                 s_root, config);
    cr_expect_eq (rc, 0, "deploy through the packaged agent: %s", output);
    free (output);
    free (archive);
    char current[PATH_MAX], target[64] = "";
    snprintf (current, sizeof current, "%s/srv/web/current", s_dir);
    ssize_t size = readlink (current, target, sizeof target - 1);
    target[size > 0 ? size : 0] = 0;
    cr_expect_str_eq (target, "releases/1.0");

    cr_expect_eq (jt_stop (agent), 0, "the packaged agent did not stop cleanly");
    cr_expect_eq (jt_stop (controller), 0, "the packaged controller did not stop cleanly");
}

Test (package, man_pages_render)
{
    const char *pages[] = {"man1/jadctl.1.gz",
                           "man5/jadugar.yaml.5.gz",
                           "man5/controller.yaml.5.gz",
                           "man5/agent.yaml.5.gz",
                           "man8/jadugar-controller.8.gz",
                           "man8/jadugar-agent.8.gz",
                           NULL};
    for (size_t index = 0; pages[index]; index++) {
        char *output = NULL;
        //  groff's warnings go to stderr; the page itself is thrown away
        int rc =
            jt_run (&output, "MANWIDTH=80 man --warnings -l %s/usr/share/man/%s 2>&1 >/dev/null",
                    s_root, pages[index]);
        cr_expect_eq (rc, 0, "%s: %s", pages[index], output);
        cr_expect_str_eq (output ? output : "", "", "%s has roff problems", pages[index]);
        free (output);
    }
}
