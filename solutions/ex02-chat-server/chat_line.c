/*
 * chat_line.c - see chat_line.h. Byte-level checks written out in full, because a chat server
 * is exactly the place where "we only expect ASCII" turns into a bug report. Try them through
 * the server: `printf 'a\033[31mb\n' | nc 127.0.0.1 7001` shows up in other clients as "ab".
 */
#include "chat_line.h"

#include <stdint.h>
#include <string.h>

bool chat_line_valid_utf8(const char *s, size_t len)
{
    /* STUDENT(5): True if the len bytes at s are valid UTF-8. A character is one byte below
     * 0x80, or a lead byte whose top bits give the length of its sequence (110xxxxx: 2 bytes,
     * 1110xxxx: 3, 11110xxx: 4) followed by that many continuation bytes, 10xxxxxx each.
     * Refuse a stray continuation byte, a byte UTF-8 never uses (F8..FF), a sequence cut off
     * by the end, an overlong form (a character in more bytes than it needs: C0 AF is an
     * overlong '/', which would slip past any check for '/'), the UTF-16 surrogates
     * U+D800..U+DFFF, and anything above U+10FFFF. A NUL byte is valid UTF-8.
     * stub:
     *     return true;
     */
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + len;

    while (p < end) {
        unsigned char b = *p;
        size_t more;    /* continuation bytes after the lead byte */
        uint32_t cp;    /* the code point being decoded */
        uint32_t least; /* the smallest code point that needs this many bytes */

        if (b < 0x80) {
            p++;
            continue;
        }
        if ((b & 0xE0) == 0xC0) {
            more = 1;
            cp = b & 0x1F;
            least = 0x80;
        } else if ((b & 0xF0) == 0xE0) {
            more = 2;
            cp = b & 0x0F;
            least = 0x800;
        } else if ((b & 0xF8) == 0xF0) {
            more = 3;
            cp = b & 0x07;
            least = 0x10000;
        } else {
            return false; /* a continuation byte with no lead, or a byte UTF-8 never uses */
        }
        if ((size_t)(end - p) <= more)
            return false; /* the sequence is cut off by the end of the line */
        for (size_t i = 1; i <= more; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        /* Overlong forms (e.g. C0 AF for '/') would let a '/' or a NUL slip past byte checks. */
        if (cp < least || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += more + 1;
    }
    return true;
    /* END STUDENT(5) */
}

size_t chat_line_strip_controls(char *s, size_t len)
{
    /* STUDENT(5): Remove the control characters from the len bytes at s, in place, and return
     * the new length. They are: the bytes below 0x20 except TAB, DEL (0x7F), and the C1
     * controls U+0080..U+009F, which UTF-8 writes as the two bytes C2 80 .. C2 9F. ESC matters
     * most: it starts the sequences that recolour, move or clear a terminal, and nobody may do
     * that to the others' screens. The bytes are valid UTF-8 already.
     * stub:
     *     return len;
     */
    size_t kept = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)s[i];

        if ((b < 0x20 && b != '\t') || b == 0x7F)
            continue;
        /* C1 controls are U+0080..U+009F, encoded as C2 80..C2 9F. */
        if (b == 0xC2 && i + 1 < len && (unsigned char)s[i + 1] <= 0x9F) {
            i++;
            continue;
        }
        s[kept++] = s[i];
    }
    return kept;
    /* END STUDENT(5) */
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
    /* STUDENT(5): True if the len bytes at s are a valid nickname: 1 to CHAT_NICK_MAX (16)
     * characters, each one of A-Z a-z 0-9 _ - (nick_char). Go by len, not by a NUL: a NUL
     * byte in a name is refused like any other bad byte.
     * stub:
     *     return false;
     */
    if (len == 0 || len > CHAT_NICK_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!nick_char(s[i]))
            return false;
    return true;
    /* END STUDENT(5) */
}

/* ASCII only on purpose: tolower() would follow the process locale. */
static unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

int chat_line_nick_cmp(const char *a, const char *b)
{
    /* STUDENT(5): Compare two nicknames like strcmp(), but without regard to case: "Alice"
     * and "aLICE" are equal, "alice" sorts before "Bob", and a name sorts before the longer
     * names it starts ("bob" before "bob2"). ASCII only (ascii_lower): the C library's
     * tolower() follows the process's locale. The room keeps nicknames unique and sorts /list
     * with this.
     * stub:
     *     return strcmp(a, b);
     */
    const unsigned char *x = (const unsigned char *)a;
    const unsigned char *y = (const unsigned char *)b;

    while (*x != '\0' && ascii_lower(*x) == ascii_lower(*y)) {
        x++;
        y++;
    }
    return ascii_lower(*x) - ascii_lower(*y);
    /* END STUDENT(5) */
}
