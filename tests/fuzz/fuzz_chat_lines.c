/*
 * fuzz_chat_lines.c - fuzzes exercise 02's line checks (chat_line.c) and its command parser
 * (chat_room_handle_line) with arbitrary bytes.
 *
 * The line checks are compared with independent references: the UTF-8 check with a
 * table-driven one (fuzz_utf8_ok), the nickname check with the rule spelled out, and the
 * cleaning must leave valid UTF-8 with no control character, twice the same. Then the input,
 * cut at each LF the way the server frames it, is handed line by line to a room of three
 * members: every line the room answers must be whole, valid UTF-8 and free of control
 * characters, and /list must stay sorted, unique and in step with the member count.
 * Run: tests/fuzz/run-fuzz chat-lines (see README.md here).
 */
#include "fuzz.h"

#include "chat_line.h"
#include "chat_room.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MEMBERS 3

static int is_control(const uint8_t *s, size_t len, size_t i)
{
    if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7F)
        return 1;
    return s[i] == 0xC2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F;
}

static void check_line_functions(const uint8_t *data, size_t size)
{
    bool valid = chat_line_valid_utf8((const char *)data, size);
    if (valid != (fuzz_utf8_ok(data, size) != 0))
        fuzz_fail("chat_line_valid_utf8 says %d for %zu bytes, the reference says %d", valid, size,
                  !valid);

    if (valid) {
        char *copy = malloc(size + 1);
        if (copy == NULL)
            return;
        memcpy(copy, data, size);
        size_t n = chat_line_strip_controls(copy, size);
        if (n > size || !fuzz_utf8_ok((uint8_t *)copy, n))
            fuzz_fail("chat_line_strip_controls left %zu bytes that are not valid UTF-8", n);
        for (size_t i = 0; i < n; i++)
            if (is_control((uint8_t *)copy, n, i))
                fuzz_fail("chat_line_strip_controls left control byte 0x%02x at %zu",
                          (uint8_t)copy[i], i);
        if (chat_line_strip_controls(copy, n) != n)
            fuzz_fail("chat_line_strip_controls is not idempotent");
        free(copy);
    }

    bool nick_ref = size >= 1 && size <= CHAT_NICK_MAX;
    for (size_t i = 0; i < size && nick_ref; i++)
        nick_ref = (data[i] >= 'a' && data[i] <= 'z') || (data[i] >= 'A' && data[i] <= 'Z') ||
                   (data[i] >= '0' && data[i] <= '9') || data[i] == '_' || data[i] == '-';
    if (chat_line_valid_nick((const char *)data, size) != nick_ref)
        fuzz_fail("chat_line_valid_nick disagrees with the rule for %zu bytes", size);

    /* nick_cmp: two NUL-terminated halves; antisymmetric, and equal to itself. */
    char a[64], b[64];
    size_t half = size / 2 < sizeof a - 1 ? size / 2 : sizeof a - 1;
    size_t rest = size - size / 2 < sizeof b - 1 ? size - size / 2 : sizeof b - 1;
    memcpy(a, data, half);
    a[half] = '\0';
    memcpy(b, data + size / 2, rest);
    b[rest] = '\0';
    int ab = chat_line_nick_cmp(a, b), ba = chat_line_nick_cmp(b, a);
    if ((ab > 0) != (ba < 0) || (ab == 0) != (ba == 0) || chat_line_nick_cmp(a, a) != 0)
        fuzz_fail("chat_line_nick_cmp is not antisymmetric: %d and %d", ab, ba);
}

/* Every line the room sends: complete, valid UTF-8, no control characters but TAB. */
static void check_outbox_buffer(struct evbuffer *buf, const char *which)
{
    size_t len = evbuffer_get_length(buf);
    if (len == 0)
        return;
    const uint8_t *p = evbuffer_pullup(buf, -1);
    if (p[len - 1] != '\n')
        fuzz_fail("%s does not end in a newline", which);
    if (!fuzz_utf8_ok(p, len))
        fuzz_fail("%s is not valid UTF-8", which);
    for (size_t i = 0; i < len; i++)
        if (p[i] != '\n' && is_control(p, len, i))
            fuzz_fail("%s holds control byte 0x%02x", which, p[i]);
}

