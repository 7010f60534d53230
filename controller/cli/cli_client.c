//  cli_client - jadctl's connection to the controller's operator API
//  SPDX-License-Identifier: MPL-2.0
//
//  The client file comes from --config, then $JADUGAR_CONFIG, then
//  ~/.config/jadugar/jadctl.yaml. The socket is a CURVE DEALER; a socket
//  monitor tells a refused key apart from a controller that is down.
//
//  ZeroMQ retries a refused connection quietly for ever, so a controller
//  that is not running would cost the whole --timeout. Before the first
//  request a plain non-blocking TCP connect() to the same address tells
//  "refused" (exit 3 at once, naming the endpoint) from "silent" (exit 3
//  after --timeout) and from "there" (then ZeroMQ takes over).

#include "cli.h"
#include "jad_config.h"
#include "jad_keys.h"
#include "jad_util.h"

#include <czmq.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

//  Failed handshakes in a row (not refused by the controller) that end a
//  request: libzmq tries again every 200-400 ms.
#define S_HANDSHAKE_TRIES 3

//  cli_request_again's pause between tries.
#define S_AGAIN_MS 1000

typedef struct {
    zsock_t *dealer;
    zactor_t *monitor;
    char *endpoint;  //  HOST:PORT for messages
    uint64_t next_id;
} s_client_t;

static char *s_config_path (cli_t *cli)
{
    if (cli->config_path)
        return strdup (cli->config_path);
    const char *env = getenv ("JADUGAR_CONFIG");
    if (env && *env)
        return strdup (env);
    const char *home = getenv ("HOME");
    return jad_strdup_printf ("%s/.config/jadugar/jadctl.yaml", home ? home : "");
}

static void s_client_destroy (s_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_client_t *self = *self_p;
    zactor_destroy (&self->monitor);
    zsock_destroy (&self->dealer);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

//  Wait up to ms for a non-blocking connect on fd. Returns 0 when it
//  connected, else an errno (ETIMEDOUT when nothing answered).
static int s_connect_wait (int fd, int ms)
{
    struct pollfd item = {.fd = fd, .events = POLLOUT};
    int64_t deadline = jad_mono_ms () + ms;
    while (true) {
        int64_t left = deadline - jad_mono_ms ();
        int ready = poll (&item, 1, left > 0 ? (int)left : 0);
        if (ready > 0)
            break;
        if (ready == 0)
            return ETIMEDOUT;
        if (errno != EINTR)
            return errno;
    }
    int error = 0;
    socklen_t len = sizeof error;
    if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0)
        return errno;
    return error;
}

