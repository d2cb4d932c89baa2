/*
 * fast_items_main.c - the fast-items command: the /items API of fast_items.c on one event loop.
 *
 *     fast-items [--port P] [--demo]
 *
 * Serves until SIGINT or SIGTERM. With --demo it serves on a free port while a client thread
 * makes scripted requests (create, read, update, a pipelined pair, a thousand keep-alive GETs,
 * delete, garbage), prints what came back and how many read()s and write()s the server made
 * for them, then stops and frees everything. tests/bench/run-benchmarks races it against
 * exercise 03 and anything named in COMPARE_HTTP.
 */
#include "fast_items.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define DEFAULT_PORT 8042
#define DEMO_KEEPALIVE_GETS 1000
#define CLIENT_TIMEOUT_S 5 /* the demo's client gives up on a silent server after this */
#define CLIENT_BUF_BYTES 8192

/* The demo's client: one blocking connection, and http-parser reading the replies. */
struct client {
    int fd;
    http_parser parser;
    http_parser_settings settings;
    char body[CLIENT_BUF_BYTES];
    size_t body_len;
    int done; /* replies complete so far */
};

static int client_body_cb(http_parser *p, const char *at, size_t len)
{
    struct client *cl = p->data;
    size_t room = sizeof cl->body - 1 - cl->body_len;
    len = len < room ? len : room;
    memcpy(cl->body + cl->body_len, at, len);
    cl->body_len += len;
    cl->body[cl->body_len] = '\0';
    return 0;
}

static int client_complete_cb(http_parser *p)
{
    ((struct client *)p->data)->done++;
    return 0;
}

