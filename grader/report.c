/*
 * report.c - see report.h. Plain text first: the output must read well in a log file and in
 * CI, so colour only adds emphasis and never carries meaning on its own.
 */
#include "report.h"

#include "failure.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define MESSAGE_COLUMNS 70  /* message shown on a test's line before it is cut */
#define BUILD_LOG_LINES 40  /* compiler lines shown without --verbose */
#define TRANSCRIPT_LINES 24 /* transcript lines shown without --verbose */
#define OUTPUT_LINES 30     /* sanitizer/suite output lines shown without --verbose */
#define WARNING_LINES 3     /* warnings shown under a test without --verbose */

struct report_style report_style_for(FILE *out, int verbose)
{
    struct report_style st = {.verbose = verbose};
    const char *no_color = getenv("NO_COLOR");
    const char *term = getenv("TERM");
    st.color = isatty(fileno(out)) && (no_color == NULL || *no_color == '\0') &&
               !(term != NULL && strcmp(term, "dumb") == 0);
    return st;
}

const char *report_color(const struct report_style *st, enum verdict v)
{
    if (!st->color)
        return "";
    return v == VERDICT_PASS ? "\033[32m" : "\033[31m";
}

const char *report_reset(const struct report_style *st)
{
    return st->color ? "\033[0m" : "";
}

const char *report_bold(const struct report_style *st)
{
    return st->color ? "\033[1m" : "";
}

/* Prints at most max_lines lines of text, each indented; says how many were left out. */
static void print_indented(FILE *out, const char *text, const char *indent, int max_lines)
{
    int shown = 0, total = 0;
    const char *cursor = text, *line;
    size_t len;
    while (util_next_line(&cursor, &line, &len)) {
        if (max_lines <= 0 || shown < max_lines) {
            fprintf(out, "%s%.*s\n", indent, (int)len, line);
            shown++;
        }
        total++;
    }
    if (total > shown)
        fprintf(out, "%s... (%d more lines; --verbose shows everything)\n", indent, total - shown);
}

void report_exercise_heading(FILE *out, const struct report_style *st,
                             const struct course_exercise *ex, const char *tree)
{
    fprintf(out, "\n%s%s  %s%s  (%s/%s)\n", report_bold(st), ex->id, ex->title, report_reset(st),
            tree, ex->dir);
}

void report_test_line(FILE *out, const struct report_style *st, const struct test_result *res)
{
    char msg[MESSAGE_COLUMNS + 4];
    const char *m = res->verdict == VERDICT_PASS ? ""
                    : res->hidden                ? "(a hidden test: its details are not shown)"
                                                 : res->message;
    size_t n = strcspn(m, "\n");

    if (n > MESSAGE_COLUMNS) {
        memcpy(msg, m, MESSAGE_COLUMNS - 3);
        strcpy(msg + MESSAGE_COLUMNS - 3, "...");
    } else {
        memcpy(msg, m, n);
        msg[n] = '\0';
    }
    fprintf(out, "  %s%-11s%s %-44s %6.2fs  %s\n", report_color(st, res->verdict),
            verdict_name(res->verdict), report_reset(st), res->name, res->seconds, msg);
    if (res->warnings != NULL && !res->hidden)
        print_indented(out, res->warnings,
                       "              warning: ", st->verbose ? 0 : WARNING_LINES);
}

void report_replay_line(FILE *out, const struct report_style *st, const struct course_exercise *ex,
                        const struct test_result *res)
{
    if (st->replay != NULL && res->verdict != VERDICT_PASS)
        fprintf(out, "              replay with %s %s %s\n", st->replay, ex->id, res->name);
}

void report_build_error(FILE *out, const struct report_style *st, const char *log)
{
    fprintf(out, "  %sbuild error%s: this exercise does not compile, so its tests cannot run.\n",
            report_color(st, VERDICT_BUILD_ERROR), report_reset(st));
    fprintf(out, "  The compiler said:\n");
    print_indented(out, log, "    ", st->verbose ? 0 : BUILD_LOG_LINES);
    fprintf(out, "  Fix the first error first: later ones are often caused by it.\n");
}

