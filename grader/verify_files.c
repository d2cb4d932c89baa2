/*
 * verify_files.c - the course's files: the two trees mirror each other, the starters' TODOs are
 * numbered, and each suite agrees with its tests.json.
 */
#include "verify_internal.h"

#include "grade.h"
#include "proc.h"
#include "report.h"
#include "runner.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void check_mirror(struct checks *k, const struct course_exercise *ex)
{
    char edir[4400], sdir[4400], detail[4096] = "";
    snprintf(edir, sizeof edir, "%s/exercises/%s", k->root, ex->dir);
    snprintf(sdir, sizeof sdir, "%s/solutions/%s", k->root, ex->dir);
    char **ef = list_files(edir), **sf = list_files(sdir);

    if (!check(k, ef != NULL && sf != NULL, NULL, "%s: exercises/%s and solutions/%s exist", ex->id,
               ex->dir, ex->dir))
        goto out;
    for (size_t i = 0; ef[i] != NULL; i++)
        if (!has_name(sf, ef[i]) && strcmp(ef[i], "README.md") != 0)
            add_detail(detail, sizeof detail, "only in exercises/: %s\n", ef[i]);
    for (size_t i = 0; sf[i] != NULL; i++)
        if (!has_name(ef, sf[i]))
            add_detail(detail, sizeof detail, "only in solutions/: %s\n", sf[i]);
    check(k, detail[0] == '\0', detail, "%s: both trees have the same files", ex->id);

    /* Public headers and the build file must be the same, or the tests could pass against
     * one tree and not compile against the other. */
    detail[0] = '\0';
    int nsame = 0;
    for (size_t i = 0; ef[i] != NULL; i++) {
        if (!(ends_with(ef[i], ".h") || strcmp(ef[i], "meson.build") == 0) || !has_name(sf, ef[i]))
            continue;
        char a[4600], b[4600];
        snprintf(a, sizeof a, "%s/%s", edir, ef[i]);
        snprintf(b, sizeof b, "%s/%s", sdir, ef[i]);
        char *ta = util_read_file(a), *tb = util_read_file(b);
        if (ta == NULL || tb == NULL || strcmp(ta, tb) != 0)
            add_detail(detail, sizeof detail, "%s differs between the trees\n", ef[i]);
        else
            nsame++;
        free(ta);
        free(tb);
    }
    check(k, detail[0] == '\0' && nsame > 0, detail[0] ? detail : "no header found",
          "%s: public headers and meson.build are identical in both trees", ex->id);

    /* Starters: numbered TODO(n) markers, 1..max with none missing, and no bare "TODO:". */
    detail[0] = '\0';
    int seen[100] = {0}, max = 0;
    for (size_t i = 0; ef[i] != NULL; i++) {
        if (!ends_with(ef[i], ".c") && !ends_with(ef[i], ".h"))
            continue;
        char path[4600];
        snprintf(path, sizeof path, "%s/%s", edir, ef[i]);
        char *text = util_read_file(path);
        for (const char *p = text; p != NULL && (p = strstr(p, "TODO")) != NULL; p += 4) {
            int n;
            if (sscanf(p, "TODO(%d)", &n) == 1 && n > 0 && n < 100) {
                seen[n] = 1;
                if (n > max)
                    max = n;
            } else if (p[4] == ':') {
                /* "TODO:" is a marker with no number; prose such as "see TODO 7" is fine. */
                add_detail(detail, sizeof detail, "%s: a TODO without a number: %.30s\n", ef[i], p);
            }
        }
        free(text);
    }
    for (int n = 1; n <= max; n++)
        if (!seen[n])
            add_detail(detail, sizeof detail, "TODO(%d) is missing (numbers run 1..%d)\n", n, max);
    if (max == 0)
        add_detail(detail, sizeof detail, "no TODO(n) markers at all\n");
    check(k, detail[0] == '\0', detail, "%s: the starter has numbered TODO(1)..TODO(%d)", ex->id,
          max);

    detail[0] = '\0';
    for (size_t i = 0; sf[i] != NULL; i++) {
        char path[4600];
        snprintf(path, sizeof path, "%s/%s", sdir, sf[i]);
        char *text = util_read_file(path);
        if (text != NULL && strstr(text, "TODO") != NULL)
            add_detail(detail, sizeof detail, "solutions/%s/%s mentions TODO\n", ex->dir, sf[i]);
        free(text);
    }
    check(k, detail[0] == '\0', detail, "%s: no TODO is left in solutions/", ex->id);
out:
    util_free_strv(ef);
    util_free_strv(sf);
}

