/*
 * chat_test.c - see chat_test.h.
 */
#include "chat_test.h"

#include "chaos.h"
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

#define CHAT_TEST_SHOWN 120            /* bytes of a line shown in a failure message */
#define CHAT_TEST_SMALL_RCVBUF 4096    /* a client that stops reading: the kernel holds little */
#define CHAT_TEST_BIG_RCVBUF (1 << 20) /* the same client reading again, at full speed */

/* Chaos mode (chaos.h) brings no background clients to the chat tests: every join and leave
 * is announced to the whole room, and nicknames count up (guest1, guest2, ...), so a stranger
 * would change the very lines these tests expect. Their sends are still cut into pieces. */
static void no_strangers(void)
{
    chaos_no_background_clients("the chat room announces every join and leave to everyone");
}

void chat_test_create(struct server_fixture *f, const struct chat_server_config *cfg)
{
    struct chat_server_config c = {0};

    no_strangers();
    server_fixture_init(f, true);
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
    server_fixture_check_created(f, "chat_server_new() on 127.0.0.1 port 0");
    f->port = chat_server_port(f->server);
    ck_assert_msg(f->port != 0,
                  "chat_server_port() returned 0 for a server started on port 0; expected the port "
                  "the kernel picked; read it with getsockname() on the listener's socket");
}

void chat_test_start(struct server_fixture *f, const struct chat_server_config *cfg)
{
    chat_test_create(f, cfg);
    server_fixture_run(f);
}

void chat_test_stop(struct server_fixture *f)
{
    server_fixture_stop_loop(f);
    chat_server_free(f->server);
    f->server = NULL;
    server_fixture_free(f);
}

