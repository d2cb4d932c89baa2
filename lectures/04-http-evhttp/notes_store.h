/*
 * notes_store.h - the state behind the notes API: named notes in a fixed-size table.
 *
 * Nothing here knows about HTTP; the handlers in http_notes.c translate requests into these
 * calls. The table is bounded (NOTES_MAX entries of bounded size), so no request can make the
 * server grow without limit. Single-threaded like the event loop that uses it: no locks.
 */
#ifndef NOTES_STORE_H
#define NOTES_STORE_H

#include <stdbool.h>
#include <stddef.h>

#define NOTES_MAX 100      /* notes the store holds at most */
#define NOTE_NAME_MAX 64   /* bytes in a name, after percent-decoding */
#define NOTE_TEXT_MAX 1024 /* bytes of UTF-8 in a note's text */

struct note {
    char name[NOTE_NAME_MAX + 1]; /* NUL-terminated; never contains NUL itself */
    char text[NOTE_TEXT_MAX + 1];
};

struct notes_store {
    struct note notes[NOTES_MAX]; /* notes[0 .. count-1], oldest first */
    size_t count;
};

/* The note called `name`, or NULL. The pointer is valid until the next put or delete. */
const struct note *notes_store_find(const struct notes_store *store, const char *name);

/* Creates or replaces the note `name`. Sets *created to say which. Returns 0, or -1 when the
 * store is full (a new name and NOTES_MAX notes already). The caller has checked the lengths:
 * name at most NOTE_NAME_MAX bytes, text at most NOTE_TEXT_MAX; both are copied. */
int notes_store_put(struct notes_store *store, const char *name, const char *text, bool *created);

/* Deletes the note `name`. Returns true if there was one. */
bool notes_store_delete(struct notes_store *store, const char *name);

#endif
