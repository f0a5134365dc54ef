/*
 * amqp-load: an AMQP 1.0 load generator that shares no code with Warden, on Debian's Qpid Proton C library
 * (the stack of python-qpid-proton and of the Qpid brokers' clients).
 *
 * Single-threaded: every device is a Proton connection driven by one proactor from one thread, so the loader's
 * own cost is one core at most. Each device connects over TLS, authenticates with SASL PLAIN as IoT Hub's AMQP
 * devices may (`{deviceId}@sas.{hub}`, a SAS token as the password), attaches a sender to its telemetry node
 * (`/devices/{deviceId}/messages/events`) and sends messages unsettled, at most --window unsettled at once and
 * within the link's credit. Warden settles each (`accepted`) once it is committed, as a QoS 1 PUBACK over MQTT:
 * "received" counts those settlements in the measured period, and the latency is from the send to the
 * settlement (the send time travels in the delivery tag). The result is one JSON object on stdout, shaped as
 * mqtt-load's.
 *
 *   amqp-load --port 5671 --cafile ca.pem --credentials creds.txt --clients 20 --window 100 --duration 10
 *
 * --credentials names a file of lines `DEVICE-ID USERNAME SAS-TOKEN` (the file bench/loader.sh writes for
 * mqtt-load; the hub's host is USERNAME's part before its first `/`).
 *
 * Build: gcc -O2 -o amqp-load amqp-load.c -lqpid-proton   (Debian: libqpid-proton11-dev)
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/message.h>
#include <proton/proactor.h>
#include <proton/sasl.h>
#include <proton/session.h>
#include <proton/ssl.h>
#include <proton/terminus.h>
#include <proton/transport.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct device {
    char id[128], user[400], token[1024], address[256];
    pn_connection_t *connection;
    pn_link_t *sender;
    int unsettled;
    int ready;
};

static struct {
    const char *host, *port, *cafile, *credentials;
    int clients, window, size;
    double duration, warmup;
} options = {"localhost", "5671", NULL, NULL, 10, 100, 64, 10, 1};

static struct device *devices;
static pn_message_t *message;
static char *payload;
static pn_rwbytes_t encoded;
static int measuring, finished, failed;
static uint64_t sent, sent_measured, accepted_measured, refused;
static uint32_t *latencies;
static size_t latency_count, latency_capacity;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void record_latency(uint64_t sent_at) {
    uint64_t elapsed = (now_ns() - sent_at) / 1000;
    if (latency_count == latency_capacity) {
        latency_capacity = latency_capacity ? latency_capacity * 2 : 1 << 20;
        latencies = realloc(latencies, latency_capacity * sizeof *latencies);
        if (!latencies) abort();
    }
    latencies[latency_count++] = elapsed > UINT32_MAX ? UINT32_MAX : (uint32_t)elapsed;
}

/* Sends while the window and the link's credit allow; the tag is the send time. */
static void send_some(struct device *device) {
    while (!finished && device->ready && device->unsettled < options.window && pn_link_credit(device->sender) > 0) {
        uint64_t at = now_ns();
        pn_delivery(device->sender, pn_dtag((const char *)&at, sizeof at));
        if (pn_message_send(message, device->sender, &encoded) < 0) {
            fprintf(stderr, "amqp-load: %s: %s\n", device->id, pn_error_text(pn_message_error(message)));
            failed = 1;
            return;
        }
        device->unsettled++;
        sent++;
        if (measuring) sent_measured++;
    }
}

static struct device *device_of(pn_connection_t *connection) {
    return connection ? pn_connection_get_context(connection) : NULL;
}

static void report_condition(const char *what, struct device *device, pn_condition_t *condition) {
    if (!pn_condition_is_set(condition)) return;
    fprintf(stderr, "amqp-load: %s %s: %s: %s\n", device ? device->id : "?", what, pn_condition_get_name(condition),
            pn_condition_get_description(condition) ? pn_condition_get_description(condition) : "");
    failed = 1;
}