//  Can a TCP connection to endpoint (HOST:PORT, HOST may be [v6]) be
//  made within ms? Returns 0, or prints why not naming the endpoint and
//  returns CLI_UNREACHABLE (CLI_USAGE if endpoint is not HOST:PORT).
static int s_probe_one (const char *endpoint, const char *config_path, int ms, bool report)
{
    const char *colon = strrchr (endpoint, ':');
    char host[256];
    if (!colon || colon == endpoint || (size_t)(colon - endpoint) >= sizeof host || !colon[1])
        return !report ? CLI_USAGE
                       : cli_error (CLI_USAGE, "controller address '%s' in %s is not HOST:PORT",
                                    endpoint, config_path);
    snprintf (host, sizeof host, "%.*s", (int)(colon - endpoint), endpoint);
    if (host[0] == '[' && host[strlen (host) - 1] == ']') {
        memmove (host, host + 1, strlen (host));
        host[strlen (host) - 1] = 0;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *addresses = NULL;
    int rc = getaddrinfo (host, colon + 1, &hints, &addresses);
    if (rc != 0)
        return !report ? CLI_UNREACHABLE
                       : cli_error (CLI_UNREACHABLE,
                                    "cannot reach the controller at %s: %s (controller: in %s)",
                                    endpoint, gai_strerror (rc), config_path);
    int error = ECONNREFUSED;
    int64_t deadline = jad_mono_ms () + ms;
    for (struct addrinfo *address = addresses; address; address = address->ai_next) {
        int fd = socket (address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                         address->ai_protocol);
        if (fd < 0) {
            error = errno;
            continue;
        }
        int64_t left = deadline - jad_mono_ms ();
        if (connect (fd, address->ai_addr, address->ai_addrlen) == 0)
            error = 0;
        else if (errno == EINPROGRESS)
            error = s_connect_wait (fd, left > 0 ? (int)left : 0);
        else
            error = errno;
        close (fd);
        if (error == 0 || error == ETIMEDOUT)
            break;  //  there, or silent: the next address would wait again
    }
    freeaddrinfo (addresses);
    if (error == 0)
        return CLI_OK;
    char took[32];
    if (error == ETIMEDOUT)
        return !report
                   ? CLI_UNREACHABLE
                   : cli_error (CLI_UNREACHABLE,
                                "no answer from the controller at %s within %s (--timeout); is the "
                                "address in %s right, and no firewall in the way?",
                                endpoint, jad_duration_format ((uint64_t)ms, took, sizeof took),
                                config_path);
    return !report ? CLI_UNREACHABLE
                   : cli_error (
                         CLI_UNREACHABLE,
                         "cannot reach the controller at %s: %s (is it running? controller: in %s)",
                         endpoint, strerror (error), config_path);
}

//  The first controller of the list (`controller:`, jad_endpoint_next) a
//  TCP connection reaches, in order: a refused connection (a standby binds
//  nothing) moves on at once. Its endpoint goes into out. Returns 0, or as
//  s_probe_one for the last one tried (only that one's reason printed).
static int s_probe (const char *list, const char *config_path, int ms, char *out, size_t len)
{
    const char *cursor = list;
    char endpoint[300], next[300];
    if (!jad_endpoint_next (&cursor, endpoint, sizeof endpoint))
        return cli_error (CLI_USAGE, "controller address '%s' in %s is not HOST:PORT", list,
                          config_path);
    while (true) {
        const char *after = cursor;
        bool last = !jad_endpoint_next (&after, next, sizeof next);
        //  only the last one's failure is the answer
        int code = s_probe_one (endpoint, config_path, ms, last);
        if (code == CLI_OK || last) {
            snprintf (out, len, "%s", endpoint);
            return code;
        }
        snprintf (endpoint, sizeof endpoint, "%s", next);
        cursor = after;
    }
}

//  Connect per the client file. Returns the client or NULL (error printed,
//  *code set).
jad_keypair_t *cli_signing_key (cli_t *cli)
{
    char *path = s_config_path (cli);
    jad_problems_t *problems = jad_problems_new ();
    jad_client_config_t *config = path ? jad_client_config_load (path, problems) : NULL;
    jad_keypair_t *key = NULL;
    char *key_path = config ? jad_strdup_printf ("%s.signing", config->key) : NULL;
    char err[512] = "out of memory";
    if (!config)
        cli_error (CLI_USAGE, "cannot use the client file %s: %s", path ? path : "?",
                   jad_problems_get (problems, 0) ? jad_problems_get (problems, 0) : "?");
    else if (!key_path || !(key = jad_keypair_load (key_path, err, sizeof err)))
        cli_error (CLI_USAGE, "signing key: %s (jadctl keygen writes it beside the operator key)",
                   err);
    else if (jad_keypair_kind (key) != JAD_KEY_ED25519) {
        cli_error (CLI_USAGE, "signing key: %s is not an Ed25519 key file", key_path);
        jad_keypair_destroy (&key);
    }
    free (key_path);
    jad_client_config_destroy (&config);
    jad_problems_destroy (&problems);
    free (path);
    return key;
}

static s_client_t *s_client_new (cli_t *cli, int *code)
{
    char *path = s_config_path (cli);
    jad_problems_t *problems = jad_problems_new ();
    jad_client_config_t *config = path ? jad_client_config_load (path, problems) : NULL;
    jad_keypair_t *key = NULL;
    s_client_t *self = NULL;
    *code = CLI_USAGE;
    if (!config) {
        fprintf (stderr, "jadctl: cannot use the client file %s:\n", path ? path : "?");
        for (size_t index = 0; index < jad_problems_count (problems); index++)
            fprintf (stderr, "  %s\n", jad_problems_get (problems, index));
        fprintf (stderr, "  (give one with --config FILE or JADUGAR_CONFIG=FILE)\n");
        goto done;
    }
    char err[512];
    key = jad_keypair_load (config->key, err, sizeof err);
    if (!key || jad_keypair_kind (key) != JAD_KEY_CURVE) {
        cli_error (CLI_USAGE, "operator key: %s", key ? "not a CURVE key file" : err);
        goto done;
    }
    char endpoint[300];
    *code = s_probe (config->controller, path, (int)cli->timeout_ms, endpoint, sizeof endpoint);
    if (*code != CLI_OK)
        goto done;
    *code = CLI_USAGE;
    self = calloc (1, sizeof *self);
    if (!self)
        goto done;
    self->endpoint = strdup (endpoint);
    self->next_id = (uint64_t)jad_now_ms ();
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->dealer) {
        s_client_destroy (&self);
        goto done;
    }
    char *secret = jad_keypair_curve_secret_z85 (key);
    zsock_set_curve_serverkey (self->dealer, config->controller_key);
    zsock_set_curve_publickey (self->dealer, jad_keypair_public_txt (key));
    zsock_set_curve_secretkey (self->dealer, secret);
    jad_secret_free (&secret);
    zsock_set_linger (self->dealer, 0);
    zsock_set_maxmsgsize (self->dealer, JAD_MAX_API_MSG);
    zsock_set_reconnect_ivl (self->dealer, 200);
    //  Watch the handshake: a refused key fails it at once.
    self->monitor = zactor_new (zmonitor, self->dealer);
    if (self->monitor) {
        zstr_sendx (self->monitor, "LISTEN", "HANDSHAKE_FAILED_AUTH", "HANDSHAKE_FAILED_NO_DETAIL",
                    "HANDSHAKE_FAILED_PROTOCOL", "HANDSHAKE_SUCCEEDED", NULL);
        zstr_send (self->monitor, "START");
        zsock_wait (self->monitor);
    }
    if (zsock_connect (self->dealer, "tcp://%s", endpoint) != 0) {
        cli_error (CLI_USAGE, "controller address '%s' is not HOST:PORT", endpoint);
        s_client_destroy (&self);
        goto done;
    }
    *code = CLI_OK;

done:
    jad_keypair_destroy (&key);
    jad_client_config_destroy (&config);
    jad_problems_destroy (&problems);
    free (path);
    return self;
}

