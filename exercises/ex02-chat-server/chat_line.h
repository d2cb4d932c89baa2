/*
 * chat_line.h - checks and cleans one line of chat text. No sockets, no state.
 *
 * Everything a client sends is untrusted bytes. Before a line is shown to anyone it must be
 * valid UTF-8 (or it is refused), and it must not carry control characters: an ESC sequence in
 * a chat message would otherwise recolour, move or clear the cursor in other people's
 * terminals. Nicknames follow a small fixed alphabet so they are easy to type and to compare.
 *
 * These are plain functions on (pointer, length) pairs: a line may contain NUL bytes, so
 * nothing here relies on a terminating NUL.
 */
#ifndef CHAT_LINE_H
#define CHAT_LINE_H

#include <stdbool.h>
#include <stddef.h>

#define CHAT_LINE_MAX 1024 /* bytes of one input line before its LF (a CR counts) */
#define CHAT_NICK_MAX 16   /* characters in a nickname */

/* True if s[0..len) is well-formed UTF-8: no stray continuation bytes, no truncated or
 * overlong sequences, no UTF-16 surrogates, nothing above U+10FFFF. */
bool chat_line_valid_utf8(const char *s, size_t len);

/*
 * Removes control characters in place and returns the new length. Removed: C0 controls
 * (U+0000..U+001F) except TAB, DEL (U+007F) and C1 controls (U+0080..U+009F, which some
 * terminals also obey). s must already be valid UTF-8.
 */
size_t chat_line_strip_controls(char *s, size_t len);

/* True if s[0..len) is a valid nickname: 1 to CHAT_NICK_MAX characters of A-Z a-z 0-9 _ -. */
bool chat_line_valid_nick(const char *s, size_t len);

/* Compares two NUL-terminated nicknames ignoring ASCII case, like strcmp: <0, 0 or >0. */
int chat_line_nick_cmp(const char *a, const char *b);

#endif