static const char *verdict_advice(enum verdict v)
{
    switch (v) {
    case VERDICT_CRASH:
        return "the test process died on a signal: usually a NULL or freed pointer. Run the test "
               "in a debugger with the command below (CK_FORK=no keeps it in one process).";
    case VERDICT_TIMEOUT:
        return "the test ran out of time. The usual cause is a blocked event loop: a callback that "
               "calls a blocking read()/write()/sleep() or loops forever. Every callback must "
               "return quickly; wait for the next event instead.";
    case VERDICT_EARLY_EXIT:
        return "the process exited in the middle of the test. Look for exit() (or a return from "
               "main-like code) in your server: a server must never exit because of one client.";
    case VERDICT_SANITIZER:
        return "AddressSanitizer, UBSan or valgrind found a memory error, a leak or undefined "
               "behaviour; its report is below. The first stack frame in your own file is where "
               "to look.";
    case VERDICT_ERROR:
        return "the test suite could not run at all; its output is below.";
    default:
        return NULL;
    }
}

/* Finds where a marker such as "TODO(3)" stands in the exercise's sources: "dir/file.c:42".
 * Returns 0 when found. The lowest file name wins when a marker appears in several files. */
static int find_todo(const char *dir, const char *todo, char *out, size_t outsz)
{
    DIR *d = opendir(dir);
    int found = 0;
    char best[512] = "";

    if (d == NULL)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t n = strlen(e->d_name);
        if (n < 3 || e->d_name[0] == '.' ||
            (strcmp(e->d_name + n - 2, ".c") != 0 && strcmp(e->d_name + n - 2, ".h") != 0))
            continue;
        if (found && strcmp(e->d_name, best) > 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *text = util_read_file(path);
        const char *hit = text != NULL ? strstr(text, todo) : NULL;
        if (hit != NULL) {
            int line = 1;
            for (const char *p = text; p < hit; p++)
                line += *p == '\n';
            snprintf(best, sizeof best, "%s", e->d_name);
            snprintf(out, outsz, "%s:%d", path, line);
            found = 1;
        }
        free(text);
    }
    closedir(d);
    return found ? 0 : -1;
}

/* A sanitizer report cut down to what a student acts on: the error lines, and the stack frames
 * in the student's own files (the tree's folder). Libraries, libc and the tests are left out.
 * Returns an allocated text, or NULL when nothing is recognised (then the whole output is
 * shown). */
static char *sanitizer_digest(const char *output, const char *tree)
{
    static const char *const keep[] = {"ERROR: AddressSanitizer",
                                       "ERROR: LeakSanitizer",
                                       "runtime error:",
                                       "SUMMARY:",
                                       "Direct leak",
                                       "Indirect leak",
                                       "READ of size",
                                       "WRITE of size",
                                       "is located",
                                       "freed by thread",
                                       "previously allocated",
                                       NULL};
    char mine[256];
    size_t cap = strlen(output) + 128, len = 0;
    int dropped = 0, kept = 0;
    char *out = malloc(cap);

    if (out == NULL)
        util_oom();
    snprintf(mine, sizeof mine, "/%s/", tree);
    out[0] = '\0';
    const char *cursor = output, *line;
    size_t n;
    while (util_next_line(&cursor, &line, &n)) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%.*s", (int)(n < sizeof buf ? n : sizeof buf - 1), line);
        const char *t = buf + strspn(buf, " ");
        int frame = t[0] == '#' && strstr(t, " in ") != NULL;
        int wanted = frame ? strstr(buf, mine) != NULL : 0;
        for (size_t k = 0; !frame && keep[k] != NULL; k++)
            wanted = wanted || strstr(buf, keep[k]) != NULL;
        if (wanted) {
            len += (size_t)snprintf(out + len, cap - len, "%s\n", buf);
            kept++;
        } else if (frame) {
            dropped++;
        }
    }
    if (kept == 0) {
        free(out);
        return NULL;
    }
    if (dropped > 0)
        snprintf(out + len, cap - len,
                 "(%d stack frames outside %s/ left out; --verbose shows "
                 "them)\n",
                 dropped, tree);
    return out;
}