void cli_disconnect (cli_t *cli)
{
    s_client_destroy ((s_client_t **)&cli->client);
}

const char *cli_endpoint (cli_t *cli)
{
    s_client_t *client = cli->client;
    return client ? client->endpoint : NULL;
}

int cli_request (cli_t *cli, const char *command, const char *const *args, const uint8_t *blob,
                 size_t blob_size, json_t **result)
{
    if (result)
        *result = NULL;
    if (!cli->client) {
        int code;
        cli->client = s_client_new (cli, &code);
        if (!cli->client)
            return code;
    }
    s_client_t *client = cli->client;
    jad_arg_t pairs[32];
    size_t count = 0;
    for (const char *const *cursor = args; cursor && cursor[0] && count < 32; cursor += 2)
        if (cursor[1])
            pairs[count++] = (jad_arg_t){.key = (char *)cursor[0], .value = (char *)cursor[1]};
    jad_api_request_t request = {.request_id = ++client->next_id,
                                 .command = (char *)command,
                                 .args = pairs,
                                 .arg_count = count,
                                 .blob = (uint8_t *)blob,
                                 .blob_size = blob_size};
    zchunk_t *wire = jad_api_request_encode (&request);
    if (!wire)
        return cli_error (CLI_USAGE, "cannot encode the request (a value is too long or not text)");
    zframe_t *frame = zframe_new (zchunk_data (wire), zchunk_size (wire));
    zchunk_destroy (&wire);
    if (zframe_send (&frame, client->dealer, 0) != 0) {
        zframe_destroy (&frame);
        return cli_error (CLI_UNREACHABLE, "cannot send to the controller at %s", client->endpoint);
    }
    int timeout = (int)cli->timeout_ms;
    char took[32];
    jad_duration_format ((uint64_t)timeout, took, sizeof took);
    zpoller_t *poller = zpoller_new (client->dealer, NULL);
    if (client->monitor)
        zpoller_add (poller, client->monitor);
    int64_t deadline = jad_mono_ms () + timeout;
    int status = CLI_UNREACHABLE;
    int failed_handshakes = 0;
    while (true) {
        int64_t left = deadline - jad_mono_ms ();
        if (left <= 0) {
            cli_error (CLI_UNREACHABLE,
                       "no answer from the controller at %s within %s (--timeout; is it "
                       "running and is %s its API port, BASE+2?)",
                       client->endpoint, took, client->endpoint);
            break;
        }
        void *which = zpoller_wait (poller, (int)left);
        if (which && which == client->monitor) {
            //  The controller's ZAP handler said no: the key is refused.
            //  Any other failed handshake may be a connection cut while
            //  the controller stopped or started (libzmq connects again),
            //  but one that keeps failing is a wrong controller-key: the
            //  controller cannot read our hello and hangs up.
            zmsg_t *event = zmsg_recv (client->monitor);
            char *name = event ? zmsg_popstr (event) : NULL;
            bool refused = name && streq (name, "HANDSHAKE_FAILED_AUTH");
            if (name && streq (name, "HANDSHAKE_SUCCEEDED"))
                failed_handshakes = 0;
            else if (refused) {
                cli->refused = true;
                cli_error (CLI_UNREACHABLE,
                           "the controller at %s refused this operator key (%s); is the key "
                           "registered (jadctl operator list) and not expired?",
                           client->endpoint, name);
            } else if (++failed_handshakes >= S_HANDSHAKE_TRIES)
                cli_error (CLI_UNREACHABLE,
                           "the handshake with the controller at %s failed %d times in a row "
                           "(%s); is controller-key in the client file this controller's key?",
                           client->endpoint, failed_handshakes, name ? name : "no event name");
            zstr_free (&name);
            zmsg_destroy (&event);
            if (refused || failed_handshakes >= S_HANDSHAKE_TRIES)
                break;
            continue;
        }
        if (which != client->dealer) {
            if (zpoller_terminated (poller))
                break;
            continue;
        }
        zframe_t *reply = zframe_recv (client->dealer);
        if (!reply)
            continue;
        char err[JAD_ERR_LEN] = "";
        jad_api_response_t *response =
            jad_api_response_decode (zframe_data (reply), zframe_size (reply), err);
        zframe_destroy (&reply);
        if (!response) {
            cli_error (CLI_FAILED, "malformed reply from the controller: %s", err);
            status = CLI_FAILED;
            break;
        }
        if (response->request_id != request.request_id) {
            jad_api_response_destroy (&response);
            continue;  //  a late reply to an earlier request
        }
        status = response->status;
        if (response->error && *response->error) {
            //  the refusal may quote what someone typed: escape it
            char *shown = cli_escape (response->error, false);
            cli_error (status, "%s", shown ? shown : "(unprintable error)");
            free (shown);
        }
        if (result && response->json) {
            json_error_t json_err;
            *result = json_loads (response->json, 0, &json_err);
            //  tables show remote text; --json prints it escaped by jansson
            if (*result && !cli->json && cli_escape_json (*result) != 0) {
                json_decref (*result);
                *result = NULL;
                status = cli_error (CLI_FAILED, "out of memory");
            }
        }
        jad_api_response_destroy (&response);
        break;
    }
    zpoller_destroy (&poller);
    return status;
}

