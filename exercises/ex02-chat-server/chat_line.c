/*
 * chat_line.c - see chat_line.h. Byte-level checks written out in full, because a chat server
 * is exactly the place where "we only expect ASCII" turns into a bug report. Try them through
 * the server: `printf 'a\033[31mb\n' | nc 127.0.0.1 7001` shows up in other clients as "ab".
 */
#include "chat_line.h"

#include <stdint.h>

/* Until the exercise is finished, some stubs do not use their parameters. These lines keep the
 * compiler quiet about that; delete them when you have finished, and the compiler will check
 * your work again. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"

bool chat_line_valid_utf8(const char *s, size_t len)
{
    /* TODO(5): UTF-8 validation (lectures/03-tcp-networking/README.md#protocol-framing)
     *   Walk the bytes. A byte below 0x80 is ASCII. Otherwise its top bits say how long the
     *   sequence is:
     *       110xxxxx  one continuation byte follows     (code points from U+0080)
     *       1110xxxx  two continuation bytes follow     (from U+0800)
     *       11110xxx  three continuation bytes follow   (from U+10000)
     *   and every continuation byte looks like 10xxxxxx. Return false for:
     *   - any other lead byte (a continuation byte on its own, 0xF8..0xFF);
     *   - a sequence cut off by the end of the line, or a continuation byte that is not 10xxxxxx;
     *   - an overlong form: the code point you decode is below the smallest one that needs that
     *     many bytes (C0 AF is an overlong '/', which would sneak past a check for '/');
     *   - a UTF-16 surrogate (U+D800..U+DFFF) or anything above U+10FFFF.
     *   Decode the code point as you go: cp = (cp << 6) | (byte & 0x3F) for each continuation.
     */
    /* The starter's stand-in, so that it compiles: replace it. */
    return true;
}

size_t chat_line_strip_controls(char *s, size_t len)
{
    /* TODO(5): control characters (lectures/03-tcp-networking/README.md#protocol-framing)
     *   Copy the bytes to keep towards the front of s (a "kept" index that trails the reading
     *   index) and return how many you kept. Drop:
     *   - bytes below 0x20, except TAB ('\t');
     *   - DEL, 0x7F;
     *   - C1 controls U+0080..U+009F, which UTF-8 encodes as the two bytes C2 80 .. C2 9F.
     *   ESC (0x1B) is the one that matters most: it starts the sequences that recolour or clear
     *   a terminal, and nobody should be able to do that to the others' screens.
     */
    /* The starter's stand-in, so that it compiles: replace it. */
    return len;
}

/* One character of a nickname: A-Z a-z 0-9 _ -. The ranges are spelled out because isalnum()
 * follows the process locale. */
static bool nick_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

bool chat_line_valid_nick(const char *s, size_t len)
{
    /* TODO(5): nickname rules (lectures/03-tcp-networking/README.md#protocol-framing)
     *   1 to CHAT_NICK_MAX characters, each one passing nick_char(). A NUL byte or a
     *   non-ASCII byte must be refused like any other.
     */
    /* The starter's stand-in, so that it compiles: replace it. */
    return false;
}

/* ASCII only on purpose: tolower() would follow the process locale. */
static unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

int chat_line_nick_cmp(const char *a, const char *b)
{
    /* TODO(5): compare ignoring case (lectures/03-tcp-networking/README.md#protocol-framing)
     *   Like strcmp(), but comparing ascii_lower() of each byte: "Alice" and "aLICE" compare
     *   equal, "alice" < "Bob". The room uses it to keep nicks unique and to sort /list.
     */
    /* The starter's stand-in, so that it compiles: replace it. */
    const unsigned char *x = (const unsigned char *)a;
    const unsigned char *y = (const unsigned char *)b;

    while (*x != '\0' && *x == *y) {
        x++;
        y++;
    }
    return *x - *y; /* for now, case matters */
}
