/*
 * export.c - see export.h. jansson writes the Gradescope JSON; JUnit and TAP are written by
 * hand, with the XML escaping done here. Every format is built from the same exercise_result
 * array the terminal report is printed from.
 */
#include "export.h"

#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT_OUTPUT_MAX 4000 /* bytes of a test's output put into a report */

int export_known_format(const char *fmt)
{
    return strcmp(fmt, "gradescope") == 0 || strcmp(fmt, "junit") == 0 || strcmp(fmt, "tap") == 0;
}

static int is_hidden(const struct exercise_result *er, const struct test_result *tr)
{
    const struct suite_test *t = course_find_test(er->ex, tr->name);
    return t != NULL && t->hidden;
}

static int weight_of(const struct exercise_result *er, const struct test_result *tr)
{
    const struct suite_test *t = course_find_test(er->ex, tr->name);
    return t != NULL ? t->weight : 1;
}

const char *export_summary(const struct exercise_result *results, size_t n, char *buf, size_t bufsz)
{
    size_t total = 0, passed = 0, hidden_failed = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < results[i].ntests; k++) {
            const struct test_result *tr = &results[i].tests[k];
            total++;
            if (tr->verdict == VERDICT_PASS)
                passed++;
            else if (is_hidden(&results[i], tr))
                hidden_failed++;
        }
    }
    if (passed == total)
        snprintf(buf, bufsz, "all %zu tests pass", total);
    else if (passed + hidden_failed == total)
        snprintf(buf, bufsz, "every visible test passes, but %zu hidden test%s fail%s",
                 hidden_failed, hidden_failed == 1 ? "" : "s", hidden_failed == 1 ? "s" : "");
    else
        snprintf(buf, bufsz, "%zu of %zu tests pass", passed, total);
    return buf;
}

/* The text a report shows for a test: the message, and the transcript when there is one. A
 * hidden test shows only the neutral text. Allocated. */
static char *test_output(const struct exercise_result *er, const struct test_result *tr)
{
    if (is_hidden(er, tr))
        return xstrdup(tr->verdict == VERDICT_PASS ? "passed" : EXPORT_HIDDEN_OUTPUT);
    const char *msg = tr->message != NULL ? tr->message : "";
    const char *transcript =
        tr->verdict != VERDICT_PASS && tr->transcript != NULL ? tr->transcript : "";
    const char *warnings = tr->warnings != NULL ? tr->warnings : "";
    size_t len = strlen(msg) + strlen(transcript) + strlen(warnings) + 128;
    if (len > EXPORT_OUTPUT_MAX)
        len = EXPORT_OUTPUT_MAX;
    char *out = malloc(len);
    if (out == NULL)
        util_oom();
    int wlen = (int)strlen(warnings);
    while (wlen > 0 && warnings[wlen - 1] == '\n')
        wlen--;
    snprintf(out, len, "%s%s%.*s%s%s", msg,
             wlen > 0 ? "\n\nWarnings (they do not fail the test):\n" : "", wlen, warnings,
             *transcript != '\0'
                 ? "\n\nWhat the test sent (>) and received (<), in ms since it started:\n"
                 : "",
             transcript);
    return out;
}

static int write_gradescope(FILE *f, const char *tree, const struct exercise_result *results,
                            size_t n)
{
    json_t *tests = json_array();
    int score = 0, max = 0;
    char summary[256];

    for (size_t i = 0; i < n; i++) {
        const struct exercise_result *er = &results[i];
        for (size_t k = 0; k < er->ntests; k++) {
            const struct test_result *tr = &er->tests[k];
            int w = weight_of(er, tr), pass = tr->verdict == VERDICT_PASS;
            char name[512], number[48], *out = test_output(er, tr);
            snprintf(number, sizeof number, "%zu.%zu", i + 1, k + 1);
            snprintf(name, sizeof name, "%s %s", er->ex->id, tr->name);
            score += pass ? w : 0;
            max += w;
            json_array_append_new(tests,
                                  json_pack("{s:s, s:i, s:i, s:s, s:s, s:s, s:s}", "name", name,
                                            "score", pass ? w : 0, "max_score", w, "status",
                                            pass ? "passed" : "failed", "output", out, "visibility",
                                            is_hidden(er, tr) ? "after_published" : "visible",
                                            "number", number));
            free(out);
        }
    }
    export_summary(results, n, summary, sizeof summary);
    char text[512];
    snprintf(text, sizeof text, "Graded %s/: %s (%d of %d points).", tree, summary, score, max);
    json_t *root = json_pack("{s:i, s:i, s:s, s:s, s:o}", "score", score, "max_score", max,
                             "output", text, "visibility", "visible", "tests", tests);
    int rc = root != NULL ? json_dumpf(root, f, JSON_INDENT(2)) : -1;
    fputc('\n', f);
    json_decref(root);
    return rc;
}