int cli_request_again (cli_t *cli, const char *command, const char *const *args, json_t **result)
{
    int64_t deadline = 0;
    while (true) {
        cli_errors_hold ();
        int status = cli_request (cli, command, args, NULL, 0, result);
        bool again =
            status == CLI_UNREACHABLE && !cli->refused && (!deadline || jad_mono_ms () < deadline);
        cli_errors_release (!again);
        if (!again) {
            if (deadline && status != CLI_UNREACHABLE)
                fprintf (stderr, "note: the controller at %s answers again\n",
                         cli_endpoint (cli) ? cli_endpoint (cli) : "?");
            return status;
        }
        if (!deadline) {
            deadline = jad_mono_ms () + CLI_RIDE_OUT_MS;
            char took[32];
            fprintf (stderr,
                     "note: lost the controller%s%s; trying again for up to %s (a restart or "
                     "a failover)\n",
                     cli_endpoint (cli) ? " at " : "", cli_endpoint (cli) ? cli_endpoint (cli) : "",
                     jad_duration_format (CLI_RIDE_OUT_MS, took, sizeof took));
        }
        //  the next try starts from the client file's first controller
        cli_disconnect (cli);
        usleep (S_AGAIN_MS * 1000);
    }
}

int cli_query (cli_t *cli, const char *command, const char *const *args, json_t **result)
{
    json_t *reply = NULL;
    int status = cli_request (cli, command, args, NULL, 0, &reply);
    *result = NULL;
    if (status != CLI_OK || !reply) {
        json_decref (reply);
        return status;
    }
    if (cli->json) {
        cli_print_json (reply);
        json_decref (reply);
        return CLI_OK;
    }
    *result = reply;
    return CLI_OK;
}