static int client_open(struct client *cl, uint16_t port)
{
    struct sockaddr_in sin = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {CLIENT_TIMEOUT_S, 0};
    memset(cl, 0, sizeof *cl);
    cl->settings.on_body = client_body_cb;
    cl->settings.on_message_complete = client_complete_cb;
    http_parser_init(&cl->parser, HTTP_RESPONSE);
    cl->parser.data = cl;
    cl->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (cl->fd < 0)
        return -1;
    setsockopt(cl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return connect(cl->fd, (struct sockaddr *)&sin, sizeof sin);
}

/* Sends `request` (one or more requests) and reads until `replies` replies are complete.
 * Returns the status of the last one, 0 if the server closed first, or -1 on a timeout. */
static int client_send(struct client *cl, const char *request, int replies)
{
    char buf[CLIENT_BUF_BYTES];
    cl->done = 0;
    cl->body_len = 0;
    cl->body[0] = '\0';
    if (write(cl->fd, request, strlen(request)) != (ssize_t)strlen(request))
        return -1;
    while (cl->done < replies) {
        ssize_t n = read(cl->fd, buf, sizeof buf);
        if (n < 0)
            return -1;
        http_parser_execute(&cl->parser, &cl->settings, buf, (size_t)n);
        if (n == 0)
            return cl->done == replies ? (int)cl->parser.status_code : 0;
    }
    return (int)cl->parser.status_code;
}

struct demo {
    struct event_base *base;
    struct fast_server *srv;
    int failures;
};

#define GET1 "GET /items/1 HTTP/1.1\r\nHost: demo\r\n\r\n"

/* One request with a JSON body; returns what client_send returns. */
static int client_send_json(struct client *cl, const char *method, const char *path,
                            const char *json)
{
    char request[512];
    snprintf(request, sizeof request,
             "%s %s HTTP/1.1\r\nHost: demo\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             method, path, strlen(json), json);
    return client_send(cl, request, 1);
}

/* The scripted client; runs on its own thread while main's loop serves. */
static void *demo_client(void *arg)
{
    struct demo *d = arg;
    struct client cl;
    struct fast_counts before, after;
    int status;

    if (client_open(&cl, fast_server_port(d->srv)) != 0) {
        perror("client: connect");
        d->failures++;
        event_base_loopexit(d->base, NULL);
        return NULL;
    }
    status = client_send_json(&cl, "POST", "/items", "{\"title\":\"buy milk\"}");
    printf("client: POST /items {\"title\":\"buy milk\"} -> %d %s\n", status, cl.body);
    status = client_send(&cl, GET1, 1);
    printf("client: GET /items/1 -> %d %s\n", status, cl.body);
    status =
        client_send_json(&cl, "PUT", "/items/1", "{\"title\":\"buy milk\",\"completed\":true}");
    printf("client: PUT /items/1 -> %d %s\n", status, cl.body);
    status = client_send(&cl, "GET /items/9 HTTP/1.1\r\nHost: demo\r\n\r\n", 1);
    printf("client: GET /items/9 -> %d %s\n", status, cl.body);

    fast_server_counts(d->srv, &before);
    status = client_send(&cl, GET1 GET1, 2);
    fast_server_counts(d->srv, &after);
    printf("client: two GETs in one write (pipelined) -> %d, both answered\n", status);
    printf("server: %llu requests, %llu read, %llu write\n",
           (unsigned long long)(after.requests - before.requests),
           (unsigned long long)(after.reads - before.reads),
           (unsigned long long)(after.writes - before.writes));

    fast_server_counts(d->srv, &before);
    for (int i = 0; i < DEMO_KEEPALIVE_GETS && status == 200; i++)
        status = client_send(&cl, GET1, 1);
    fast_server_counts(d->srv, &after);
    printf("client: %d GETs, one at a time, on one keep-alive connection -> last %d\n",
           DEMO_KEEPALIVE_GETS, status);
    printf("server: %llu requests, %llu reads, %llu writes: one of each per request\n",
           (unsigned long long)(after.requests - before.requests),
           (unsigned long long)(after.reads - before.reads),
           (unsigned long long)(after.writes - before.writes));

    status = client_send(&cl, "DELETE /items/1 HTTP/1.1\r\nHost: demo\r\n\r\n", 1);
    printf("client: DELETE /items/1 -> %d\n", status);
    status = client_send(&cl, "HELLO\r\n\r\n", 1);
    printf("client: \"HELLO\" -> %d %s\n", status, cl.body);
    char ignored;
    printf("client: then the server %s the connection\n",
           read(cl.fd, &ignored, 1) == 0 ? "closed" : "did not close");
    close(cl.fd);
    event_base_loopexit(d->base, NULL); /* safe from this thread: evthread_use_pthreads() */
    return NULL;
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    bool demo = false, bad = false;
    long port = DEFAULT_PORT;
    for (int i = 1; i < argc && !bad; i++) {
        char *end;
        if (strcmp(argv[i], "--demo") == 0) {
            demo = true;
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = strtol(argv[++i], &end, 10);
            bad = *end != '\0' || end == argv[i] || port < 0 || port > 65535;
        } else {
            bad = true;
        }
    }
    if (bad) {
        fprintf(stderr, "usage: %s [--port P] [--demo]\n", argv[0]);
        return 2;
    }
    if (demo)
        port = 0; /* a free one */
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads();

    int status = 1;
    struct demo d = {0};
    struct event *sigint = NULL, *sigterm = NULL;
    pthread_t client;
    d.base = event_base_new();
    if (d.base == NULL)
        return 1;
    d.srv = fast_server_new(d.base, (uint16_t)port);
    sigint = evsignal_new(d.base, SIGINT, signal_cb, d.base);
    sigterm = evsignal_new(d.base, SIGTERM, signal_cb, d.base);
    if (d.srv == NULL || sigint == NULL || sigterm == NULL || event_add(sigint, NULL) != 0 ||
        event_add(sigterm, NULL) != 0)
        goto done;
    printf("listening on 127.0.0.1:%u\n", fast_server_port(d.srv));
    if (demo && pthread_create(&client, NULL, demo_client, &d) != 0)
        goto done;
    event_base_dispatch(d.base);
    if (demo)
        pthread_join(client, NULL);
    status = d.failures == 0 ? 0 : 1;
    if (demo)
        printf("stopped the server and freed everything\n");

done:
    fast_server_free(d.srv);
    if (sigint != NULL)
        event_free(sigint);
    if (sigterm != NULL)
        event_free(sigterm);
    event_base_free(d.base);
    return status;
}