/* /list must name chat_room_count() members, sorted ignoring case, none twice. */
static void check_list(struct chat_room *room, struct chat_member *m, struct chat_outbox *out)
{
    char cmd[] = "/list";
    char names[FUZZ_MEMBERS + 1][CHAT_NICK_MAX + 1];
    size_t n = 0;

    chat_outbox_clear(out);
    chat_room_handle_line(room, m, cmd, strlen(cmd), out);
    size_t len = evbuffer_get_length(out->to_sender);
    char *text = (char *)evbuffer_pullup(out->to_sender, -1);
    char *colon = text != NULL ? memchr(text, ':', len) : NULL;
    if (colon == NULL)
        fuzz_fail("/list gave no list");
    text[len - 1] = '\0';
    for (char *name = strtok(colon + 1, ", "); name != NULL; name = strtok(NULL, ", ")) {
        if (n == FUZZ_MEMBERS + 1 || strlen(name) > CHAT_NICK_MAX)
            fuzz_fail("/list names too many members, or a name too long");
        strcpy(names[n++], name);
        if (n > 1 && chat_line_nick_cmp(names[n - 2], names[n - 1]) >= 0)
            fuzz_fail("/list is not sorted and unique: %s before %s", names[n - 2], names[n - 1]);
    }
    if (n != chat_room_count(room))
        fuzz_fail("/list names %zu members, the room counts %zu", n, chat_room_count(room));
    chat_outbox_clear(out);
}

static void check_room(const uint8_t *data, size_t size)
{
    struct chat_outbox out;
    struct chat_history *history = chat_history_open(NULL, 4, NULL);
    struct chat_room *room = chat_room_new(history);
    struct chat_member *members[FUZZ_MEMBERS];
    char line[CHAT_LINE_MAX];

    if (history == NULL || room == NULL || chat_outbox_init(&out) != 0)
        fuzz_fail("out of memory");
    for (int i = 0; i < FUZZ_MEMBERS; i++)
        members[i] = chat_room_join(room, &out);
    chat_outbox_clear(&out);

    /* Frame as the server does: a line is the bytes before an LF, at most CHAT_LINE_MAX. */
    size_t start = 0, who = 0;
    while (start < size) {
        const uint8_t *lf = memchr(data + start, '\n', size - start);
        size_t len = (lf != NULL ? (size_t)(lf - data) : size) - start;
        if (len <= CHAT_LINE_MAX) {
            memcpy(line, data + start, len);
            struct chat_member *m = members[who % FUZZ_MEMBERS];
            chat_room_handle_line(room, m, line, len, &out);
            check_outbox_buffer(out.to_sender, "a line to the sender");
            check_outbox_buffer(out.to_others, "a line to the others");
            if (out.quit) { /* the server would close it: the member leaves, a new one comes */
                chat_outbox_clear(&out);
                chat_room_leave(room, m, &out);
                members[who % FUZZ_MEMBERS] = chat_room_join(room, &out);
            }
            chat_outbox_clear(&out);
        }
        start += len + 1;
        who++;
    }
    for (size_t i = 0; i < chat_history_count(history); i++) {
        const struct chat_history_entry *e = chat_history_at(history, i);
        if (!fuzz_utf8_ok((const uint8_t *)e->text, e->text_len) || e->text_len == 0)
            fuzz_fail("the history kept an empty or invalid message");
    }
    check_list(room, members[0], &out);
    chat_outbox_release(&out);
    chat_room_free(room);
    chat_history_free(history);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_line_functions(data, size);
    check_room(data, size);
    return 0;
}