void cli_print_json (json_t *value)
{
    //  ASCII only: a C1 control or a bidi override in remote text stays a
    //  \u escape on the operator's terminal too
    char *text =
        json_dumps (value, JSON_INDENT (2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII | JAD_JSON_REAL);
    if (text) {
        printf ("%s\n", text);
        free (text);
    }
}

void cli_print_json_as (const char *key, json_t *value)
{
    json_t *wrapper = json_object ();
    if (wrapper && json_object_set (wrapper, key, value) == 0)
        cli_print_json (wrapper);
    json_decref (wrapper);
}

const char *cli_str (json_t *object, const char *key)
{
    const char *text = json_string_value (json_object_get (object, key));
    return text ? text : "-";
}

int cli_args_parse (cli_t *cli, const char *const *spec, cli_args_t *args)
{
    memset (args, 0, sizeof *args);
    int flags = 0;
    for (; spec && spec[flags] && flags < CLI_MAX_FLAGS; flags++)
        args->names[flags] = spec[flags];
    for (int index = 1; index < cli->argc; index++) {
        const char *word = cli->argv[index];
        if (strncmp (word, "--", 2) != 0 || streq (word, "--")) {
            if (args->positional_count >= CLI_MAX_POSITIONAL)
                return cli_error (CLI_USAGE, "%s: too many arguments ('%s')", cli->argv[0], word);
            args->positional[args->positional_count++] = word;
            continue;
        }
        const char *equals = strchr (word, '=');
        size_t name_len = equals ? (size_t)(equals - word) : strlen (word);
        int found = -1;
        for (int flag = 0; flag < flags; flag++) {
            const char *name = args->names[flag];
            size_t len = strcspn (name, "=");
            if (len == name_len && strncmp (name, word, len) == 0)
                found = flag;
        }
        if (found < 0) {
            char what[64], typed[80], bare[CLI_MAX_FLAGS][32];
            const char *names[CLI_MAX_FLAGS];
            for (int flag = 0; flag < flags; flag++) {
                snprintf (bare[flag], sizeof bare[flag], "%.*s",
                          (int)strcspn (args->names[flag], "="), args->names[flag]);
                names[flag] = bare[flag];
            }
            snprintf (what, sizeof what, "%s: unknown option", cli->argv[0]);
            snprintf (typed, sizeof typed, "%.*s", (int)name_len, word);
            return cli_unknown (CLI_USAGE, what, typed, names, (size_t)flags);
        }
        bool takes_value = strchr (args->names[found], '=') != NULL;
        if (!takes_value) {
            if (equals)
                return cli_error (CLI_USAGE, "%s: option '%.*s' takes no value", cli->argv[0],
                                  (int)name_len, word);
            args->values[found] = "";
        } else if (equals)
            args->values[found] = equals + 1;
        else if (index + 1 < cli->argc)
            args->values[found] = cli->argv[++index];
        else
            return cli_error (CLI_USAGE, "%s: option '%s' needs a value", cli->argv[0], word);
    }
    return CLI_OK;
}

const char *cli_args_get (const cli_args_t *args, const char *name)
{
    size_t len = strlen (name);
    for (int flag = 0; flag < CLI_MAX_FLAGS && args->names[flag]; flag++)
        if (strncmp (args->names[flag], name, len) == 0 &&
            (args->names[flag][len] == 0 || args->names[flag][len] == '='))
            return args->values[flag];
    return NULL;
}

bool cli_args_has (const cli_args_t *args, const char *name)
{
    return cli_args_get (args, name) != NULL;
}
