/*
 * http_client.c - see http_client.h. Lines come from client_recv_line, the body from
 * client_recv_exact; both wait with timeouts, so a silent server fails a test instead of
 * hanging it.
 */
#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

int http_send(struct client *c, const char *method, const char *target, const char *headers,
              const char *body, int timeout_ms)
{
    size_t body_len = body != NULL ? strlen(body) : 0;
    size_t size =
        strlen(method) + strlen(target) + (headers != NULL ? strlen(headers) : 0) + body_len + 128;
    char *msg = malloc(size);
    if (msg == NULL)
        return -1;
    /* Host is what curl would send: the address and port connected to. */
    struct sockaddr_in peer = {0};
    socklen_t plen = sizeof peer;
    getpeername(c->fd, (struct sockaddr *)&peer, &plen);
    int n = snprintf(msg, size, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n%s", method, target,
                     ntohs(peer.sin_port), headers != NULL ? headers : "");
    if (body != NULL)
        n += snprintf(msg + n, size - (size_t)n, "Content-Length: %zu\r\n", body_len);
    n += snprintf(msg + n, size - (size_t)n, "\r\n");
    if (body != NULL) {
        memcpy(msg + n, body, body_len);
        n += (int)body_len;
    }
    int rc = client_send(c, msg, (size_t)n, timeout_ms);
    free(msg);
    return rc;
}

const char *http_header(const struct http_response *resp, const char *name, char *out, size_t outsz)
{
    size_t nlen = strlen(name);
    const char *line = resp->head;
    const char *end = resp->head + resp->head_len;

    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        if (nl == NULL)
            nl = end;
        if ((size_t)(nl - line) > nlen && strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            while (v < nl && (*v == ' ' || *v == '\t'))
                v++;
            size_t vlen = (size_t)(nl - v);
            if (outsz > 0) {
                size_t k = vlen < outsz - 1 ? vlen : outsz - 1;
                memcpy(out, v, k);
                out[k] = '\0';
            }
            return out;
        }
        line = nl + 1;
    }
    return NULL;
}

void http_response_free(struct http_response *resp)
{
    free(resp->body);
    resp->body = NULL;
}

enum client_status http_read_response(struct client *c, int head_request,
                                      struct http_response *resp, int timeout_ms)
{
    int64_t deadline = client_now_ms() + timeout_ms;
    char line[HTTP_CLIENT_HEAD_MAX];
    enum client_status st;

#define LEFT() ((int)(deadline - client_now_ms() > 0 ? deadline - client_now_ms() : 0))
    memset(resp, 0, sizeof *resp);
    resp->body = calloc(1, 1);
    if (resp->body == NULL)
        return CLIENT_ERROR;

    st = client_recv_line(c, line, sizeof line, LEFT());
    if (st != CLIENT_OK)
        return st;
    size_t keep = strnlen(line, sizeof resp->status_line - 1);
    memcpy(resp->status_line, line, keep);
    resp->status_line[keep] = '\0';
    if (sscanf(line, "HTTP/1.%*d %d", &resp->status) != 1)
        return CLIENT_ERROR;

    long content_length = -1;
    for (;;) {
        st = client_recv_line(c, line, sizeof line, LEFT());
        if (st != CLIENT_OK)
            return st;
        if (line[0] == '\0')
            break;
        size_t len = strlen(line);
        if (resp->head_len + len + 2 <= sizeof resp->head) {
            memcpy(resp->head + resp->head_len, line, len);
            resp->head_len += len;
            resp->head[resp->head_len++] = '\n';
            resp->head[resp->head_len] = '\0';
        }
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            content_length = strtol(line + 15, NULL, 10);
    }

    if (head_request || resp->status < 200 || resp->status == 204 || resp->status == 304)
        return CLIENT_OK;
    if (content_length > HTTP_CLIENT_BODY_MAX)
        return CLIENT_ERROR;
    if (content_length >= 0) {
        char *body = malloc((size_t)content_length + 1);
        if (body == NULL)
            return CLIENT_ERROR;
        free(resp->body);
        resp->body = body;
        st = client_recv_exact(c, body, (size_t)content_length, &resp->body_len, LEFT());
        body[resp->body_len] = '\0';
        return st;
    }
    /* No length: the body runs until the server closes. */
    for (;;) {
        size_t n = client_wait_data(c, LEFT());
        if (n == 0)
            return c->eof ? CLIENT_OK : CLIENT_TIMEOUT;
        if (resp->body_len + n > HTTP_CLIENT_BODY_MAX)
            return CLIENT_ERROR;
        char *body = realloc(resp->body, resp->body_len + n + 1);
        if (body == NULL)
            return CLIENT_ERROR;
        resp->body = body;
        client_recv_exact(c, body + resp->body_len, n, NULL, 0);
        resp->body_len += n;
        body[resp->body_len] = '\0';
    }
#undef LEFT
}