static void xml_escaped(FILE *f, const char *s)
{
    util_put_xml(f, s, strlen(s), SIZE_MAX, 0);
}

static int write_junit(FILE *f, const char *tree, const struct exercise_result *results, size_t n)
{
    size_t total = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        total += results[i].ntests;
        failed += results[i].ntests - results[i].passed;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<testsuites name=\"%s\" tests=\"%zu\" failures=\"%zu\">\n", tree, total, failed);
    for (size_t i = 0; i < n; i++) {
        const struct exercise_result *er = &results[i];
        double secs = 0;
        for (size_t k = 0; k < er->ntests; k++)
            secs += er->tests[k].seconds;
        fprintf(f, "  <testsuite name=\"%s %s\" tests=\"%zu\" failures=\"%zu\" time=\"%.3f\">\n",
                er->ex->id, er->ex->title, er->ntests, er->ntests - er->passed, secs);
        for (size_t k = 0; k < er->ntests; k++) {
            const struct test_result *tr = &er->tests[k];
            fprintf(f, "    <testcase classname=\"%s\" name=\"%s\" time=\"%.3f\"", er->ex->id,
                    tr->name, tr->seconds);
            if (tr->verdict == VERDICT_PASS && (tr->warnings == NULL || is_hidden(er, tr))) {
                fprintf(f, "/>\n");
                continue;
            }
            if (tr->verdict == VERDICT_PASS) { /* a pass with warnings: they are its output */
                fprintf(f, ">\n      <system-out>");
                xml_escaped(f, tr->warnings);
                fprintf(f, "</system-out>\n    </testcase>\n");
                continue;
            }
            char *out = test_output(er, tr);
            fprintf(f, ">\n      <failure type=\"%s\" message=\"", verdict_name(tr->verdict));
            const char *msg =
                is_hidden(er, tr) || tr->message == NULL ? EXPORT_HIDDEN_OUTPUT : tr->message;
            util_put_xml(f, msg, strcspn(msg, "\n"), SIZE_MAX, 0); /* the first line */
            fprintf(f, "\">");
            xml_escaped(f, out);
            fprintf(f, "</failure>\n    </testcase>\n");
            free(out);
        }
        fprintf(f, "  </testsuite>\n");
    }
    fprintf(f, "</testsuites>\n");
    return 0;
}

static int write_tap(FILE *f, const char *tree, const struct exercise_result *results, size_t n)
{
    size_t total = 0, number = 0;
    char summary[256];
    for (size_t i = 0; i < n; i++)
        total += results[i].ntests;
    fprintf(f, "TAP version 13\n1..%zu\n", total);
    for (size_t i = 0; i < n; i++) {
        const struct exercise_result *er = &results[i];
        for (size_t k = 0; k < er->ntests; k++) {
            const struct test_result *tr = &er->tests[k];
            int pass = tr->verdict == VERDICT_PASS;
            fprintf(f, "%sok %zu - %s %s%s\n", pass ? "" : "not ", ++number, er->ex->id, tr->name,
                    is_hidden(er, tr) ? " (hidden)" : "");
            if (pass) {
                const char *cursor = is_hidden(er, tr) || tr->warnings == NULL ? "" : tr->warnings;
                const char *line;
                size_t len;
                while (util_next_line(&cursor, &line, &len))
                    fprintf(f, "# warning: %.*s\n", (int)len, line);
                continue;
            }
            char *out = test_output(er, tr);
            fprintf(f, "# %s: ", verdict_name(tr->verdict));
            for (const char *p = out; *p != '\0'; p++) {
                fputc(*p, f);
                if (*p == '\n' && p[1] != '\0')
                    fputs("#   ", f);
            }
            fputc('\n', f);
            free(out);
        }
    }
    fprintf(f, "# %s/: %s\n", tree, export_summary(results, n, summary, sizeof summary));
    return 0;
}

int export_write(const char *fmt, const char *path, const char *tree,
                 const struct exercise_result *results, size_t n, char *err, size_t errsz)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        snprintf(err, errsz, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    int rc;
    if (strcmp(fmt, "gradescope") == 0)
        rc = write_gradescope(f, tree, results, n);
    else if (strcmp(fmt, "junit") == 0)
        rc = write_junit(f, tree, results, n);
    else
        rc = write_tap(f, tree, results, n);
    if (fclose(f) != 0 || rc != 0) {
        snprintf(err, errsz, "cannot write %s", path);
        return -1;
    }
    return 0;
}
