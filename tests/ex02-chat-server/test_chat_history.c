/*
 * test_chat_history.c - unit tests of chat_history.c: the JSON-lines file is written, read
 * back, repaired and kept small. No sockets: each test works on a file in a scratch directory.
 *
 * tests.json says which step of the exercise each test proves; the suite runs them in that order.
 */
#include "chat_test.h"

#include "chat_history.h"
#include "fd_limit.h"
#include "transcript.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define HISTORY_FILE_MAX (64 * 1024) /* bytes of a history file a test reads */
#define LOG_MAX 4096

/* A scratch directory with a history file path in it. */
struct history_files {
    char dir[CHAT_TEST_PATH_MAX];
    char path[CHAT_TEST_PATH_MAX + 32];
    char tmp_path[CHAT_TEST_PATH_MAX + 32];
};

static void files_make(struct history_files *hf)
{
    scratch_make_dir(hf->dir, sizeof hf->dir);
    snprintf(hf->path, sizeof hf->path, "%s/history.jsonl", hf->dir);
    snprintf(hf->tmp_path, sizeof hf->tmp_path, "%s/history.jsonl.tmp", hf->dir);
}

/* What the history logged so far (its log is a temporary file). */
static const char *log_text(FILE *log)
{
    static char text[LOG_MAX];

    fflush(log);
    rewind(log);
    size_t n = fread(text, 1, sizeof text - 1, log);
    text[n] = '\0';
    for (char *p = text; *p != '\0'; p++)
        if (*p == '\n')
            *p = '|';
    return text;
}

static bool looks_like_time(const char *t)
{
    return strlen(t) == 20 && t[4] == '-' && t[7] == '-' && t[10] == 'T' && t[13] == ':' &&
           t[19] == 'Z';
}

HARNESS_TEST(test_history_writes_json_lines)
{
    struct history_files hf;
    static char text[HISTORY_FILE_MAX];
    static const char tricky[] = "say \"hi\" \\ caf\xc3\xa9 {not: json}";

    files_make(&hf);
    struct chat_history *h = chat_history_open(hf.path, 10, NULL);
    ck_assert_msg(h != NULL,
                  "chat_history_open(\"%s\", 10) returned NULL for a file that does not "
                  "exist yet; a missing file is an empty history",
                  hf.path);
    chat_history_add(h, "alice", tricky, strlen(tricky));
    chat_history_add(h, "bob", "second", 6);

    /* Read the file while the history is still open: a message must be on file (written to
     * the kernel) as soon as chat_history_add() returns, not when the history is closed. */
    long n = scratch_read_file(hf.path, text, sizeof text);
    ck_assert_msg(n > 0,
                  "after two chat_history_add() calls, %s is %s; expected two JSON lines, "
                  "written with write() before chat_history_add returns",
                  hf.path, n < 0 ? "missing" : "empty");
    long lines = scratch_count_lines(hf.path);
    ck_assert_msg(lines == 2 && text[n - 1] == '\n',
                  "after two messages, expected exactly two lines, each ending in '\\n', in %s; it "
                  "holds \"%.200s\"",
                  hf.path, text);

    const char *expect_nick[] = {"alice", "bob"};
    const char *expect_text[] = {tricky, "second"};
    char *line = text;
    for (int i = 0; i < 2; i++) {
        char *end = strchr(line, '\n');
        json_error_t err;
        json_t *obj = json_loadb(line, (size_t)(end - line), 0, &err);
        const char *time = NULL, *nick = NULL, *msg = NULL;
        ck_assert_msg(obj != NULL && json_unpack(obj, "{s:s, s:s, s:s}", "time", &time, "nick",
                                                 &nick, "text", &msg) == 0,
                      "line %d of the history file, \"%.*s\", is not a JSON object with string "
                      "fields time, nick and text (%s); build it with json_pack and json_dumps",
                      i + 1, (int)(end - line), line, obj == NULL ? err.text : "fields missing");
        ck_assert_msg(
            strcmp(nick, expect_nick[i]) == 0 && strcmp(msg, expect_text[i]) == 0,
            "line %d of the history file has nick \"%s\" and text \"%s\"; expected \"%s\" "
            "and \"%s\"",
            i + 1, nick, msg, expect_nick[i], expect_text[i]);
        ck_assert_msg(looks_like_time(time),
                      "line %d of the history file has time \"%s\"; expected UTC like "
                      "\"2025-03-01T12:00:00Z\"",
                      i + 1, time);
        json_decref(obj);
        line = end + 1;
    }
    chat_history_free(h);
    scratch_remove_dir(hf.dir);
    harness_pass();
}