void chat_test_connect(uint16_t port, struct client *c)
{
    no_strangers(); /* also for the tests that run the chat-server program */
    ck_assert_msg(client_connect(c, port) == 0,
                  "could not connect to the server on 127.0.0.1:%u: %s; expected the listener to "
                  "accept connections",
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
                  st == CLIENT_OK
                      ? transcript_escape(got, strlen(got), CHAT_TEST_SHOWN, shown, sizeof shown)
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
    ck_assert_msg(st == CLIENT_OK && strncmp(got, SPEC("* welcome "), 10) == 0,
                  "c%d connected; expected its first line to be \"* welcome <nick>\"; %s%s%s; "
                  "accept the client, write its output and have the room greet "
                  "it",
                  c->id, st == CLIENT_OK ? "received \"" : "",
                  st == CLIENT_OK
                      ? transcript_escape(got, strlen(got), CHAT_TEST_SHOWN, shown, sizeof shown)
                      : client_status_str(st),
                  st == CLIENT_OK ? "\"" : "");
    const char *name = got + 10;
    ck_assert_msg(strlen(name) >= 1 && strlen(name) <= CHAT_NICK_MAX,
                  "c%d was welcomed as \"%s\"; expected a nickname such as guest1", c->id, name);
    if (nick != NULL)
        snprintf(nick, CHAT_NICK_MAX + 1, "%s", name);
    for (int lines = 0;; lines++) {
        st = recv_line(c, got);
        ck_assert_msg(st == CLIENT_OK,
                      "c%d was welcomed; expected the history (if any) and then \"* end of "
                      "history\"; %s after %d more lines; send \"* end of history\" after the "
                      "replay, always",
                      c->id, client_status_str(st), lines);
        if (strcmp(got, SPEC("* end of history")) == 0)
            break;
        ck_assert_msg(
            strchr(got, ':') != NULL && got[0] != '*' && got[0] != '!',
            "c%d was welcomed; expected history lines \"<nick>: <text>\" and then \"* end "
            "of history\"; received \"%s\"",
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
                                  "the room's join notice to the others and the fan-out "
                                  "in server_deliver");
    }
}

void chat_test_send(struct client *c, const char *text)
{
    char shown[CHAT_TEST_SHOWN * 4 + 32];

    ck_assert_msg(client_send_str(c, text, CHAT_TEST_WAIT_MS) == 0,
                  "c%d could not send \"%s\": %s; the server is not reading from this client",
                  c->id,
                  transcript_escape(text, strlen(text), CHAT_TEST_SHOWN, shown, sizeof shown),
                  strerror(errno));
}

void chat_test_stop_reading(struct client *c)
{
    int small = CHAT_TEST_SMALL_RCVBUF;

    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    transcript_note("c%d stops reading (receive buffer: %d bytes)", c->id, small);
}

void chat_test_resume_reading(struct client *c)
{
    int big = CHAT_TEST_BIG_RCVBUF;

    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    transcript_note("c%d reads again (receive buffer: %d bytes)", c->id, big);
}

/* Flood line `seq`, without its LF, into out (CHAT_TEST_FLOOD_TEXT + 16 bytes). */
static void flood_line(int seq, char *out, size_t outsz)
{
    static char text[CHAT_TEST_FLOOD_TEXT + 1];

    if (text[0] == '\0')
        memset(text, 'm', CHAT_TEST_FLOOD_TEXT);
    snprintf(out, outsz, "%06d %s", seq, text);
}

void chat_test_flood(struct client *from, const char *from_nick, struct client *reader, int first,
                     int n)
{
    static char batch[CHAT_TEST_FLOOD_BATCH * (CHAT_TEST_FLOOD_TEXT + 16)];
    char line[CHAT_TEST_FLOOD_TEXT + 16], want[CHAT_TEST_FLOOD_TEXT + 64];
    char got[CHAT_TEST_LINE_MAX];

    transcript_note("c%d sends %d lines of %d bytes; c%d reads them", from->id, n,
                    CHAT_TEST_FLOOD_TEXT + 7, reader->id);
    for (int done = 0; done < n;) {
        int count = n - done < CHAT_TEST_FLOOD_BATCH ? n - done : CHAT_TEST_FLOOD_BATCH;
        size_t len = 0;
        for (int i = 0; i < count; i++) {
            flood_line(first + done + i, line, sizeof line);
            len += (size_t)snprintf(batch + len, sizeof batch - len, "%s\n", line);
        }
        ck_assert_msg(client_send(from, batch, len, CHAT_TEST_WAIT_MS) == 0,
                      "c%d could not send after %d lines: the server stopped reading it", from->id,
                      done);
        for (int i = 0; i < count; i++, done++) {
            flood_line(first + done, line, sizeof line);
            snprintf(want, sizeof want, "%s: %s", from_nick, line);
            enum client_status st = client_recv_line(reader, got, sizeof got, CHAT_TEST_WAIT_MS);
            ck_assert_msg(st == CLIENT_OK && strcmp(got, want) == 0,
                          "c%d sent %d lines of %d bytes; c%d expected line %d (\"%.24s...\"); %s "
                          "\"%.40s\"",
                          from->id, done + 1, CHAT_TEST_FLOOD_TEXT + 7, reader->id, first + done,
                          want, st == CLIENT_OK ? "received" : client_status_str(st),
                          st == CLIENT_OK ? got : "");
        }
    }
}

void chat_test_expect_flood(struct client *c, const char *from_nick, int first, int n,
                            const char *after)
{
    char line[CHAT_TEST_FLOOD_TEXT + 16], want[CHAT_TEST_FLOOD_TEXT + 64];
    char got[CHAT_TEST_LINE_MAX];

    for (int i = 0; i < n; i++) {
        flood_line(first + i, line, sizeof line);
        snprintf(want, sizeof want, "%s: %s", from_nick, line);
        enum client_status st = client_recv_line(c, got, sizeof got, CHAT_TEST_WAIT_MS);
        ck_assert_msg(st == CLIENT_OK && strcmp(got, want) == 0,
                      "after %s, c%d expected all %d lines, complete and in order; line %d "
                      "(\"%.24s...\", %zu bytes) %s%s%.40s%s%s",
                      after, c->id, n, first + i, want, strlen(want),
                      st == CLIENT_OK ? "is wrong: received \"" : "never arrived: ",
                      st == CLIENT_OK ? "" : client_status_str(st), st == CLIENT_OK ? got : "",
                      st == CLIENT_OK ? "...\"" : "",
                      i > 0 && st != CLIENT_OK ? " (the lines before it did arrive)" : "");
    }
}