/* The suite must list exactly the tests its tests.json describes, in the same order. The
 * harness refuses to run (and --list fails) when a HARNESS_TEST and the data file disagree. */
void check_test_names(struct checks *k, const struct runner *r, const struct course_exercise *ex)
{
    char detail[4096] = "";
    char **names = runner_list(r, "solutions", ex);
    size_t n = 0;

    if (names == NULL) {
        check(k, 0, "the suite did not answer --list: run it by hand to see why",
              "%s: the suite's tests are exactly those of %s", ex->id, ex->data_path);
        return;
    }
    for (; names[n] != NULL; n++)
        if (n >= ex->data.ntests || strcmp(names[n], ex->data.tests[n].name) != 0)
            add_detail(detail, sizeof detail, "test %zu: the suite has %s, %s has %s\n", n + 1,
                       names[n], ex->data_path,
                       n < ex->data.ntests ? ex->data.tests[n].name : "nothing");
    for (size_t i = n; i < ex->data.ntests; i++)
        add_detail(detail, sizeof detail, "%s has %s, the suite does not\n", ex->data_path,
                   ex->data.tests[i].name);
    check(k, detail[0] == '\0' && n > 0, detail,
          "%s: the suite's %zu tests are exactly those of %s, in TODO order", ex->id, n,
          ex->data_path);
    util_free_strv(names);
}

/* A TODO number is written once, in tests.json: a test's message says what was expected and
 * what arrived, and the grader adds where to look. A "TODO(n)" cited in a test would drift. */
void check_tests_cite_no_todo(struct checks *k, const struct course *c)
{
    char detail[4096] = "";
    int nfiles = 0;

    for (size_t i = 0; i < c->nexercises; i++) {
        char dir[4400];
        snprintf(dir, sizeof dir, "%s/tests/%s", k->root, c->exercises[i].dir);
        char **files = list_files(dir);
        for (size_t f = 0; files != NULL && files[f] != NULL; f++) {
            if (!ends_with(files[f], ".c") && !ends_with(files[f], ".h"))
                continue;
            char path[4600];
            snprintf(path, sizeof path, "%s/%s", dir, files[f]);
            char *text = util_read_file(path);
            const char *hit = text != NULL ? strstr(text, "TODO") : NULL;
            if (hit != NULL) {
                int line = 1;
                for (const char *p = text; p < hit; p++)
                    line += *p == '\n';
                int len = (int)strcspn(hit, "\n");
                add_detail(detail, sizeof detail, "tests/%s/%s:%d cites a TODO: %.*s\n",
                           c->exercises[i].dir, files[f], line, len < 60 ? len : 60, hit);
            }
            free(text);
            nfiles++;
        }
        util_free_strv(files);
    }
    check(k, detail[0] == '\0', detail,
          "no test source cites a TODO: tests.json is the one place (%d files)", nfiles);
}

/* The build's exercise_names (root meson.build) and course.json's exercises are the two lists
 * a new exercise is added to; they must name the same folders, in the same order. */
