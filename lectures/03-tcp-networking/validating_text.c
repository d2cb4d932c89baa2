/*
 * validating_text.c - checking that a line is the text a protocol promised, before anyone else
 * sees it.
 *
 * A line protocol that says "UTF-8 text" has to enforce it: bound the length first, then check
 * that the bytes are well-formed UTF-8 (and refuse the line if not), then remove the control
 * characters that would act on other people's terminals. The checks follow the Unicode table of
 * well-formed byte sequences, so overlong forms, surrogates and code points above U+10FFFF are
 * refused. `--demo` runs a list of lines, good and bad, through the checks and prints the verdict
 * on each.
 *
 *     ./tcp-text            (--demo does the same)
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define LINE_MAX_BYTES 64 /* the demo's bound; Exercise 02 uses 1024 */

/*
 * Looks at the UTF-8 sequence that starts at s[0] (len bytes are available) and returns its
 * length, 1 to 4, or 0 if it is not well-formed; then *why says what is wrong. The allowed
 * ranges are those of the Unicode standard's table of well-formed byte sequences (Table 3-7):
 * the narrower second-byte ranges after E0, ED, F0 and F4 are what exclude overlong forms,
 * the surrogates U+D800..U+DFFF and everything above U+10FFFF.
 */
static size_t utf8_sequence(const unsigned char *s, size_t len, const char **why)
{
    unsigned char lead = s[0];
    unsigned char lo = 0x80, hi = 0xBF; /* the range allowed for the second byte */
    size_t n;

    if (lead <= 0x7F)
        return 1; /* ASCII: one byte, the same in UTF-8 */
    if (lead >= 0x80 && lead <= 0xBF) {
        *why = "a continuation byte (10xxxxxx) with no lead byte before it";
        return 0;
    }
    if (lead == 0xC0 || lead == 0xC1) {
        *why = "C0 or C1 can only start an overlong form of an ASCII character";
        return 0;
    }
    if (lead >= 0xF5) {
        *why = "a byte that never occurs in UTF-8 (F5..FF)";
        return 0;
    }
    if (lead <= 0xDF) {
        n = 2;
    } else if (lead <= 0xEF) {
        n = 3;
        if (lead == 0xE0)
            lo = 0xA0; /* E0 80..9F would encode U+0000..U+07FF again: overlong */
        if (lead == 0xED)
            hi = 0x9F; /* ED A0..BF would be U+D800..U+DFFF, the UTF-16 surrogates */
    } else {
        n = 4;
        if (lead == 0xF0)
            lo = 0x90; /* F0 80..8F would encode U+0000..U+FFFF again: overlong */
        if (lead == 0xF4)
            hi = 0x8F; /* F4 90 and above would be past U+10FFFF, the last code point */
    }
    if (len < n) {
        *why = "the line ends in the middle of a sequence";
        return 0;
    }
    if (s[1] < lo || s[1] > hi) {
        *why = s[1] < 0x80 || s[1] > 0xBF ? "a lead byte not followed by a continuation byte"
               : lead == 0xED             ? "a surrogate (U+D800..U+DFFF): not a character"
               : lead == 0xF4             ? "a code point above U+10FFFF"
                                          : "an overlong form (a shorter encoding exists)";
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF) {
            *why = "a lead byte not followed by enough continuation bytes";
            return 0;
        }
    }
    return n;
}

/* Returns true if s[0..len) is well-formed UTF-8; otherwise false, with the offset of the bad
 * sequence in *at and the reason in *why. */
static bool utf8_valid(const char *s, size_t len, size_t *at, const char **why)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        size_t n = utf8_sequence(p + i, len - i, why);
        if (n == 0) {
            *at = i;
            return false;
        }
        i += n;
    }
    return true;
}

/*
 * Removes, in place, the control characters Exercise 02 removes: the C0 controls U+0000..U+001F
 * except TAB, DEL (U+007F), and the C1 controls U+0080..U+009F (two bytes each: C2 80..C2 9F).
 * The text must be valid UTF-8 already, so it can be walked one whole character at a time.
 * Returns the new length.
 */
