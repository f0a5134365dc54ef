/*
 * mqtt-load: an MQTT load generator that shares no code with Warden (issue 17), on Debian's libmosquitto.
 *
 * Single-threaded: every client is a libmosquitto handle driven from one poll() loop, so the loader's own cost
 * is one core at most and the same for every broker. Shapes: `pairs` (publisher i -> subscriber i, each pair
 * on its own topic), `fan-in` (N publishers -> 1 subscriber), `fan-out` (1 publisher -> N subscribers) and
 * `telemetry` (N devices publishing to their Azure IoT telemetry topic, devices/{client id}/messages/events/,
 * no subscriber: "received" counts PUBACKs, and the latency is from publishing to the PUBACK).
 * --persistent gives the subscribers persistent sessions (clean session 0, fixed client ids mqtt-load-durable-N)
 * and times each PUBACK instead ("latency" is then publishing to the PUBACK, which a broker that stores before
 * acknowledging sends after its commit); --offline S takes the subscribers away for the first S seconds of the
 * measured period, so their messages queue in the broker, and brings them back to drain it.
 * `connect` (a connect storm) opens --clients connections, at most --window under way at once and --rate new ones
 * a second when given, each timed from the start of its TCP connection to its CONNACK; the JSON line comes once all
 * have answered, then they stay connected and idle for --hold seconds (to measure the broker's memory per idle
 * connection). --source-addresses K spreads them over 127.0.0.1 ... 127.0.0.K (about 28,000 ports each).
 * --subscriber-port P connects the subscribers to port P instead (another node of a cluster: bench/cluster.sh).
 * Each payload starts with the send time (CLOCK_MONOTONIC, ns) and this run's mark; the latency of every
 * message of this run received in the measured period is kept; the result is one JSON object on stdout.
 *
 *   mqtt-load --port 1883 --shape pairs --clients 10 --qos 1 --size 64 --window 100 --duration 4
 *   mqtt-load --port 8883 --cafile ca.pem --credentials creds.txt --protocol 5 --topic-prefix bench/ ...
 *
 * --credentials names a file of lines `CLIENT-ID USERNAME PASSWORD` (a SAS token for Warden); clients take
 * them in order, publishers first. --rate paces each publisher (messages/s, 0: as fast as the window and the
 * socket allow). QoS 0 publishers send --window messages whenever their socket has nothing left to write.
 *
 * Build: gcc -O2 -o mqtt-load mqtt-load.c -lmosquitto
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    struct mosquitto *handle;
    int index;
    int is_publisher;
    int connected;
    int subscribed;
    char topic[256];
    int inflight;
    double next_send; /* seconds, monotonic */
    uint64_t *sent_at; /* telemetry: the send time of each message id in flight */
} client_t;

static struct {
    const char *host, *shape, *cafile, *credentials, *prefix;
    int port, clients, qos, size, window, protocol, persistent, sources;
    double rate, duration, warmup, offline, hold;
    /* --subscriber-port: the subscribers' port when it is not the publishers' (another node of a cluster). */
    int subscriber_port;
} options = {"127.0.0.1", "pairs", NULL, NULL, "bench/", 1883, 10, 1, 64, 100, 4, 0, 1, 0, 4, 1, 0, 0, 0};

static client_t *clients;
static int client_count, publisher_count, telemetry;
static int measuring;
static uint64_t published, received, received_measured, acknowledged_measured, publish_errors, disconnects;
/* --offline: when the subscribers come back (0: they are not away). */
static double offline_until;
static uint32_t *latencies;
/* Written after the send time into every payload: a message without it is another run's (a broker still
 * delivering an earlier client's backlog on the same topics) and is not counted. */