void report_failure(FILE *out, const struct report_style *st, const struct course_exercise *ex,
                    const char *tree, const char *build_dir, const struct test_result *res)
{
    const struct suite_test *t = course_find_test(ex, res->name);
    const struct suite_todo *todo = t != NULL ? course_test_todo(ex, t) : NULL;
    const char *advice = verdict_advice(res->verdict);
    char suite[256], program[256];

    runner_suite_path(tree, ex, suite, sizeof suite);
    runner_program_path(tree, ex, program, sizeof program);
    fprintf(out, "\n  %sFirst failure: %s (%s)%s\n", report_bold(st), res->name,
            verdict_name(res->verdict), report_reset(st));
    print_indented(out, res->message, "    ", 0);
    if (advice != NULL)
        fprintf(out, "    %s\n", advice);

    if (res->transcript != NULL && *res->transcript != '\0') {
        fprintf(out, "  What the test sent (>) and received (<), in ms since it started:\n");
        print_indented(out, res->transcript, "    ", st->verbose ? 0 : TRANSCRIPT_LINES);
    }
    if ((res->verdict == VERDICT_SANITIZER || res->verdict == VERDICT_ERROR || st->verbose) &&
        res->output != NULL && *res->output != '\0') {
        char *digest = res->verdict == VERDICT_SANITIZER && !st->verbose
                           ? sanitizer_digest(res->output, tree)
                           : NULL;
        fprintf(out, "  %s:\n", digest != NULL ? "The sanitizer's report, your frames" : "Output");
        print_indented(out, digest != NULL ? digest : res->output, "    ",
                       st->verbose ? 0 : OUTPUT_LINES);
        free(digest);
    }
    if (t != NULL && t->repro != NULL) {
        fprintf(out, "  Try it by hand:\n");
        fprintf(out, "    ./%s/%s          # in one terminal\n", build_dir, program);
        fprintf(out, "    %s      # in another\n", t->repro);
    }
    fprintf(out, "  Run just this test%s:\n    %s %s %s\n",
            st->replay != NULL ? " (the same chaos: the seed replays it)" : "",
            st->replay != NULL ? st->replay : "./grader/grade", ex->id, res->name);
    if (res->verdict == VERDICT_CRASH || res->verdict == VERDICT_TIMEOUT)
        fprintf(out, "    CK_FORK=no gdb --args ./%s/%s %s\n", build_dir, suite, res->name);
    /* failure.c wrote these (the grader runs from the repository root); say where they are. */
    char html[1024], sh[1024];
    failure_path(tree, ex->id, res->name, "html", html, sizeof html);
    failure_path(tree, ex->id, res->name, "sh", sh, sizeof sh);
    if (access(html, R_OK) == 0)
        fprintf(out, "  See it drawn (open in a browser; every failing test has one):\n    %s\n",
                html);
    if (access(sh, X_OK) == 0)
        fprintf(out,
                "  Replay its bytes against your program and the reference, side by side:\n"
                "    ./%s\n",
                sh);
    if (t == NULL || todo == NULL)
        return;
    fprintf(out, "  Hint:\n");
    print_indented(out, t->concept, "    ", 0);
    char dir[512], marker[32], where[1100];
    snprintf(dir, sizeof dir, "%s/%s", tree, ex->dir);
    snprintf(marker, sizeof marker, "TODO(%d)", todo->number);
    if (find_todo(dir, marker, where, sizeof where) == 0)
        fprintf(out, "  Look at: %s, %s, at %s\n", marker, todo->title, where);
    else
        fprintf(out, "  Look at: the code you wrote for %s (%s) in %s/\n", marker, todo->title,
                dir);
    fprintf(out, "  Read: %s\n", todo->lecture);
    fprintf(out, "  More help: ./grader/grade hint %s  (each call goes one step deeper)\n", ex->id);
}