static size_t strip_controls(char *s, size_t len)
{
    unsigned char *p = (unsigned char *)s;
    size_t in = 0, out = 0;
    const char *unused;

    while (in < len) {
        size_t n = utf8_sequence(p + in, len - in, &unused);
        bool control = (n == 1 && ((p[in] < 0x20 && p[in] != '\t') || p[in] == 0x7F)) ||
                       (n == 2 && p[in] == 0xC2 && p[in + 1] <= 0x9F);
        if (!control) {
            memmove(p + out, p + in, n);
            out += n;
        }
        in += n;
    }
    return out;
}

/* Prints bytes as C would write them: printable ASCII as is, everything else as \xNN. */
static void print_escaped(const char *s, size_t len)
{
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\')
            putchar(c);
        else
            printf("\\x%02x", c);
    }
    putchar('"');
}

/* The whole check for one line, in the order that matters: bound, validate, clean. */
static void check_line(const char *label, const char *bytes, size_t len)
{
    char line[LINE_MAX_BYTES];
    size_t at;
    const char *why;

    printf("%-22s ", label);
    if (len > LINE_MAX_BYTES) { /* first: never spend work on a line you will refuse anyway */
        printf("%zu bytes: REJECTED, longer than %d bytes\n", len, LINE_MAX_BYTES);
        return;
    }
    print_escaped(bytes, len);
    if (!utf8_valid(bytes, len, &at, &why)) {
        printf(": REJECTED at byte %zu: %s\n", at, why);
        return;
    }
    memcpy(line, bytes, len);
    size_t kept = strip_controls(line, len);
    if (kept == len) {
        printf(": accepted\n");
    } else {
        printf(": accepted, shown as ");
        print_escaped(line, kept);
        putchar('\n');
    }
}

int main(int argc, char **argv)
{
    static const char long_line[LINE_MAX_BYTES + 10] = {0};

    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, even into a pipe */
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--demo") != 0)) {
        fprintf(stderr, "usage: %s [--demo]\n", argv[0]);
        return 2;
    }
    /* sizeof - 1: the lengths of the literals without their terminating '\0'. */
#define CHECK(label, lit) check_line(label, lit, sizeof lit - 1)
    printf("== well-formed UTF-8 ==\n");
    CHECK("ASCII", "hello");
    CHECK("e-acute (2 bytes)", "caf\xc3\xa9");
    CHECK("euro sign (3 bytes)", "\xe2\x82\xac 5");
    CHECK("emoji (4 bytes)", "\xf0\x9f\x98\x80");
    printf("\n== not UTF-8: refused ==\n");
    CHECK("Latin-1 e-acute", "caf\xe9 au lait");
    CHECK("lone continuation", "\x80"
                               "abc");
    CHECK("overlong '/'", "\xc0\xaf");
    CHECK("overlong 3-byte", "\xe0\x80\xaf");
    CHECK("surrogate U+D800", "\xed\xa0\x80");
    CHECK("above U+10FFFF", "\xf4\x90\x80\x80");
    CHECK("never used (FF)", "\xff");
    CHECK("cut off", "\xe2\x82");
    printf("\n== valid, but with control characters: removed ==\n");
    CHECK("ANSI colour (ESC)", "a\x1b[31mred\x1b[0m");
    CHECK("TAB is kept", "tab\there");
    CHECK("a NUL inside", "nul\x00inside");
    CHECK("DEL", "de\x7fl");
    CHECK("C1 CSI (U+009B)", "\xc2\x9b"
                             "2J");
    CHECK("no-break space", "a\xc2\xa0"
                            "b");
    printf("\n== too long: refused before any other check ==\n");
    check_line("a 74-byte line", long_line, sizeof long_line);
#undef CHECK
    return 0;
}