static uint64_t run_mark;
static size_t latency_count, latency_capacity;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_nanoseconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void fail(const char *what, int rc) {
    fprintf(stderr, "mqtt-load: %s: %s\n", what, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    exit(1);
}

static void on_connect(struct mosquitto *handle, void *data, int rc) {
    client_t *client = data;
    if (rc != 0) {
        fprintf(stderr, "mqtt-load: client %d refused: %s\n", client->index, mosquitto_connack_string(rc));
        exit(1);
    }
    client->connected = 1;
    if (!client->is_publisher) {
        int subscribe = mosquitto_subscribe(handle, NULL, client->topic, options.qos);
        if (subscribe != MOSQ_ERR_SUCCESS) fail("subscribe", subscribe);
    }
}

static void on_subscribe(struct mosquitto *handle, void *data, int mid, int count, const int *granted) {
    (void)handle, (void)mid;
    client_t *client = data;
    if (count < 1 || granted[0] > 2) {
        fprintf(stderr, "mqtt-load: client %d: subscription to %s refused\n", client->index, client->topic);
        exit(1);
    }
    client->subscribed = 1;
}

static void count_received(void) {
    received++;
    if (measuring) received_measured++;
}

static void record_latency(uint64_t sent) {
    if (!measuring) return;
    uint64_t elapsed = (now_nanoseconds() - sent) / 1000;
    if (latency_count == latency_capacity) {
        latency_capacity = latency_capacity ? latency_capacity * 2 : 1 << 20;
        latencies = realloc(latencies, latency_capacity * sizeof *latencies);
        if (!latencies) fail("memory", MOSQ_ERR_NOMEM);
    }
    latencies[latency_count++] = elapsed > UINT32_MAX ? UINT32_MAX : (uint32_t)elapsed;
}

static void on_publish(struct mosquitto *handle, void *data, int mid) {
    (void)handle;
    client_t *client = data;
    if (client->inflight > 0) client->inflight--;
    if (client->sent_at && client->sent_at[mid & 0xffff]) {
        if (telemetry) count_received();
        if (measuring) acknowledged_measured++;
        record_latency(client->sent_at[mid & 0xffff]);
        client->sent_at[mid & 0xffff] = 0;
    }
}

static void on_message(struct mosquitto *handle, void *data, const struct mosquitto_message *message) {
    (void)handle, (void)data;
    uint64_t sent, mark;
    if (message->payloadlen < 16) return;
    memcpy(&mark, (const char *)message->payload + 8, sizeof mark);
    if (mark != run_mark) return;
    memcpy(&sent, message->payload, sizeof sent);
    count_received();
    if (!options.persistent) record_latency(sent);
}

static void on_disconnect(struct mosquitto *handle, void *data, int rc) {
    (void)handle;
    client_t *client = data;
    client->connected = 0;
    if (rc != 0) disconnects++;
}

/* Reads the next `CLIENT-ID USERNAME PASSWORD` line; the caller frees nothing (a bench run's lifetime). */
static int next_credentials(FILE *file, char **id, char **username, char **password) {
    char *line = NULL;
    size_t length = 0;
    if (getline(&line, &length, file) < 0) return 0;
    *id = strtok(line, " \t\n");
    *username = strtok(NULL, " \t\n");
    *password = strtok(NULL, "\n");
    return *id && *username && *password;
}

static void make_clients(void) {
    int subscribers;
    if (strcmp(options.shape, "pairs") == 0) {
        publisher_count = subscribers = options.clients;
    } else if (strcmp(options.shape, "fan-in") == 0) {
        publisher_count = options.clients;
        subscribers = 1;
    } else if (strcmp(options.shape, "fan-out") == 0) {
        publisher_count = 1;
        subscribers = options.clients;
    } else if (strcmp(options.shape, "telemetry") == 0 && options.qos > 0) {
        publisher_count = options.clients;
        subscribers = 0;
        telemetry = 1;
    } else {
        fprintf(stderr, "mqtt-load: --shape is pairs, fan-in, fan-out, telemetry (QoS 1 or 2) or connect\n");
        exit(2);
    }
    client_count = publisher_count + subscribers;
    clients = calloc((size_t)client_count, sizeof *clients);
    FILE *file = options.credentials ? fopen(options.credentials, "r") : NULL;
    if (options.credentials && !file) fail(options.credentials, MOSQ_ERR_ERRNO);
    for (int i = 0; i < client_count; i++) {
        client_t *client = &clients[i];
        client->index = i;
        client->is_publisher = i < publisher_count;
        int slot = client->is_publisher ? i : i - publisher_count;
        if (strcmp(options.shape, "fan-in") == 0) {
            snprintf(client->topic, sizeof client->topic, client->is_publisher ? "%s%d" : "%s+", options.prefix,
                     slot);
        } else {
            snprintf(client->topic, sizeof client->topic, "%s%d", options.prefix,
                     strcmp(options.shape, "fan-out") == 0 ? 0 : slot);
        }
        char generated[64], *id = generated, *username = NULL, *password = NULL;
        snprintf(generated, sizeof generated, "mqtt-load-%d-%d", (int)getpid(), i);
        if (file && !next_credentials(file, &id, &username, &password)) {
            fprintf(stderr, "mqtt-load: %s has fewer than %d lines\n", options.credentials, client_count);
            exit(2);
        }
        if (telemetry) snprintf(client->topic, sizeof client->topic, "devices/%s/messages/events/", id);
        if (client->is_publisher && (telemetry || options.persistent)) {
            client->sent_at = calloc(65536, sizeof *client->sent_at);
            if (!client->sent_at) fail("memory", MOSQ_ERR_NOMEM);
        }
        int persistent = options.persistent && !client->is_publisher;
        if (persistent && !file) snprintf(generated, sizeof generated, "mqtt-load-durable-%d", slot);
        client->handle = mosquitto_new(id, !persistent, client);
        if (!client->handle) fail("mosquitto_new", MOSQ_ERR_NOMEM);
        mosquitto_int_option(client->handle, MOSQ_OPT_PROTOCOL_VERSION,
                             options.protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
        /* The window bounds what is in flight; libmosquitto's own limit must not be the tighter one. */
        mosquitto_max_inflight_messages_set(client->handle, (unsigned)options.window);
        mosquitto_connect_callback_set(client->handle, on_connect);
        mosquitto_subscribe_callback_set(client->handle, on_subscribe);
        mosquitto_publish_callback_set(client->handle, on_publish);
        mosquitto_message_callback_set(client->handle, on_message);
        mosquitto_disconnect_callback_set(client->handle, on_disconnect);
        if (username) mosquitto_username_pw_set(client->handle, username, password);
        if (options.cafile) {
            int rc = mosquitto_tls_set(client->handle, options.cafile, NULL, NULL, NULL, NULL);
            if (rc != MOSQ_ERR_SUCCESS) fail("tls", rc);
        }
        int port = !client->is_publisher && options.subscriber_port ? options.subscriber_port : options.port;
        int rc = mosquitto_connect(client->handle, options.host, port, 60);
        if (rc != MOSQ_ERR_SUCCESS) fail("connect", rc);
    }
    if (file) fclose(file);
}

/* Reads what the socket holds: libmosquitto reads about one packet a call while nothing is in flight. */
static void read_all(client_t *client) {
    int fd = mosquitto_socket(client->handle);
    for (int i = 0; i < 1024; i++) {
        int rc = mosquitto_loop_read(client->handle, 1);
        if (rc != MOSQ_ERR_SUCCESS) {
            if ((rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_NO_CONN) && client->connected) fail("connection lost", rc);
            return;
        }
        int available = 0;
        if (ioctl(fd, FIONREAD, &available) != 0 || available <= 0) return;
    }
}

static void publish_from(client_t *client, double now, unsigned char *payload) {
    if (!client->connected) return;
    if (client->next_send == 0) client->next_send = now;
    int burst = 0;
    while (burst < options.window) {
        if (options.rate > 0 && now < client->next_send) return;
        if (options.qos > 0 && client->inflight >= options.window) return;
        /* QoS 0: a burst of --window whenever the socket has written everything. */
        if (options.qos == 0 && mosquitto_want_write(client->handle) && burst == 0) return;
        uint64_t stamp = now_nanoseconds();
        memcpy(payload, &stamp, sizeof stamp);
        memcpy(payload + 8, &run_mark, sizeof run_mark);
        int mid = 0;
        int rc = mosquitto_publish(client->handle, &mid, client->topic, options.size, payload, options.qos, false);
        if (rc != MOSQ_ERR_SUCCESS) {
            publish_errors++;
            return;
        }
        if (client->sent_at) client->sent_at[mid & 0xffff] = stamp;
        published++;
        burst++;
        if (options.qos > 0) client->inflight++;
        if (options.rate > 0) client->next_send += 1.0 / options.rate;
    }
}

static void run(double seconds, int measure) {
    measuring = measure;
    unsigned char *payload = calloc(1, (size_t)options.size);
    struct pollfd *fds = calloc((size_t)client_count, sizeof *fds);
    double end = now_seconds() + seconds, last_misc = 0;
    for (;;) {
        double now = now_seconds();
        if (now >= end) break;
        if (offline_until > 0 && now >= offline_until) {
            for (int i = publisher_count; i < client_count; i++) {
                int rc = mosquitto_reconnect(clients[i].handle);
                if (rc != MOSQ_ERR_SUCCESS) fail("reconnect", rc);
            }
            offline_until = 0;
        }
        int subscribed = 1;
        for (int i = publisher_count; i < client_count; i++) subscribed &= clients[i].subscribed;
        if (subscribed) {
            for (int i = 0; i < publisher_count; i++) publish_from(&clients[i], now, payload);
        }
        for (int i = 0; i < client_count; i++) {
            fds[i].fd = mosquitto_socket(clients[i].handle);
            fds[i].events = POLLIN | (mosquitto_want_write(clients[i].handle) ? POLLOUT : 0);
            fds[i].revents = 0;
        }
        if (poll(fds, (nfds_t)client_count, options.rate > 0 ? 1 : 10) < 0 && errno != EINTR) {
            fail("poll", MOSQ_ERR_ERRNO);
        }
        for (int i = 0; i < client_count; i++) {
            if (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) read_all(&clients[i]);
            if (fds[i].revents & POLLOUT) mosquitto_loop_write(clients[i].handle, 1);
        }
        if (now - last_misc > 0.5) {
            for (int i = 0; i < client_count; i++) mosquitto_loop_misc(clients[i].handle);
            last_misc = now;
        }
    }
    free(fds);
    free(payload);
}

static int compare(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t percentile(double p) {
    if (latency_count == 0) return 0;
    size_t at = (size_t)(p / 100.0 * (double)(latency_count - 1));
    return latencies[at];
}

static uint64_t *connect_started;
static int storm_connected, storm_refused;

static void on_storm_connect(struct mosquitto *handle, void *data, int rc) {
    (void)handle;
    client_t *client = data;
    client->connected = rc == 0 ? 1 : -1;
    if (rc != 0) {
        storm_refused++;
        return;
    }
    storm_connected++;
    measuring = 1;
    record_latency(connect_started[client->index]);
}

/* Sets up client `index` of the storm and starts its connection; 0 when it could not start. */
static int start_storm_client(int index, FILE *file) {
    client_t *client = &clients[index];
    client->index = index;
    char generated[64], *id = generated, *username = NULL, *password = NULL, source[32];
    snprintf(generated, sizeof generated, "mqtt-load-%d-%d", (int)getpid(), index);
    if (file && !next_credentials(file, &id, &username, &password)) {
        fprintf(stderr, "mqtt-load: %s has fewer than %d lines\n", options.credentials, options.clients);
        exit(2);
    }
    client->handle = mosquitto_new(id, true, client);
    if (!client->handle) fail("mosquitto_new", MOSQ_ERR_NOMEM);
    mosquitto_int_option(client->handle, MOSQ_OPT_PROTOCOL_VERSION,
                         options.protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
    /* Nagle's algorithm would hold the CONNECT behind the handshake's last flight for a delayed ACK (~40 ms). */
    mosquitto_int_option(client->handle, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_connect_callback_set(client->handle, on_storm_connect);
    if (username) mosquitto_username_pw_set(client->handle, username, password);
    if (options.cafile) {
        int rc = mosquitto_tls_set(client->handle, options.cafile, NULL, NULL, NULL, NULL);
        if (rc != MOSQ_ERR_SUCCESS) fail("tls", rc);
    }
    snprintf(source, sizeof source, "127.0.0.%d", 1 + index % options.sources);
    connect_started[index] = now_nanoseconds();
    /* A keep-alive longer than any hold: idle connections send nothing. */
    int rc = mosquitto_connect_bind_async(client->handle, options.host, options.port, 3600,
                                          options.sources > 1 ? source : NULL);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "mqtt-load: connection %d: %s\n", index,
                rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        client->connected = -1;
        storm_refused++;
        return 0;
    }
    return 1;
}

/* --shape connect: see the top of this file. */
static int connect_storm(void) {
    client_count = options.clients;
    clients = calloc((size_t)client_count, sizeof *clients);
    connect_started = calloc((size_t)client_count, sizeof *connect_started);
    struct pollfd *fds = calloc((size_t)client_count, sizeof *fds);
    int *waiting = calloc((size_t)client_count, sizeof *waiting);
    if (!clients || !connect_started || !fds || !waiting) fail("memory", MOSQ_ERR_NOMEM);
    FILE *file = options.credentials ? fopen(options.credentials, "r") : NULL;
    if (options.credentials && !file) fail(options.credentials, MOSQ_ERR_ERRNO);
    double begin = now_seconds(), last = begin;
    int started = 0;
    while (storm_connected + storm_refused < client_count) {
        double now = now_seconds();
        if (now - begin > 120) {
            fprintf(stderr, "mqtt-load: %d of %d connected within 120 s\n", storm_connected, client_count);
            break;
        }
        int count = 0;
        for (int i = 0; i < started; i++) {
            if (clients[i].connected == 0) waiting[count++] = i;
        }
        while (started < client_count && count < options.window &&
               (options.rate <= 0 || started < (now - begin) * options.rate)) {
            if (start_storm_client(started, file)) waiting[count++] = started;
            started++;
        }
        for (int k = 0; k < count; k++) {
            struct mosquitto *handle = clients[waiting[k]].handle;
            fds[k].fd = mosquitto_socket(handle);
            fds[k].events = POLLIN | (mosquitto_want_write(handle) ? POLLOUT : 0);
            fds[k].revents = 0;
        }
        if (poll(fds, (nfds_t)count, 1) < 0 && errno != EINTR) fail("poll", MOSQ_ERR_ERRNO);
        for (int k = 0; k < count; k++) {
            client_t *client = &clients[waiting[k]];
            if (fds[k].revents & POLLOUT) mosquitto_loop_write(client->handle, 1);
            if (fds[k].revents & (POLLIN | POLLERR | POLLHUP)) {
                int rc = mosquitto_loop_read(client->handle, 1);
                if (rc != MOSQ_ERR_SUCCESS && client->connected == 0) {
                    client->connected = -1;
                    storm_refused++;
                }
            }
        }
        last = now_seconds();
    }
    if (file) fclose(file);
    double elapsed = last - begin;
    qsort(latencies, latency_count, sizeof *latencies, compare);
    printf("{\"loader\": \"mqtt-load\", \"shape\": \"connect\", \"clients\": %d, \"tls\": %s, \"rate\": %.0f, "
           "\"connected\": %d, \"refused\": %d, \"seconds\": %.3f, \"connects_per_second\": %.0f, "
           "\"connack_us\": {\"p50\": %u, \"p90\": %u, \"p99\": %u, \"max\": %u}}\n",
           client_count, options.cafile ? "true" : "false", options.rate, storm_connected, storm_refused, elapsed,
           elapsed > 0 ? storm_connected / elapsed : 0, percentile(50), percentile(90), percentile(99),
           latency_count ? latencies[latency_count - 1] : 0);
    fflush(stdout);
    if (options.hold > 0) {
        /* Idle: nothing to send, and what the broker might send waits in the sockets. */
        struct timespec pause = {(time_t)options.hold, (long)((options.hold - (time_t)options.hold) * 1e9)};
        nanosleep(&pause, NULL);
    }
    for (int i = 0; i < started; i++) mosquitto_destroy(clients[i].handle);
    mosquitto_lib_cleanup();
    return storm_connected == client_count ? 0 : 1;
}

int main(int argc, char **argv) {
    static struct option long_options[] = {
        {"host", required_argument, 0, 'h'}, {"port", required_argument, 0, 'p'},
        {"shape", required_argument, 0, 's'}, {"clients", required_argument, 0, 'c'},
        {"qos", required_argument, 0, 'q'}, {"size", required_argument, 0, 'z'},
        {"window", required_argument, 0, 'w'}, {"rate", required_argument, 0, 'r'},
        {"duration", required_argument, 0, 'd'}, {"warm-up", required_argument, 0, 'u'},
        {"protocol", required_argument, 0, 'v'}, {"cafile", required_argument, 0, 'a'},
        {"credentials", required_argument, 0, 'k'}, {"topic-prefix", required_argument, 0, 't'},
        {"persistent", no_argument, 0, 'P'}, {"offline", required_argument, 0, 'o'},
        {"hold", required_argument, 0, 'H'}, {"source-addresses", required_argument, 0, 'S'},
        {"subscriber-port", required_argument, 0, 'b'}, {0, 0, 0, 0}};
    int option;
    while ((option = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        switch (option) {
        case 'h': options.host = optarg; break;
        case 'p': options.port = atoi(optarg); break;
        case 'b': options.subscriber_port = atoi(optarg); break;
        case 's': options.shape = optarg; break;
        case 'c': options.clients = atoi(optarg); break;
        case 'q': options.qos = atoi(optarg); break;
        case 'z': options.size = atoi(optarg); break;
        case 'w': options.window = atoi(optarg); break;
        case 'r': options.rate = atof(optarg); break;
        case 'd': options.duration = atof(optarg); break;
        case 'u': options.warmup = atof(optarg); break;
        case 'v': options.protocol = atoi(optarg); break;
        case 'a': options.cafile = optarg; break;
        case 'k': options.credentials = optarg; break;
        case 't': options.prefix = optarg; break;
        case 'P': options.persistent = 1; break;
        case 'o': options.offline = atof(optarg); break;
        case 'H': options.hold = atof(optarg); break;
        case 'S': options.sources = atoi(optarg); break;
        default: return 2;
        }
    }
    if (options.clients < 1 || options.qos < 0 || options.qos > 2 || options.size < 16 || options.window < 1 ||
        options.duration <= 0 || options.offline < 0 || options.hold < 0 || options.sources < 1 ||
        options.sources > 254 || options.offline < 0 || (options.offline > 0 && !options.persistent) ||
        (options.persistent && options.qos == 0) || (options.protocol != 4 && options.protocol != 5 && options.protocol != 311)) {
        fprintf(stderr, "mqtt-load: --clients ≥ 1, --qos 0–2, --size ≥ 16, --window ≥ 1, --duration > 0, "
                        "--protocol 311 or 5; --offline and --persistent need each other's company and QoS 1 or 2\n");
        return 2;
    }
    run_mark = now_nanoseconds() ^ ((uint64_t)getpid() << 40);
    mosquitto_lib_init();
    if (strcmp(options.shape, "connect") == 0) return connect_storm();
    make_clients();
    double connected_by = now_seconds() + 30;
    for (;;) {
        int ready = 1;
        for (int i = 0; i < client_count; i++) ready &= clients[i].is_publisher ? clients[i].connected : clients[i].subscribed;
        if (ready) break;
        if (now_seconds() > connected_by) {
            fprintf(stderr, "mqtt-load: clients not connected and subscribed within 30 s\n");
            return 1;
        }
        run(0.05, 0);
    }
    run(options.warmup, 0);
    uint64_t published_before = published;
    double start = now_seconds();
    if (options.offline > 0) {
        for (int i = publisher_count; i < client_count; i++) mosquitto_disconnect(clients[i].handle);
        offline_until = start + options.offline;
    }
    run(options.duration, 1);
    double elapsed = now_seconds() - start;
    qsort(latencies, latency_count, sizeof *latencies, compare);
    printf("{\"loader\": \"mqtt-load\", \"shape\": \"%s\", \"clients\": %d, \"qos\": %d, \"size\": %d, "
           "\"window\": %d, \"rate\": %.0f, \"protocol\": %d, \"tls\": %s, \"seconds\": %.3f, "
           "\"published\": %llu, \"received\": %llu, \"received_per_second\": %.0f, "
           "\"latency_us\": {\"p50\": %u, \"p90\": %u, \"p99\": %u, \"p999\": %u, \"max\": %u}, "
           "\"acknowledged\": %llu, \"persistent\": %s, \"offline_seconds\": %.1f, "
           "\"publish_errors\": %llu, \"disconnects\": %llu}\n",
           options.shape, options.clients, options.qos, options.size, options.window, options.rate,
           options.protocol == 5 ? 5 : 4, options.cafile ? "true" : "false", elapsed,
           (unsigned long long)(published - published_before), (unsigned long long)received_measured,
           (double)received_measured / elapsed, percentile(50), percentile(90), percentile(99), percentile(99.9),
           latency_count ? latencies[latency_count - 1] : 0, (unsigned long long)acknowledged_measured,
           options.persistent ? "true" : "false", options.offline, (unsigned long long)publish_errors,
           (unsigned long long)disconnects);
    for (int i = 0; i < client_count; i++) {
        mosquitto_disconnect(clients[i].handle);
        mosquitto_destroy(clients[i].handle);
    }
    mosquitto_lib_cleanup();
    if (received_measured == 0) {
        /* A run that moved nothing is a broken setup, not a figure (the smoke runs in the test command rely on it). */
        fprintf(stderr, "mqtt-load: nothing was received (or acknowledged) in the measured period\n");
        return 1;
    }
    return 0;
}
