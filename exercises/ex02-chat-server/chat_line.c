/*
 * chat_line.c - see chat_line.h. Byte-level checks written out in full, because a chat server
 * is exactly the place where "we only expect ASCII" turns into a bug report. Try them through
 * the server: `printf 'a\033[31mb\n' | nc 127.0.0.1 7001` shows up in other clients as "ab".
 */
#include "chat_line.h"

#include <stdint.h>
#include <string.h>

/* Until every TODO is done, some functions are not called yet and some stubs leave
 * parameters and variables unused. These lines keep the compiler quiet about that; delete
 * them when you have finished, and the compiler will check your work again. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"

bool chat_line_valid_utf8(const char *s, size_t len)
{
    /* TODO(5): check the bytes of a line
     * Read: lectures/03-tcp-networking/README.md#validating-text
     * True if the len bytes at s are valid UTF-8. A character is one byte below
     * 0x80, or a lead byte whose top bits give the length of its sequence (110xxxxx: 2 bytes,
     * 1110xxxx: 3, 11110xxx: 4) followed by that many continuation bytes, 10xxxxxx each.
     * Refuse a stray continuation byte, a byte UTF-8 never uses (F8..FF), a sequence cut off
     * by the end, an overlong form (a character in more bytes than it needs: C0 AF is an
     * overlong '/', which would slip past any check for '/'), the UTF-16 surrogates
     * U+D800..U+DFFF, and anything above U+10FFFF. A NUL byte is valid UTF-8.
     */
    return true;
}

size_t chat_line_strip_controls(char *s, size_t len)
{
    /* TODO(5): check the bytes of a line
     * Read: lectures/03-tcp-networking/README.md#validating-text
     * Remove the control characters from the len bytes at s, in place, and return
     * the new length. They are: the bytes below 0x20 except TAB, DEL (0x7F), and the C1
     * controls U+0080..U+009F, which UTF-8 writes as the two bytes C2 80 .. C2 9F. ESC matters
     * most: it starts the sequences that recolour, move or clear a terminal, and nobody may do
     * that to the others' screens. The bytes are valid UTF-8 already.
     */
    return len;
}

/* One character of a nickname: A-Z a-z 0-9 _ -. The ranges are spelled out because isalnum()
 * follows the process locale. */
static bool nick_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

bool chat_line_valid_nick(const char *s, size_t len)
{
    /* TODO(5): check the bytes of a line
     * Read: lectures/03-tcp-networking/README.md#validating-text
     * True if the len bytes at s are a valid nickname: 1 to CHAT_NICK_MAX (16)
     * characters, each one of A-Z a-z 0-9 _ - (nick_char). Go by len, not by a NUL: a NUL
     * byte in a name is refused like any other bad byte.
     */
    return false;
}

/* ASCII only on purpose: tolower() would follow the process locale. */
static unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

int chat_line_nick_cmp(const char *a, const char *b)
{
    /* TODO(5): check the bytes of a line
     * Read: lectures/03-tcp-networking/README.md#validating-text
     * Compare two nicknames like strcmp(), but without regard to case: "Alice"
     * and "aLICE" are equal, "alice" sorts before "Bob", and a name sorts before the longer
     * names it starts ("bob" before "bob2"). ASCII only (ascii_lower): the C library's
     * tolower() follows the process's locale. The room keeps nicknames unique and sorts /list
     * with this.
     */
    return strcmp(a, b);
}
