/*
 * fuzz_http_router.c - fuzzes exercise 03's routing: the path, the {id} and the query string
 * (router.c), through the real server, and router_parse_id against a reference.
 *
 * The reference API server runs in this process with one worker thread. Each input becomes
 * one well-framed request: its first byte picks the method, the bytes up to the first NUL are
 * the request target (spaces and control bytes percent-encoded, everything else as it is, so
 * the path decoder and the query parser see arbitrary text), and the rest is a JSON body. The
 * answer must come, with a status the API documents, CORS headers, and a body that is strict
 * JSON ({"error": "..."} for an error); only evhttp's own 400 for an unparsable request line
 * is exempt.
 * Run: tests/fuzz/run-fuzz http-router (see README.md here).
 */
#include "fuzz.h"

#include "http_api.h"
#include "items_store.h"
#include "router.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ROUTER_TARGET_MAX 2048     /* bytes of the request target taken from an input */
#define ROUTER_REPLY_MAX (1 << 20) /* bytes of an answer read */
#define ROUTER_DEADLINE_MS 10000   /* an answer later than this is a hang */

static struct http_api *api;

static void stop_api(void)
{
    http_api_free(api);
}

/* The reference: a positive decimal of at most 2^53 - 1, no sign, no leading zero. */
static uint64_t ref_parse_id(const uint8_t *s, size_t len)
{
    uint64_t v = 0;
    if (len == 0 || s[0] == '0')
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (uint64_t)ITEM_INT_MAX / 10)
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    return v <= (uint64_t)ITEM_INT_MAX ? v : 0;
}

static const char *const methods[] = {"GET",   "HEAD",   "POST",    "PUT",
                                      "PATCH", "DELETE", "OPTIONS", "TRACE"};

/* Sends the request and reads the answer until the server closes. Returns its length. */
static size_t exchange(const char *req, size_t req_len, char *reply)
{
    int fd = fuzz_dial(http_api_port(api));
    uint64_t deadline = fuzz_now_ms() + ROUTER_DEADLINE_MS;
    size_t got = 0, sent = 0;

    while (sent < req_len) {
        struct pollfd out = {.fd = fd, .events = POLLOUT};
        ssize_t n = send(fd, req + sent, req_len - sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            poll(&out, 1, 100);
            if (fuzz_now_ms() > deadline)
                fuzz_fail("the server took no request bytes for %d ms", ROUTER_DEADLINE_MS);
            continue;
        }
        if (n <= 0)
            break; /* the server answered early (413) and closed: read what it said */
        sent += (size_t)n;
    }
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (fuzz_now_ms() > deadline)
            fuzz_fail("no complete answer within %d ms to: %.200s", ROUTER_DEADLINE_MS, req);
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        ssize_t n = recv(fd, reply + got, ROUTER_REPLY_MAX - 1 - got, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    reply[got] = '\0';
    return got;
}

static void check_reply(const char *method, const char *reply, size_t len, const char *req)
{
    int status = 0;
    const char *end = strstr(reply, "\r\n\r\n");

    if (len == 0 || sscanf(reply, "HTTP/1.%*d %d", &status) != 1 || end == NULL)
        fuzz_fail("no HTTP answer (%zu bytes) to: %.300s", len, req);
    bool ours = strstr(reply, "Access-Control-Allow-Origin: *") != NULL &&
                strstr(reply, "Access-Control-Allow-Origin: *") < end;
    if (!ours) {
        if (status != 400)
            fuzz_fail("evhttp answered %d by itself, without the middleware: %.300s", status, req);
        return; /* evhttp refused the request line before any of our code ran */
    }
    static const int documented[] = {200, 201, 204, 400, 404, 405, 413, 415, 422, 431, 501, 507};
    bool known = false;
    for (size_t i = 0; i < sizeof documented / sizeof documented[0]; i++)
        known = known || documented[i] == status;
    if (!known)
        fuzz_fail("status %d is not one the API documents, for: %.300s", status, req);
    const char *body = end + 4;
    size_t body_len = len - (size_t)(body - reply);
    if (strcmp(method, "HEAD") == 0 || status == 204) {
        if (body_len != 0)
            fuzz_fail("a %s answer with status %d has a body", method, status);
        return;
    }
    json_error_t jerr;
    json_t *root = json_loadb(body, body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        fuzz_fail("the body of a %d is not JSON (%s): %.200s", status, jerr.text, body);
    if (status >= 400 && !json_is_string(json_object_get(root, "error")))
        fuzz_fail("an error %d has no \"error\" string: %.200s", status, body);
    json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char request[ROUTER_TARGET_MAX * 3 + 256 + 70000];
    static char reply[ROUTER_REPLY_MAX];

    if (api == NULL) {
        struct http_api_config cfg = {
            .port = 0, .threads = 1, .max_items = 64, .idle_timeout_ms = 5000};
        signal(SIGPIPE, SIG_IGN);
        api = http_api_new(&cfg);
        if (api == NULL)
            fuzz_fail("cannot start the API server");
        atexit(stop_api);
    }
    if (size == 0)
        return 0;
    const char *method = methods[data[0] % (sizeof methods / sizeof methods[0])];
    data++;
    size--;
    const uint8_t *nul = memchr(data, '\0', size);
    size_t target_len = nul != NULL ? (size_t)(nul - data) : size;
    const uint8_t *body = nul != NULL ? nul + 1 : data + size;
    size_t body_len = nul != NULL ? size - target_len - 1 : 0;
    if (target_len > ROUTER_TARGET_MAX)
        target_len = ROUTER_TARGET_MAX;
    if (body_len > 65536)
        body_len = 65536;

    /* router_parse_id against the reference, on the raw bytes. */
    if (router_parse_id((const char *)data, target_len) != ref_parse_id(data, target_len))
        fuzz_fail("router_parse_id(\"%.*s\") = %llu, the reference says %llu", (int)target_len,
                  (const char *)data,
                  (unsigned long long)router_parse_id((const char *)data, target_len),
                  (unsigned long long)ref_parse_id(data, target_len));

    int n = snprintf(request, 64, "%s ", method);
    if (target_len == 0 || data[0] != '/')
        request[n++] = '/';
    for (size_t i = 0; i < target_len; i++) {
        if (data[i] <= 0x20 || data[i] >= 0x7f)
            n += snprintf(request + n, 4, "%%%02X", data[i]);
        else
            request[n++] = (char)data[i];
    }
    n += snprintf(request + n, 200,
                  " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                  "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                  body_len);
    memcpy(request + n, body, body_len);
    size_t reply_len = exchange(request, (size_t)n + body_len, reply);
    request[n] = '\0';
    check_reply(method, reply, reply_len, request);
    return 0;
}
