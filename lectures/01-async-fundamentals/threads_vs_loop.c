/*
 * threads_vs_loop.c - three ways to serve slow clients: one thread doing blocking I/O (one
 * client at a time), one thread per connection, and one thread running a libevent loop.
 *
 * The idea: a slow client spends almost all its time thinking, and a server must not spend a
 * thread (and its stack) on each one's silence. The blocking versions are as short as servers
 * get; the loop version trades a little code for serving everyone on one thread. Run
 * `./threads-vs-loop --demo` to see all three measured (threads_vs_loop_main.c).
 */
#include "threads_vs_loop.h"

#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* Context of the event-loop server: one per run. */
struct loop_server {
    struct event_base *base;
    struct event *accept_ev; /* owned */
    int listen_fd;
    int expected; /* stop accepting after this many */
    int accepted;
    int failures;
};

/* Context of one connection of the event-loop server. */
struct loop_conn {
    int fd;
    struct event *read_ev; /* owned */
    struct loop_server *srv;
};

static void server_accept_cb(evutil_socket_t fd, short what, void *arg);
static void server_read_cb(evutil_socket_t fd, short what, void *arg);

int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* ---- Server 1 and 2: blocking I/O ---- */

/* Echoes until the client closes. read() puts this thread to sleep while the client thinks:
 * that is the whole cost and the whole simplicity of blocking I/O. */
static void serve_blocking(int fd)
{
    char buf[IO_BUFFER_BYTES];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        if (write(fd, buf, (size_t)n) != n)
            break; /* a blocking write returns short only on error */
    }
    close(fd);
}

/* One thread, one client at a time: the next client waits in the accept queue. */
int serve_one_thread(int listen_fd, int n)
{
    for (int i = 0; i < n; i++) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0)
            return -1;
        serve_blocking(fd);
    }
    return 0;
}

static void *conn_thread_main(void *arg)
{
    serve_blocking((int)(intptr_t)arg);
    return NULL;
}

/* One thread per connection: each thread blocks on its own client only. */
int serve_thread_per_connection(int listen_fd, int n)
{
    int failures = 0;
    pthread_t *threads = calloc((size_t)n, sizeof *threads);
    int started = 0;
    if (threads == NULL)
        return -1;
    for (int i = 0; i < n; i++) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0) {
            failures++;
            break;
        }
        if (pthread_create(&threads[started], NULL, conn_thread_main, (void *)(intptr_t)fd) != 0) {
            close(fd); /* out of threads (ulimit -u, memory): this client is refused */
            failures++;
            continue;
        }
        started++;
    }
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    return failures ? -1 : 0;
}

/* ---- Server 3: one libevent loop ---- */

static void loop_conn_close(struct loop_conn *conn)
{
    event_free(conn->read_ev);
    close(conn->fd);
    free(conn);
}

static void server_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct loop_conn *conn = arg;
    char buf[IO_BUFFER_BYTES];
    (void)what;

    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        loop_conn_close(conn); /* EOF: the client is done */
        return;
    }
    /* A shortcut that holds only for this demo: a 5-byte reply to a client that always reads
     * fits in the socket buffer. A real server keeps what write() did not take and writes it
     * when the socket is writable again (Lecture 03). Here a short write counts as a failure. */
    if (write(fd, buf, (size_t)n) != n) {
        conn->srv->failures++;
        loop_conn_close(conn);
    }
}

static void server_accept_cb(evutil_socket_t fd, short what, void *arg)
{
    struct loop_server *srv = arg;
    (void)what;

    /* Accept everything that is waiting: one readiness report can stand for many clients. */
    while (srv->accepted < srv->expected) {
        int cfd = accept(fd, NULL, NULL);
        if (cfd < 0)
            break; /* EAGAIN: the queue is empty for now */
        struct loop_conn *conn = calloc(1, sizeof *conn);
        if (conn == NULL || set_nonblocking(cfd) != 0 ||
            (conn->read_ev =
                 event_new(srv->base, cfd, EV_READ | EV_PERSIST, server_read_cb, conn)) == NULL) {
            free(conn);
            close(cfd);
            srv->failures++;
            srv->accepted++;
            continue;
        }
        conn->fd = cfd;
        conn->srv = srv;
        event_add(conn->read_ev, NULL);
        srv->accepted++;
    }
    /* With the accept event gone, the loop ends by itself once the last client leaves. */
    if (srv->accepted == srv->expected)
        event_del(srv->accept_ev);
}

int serve_event_loop(int listen_fd, int n)
{
    struct loop_server srv = {.listen_fd = listen_fd, .expected = n};
    int rc = -1;

    if (set_nonblocking(listen_fd) != 0 || (srv.base = event_base_new()) == NULL)
        goto cleanup;
    srv.accept_ev = event_new(srv.base, listen_fd, EV_READ | EV_PERSIST, server_accept_cb, &srv);
    if (srv.accept_ev == NULL || event_add(srv.accept_ev, NULL) != 0)
        goto cleanup;
    event_base_dispatch(srv.base); /* returns when every connection has closed */
    rc = srv.failures ? -1 : 0;
cleanup:
    if (srv.accept_ev != NULL)
        event_free(srv.accept_ev);
    if (srv.base != NULL)
        event_base_free(srv.base);
    return rc;
}

size_t loop_conn_bytes(void)
{
    return sizeof(struct loop_conn) + event_get_struct_event_size();
}