HARNESS_TEST(test_history_loads_the_last_messages)
{
    struct history_files hf;
    char file[1024] = "";

    files_make(&hf);
    for (int i = 1; i <= 5; i++) {
        char line[128];
        snprintf(
            line, sizeof line,
            "{\"time\":\"2025-03-01T12:00:0%dZ\",\"nick\":\"user%d\",\"text\":\"message %d\"}\n", i,
            i, i);
        strcat(file, line);
    }
    scratch_write_file(hf.path, file);
    transcript_note("history file with 5 messages; opened with size 3");

    struct chat_history *h = chat_history_open(hf.path, 3, NULL);
    ck_assert_msg(h != NULL, "chat_history_open() on a file of 5 valid lines returned NULL");
    ck_assert_msg(chat_history_count(h) == 3,
                  "a history of size 3 opened on a file of 5 messages holds %zu; expected the last "
                  "3",
                  chat_history_count(h));
    for (size_t i = 0; i < 3; i++) {
        char want_nick[16], want_text[32];
        const struct chat_history_entry *e = chat_history_at(h, i);
        snprintf(want_nick, sizeof want_nick, "user%zu", i + 3);
        snprintf(want_text, sizeof want_text, "message %zu", i + 3);
        ck_assert_msg(strcmp(e->nick, want_nick) == 0 && strcmp(e->text, want_text) == 0,
                      "entry %zu of the loaded history is \"%s: %s\"; expected \"%s: %s\", oldest "
                      "first",
                      i, e->nick, e->text, want_nick, want_text);
    }
    chat_history_free(h);
    scratch_remove_dir(hf.dir);
    harness_pass();
}

HARNESS_TEST(test_history_skips_corrupt_lines)
{
    struct history_files hf;
    FILE *log = tmpfile();

    ck_assert_msg(log != NULL, "test setup failed: tmpfile()");
    files_make(&hf);
    scratch_write_file(
        hf.path,
        "{\"time\":\"2025-03-01T12:00:00Z\",\"nick\":\"alice\",\"text\":\"first\"}\n"
        "this is not json\n"
        "{\"nick\":\"bob\"}\n"
        "{\"time\":\"2025-03-01T12:00:01Z\",\"nick\":\"bad nick!\",\"text\":\"x\"}\n"
        "{\"time\":\"2025-03-01T12:00:02Z\",\"nick\":\"bob\",\"text\":\"\\u001b[2Jsecond\"}\n"
        "{\"time\":\"2025-03-01T12:00:03Z\",\"nick\":\"carol\",\"te");
    transcript_note("history file: 2 good lines, 3 corrupt ones, and a truncated last line");

    struct chat_history *h = chat_history_open(hf.path, 10, log);
    ck_assert_msg(h != NULL,
                  "chat_history_open() on a file with corrupt lines returned NULL; "
                  "expected it to skip them and load the rest; log: \"%s\"",
                  log_text(log));
    ck_assert_msg(
        chat_history_count(h) == 2,
        "a history file with 2 good lines among corrupt ones loaded %zu messages; expected "
        "2; log: \"%s\"",
        chat_history_count(h), log_text(log));
    const struct chat_history_entry *second = chat_history_at(h, 1);
    ck_assert_msg(
        strcmp(chat_history_at(h, 0)->text, "first") == 0 && strcmp(second->text, "[2Jsecond") == 0,
        "loaded \"%s\" and \"%s\"; expected \"first\" and \"[2Jsecond\" (the ESC from the "
        "file removed, like any control character)",
        chat_history_at(h, 0)->text, second->text);
    const char *logged = log_text(log);
    ck_assert_msg(
        strstr(logged, "line 2") != NULL && strstr(logged, "line 6") != NULL,
        "expected a warning naming each skipped line (\"line 2\" ... \"line 6\") in the log; "
        "it says: \"%s\"",
        logged);

    chat_history_free(h);
    fclose(log);
    scratch_remove_dir(hf.dir);
    harness_pass();
}

HARNESS_TEST(test_history_file_is_compacted)
{
    struct history_files hf;
    const int size = 2, messages = 25;
    const long bound = (long)size * CHAT_HISTORY_COMPACT_FACTOR;

    files_make(&hf);
    struct chat_history *h = chat_history_open(hf.path, (size_t)size, NULL);
    ck_assert_msg(h != NULL, "chat_history_open(\"%s\", 2) returned NULL", hf.path);
    transcript_note("%d messages into a history of size %d", messages, size);
    for (int i = 0; i < messages; i++) {
        char text[32];
        snprintf(text, sizeof text, "message %d", i);
        chat_history_add(h, "alice", text, strlen(text));
    }
    long lines = scratch_count_lines(hf.path);
    chat_history_free(h);
    ck_assert_msg(lines >= size && lines <= bound,
                  "after %d messages into a history of size %d, %s has %ld lines; expected at most "
                  "%ld (CHAT_HISTORY_COMPACT_FACTOR x size): rewrite it with only the kept "
                  "messages when it reaches that",
                  messages, size, hf.path, lines, bound);
    ck_assert_msg(access(hf.tmp_path, F_OK) != 0,
                  "%s is left over after compaction; rename it over the history file", hf.tmp_path);
    h = chat_history_open(hf.path, (size_t)size, NULL);
    ck_assert_msg(
        h != NULL && chat_history_count(h) == 2 &&
            strcmp(chat_history_at(h, 0)->text, "message 23") == 0 &&
            strcmp(chat_history_at(h, 1)->text, "message 24") == 0,
        "after compaction and a reopen, expected \"message 23\" and \"message 24\"; got %zu "
        "messages, the last \"%s\"",
        h != NULL ? chat_history_count(h) : 0,
        h != NULL && chat_history_count(h) > 0 ? chat_history_at(h, chat_history_count(h) - 1)->text
                                               : "");
    chat_history_free(h);
    scratch_remove_dir(hf.dir);
    harness_pass();
}