static void handle(pn_event_t *event) {
    struct device *device = device_of(pn_event_connection(event));
    switch (pn_event_type(event)) {
    case PN_CONNECTION_INIT: {
        pn_connection_t *connection = pn_event_connection(event);
        pn_connection_open(connection);
        pn_session_t *session = pn_session(connection);
        pn_session_open(session);
        device->sender = pn_sender(session, "telemetry");
        pn_terminus_set_address(pn_link_target(device->sender), device->address);
        pn_link_set_snd_settle_mode(device->sender, PN_SND_UNSETTLED);
        pn_link_open(device->sender);
        break;
    }
    case PN_LINK_REMOTE_OPEN:
        if (device) device->ready = 1;
        break;
    case PN_LINK_FLOW:
        if (device) send_some(device);
        break;
    case PN_DELIVERY: {
        pn_delivery_t *delivery = pn_event_delivery(event);
        if (!device || !pn_delivery_updated(delivery) || !pn_delivery_remote_state(delivery)) break;
        uint64_t at;
        pn_delivery_tag_t tag = pn_delivery_tag(delivery);
        if (tag.size == sizeof at) memcpy(&at, tag.start, sizeof at);
        if (pn_delivery_remote_state(delivery) == PN_ACCEPTED) {
            if (measuring && tag.size == sizeof at) {
                accepted_measured++;
                record_latency(at);
            }
        } else {
            refused++;
        }
        pn_delivery_settle(delivery);
        device->unsettled--;
        send_some(device);
        break;
    }
    case PN_TRANSPORT_ERROR:
        report_condition("transport", device, pn_transport_condition(pn_event_transport(event)));
        break;
    case PN_CONNECTION_REMOTE_CLOSE:
        report_condition("connection", device, pn_connection_remote_condition(pn_event_connection(event)));
        break;
    case PN_LINK_REMOTE_CLOSE:
    case PN_LINK_REMOTE_DETACH:
        report_condition("link", device, pn_link_remote_condition(pn_event_link(event)));
        break;
    default:
        break;
    }
}

/* Drives every connection until `seconds` pass; with none given, until every link is attached (at most 30 s). */
static int run(pn_proactor_t *proactor, double seconds, int until_ready) {
    uint64_t end = now_ns() + (uint64_t)((until_ready ? 30 : seconds) * 1e9);
    while (!failed) {
        if (until_ready) {
            int ready = 0;
            for (int i = 0; i < options.clients; i++) ready += devices[i].ready;
            if (ready == options.clients) return 0;
        }
        if (now_ns() >= end) return until_ready ? -1 : 0;
        pn_proactor_set_timeout(proactor, 50);
        pn_event_batch_t *batch = pn_proactor_wait(proactor);
        for (pn_event_t *event; (event = pn_event_batch_next(batch));) handle(event);
        pn_proactor_done(proactor, batch);
    }
    return -1;
}

