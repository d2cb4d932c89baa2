/*
 * chat_test.c - see chat_test.h.
 */
#include "chat_test.h"

#include "transcript.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHAT_TEST_LIBEVENT_NOTES 20 /* libevent messages copied to the transcript */
#define CHAT_TEST_SHOWN 120         /* bytes of a line shown in a failure message */

/* libevent's own warnings go to the transcript instead of the terminal. Any thread. */
static void libevent_log_cb(int severity, const char *msg)
{
    static _Atomic int seen;
    (void)severity;

    if (seen++ < CHAT_TEST_LIBEVENT_NOTES)
        transcript_note("libevent says: %s", msg);
}

const char *chat_test_log_tail(struct chat_fixture *f)
{
    static char tail[1024];

    if (f->log == NULL)
        return "";
    log_capture_tail(f->log, tail, sizeof tail);
    for (char *p = tail; *p != '\0'; p++)
        if (*p == '\n')
            *p = '|'; /* one-line failure messages */
    return tail;
}

void chat_test_create(struct chat_fixture *f, const struct chat_server_config *cfg)
{
    struct chat_server_config c = {0};

    memset(f, 0, sizeof *f);
    event_set_log_callback(libevent_log_cb);
    f->lt = loop_thread_new();
    f->log = log_capture_new();
    ck_assert_msg(f->lt != NULL && f->log != NULL, "test setup failed: no event base or log pipe");

    if (cfg != NULL)
        c = *cfg;
    c.host = "127.0.0.1";
    c.port = 0;
    c.log = log_capture_stream(f->log);
    transcript_note("server: chat_server_new(port 0, idle_timeout_ms %d, max_connections %d, "
                    "history_file %s, history_size %d)",
                    c.idle_timeout_ms, c.max_connections,
                    c.history_file != NULL ? c.history_file : "NULL", c.history_size);
    f->server = chat_server_new(loop_thread_base(f->lt), &c);
    if (f->server == NULL) /* let the log's reader thread catch up, for the message below */
        log_capture_wait(f->log, CHAT_TEST_WAIT_MS / 10, NULL, 0, "", NULL);
    ck_assert_msg(f->server != NULL,
                  "chat_server_new() on 127.0.0.1 port 0 returned NULL; expected a listening "
                  "server; its log says: \"%s\"; start with TODO(1): bind the listener",
                  chat_test_log_tail(f));
    f->port = chat_server_port(f->server);
    ck_assert_msg(f->port != 0,
                  "chat_server_port() returned 0 for a server started on port 0; expected the port "
                  "the kernel picked; read it with getsockname() on the listener's socket (TODO(1))");
}

void chat_test_start(struct chat_fixture *f, const struct chat_server_config *cfg)
{
    chat_test_create(f, cfg);
    ck_assert_msg(loop_thread_start(f->lt) == 0, "test setup failed: cannot start the loop thread");
}

void chat_test_stop(struct chat_fixture *f)
{
    loop_thread_stop(f->lt);
    chat_server_free(f->server);
    f->server = NULL;
    loop_thread_free(f->lt);
    f->lt = NULL;
    log_capture_free(f->log);
    f->log = NULL;
}

void chat_test_connect(uint16_t port, struct client *c)
{
    ck_assert_msg(client_connect(c, port) == 0,
                  "could not connect to the server on 127.0.0.1:%u: %s; expected the listener to "
                  "accept connections (TODO(1), TODO(2))",
                  port, strerror(errno));
}

/* Receives one line into got (CHAT_TEST_LINE_MAX bytes). */
static enum client_status recv_line(struct client *c, char *got)
{
    return client_recv_line(c, got, CHAT_TEST_LINE_MAX, CHAT_TEST_WAIT_MS);
}

void chat_test_expect_line(struct client *c, const char *expected, const char *after,
                           const char *look_at)
{
    char got[CHAT_TEST_LINE_MAX], shown[CHAT_TEST_SHOWN * 4 + 32];

    enum client_status st = recv_line(c, got);
    ck_assert_msg(st == CLIENT_OK && strcmp(got, expected) == 0,
                  "after %s, c%d expected the line \"%s\"; %s%s%s; look at %s", after, c->id,
                  expected, st == CLIENT_OK ? "received \"" : "",
                  st == CLIENT_OK ? transcript_escape(got, strlen(got), CHAT_TEST_SHOWN, shown, sizeof shown)
                                  : client_status_str(st),
                  st == CLIENT_OK ? "\"" : "", look_at);
}

void chat_test_expect_close(struct client *c, const char *after, const char *look_at)
{
    enum client_status st = client_wait_close(c, CHAT_TEST_WAIT_MS);
    ck_assert_msg(st == CLIENT_EOF,
                  "after %s, expected the server to close c%d's connection; it is still open after "
                  "%d ms; look at %s",
                  after, c->id, CHAT_TEST_WAIT_MS, look_at);
}