void check_exercise_lists(struct checks *k, const struct course *c)
{
    char path[4400], detail[2048] = "";
    snprintf(path, sizeof path, "%s/meson.build", k->root);
    char *text = util_read_file(path);
    const char *p = text != NULL ? strstr(text, "exercise_names = [") : NULL;
    const char *end = p != NULL ? strchr(p, ']') : NULL;
    size_t n = 0;

    if (p == NULL || end == NULL) {
        check(k, 0, "no `exercise_names = [...]` in meson.build", "the build lists the exercises");
        free(text);
        return;
    }
    for (const char *q = strchr(p, '\''); q != NULL && q < end; q = strchr(q, '\'')) {
        const char *close = strchr(q + 1, '\'');
        if (close == NULL || close > end)
            break;
        int len = (int)(close - q - 1);
        if (n >= c->nexercises || strncmp(c->exercises[n].dir, q + 1, (size_t)len) != 0 ||
            c->exercises[n].dir[len] != '\0')
            add_detail(detail, sizeof detail, "meson.build has %.*s where course.json has %s\n",
                       len, q + 1, n < c->nexercises ? c->exercises[n].dir : "nothing");
        n++;
        q = close + 1;
    }
    if (n != c->nexercises)
        add_detail(detail, sizeof detail, "meson.build lists %zu exercises, course.json %zu\n", n,
                   c->nexercises);
    check(k, detail[0] == '\0', detail,
          "meson.build and grader/course.json list the same %zu exercises", c->nexercises);
    free(text);
}

/* Undoes the simple C escapes of a string literal's body (\" \\ \n \t). */
static void unescape(const char *in, size_t len, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < outsz; i++) {
        char ch = in[i];
        if (ch == '\\' && i + 1 < len) {
            ch = in[++i];
            ch = ch == 'n' ? '\n' : ch == 't' ? '\t' : ch;
        }
        out[o++] = ch;
    }
    out[o] = '\0';
}

/* Everything a test asserts is written where students read: each SPEC("...") literal in a
 * suite must appear in the exercise's README or in its starter (whose TODO texts say what to
 * produce). */
void check_spec_literals(struct checks *k, const struct course *c)
{
    char detail[8192] = "";
    int nspecs = 0;

    for (size_t i = 0; i < c->nexercises; i++) {
        const struct course_exercise *ex = &c->exercises[i];
        char dir[4400], path[4600];
        size_t cap = 1, len = 0;
        char *readable = calloc(1, 1);

        /* What a student reads: the README and the starter's sources, in one string. */
        snprintf(dir, sizeof dir, "%s/exercises/%s", k->root, ex->dir);
        char **files = list_files(dir);
        for (size_t f = 0; readable != NULL && files != NULL && files[f] != NULL; f++) {
            snprintf(path, sizeof path, "%s/%s", dir, files[f]);
            char *text = util_read_file(path);
            size_t n = text != NULL ? strlen(text) : 0;
            char *grown = realloc(readable, cap + n + 1);
            if (grown == NULL)
                util_oom();
            readable = grown;
            memcpy(readable + len, text != NULL ? text : "", n);
            len += n;
            readable[len++] = '\n';
            readable[len] = '\0';
            cap = len + 1;
            free(text);
        }
        util_free_strv(files);

        snprintf(dir, sizeof dir, "%s/tests/%s", k->root, ex->dir);
        files = list_files(dir);
        for (size_t f = 0; files != NULL && files[f] != NULL; f++) {
            if (!ends_with(files[f], ".c"))
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, files[f]);
            char *text = util_read_file(path);
            for (const char *p = text; p != NULL && (p = strstr(p, "SPEC(\"")) != NULL; p++) {
                const char *start = p + 6, *end = start;
                while (*end != '\0' && *end != '"')
                    end += (*end == '\\' && end[1] != '\0') ? 2 : 1;
                char lit[256];
                unescape(start, (size_t)(end - start), lit, sizeof lit);
                nspecs++;
                if (lit[0] != '\0' && strstr(readable, lit) == NULL)
                    add_detail(detail, sizeof detail,
                               "tests/%s/%s asks for \"%s\", which neither "
                               "exercises/%s/README.md nor the starter's TODOs mention\n",
                               ex->dir, files[f], lit, ex->dir);
            }
            free(text);
        }
        util_free_strv(files);
        free(readable);
    }
    check(k, detail[0] == '\0', detail,
          "every literal a test asks for is written in the README or a TODO (%d SPEC strings)",
          nspecs);
}