/* A crash in the middle of a write leaves a last line without its '\n'. Appending after it
 * would glue the next message onto the broken line, and both would be lost. */
HARNESS_TEST(test_history_repairs_a_truncated_last_line)
{
    struct history_files hf;

    files_make(&hf);
    scratch_write_file(hf.path,
                       "{\"time\":\"2025-03-01T12:00:00Z\",\"nick\":\"alice\",\"text\":\"first\"}\n"
                       "{\"time\":\"2025-03-01T12:00:03Z\",\"nick\":\"carol\",\"te");
    transcript_note(
        "history file: a message, then a line cut off by a crash; then \"second\" is added");
    struct chat_history *h = chat_history_open(hf.path, 10, NULL);
    ck_assert_msg(h != NULL,
                  "chat_history_open() on a file ending in a truncated line returned NULL");
    chat_history_add(h, "dave", "second", 6);
    chat_history_free(h);
    h = chat_history_open(hf.path, 10, NULL);
    ck_assert_msg(h != NULL && chat_history_count(h) == 2 &&
                      strcmp(chat_history_at(h, 1)->text, "second") == 0,
                  "after adding \"second\" to a file that ended in a truncated line, and opening "
                  "it again, expected 2 messages ending with \"second\"; got %zu: the new line was "
                  "glued to the broken one; when chat_history_open finds corrupt lines it rewrites "
                  "the file (history_compact)",
                  h != NULL ? chat_history_count(h) : 0);
    chat_history_free(h);
    scratch_remove_dir(hf.dir);
    harness_pass();
}

/* Found by tests/load/run-load: a server out of file descriptors (many clients) cannot open
 * the temporary file compaction needs. That must not end saving for good: the long file is
 * still valid, so keep appending to it, and compact again later. */
HARNESS_TEST(test_history_keeps_saving_when_out_of_descriptors)
{
    struct history_files hf;
    struct fd_limit fl;
    const int size = 2, during = 30;
    static char text[HISTORY_FILE_MAX];

    files_make(&hf);
    struct chat_history *h = chat_history_open(hf.path, (size_t)size, NULL);
    ck_assert_msg(h != NULL, "chat_history_open(\"%s\", 2) returned NULL", hf.path);
    transcript_note("%d messages into a history of size %d while no file descriptor is free, "
                    "then \"after\" once they are",
                    during, size);
    int exhausted = fd_limit_exhaust(&fl, 0) == 0;
    for (int i = 0; i < during; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "during %d", i);
        chat_history_add(h, "alice", msg, strlen(msg));
    }
    if (exhausted)
        fd_limit_restore(&fl);
    ck_assert_msg(exhausted, "the test could not run the process out of descriptors");
    int rc = chat_history_add(h, "alice", "after", 5);
    long n = scratch_read_file(hf.path, text, sizeof text);
    chat_history_free(h);
    ck_assert_msg(rc == 0 && n > 0 && strstr(text, "\"during 29\"") != NULL &&
                      strstr(text, "\"after\"") != NULL,
                  "after %d messages while out of descriptors (compaction cannot open its "
                  "temporary file then), chat_history_add(\"after\") returned %d and the file "
                  "%s \"during 29\" and %s \"after\": a failed compaction must not stop the "
                  "history from saving; the old file is still valid, keep appending to it",
                  during, rc, n > 0 && strstr(text, "\"during 29\"") ? "holds" : "lacks",
                  n > 0 && strstr(text, "\"after\"") ? "holds" : "lacks");
    h = chat_history_open(hf.path, (size_t)size, NULL);
    ck_assert_msg(h != NULL && chat_history_count(h) == 2 &&
                      strcmp(chat_history_at(h, 1)->text, "after") == 0,
                  "reopened after that, the history should end with \"after\"");
    chat_history_free(h);
    scratch_remove_dir(hf.dir);
    harness_pass();
}
