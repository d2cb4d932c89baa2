/*
 * test_echo_data.c - the server listens, keeps every client, and every byte comes back, to
 * every client, in any order, at any size, however slowly the client reads.
 */
#include "echo_test.h"

#include "transcript.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCEPTED_CLIENTS 3 /* clients that connect and say nothing */
#define KEEP_OPEN_MS 300   /* how long they must stay open: a close would come sooner */
#define FIFTY_CLIENTS 50
#define BINARY_BYTES (256 * 1024) /* random bytes, many of them NUL */
#define BINARY_MAX_CHUNK 3000     /* send chunks of 1 to this many bytes */
#define LARGE_BYTES (8u << 20)    /* several MiB: far more than any socket buffer */
#define LARGE_WAIT_MS 60000       /* generous: sanitizers slow big copies down */
/* Sent before the client reads anything. Far more than the slow reader's socket buffers hold,
 * so most of the echo must wait in the server, but below its bound, so no pause is needed. */
#define SLOW_READER_BYTES (200 * 1024)
_Static_assert(SLOW_READER_BYTES < ECHO_MAX_PENDING_BYTES, "the slow reader must not be paused");

HARNESS_TEST(test_listens_on_the_port_it_reports)
{
    struct server_fixture f;
    struct client c;

    echo_test_start(&f, 0, 0); /* asserts a server, and a port other than 0 */
    transcript_note("server: listening on port %u, says echo_server_port()", f.port);
    ck_assert_msg(client_connect(&c, f.port) == 0,
                  "echo_server_port() said %u; expected a listening socket on 127.0.0.1:%u; "
                  "connecting failed: %s",
                  f.port, f.port, strerror(errno));
    client_close(&c);
    echo_test_stop(&f);
    harness_pass();
}

/* A connection only lives as long as someone keeps its socket: the server must keep every
 * client it accepts, and log it. */
HARNESS_TEST(test_clients_are_accepted_and_logged)
{
    struct server_fixture f;
    struct client c[ACCEPTED_CLIENTS];
    char expected[64];

    echo_test_start(&f, 0, 0);
    for (int i = 0; i < ACCEPTED_CLIENTS; i++) {
        echo_test_connect(&f, &c[i]);
        uint16_t port = client_local_port(&c[i]);
        snprintf(expected, sizeof expected, "connect 127.0.0.1:%u", port);
        server_fixture_expect_log(&f, "connect", port, expected,
                                  "every accepted client is logged as \"connect PEER\"");
    }
    /* Not a sleep: this waits for a close that must not come. */
    for (int i = 0; i < ACCEPTED_CLIENTS; i++) {
        enum client_status st = client_wait_close(&c[i], i == 0 ? KEEP_OPEN_MS : 0);
        ck_assert_msg(st == CLIENT_TIMEOUT,
                      "c%d connected and was logged, then said nothing; expected the server to "
                      "keep its connection open; it was closed (%s)",
                      c[i].id, c[i].err != 0 ? strerror(c[i].err) : "a normal close");
    }
    for (int i = 0; i < ACCEPTED_CLIENTS; i++)
        client_close(&c[i]);
    echo_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_one_client_gets_its_bytes_back)
{
    struct server_fixture f;
    struct client c;

    echo_test_start(&f, 0, 0);
    echo_test_connect(&f, &c);
    echo_test_roundtrip(&c, "hello, echo\n");
    client_close(&c);
    echo_test_stop(&f);
    harness_pass();
}

/* A server that serves one client at a time (a blocking read() on the first) never answers the
 * second client while the first stays silent. */
HARNESS_TEST(test_clients_are_served_in_any_order)
{
    struct server_fixture f;
    struct client a, b;
    char got[16];
    size_t n = 0;

    echo_test_start(&f, 0, 0);
    echo_test_connect(&f, &a);
    echo_test_connect(&f, &b);
    transcript_note("c%d stays silent while c%d talks", a.id, b.id);
    ck_assert_msg(client_send_str(&b, "from b\n", ECHO_TEST_WAIT_MS) == 0, "c%d could not send",
                  b.id);
    enum client_status st = client_recv_exact(&b, got, 7, &n, ECHO_TEST_WAIT_MS);
    ck_assert_msg(
        st == CLIENT_OK && memcmp(got, "from b\n", 7) == 0,
        "c%d connected first and stayed silent; c%d then sent \"from b\\n\" and expected it "
        "back, but received %zu bytes (%s): the server is waiting on one client",
        a.id, b.id, n, client_status_str(st));
    echo_test_roundtrip(&a, "from a\n");
    echo_test_roundtrip(&b, "b again\n");
    client_close(&a);
    client_close(&b);
    echo_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_fifty_clients_interleaved)
{
    struct server_fixture f;
    static struct client c[FIFTY_CLIENTS];
    char line[64], got[64];

    echo_test_start(&f, 0, 0);
    for (int i = 0; i < FIFTY_CLIENTS; i++)
        echo_test_connect(&f, &c[i]);

    /* Every client sends the first half of its line, last client first; then every client
     * sends the second half; only then does anyone read. A server must have kept each
     * connection's bytes apart and answered all of them. */
    for (int i = FIFTY_CLIENTS - 1; i >= 0; i--) {
        snprintf(line, sizeof line, "client %02d says", i);
        ck_assert_msg(client_send_str(&c[i], line, ECHO_TEST_WAIT_MS) == 0, "c%d could not send",
                      c[i].id);
    }
    for (int i = 0; i < FIFTY_CLIENTS; i++)
        ck_assert_msg(client_send_str(&c[i], " hello\n", ECHO_TEST_WAIT_MS) == 0,
                      "c%d could not send", c[i].id);
    for (int i = 0; i < FIFTY_CLIENTS; i++) {
        snprintf(line, sizeof line, "client %02d says hello", i);
        enum client_status st = client_recv_line(&c[i], got, sizeof got, ECHO_TEST_WAIT_MS);
        ck_assert_msg(
            st == CLIENT_OK && strcmp(got, line) == 0,
            "50 clients each sent a line in two parts, interleaved; client %d (c%d) expected "
            "\"%s\\n\" back, received \"%s\" (%s)",
            i, c[i].id, line, got, client_status_str(st));
    }
    for (int i = 0; i < FIFTY_CLIENTS; i++)
        client_close(&c[i]);
    echo_test_stop(&f);
    harness_pass();
}

