/*
 * test_chat_line.c - unit tests of chat_line.c: UTF-8 validation, control characters,
 * nickname rules. No sockets: these call the functions directly.
 *
 * tests.json says which step of the exercise each test proves; the suite runs them in that order.
 */
#include "chat_test.h"

#include "transcript.h"

#include <string.h>

/* A named byte string, so failure messages can say which case went wrong. */
struct sample {
    const char *what;
    const char *bytes;
    size_t len;
};

#define SAMPLE(what, literal)                                                                      \
    {                                                                                              \
        what, literal, sizeof literal - 1                                                          \
    }

HARNESS_TEST(test_utf8_is_validated)
{
    static const struct sample good[] = {
        SAMPLE("plain ASCII", "hello, world"),
        SAMPLE("the empty string", ""),
        SAMPLE("2-byte characters", "caf\xc3\xa9 na\xc3\xafve"),
        SAMPLE("3-byte characters", "\xe2\x82\xac 100, \xe6\x97\xa5\xe6\x9c\xac"),
        SAMPLE("a 4-byte emoji", "ok \xf0\x9f\x91\x8d"),
        SAMPLE("the highest code point U+10FFFF", "\xf4\x8f\xbf\xbf"),
        SAMPLE("a NUL byte (valid UTF-8; removed later as a control character)", "a\0b"),
    };
    static const struct sample bad[] = {
        SAMPLE("a lone continuation byte", "a\x80"
                                           "b"),
        SAMPLE("a byte never used in UTF-8 (0xFF)", "\xff"),
        SAMPLE("a 2-byte sequence cut off at the end", "ab\xc3"),
        SAMPLE("a 3-byte sequence with a bad second byte", "\xe2\x28\xa1"),
        SAMPLE("an overlong '/' (C0 AF)", "\xc0\xaf"),
        SAMPLE("an overlong 3-byte NUL (E0 80 80)", "\xe0\x80\x80"),
        SAMPLE("a UTF-16 surrogate (ED A0 80)", "\xed\xa0\x80"),
        SAMPLE("a code point above U+10FFFF (F4 90 80 80)", "\xf4\x90\x80\x80"),
        SAMPLE("Latin-1 text", "caf\xe9"),
    };
    char shown[128];

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(
            chat_line_valid_utf8(good[i].bytes, good[i].len),
            "chat_line_valid_utf8(\"%s\") (%s) returned false; expected true; decode each "
            "lead byte's length and check its continuation bytes",
            transcript_escape(good[i].bytes, good[i].len, 40, shown, sizeof shown), good[i].what);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!chat_line_valid_utf8(bad[i].bytes, bad[i].len),
                      "chat_line_valid_utf8(\"%s\") (%s) returned true; expected false; reject "
                      "truncated and overlong sequences, surrogates and code points over U+10FFFF",
                      transcript_escape(bad[i].bytes, bad[i].len, 40, shown, sizeof shown),
                      bad[i].what);
    harness_pass();
}

HARNESS_TEST(test_control_characters_are_removed)
{
    static const struct {
        const char *what;
        const char *in;
        size_t in_len;
        const char *out;
    } cases[] = {
#define STRIP(what, in, out) {what, in, sizeof in - 1, out}
        STRIP("an ESC colour sequence", "a\x1b[31mred\x1b[0m", "a[31mred[0m"),
        STRIP("a TAB (kept)", "a\tb", "a\tb"),
        STRIP("BEL, NUL and DEL", "x\x07y\0z\x7f", "xyz"),
        STRIP("a C1 control (U+009B, CSI)",
              "a\xc2\x9b"
              "2J",
              "a2J"),
        STRIP("non-control 2-byte characters (kept)", "caf\xc3\xa9 \xc2\xa0!",
              "caf\xc3\xa9 \xc2\xa0!"),
        STRIP("a CR in the middle", "one\rtwo", "onetwo"),
#undef STRIP
    };
    char buf[64], shown_in[128], shown_out[128];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(buf, cases[i].in, cases[i].in_len);
        size_t len = chat_line_strip_controls(buf, cases[i].in_len);
        ck_assert_msg(
            len == strlen(cases[i].out) && memcmp(buf, cases[i].out, len) == 0,
            "chat_line_strip_controls(\"%s\") (%s) gave \"%s\"; expected \"%s\"; remove "
            "bytes below 0x20 except TAB, 0x7F, and C2 80..C2 9F",
            transcript_escape(cases[i].in, cases[i].in_len, 40, shown_in, sizeof shown_in),
            cases[i].what,
            transcript_escape(buf, len <= sizeof buf ? len : sizeof buf, 40, shown_out,
                              sizeof shown_out),
            cases[i].out);
    }
    harness_pass();
}

HARNESS_TEST(test_nickname_rules)
{
    static const char *good[] = {"alice", "Bob_42", "x", "a-b_c", "ABCDEFGHIJKLMNOP" /* 16 */};
    static const struct sample bad[] = {
        SAMPLE("empty", ""),
        SAMPLE("17 characters", "ABCDEFGHIJKLMNOPQ"),
        SAMPLE("a space", "al ice"),
        SAMPLE("punctuation", "bob!"),
        SAMPLE("a non-ASCII letter", "j\xc3\xbcrgen"),
        SAMPLE("a NUL byte", "ab\0c"),
    };
    char shown[64];

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(chat_line_valid_nick(good[i], strlen(good[i])),
                      "chat_line_valid_nick(\"%s\") returned false; expected true: 1 to 16 "
                      "characters of A-Z a-z 0-9 _ -",
                      good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!chat_line_valid_nick(bad[i].bytes, bad[i].len),
                      "chat_line_valid_nick(\"%s\") (%s) returned true; expected false: 1 to 16 "
                      "characters of A-Z a-z 0-9 _ -",
                      transcript_escape(bad[i].bytes, bad[i].len, 40, shown, sizeof shown),
                      bad[i].what);
    harness_pass();
}

HARNESS_TEST(test_nicknames_compare_ignoring_case)
{
    ck_assert_msg(chat_line_nick_cmp("Alice", "aLICE") == 0,
                  "chat_line_nick_cmp(\"Alice\", \"aLICE\") is not 0; expected 0: names are equal "
                  "without regard to case");
    ck_assert_msg(
        chat_line_nick_cmp("alice", "Bob") < 0 && chat_line_nick_cmp("Bob", "alice") > 0,
        "chat_line_nick_cmp(\"alice\", \"Bob\") should be < 0 and the reverse > 0: compare "
        "the lower-cased letters, as /list sorts");
    ck_assert_msg(chat_line_nick_cmp("bob", "bob2") < 0 && chat_line_nick_cmp("bob_", "BOB") > 0,
                  "chat_line_nick_cmp: a name sorts before the longer names it starts (\"bob\" < "
                  "\"bob2\", \"bob_\" > \"BOB\")");
    harness_pass();
}
