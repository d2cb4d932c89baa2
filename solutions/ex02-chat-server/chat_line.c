/*
 * chat_line.c - see chat_line.h. Byte-level checks written out in full, because a chat server
 * is exactly the place where "we only expect ASCII" turns into a bug report. Try them through
 * the server: `printf 'a\033[31mb\n' | nc 127.0.0.1 7001` shows up in other clients as "ab".
 */
#include "chat_line.h"

#include <stdint.h>

bool chat_line_valid_utf8(const char *s, size_t len)
{
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
}

size_t chat_line_strip_controls(char *s, size_t len)
{
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
}

static bool nick_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

bool chat_line_valid_nick(const char *s, size_t len)
{
    if (len == 0 || len > CHAT_NICK_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!nick_char(s[i]))
            return false;
    return true;
}

/* ASCII only on purpose: tolower() would follow the process locale. */
static unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

int chat_line_nick_cmp(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)a;
    const unsigned char *y = (const unsigned char *)b;

    while (*x != '\0' && ascii_lower(*x) == ascii_lower(*y)) {
        x++;
        y++;
    }
    return ascii_lower(*x) - ascii_lower(*y);
}