void chat_test_join(uint16_t port, struct client *c, char *nick)
{
    char got[CHAT_TEST_LINE_MAX], shown[CHAT_TEST_SHOWN * 4 + 32];

    chat_test_connect(port, c);
    enum client_status st = recv_line(c, got);
    ck_assert_msg(st == CLIENT_OK && strncmp(got, "* welcome ", 10) == 0,
                  "c%d connected; expected its first line to be \"* welcome <nick>\"; %s%s%s; "
                  "accept the client (TODO(2)), write its output (TODO(4)) and have the room greet "
                  "it (TODO(3))",
                  c->id, st == CLIENT_OK ? "received \"" : "",
                  st == CLIENT_OK ? transcript_escape(got, strlen(got), CHAT_TEST_SHOWN, shown, sizeof shown)
                                  : client_status_str(st),
                  st == CLIENT_OK ? "\"" : "");
    const char *name = got + 10;
    ck_assert_msg(strlen(name) >= 1 && strlen(name) <= CHAT_NICK_MAX,
                  "c%d was welcomed as \"%s\"; expected a nickname such as guest1 (TODO(3))",
                  c->id, name);
    if (nick != NULL)
        snprintf(nick, CHAT_NICK_MAX + 1, "%s", name);
    for (int lines = 0;; lines++) {
        st = recv_line(c, got);
        ck_assert_msg(st == CLIENT_OK,
                      "c%d was welcomed; expected the history (if any) and then \"* end of "
                      "history\"; %s after %d more lines; send \"* end of history\" after the "
                      "replay, always (TODO(3))",
                      c->id, client_status_str(st), lines);
        if (strcmp(got, "* end of history") == 0)
            break;
        ck_assert_msg(strchr(got, ':') != NULL && got[0] != '*' && got[0] != '!',
                      "c%d was welcomed; expected history lines \"<nick>: <text>\" and then \"* end "
                      "of history\"; received \"%s\" (TODO(3))",
                      c->id, transcript_escape(got, strlen(got), CHAT_TEST_SHOWN, shown, sizeof shown));
    }
}

void chat_test_join_all(uint16_t port, struct client *c, int n)
{
    char nick[CHAT_NICK_MAX + 1], expected[64], after[96];

    for (int i = 0; i < n; i++) {
        chat_test_join(port, &c[i], nick);
        snprintf(expected, sizeof expected, "* %s joined", nick);
        snprintf(after, sizeof after, "c%d joined as %s", c[i].id, nick);
        for (int j = 0; j < i; j++)
            chat_test_expect_line(&c[j], expected, after,
                                  "the room's join notice to the others (TODO(3)) and the fan-out "
                                  "in server_deliver (TODO(4))");
    }
}

void chat_test_send(struct client *c, const char *text)
{
    char shown[CHAT_TEST_SHOWN * 4 + 32];

    ck_assert_msg(client_send_str(c, text, CHAT_TEST_WAIT_MS) == 0,
                  "c%d could not send \"%s\": %s; the server is not reading from this client "
                  "(TODO(7))",
                  c->id, transcript_escape(text, strlen(text), CHAT_TEST_SHOWN, shown, sizeof shown),
                  strerror(errno));
}

uint16_t chat_test_local_port(const struct client *c)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;

    if (c->fd < 0 || getsockname(c->fd, (struct sockaddr *)&sa, &len) != 0)
        return 0;
    return ntohs(sa.sin_port);
}

void chat_test_expect_log(struct chat_fixture *f, const char *verb, uint16_t port,
                          const char *expected, const char *look_at)
{
    char needle[64], line[512];

    snprintf(needle, sizeof needle, "%s 127.0.0.1:%u ", verb, port);
    /* Lines are searched oldest first, and "connect ..." is also inside "disconnect ...":
     * the connect line, logged earlier, is found first. The exact comparison catches the rest. */
    int found = log_capture_wait(f->log, CHAT_TEST_WAIT_MS, line, sizeof line, needle, NULL);
    ck_assert_msg(found && strcmp(line, expected) == 0,
                  "expected the log line \"%s\"; %s%s\"; log so far: \"%s\"; look at %s", expected,
                  found ? "found \"" : "found no line starting \"", found ? line : needle,
                  chat_test_log_tail(f), look_at);
}

int chat_test_wait_log_count(struct chat_fixture *f, const char *needle, int n, int timeout_ms)
{
    return log_capture_wait_count(f->log, needle, n, timeout_ms);
}

void chat_test_make_dir(char *dir, size_t size)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, size, "%s/chat-test-XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    ck_assert_msg(mkdtemp(dir) != NULL, "test setup failed: mkdtemp(%s): %s", dir, strerror(errno));
    transcript_note("scratch directory: %s", dir);
}

void chat_test_remove_dir(const char *dir)
{
    char path[CHAT_TEST_PATH_MAX * 2];
    DIR *d = opendir(dir);

    if (d == NULL)
        return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

void chat_test_write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    ck_assert_msg(fp != NULL, "test setup failed: cannot create %s: %s", path, strerror(errno));
    fputs(text, fp);
    ck_assert_msg(fclose(fp) == 0, "test setup failed: cannot write %s", path);
}

long chat_test_read_file(const char *path, char *buf, size_t size)
{
    FILE *fp = fopen(path, "r");

    if (fp == NULL)
        return -1;
    size_t n = fread(buf, 1, size - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return (long)n;
}

long chat_test_count_lines(const char *path)
{
    FILE *fp = fopen(path, "r");
    long lines = 0;
    int ch;

    if (fp == NULL)
        return -1;
    while ((ch = getc(fp)) != EOF)
        if (ch == '\n')
            lines++;
    fclose(fp);
    return lines;
}