static size_t random_chunk(uint64_t *rng)
{
    return 1 + (size_t)(echo_test_random(rng) % BINARY_MAX_CHUNK);
}

HARNESS_TEST(test_binary_data_with_random_chunking)
{
    struct server_fixture f;
    struct client c;
    unsigned char *data = malloc(BINARY_BYTES), *back = calloc(1, BINARY_BYTES);
    uint64_t rng = 0x5eed0001;

    ck_assert_msg(data != NULL && back != NULL, "test setup failed: out of memory");
    for (size_t i = 0; i < BINARY_BYTES; i++)
        data[i] = i % 5 == 0 ? 0 : (unsigned char)echo_test_random(&rng); /* NULs everywhere */

    echo_test_start(&f, 0, 0);
    echo_test_connect(&f, &c);
    size_t got = echo_test_exchange(&c, data, BINARY_BYTES, back, random_chunk, &rng, false,
                                    ECHO_TEST_WAIT_MS * 2);
    size_t diff = echo_test_first_difference(data, back, got);
    ck_assert_msg(got == BINARY_BYTES && diff == got,
                  "sent %d random bytes (every fifth one NUL) in chunks of 1 to %d bytes; expected "
                  "them back unchanged; received %zu bytes, the first wrong one at offset %zu",
                  BINARY_BYTES, BINARY_MAX_CHUNK, got, diff);
    client_close(&c);
    echo_test_stop(&f);
    free(data);
    free(back);
    harness_pass();
}

/* The client sends everything before it reads a byte, with small socket buffers on both
 * sides: the kernel refuses most of each echo, and the server must keep it until the client
 * reads. */
HARNESS_TEST(test_slow_reader_gets_every_byte)
{
    struct server_fixture f;
    struct client c;
    static unsigned char data[SLOW_READER_BYTES];

    for (size_t i = 0; i < sizeof data; i++)
        data[i] = echo_test_pattern(i);
    echo_test_start(&f, 0, 0);
    echo_test_connect_slow_reader(&f, &c);
    ck_assert_msg(client_send(&c, data, sizeof data, ECHO_TEST_WAIT_MS) == 0,
                  "c%d could not send %d bytes (%s); expected the server to read all of them, "
                  "since it may hold up to %d bytes of echo per client",
                  c.id, SLOW_READER_BYTES, strerror(errno), ECHO_MAX_PENDING_BYTES);
    transcript_note("c%d sent %d bytes without reading; now it reads", c.id, SLOW_READER_BYTES);
    size_t good = echo_test_recv_pattern(&c, SLOW_READER_BYTES, ECHO_TEST_WAIT_MS);
    ck_assert_msg(good == SLOW_READER_BYTES,
                  "c%d sent %d bytes with small socket buffers and read nothing until it had sent "
                  "them all; expected all of them back in order; received %zu correct bytes, then "
                  "%s",
                  c.id, SLOW_READER_BYTES, good,
                  c.eof ? "the close" : "a wrong byte or nothing more");
    client_close(&c);
    echo_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_large_payload_echoed_while_reading)
{
    struct server_fixture f;
    struct client c;
    unsigned char *data = malloc(LARGE_BYTES), *back = calloc(1, LARGE_BYTES);

    ck_assert_msg(data != NULL && back != NULL, "test setup failed: out of memory");
    for (size_t i = 0; i < LARGE_BYTES; i++)
        data[i] = echo_test_pattern(i);

    echo_test_start(&f, 0, 0);
    echo_test_connect(&f, &c);
    size_t got = echo_test_exchange(&c, data, LARGE_BYTES, back, NULL, NULL, false, LARGE_WAIT_MS);
    size_t diff = echo_test_first_difference(data, back, got);
    ck_assert_msg(
        got == LARGE_BYTES && diff == got,
        "sent %u bytes in 64 KiB chunks while reading the echo; expected all of them back "
        "in order; received %zu, the first wrong one at offset %zu",
        LARGE_BYTES, got, diff);
    client_close(&c);
    echo_test_stop(&f);
    free(data);
    free(back);
    harness_pass();
}
