/*
 * framing_script.h - what `tcp-framing --demo` plays: the decoders of framing.c fed bytes in
 * chosen chunks, then one client against the line server on the same event_base.
 */
#ifndef LECTURE03_FRAMING_SCRIPT_H
#define LECTURE03_FRAMING_SCRIPT_H

#include <stdint.h>

#include <event2/event.h>

/* Runs the chunked examples (sections 1 and 2 of the demo). Returns 0, or -1 if memory ran
 * out. */
int framing_script_feeds(void);

/* The demo's client. It sends two good lines and one too long in one write, prints each reply,
 * and ends the loop (event_base_loopexit) once the server has closed. */
struct framing_client {
    struct event_base *base;
    struct bufferevent *bev; /* owned; NULL once closed */
    int replies;             /* lines received: 3 on a good run */
};

/* Connects c to 127.0.0.1:port. Returns 0, or -1 (then free c with framing_client_free). */
int framing_client_start(struct framing_client *c, struct event_base *base, uint16_t port);

/* Frees what the client still holds; the struct itself is the caller's. */
void framing_client_free(struct framing_client *c);

#endif
