/*
 * tcp_echo_script.c - the clients that `tcp-echo --demo` plays against its own server.
 *
 * Seven scenes, one per idea in the lecture: an echo, a half-close, a reset, an idle timeout,
 * many connections, an accept error and a graceful shutdown. Each scene uses plain blocking
 * sockets (with a timeout on every wait) and prints what it does; the server, running on the
 * main thread, prints what it sees. Between scenes the script waits for the server's
 * connection count to settle, so the two voices come out in a readable order.
 */
#include "tcp_echo_script.h"
#include "tcp_echo.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SCRIPT_TIMEOUT_MS 5000        /* every blocking call and every wait gives up after this */
#define HALF_CLOSE_BYTES (128 * 1024) /* fits in the kernel's buffers: sending it cannot block */
#define CROWD_CLIENTS 200

static const char GOODBYE[] = "server shutting down\n";

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
    va_list ap;

    fputs("client: ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
}

__attribute__((format(printf, 2, 3))) static void fail(struct echo_script *sc, const char *fmt, ...)
{
    va_list ap;

    fputs("client: UNEXPECTED: ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    sc->failures++;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* A blocking TCP connection with SCRIPT_TIMEOUT_MS on every send and receive. -1 on failure. */
static int dial(const char *host, uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct timeval tv = {SCRIPT_TIMEOUT_MS / 1000, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 ||
        connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, 0);
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Reads until len bytes, EOF, an error or the timeout. Returns the number of bytes read. */
static size_t recv_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t got = 0;

    while (got < len) {
        ssize_t n = recv(fd, p + got, len - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

/* True if the next read says end of stream (rather than data or a timeout). */
static bool recv_eof(int fd)
{
    char c;

    return recv(fd, &c, 1, 0) == 0;
}

/* Waits until the server's open-connection count is `want`: the server runs on another thread,
 * and this keeps its log lines in step with ours. Polls every millisecond, for a bounded time. */
static bool wait_open(struct echo_script *sc, const struct tcp_echo *server, unsigned want)
{
    for (int waited = 0; waited < SCRIPT_TIMEOUT_MS; waited++) {
        if (tcp_echo_open_count(server) == want)
            return true;
        sleep_ms(1);
    }
    fail(sc, "the server still has %u connections open, expected %u", tcp_echo_open_count(server),
         want);
    return false;
}

static void scene(const char *title)
{
    printf("\n== %s\n", title);
}

static void scene_echo(struct echo_script *sc, uint16_t port)
{
    char buf[16];

    scene("1. one client: send a line, read the echo, close (the server sees EOF)");
    int fd = dial(sc->host, port);
    if (fd < 0 || !wait_open(sc, sc->server, 1)) {
        fail(sc, "client A could not connect");
        goto done;
    }
    send_all(fd, "hello\n", 6);
    say("A sent \"hello\\n\"");
    if (recv_all(fd, buf, 6) != 6 || memcmp(buf, "hello\n", 6) != 0)
        fail(sc, "A did not get \"hello\\n\" back");
    else
        say("A got \"hello\\n\" back");
    say("A closes its socket: its kernel sends FIN, the server reads EOF");
done:
    if (fd >= 0)
        close(fd);
    wait_open(sc, sc->server, 0);
}

static void scene_half_close(struct echo_script *sc, uint16_t port)
{
    char *out = malloc(HALF_CLOSE_BYTES), *back = malloc(HALF_CLOSE_BYTES);
    int fd = -1;

    scene("2. half-close: send 128 KiB, shut down the sending side, keep reading");
    if (out == NULL || back == NULL)
        goto done;
    for (size_t i = 0; i < HALF_CLOSE_BYTES; i++)
        out[i] = (char)('a' + i % 26);
    fd = dial(sc->host, port);
    if (fd < 0 || !wait_open(sc, sc->server, 1)) {
        fail(sc, "client B could not connect");
        goto done;
    }
    send_all(fd, out, HALF_CLOSE_BYTES);
    shutdown(fd, SHUT_WR);
    say("B sent %d bytes, then shutdown(SHUT_WR): \"done sending, still listening\"",
        HALF_CLOSE_BYTES);
    size_t got = recv_all(fd, back, HALF_CLOSE_BYTES);
    if (got == HALF_CLOSE_BYTES && memcmp(out, back, got) == 0 && recv_eof(fd))
        say("B read all %zu bytes back, then EOF: the server sent everything before closing", got);
    else
        fail(sc, "B got %zu of %d bytes back before the connection ended", got, HALF_CLOSE_BYTES);
done:
    if (fd >= 0)
        close(fd);
    free(out);
    free(back);
    wait_open(sc, sc->server, 0);
}

static void scene_reset(struct echo_script *sc, uint16_t port)
{
    char buf[8];
    struct linger abort_on_close = {.l_onoff = 1, .l_linger = 0};

    scene("3. reset: the client aborts, so its kernel sends RST instead of FIN");
    int fd = dial(sc->host, port);
    if (fd < 0 || !wait_open(sc, sc->server, 1)) {
        fail(sc, "client C could not connect");
        goto done;
    }
    send_all(fd, "ping\n", 5);
    if (recv_all(fd, buf, 5) != 5)
        fail(sc, "C did not get its echo");
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    say("C got its echo, set SO_LINGER to {on, 0 s} and closed: that sends RST");
done:
    if (fd >= 0)
        close(fd);
    wait_open(sc, sc->server, 0);
}

static void scene_idle(struct echo_script *sc, uint16_t port, int idle_ms)
{
    char buf[8];
    char title[96];

    snprintf(title, sizeof title, "4. idle timeout: the server closes a client silent for %d ms",
             idle_ms);
    scene(title);
    int fd = dial(sc->host, port);
    if (fd < 0 || !wait_open(sc, sc->server, 1)) {
        fail(sc, "client D could not connect");
        goto done;
    }
    send_all(fd, "tick\n", 5);
    recv_all(fd, buf, 5);
    say("D sent a line and got it back; now D stays quiet for %d ms", idle_ms / 2);
    sleep_ms(idle_ms / 2); /* being idle on purpose: this is the thing being shown */
    send_all(fd, "tock\n", 5);
    if (recv_all(fd, buf, 5) != 5) {
        fail(sc, "D was disconnected after only %d ms of silence", idle_ms / 2);
        goto done;
    }
    say("D was still connected (every read restarts the timer); D sends nothing more");
    double quiet_since = now_s();
    if (recv_eof(fd))
        say("D: the server closed the connection %.1f s after D's last line",
            now_s() - quiet_since);
    else
        fail(sc, "D was never disconnected");
done:
    if (fd >= 0)
        close(fd);
    wait_open(sc, sc->server, 0);
}

static void scene_crowd(struct echo_script *sc)
{
    int fds[CROWD_CLIENTS];
    int opened = 0, echoed = 0;
    uint16_t port = tcp_echo_port(sc->crowd);

    scene("5. many connections: 200 clients at once (on a second, silent server, so the log "
          "stays short)");
    for (opened = 0; opened < CROWD_CLIENTS; opened++) {
        fds[opened] = dial(sc->host, port);
        if (fds[opened] < 0)
            break;
    }
    if (opened < CROWD_CLIENTS || !wait_open(sc, sc->crowd, CROWD_CLIENTS)) {
        fail(sc, "only %d of %d clients could connect", opened, CROWD_CLIENTS);
        goto done;
    }
    say("%d clients connected; the server holds %u connections on its one thread", opened,
        tcp_echo_open_count(sc->crowd));
    for (int i = 0; i < opened; i++) {
        char line[32];
        int len = snprintf(line, sizeof line, "client %d\n", i);
        send_all(fds[i], line, (size_t)len);
    }
    for (int i = 0; i < opened; i++) {
        char want[32], got[32];
        int len = snprintf(want, sizeof want, "client %d\n", i);
        if (recv_all(fds[i], got, (size_t)len) == (size_t)len &&
            memcmp(want, got, (size_t)len) == 0)
            echoed++;
    }
    if (echoed == CROWD_CLIENTS)
        say("all %d echoes came back, each on its own connection", echoed);
    else
        fail(sc, "%d of %d echoes came back", echoed, CROWD_CLIENTS);
done:
    for (int i = 0; i < opened; i++)
        close(fds[i]);
    if (wait_open(sc, sc->crowd, 0))
        say("all closed; the server saw at most %u open at once", tcp_echo_peak_count(sc->crowd));
}

static void scene_accept_error(struct echo_script *sc, uint16_t port)
{
    struct rlimit old, low;
    char buf[16];
    int fd = -1;

    scene("6. accept errors: the process runs out of file descriptors");
    /* The lowest free descriptor number is the next one any socket will get. Allow exactly
     * that one: the client's socket takes it, and the server's accept() finds none left. */
    int probe = open("/dev/null", O_RDONLY);
    if (probe < 0 || getrlimit(RLIMIT_NOFILE, &old) != 0) {
        fail(sc, "cannot prepare the descriptor limit");
        if (probe >= 0)
            close(probe);
        return;
    }
    close(probe);
    low = old;
    low.rlim_cur = (rlim_t)probe + 1;
    unsigned errors_before = tcp_echo_accept_errors(sc->server);
    setrlimit(RLIMIT_NOFILE, &low);
    fd = dial(sc->host, port);
    say("E lowered RLIMIT_NOFILE so that its own socket took the last descriptor, and connected");

    bool paused = false;
    for (int waited = 0; waited < SCRIPT_TIMEOUT_MS && !paused; waited++) {
        paused = tcp_echo_accept_errors(sc->server) > errors_before;
        if (!paused)
            sleep_ms(1);
    }
    setrlimit(RLIMIT_NOFILE, &old);
    if (fd < 0 || !paused) {
        fail(sc, "the server never reported an accept error");
        goto done;
    }
    say("E raised the limit again, as if other clients had left and freed descriptors");
    send_all(fd, "still there?\n", 13);
    if (recv_all(fd, buf, 13) == 13)
        say("E's connection was accepted after the pause, and echoed");
    else
        say("E's waiting connection was closed without an echo (some tools, such as valgrind, "
            "close it themselves)");
done:
    if (fd >= 0)
        close(fd);
    wait_open(sc, sc->server, 0);
}

static void scene_shutdown(struct echo_script *sc, uint16_t port)
{
    const char *names[2] = {"F", "G"};
    char buf[sizeof GOODBYE];

    scene("7. graceful shutdown: SIGTERM while two clients are connected");
    int fds[2] = {dial(sc->host, port), dial(sc->host, port)};
    if (fds[0] < 0 || fds[1] < 0 || !wait_open(sc, sc->server, 2))
        fail(sc, "F and G could not both connect");
    else
        say("F and G are connected; the script sends SIGTERM to the process, as `kill` would");
    kill(getpid(), SIGTERM);
    for (int i = 0; i < 2; i++) {
        if (fds[i] < 0)
            continue;
        size_t got = recv_all(fds[i], buf, sizeof GOODBYE - 1);
        if (got == sizeof GOODBYE - 1 && memcmp(buf, GOODBYE, got) == 0 && recv_eof(fds[i]))
            say("%s got \"server shutting down\\n\" and then EOF", names[i]);
        else
            fail(sc, "%s did not get the goodbye line followed by EOF", names[i]);
        close(fds[i]);
    }
}

void *echo_script_run(void *arg)
{
    struct echo_script *sc = arg;
    uint16_t port = tcp_echo_port(sc->server);

    scene_echo(sc, port);
    scene_half_close(sc, port);
    scene_reset(sc, port);
    scene_idle(sc, port, sc->idle_ms);
    scene_crowd(sc);
    scene_accept_error(sc, port);
    scene_shutdown(sc, port); /* always last: it ends the server */
    return NULL;
}