static int compare(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static uint32_t percentile(double p) {
    if (latency_count == 0) return 0;
    return latencies[(size_t)(p / 100.0 * (double)(latency_count - 1))];
}

static int read_credentials(void) {
    FILE *file = fopen(options.credentials, "r");
    if (!file) {
        perror(options.credentials);
        return -1;
    }
    for (int i = 0; i < options.clients; i++) {
        struct device *device = &devices[i];
        char line[1536], username[256];
        /* The token is the rest of the line: `SharedAccessSignature sr=…` holds a space. */
        if (!fgets(line, sizeof line, file) ||
            sscanf(line, "%127s %255s %1023[^\n]", device->id, username, device->token) != 3) {
            fprintf(stderr, "amqp-load: %s has fewer than %d lines\n", options.credentials, options.clients);
            fclose(file);
            return -1;
        }
        char *slash = strchr(username, '/');
        if (slash) *slash = 0;
        snprintf(device->user, sizeof device->user, "%s@sas.%s", device->id, username);
        snprintf(device->address, sizeof device->address, "/devices/%s/messages/events", device->id);
    }
    fclose(file);
    return 0;
}

int main(int argc, char **argv) {
    static struct option long_options[] = {
        {"host", required_argument, 0, 'h'},        {"port", required_argument, 0, 'p'},
        {"cafile", required_argument, 0, 'c'},      {"credentials", required_argument, 0, 'C'},
        {"clients", required_argument, 0, 'n'},     {"window", required_argument, 0, 'w'},
        {"size", required_argument, 0, 's'},        {"duration", required_argument, 0, 'd'},
        {"warmup", required_argument, 0, 'W'},      {0, 0, 0, 0}};
    for (int option; (option = getopt_long(argc, argv, "", long_options, NULL)) != -1;) {
        switch (option) {
        case 'h': options.host = optarg; break;
        case 'p': options.port = optarg; break;
        case 'c': options.cafile = optarg; break;
        case 'C': options.credentials = optarg; break;
        case 'n': options.clients = atoi(optarg); break;
        case 'w': options.window = atoi(optarg); break;
        case 's': options.size = atoi(optarg); break;
        case 'd': options.duration = atof(optarg); break;
        case 'W': options.warmup = atof(optarg); break;
        default: return 2;
        }
    }
    if (options.clients < 1 || options.window < 1 || options.size < 1 || options.duration <= 0 ||
        !options.cafile || !options.credentials) {
        fprintf(stderr, "amqp-load: --cafile and --credentials are required; --clients, --window, --size ≥ 1, "
                        "--duration > 0\n");
        return 2;
    }
    devices = calloc((size_t)options.clients, sizeof *devices);
    if (!devices || read_credentials() != 0) return 1;
    payload = calloc(1, (size_t)options.size);
    message = pn_message();
    pn_data_put_binary(pn_message_body(message), pn_bytes((size_t)options.size, payload));
    pn_proactor_t *proactor = pn_proactor();
    pn_ssl_domain_t *domain = pn_ssl_domain(PN_SSL_MODE_CLIENT);
    if (pn_ssl_domain_set_trusted_ca_db(domain, options.cafile) != 0 ||
        pn_ssl_domain_set_peer_authentication(domain, PN_SSL_VERIFY_PEER_NAME, NULL) != 0) {
        fprintf(stderr, "amqp-load: cannot use %s\n", options.cafile);
        return 1;
    }
    char address[PN_MAX_ADDR];
    pn_proactor_addr(address, sizeof address, options.host, options.port);
    for (int i = 0; i < options.clients; i++) {
        struct device *device = &devices[i];
        device->connection = pn_connection();
        pn_connection_set_context(device->connection, device);
        pn_connection_set_container(device->connection, device->id);
        pn_connection_set_hostname(device->connection, options.host);
        pn_connection_set_user(device->connection, device->user);
        pn_connection_set_password(device->connection, device->token);
        pn_transport_t *transport = pn_transport();
        pn_ssl_t *ssl = pn_ssl(transport);
        pn_ssl_init(ssl, domain, NULL);
        pn_ssl_set_peer_hostname(ssl, options.host);
        pn_sasl_allowed_mechs(pn_sasl(transport), "PLAIN");
        pn_proactor_connect2(proactor, device->connection, transport, address);
    }
    if (run(proactor, 0, 1) != 0) {
        fprintf(stderr, "amqp-load: devices not connected and attached within 30 s\n");
        return 1;
    }
    run(proactor, options.warmup, 0);
    measuring = 1;
    uint64_t start = now_ns();
    run(proactor, options.duration, 0);
    double elapsed = (double)(now_ns() - start) / 1e9;
    measuring = 0;
    finished = 1;
    qsort(latencies, latency_count, sizeof *latencies, compare);
    printf("{\"loader\": \"amqp-load\", \"shape\": \"telemetry\", \"clients\": %d, \"size\": %d, \"window\": %d, "
           "\"tls\": true, \"seconds\": %.3f, \"published\": %llu, \"received\": %llu, "
           "\"received_per_second\": %.0f, "
           "\"latency_us\": {\"p50\": %u, \"p90\": %u, \"p99\": %u, \"p999\": %u, \"max\": %u}, "
           "\"refused\": %llu, \"failed\": %s}\n",
           options.clients, options.size, options.window, elapsed, (unsigned long long)sent_measured,
           (unsigned long long)accepted_measured, (double)accepted_measured / elapsed, percentile(50),
           percentile(90), percentile(99), percentile(99.9), latency_count ? latencies[latency_count - 1] : 0,
           (unsigned long long)refused, failed ? "true" : "false");
    pn_proactor_disconnect(proactor, NULL);
    if (accepted_measured == 0 || failed) {
        fprintf(stderr, "amqp-load: nothing was accepted in the measured period, or a connection failed\n");
        return 1;
    }
    return 0;
}
