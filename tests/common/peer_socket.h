/*
 * peer_socket.h - the server's end of a test client's connection, seen from the test.
 *
 * The servers under test run inside the test's own process, so a test can find the server's
 * socket for one of its clients (by the two ports) and ask the kernel what that socket holds:
 * bytes that arrived and wait unread, and bytes written but not yet taken by the client. Tests
 * use this to reach an exact state (say, "the server has read everything, and part of its
 * answer waits in its socket") by polling a condition instead of sleeping.
 */
#ifndef PEER_SOCKET_H
#define PEER_SOCKET_H

#include <stdint.h>

struct client;

/* The server's socket (listening on server_port) for client c, or -1 if there is none. */
int peer_socket_find(uint16_t server_port, const struct client *c);

/* Bytes that arrived on fd and wait unread, or -1. */
int peer_socket_unread(int fd);

/* Bytes written to fd that have not left it yet (the peer's window is full), or -1 where the
 * system cannot say (Linux can). */
int peer_socket_unsent(int fd);

#endif
