/*
 * verify.c - see verify.h. Each check prints "ok" or "FAIL" and a description; a failing
 * check prints what it saw underneath. Checks keep going after a failure so one run shows
 * everything that is wrong.
 */
#include "verify.h"

#include "grade.h"
#include "proc.h"
#include "report.h"
#include "runner.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define VERIFY_BUILD_DIR "build-verify"
#define VERIFY_ASAN_DIR "build-asan"
#define SETUP_LIMIT_S 300
#define BUILD_LIMIT_S 1200
#define DETAIL_LINES 30

struct checks {
    int passed, failed;
    int verbose;
    struct report_style st;
    char root[4096];
    char tmp_dir[64];
};

static void section(struct checks *k, const char *title)
{
    printf("\n%s%s%s\n", report_bold(&k->st), title, report_reset(&k->st));
    fflush(stdout);
}

/* Records one check. `detail` (may be NULL) is printed under a failure, trimmed. */
static int check(struct checks *k, int ok, const char *detail, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int check(struct checks *k, int ok, const char *detail, const char *fmt, ...)
{
    va_list ap;

    printf("  %s%-4s%s ", report_color(&k->st, ok ? VERDICT_PASS : VERDICT_FAIL),
           ok ? "ok" : "FAIL", report_reset(&k->st));
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!ok && detail != NULL && *detail != '\0') {
        int lines = 0;
        for (const char *line = detail; *line != '\0';) {
            const char *nl = strchr(line, '\n');
            size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
            if (k->verbose || lines < DETAIL_LINES)
                printf("         %.*s\n", (int)len, line);
            lines++;
            line += len + (nl != NULL);
        }
        if (!k->verbose && lines > DETAIL_LINES)
            printf("         ... (%d more lines; --verbose shows all)\n", lines - DETAIL_LINES);
    }
    fflush(stdout);
    if (ok)
        k->passed++;
    else
        k->failed++;
    return ok;
}

/* ---- building ------------------------------------------------------------------------- */

/* Configures `dir` once (meson setup with `opts`), then builds everything in it. */
static int build_all(struct checks *k, const char *dir, char *const opts[], const char *what)
{
    struct proc_result res;
    char ninja_file[4200];
    char how[128];

    snprintf(ninja_file, sizeof ninja_file, "%s/%s/build.ninja", k->root, dir);
    if (!util_is_file(ninja_file)) {
        char *argv[16] = {"meson", "setup"};
        int n = 2;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", k->root, dir);
        if (util_is_dir(path))
            argv[n++] = "--wipe";
        argv[n++] = (char *)dir;
        for (size_t i = 0; opts[i] != NULL && n < 15; i++)
            argv[n++] = opts[i];
        argv[n] = NULL;
        printf("  (configuring %s)\n", dir);
        fflush(stdout);
        if (proc_run(argv, k->root, NULL, SETUP_LIMIT_S, &res) != 0)
            return 0;
        int ok = check(k, proc_ok(&res), res.output, "meson setup %s", dir);
        proc_result_free(&res);
        if (!ok)
            return 0;
    }
    printf("  (building %s: the first time takes a minute)\n", dir);
    fflush(stdout);
    char *argv[] = {"ninja", "-C", (char *)dir, NULL};
    if (proc_run(argv, k->root, NULL, BUILD_LIMIT_S, &res) != 0)
        return 0;
    int ok = proc_ok(&res) && strstr(res.output, "warning:") == NULL;
    char msg[160];
    snprintf(msg, sizeof msg, "%s (%s, %.0f s)", what, proc_describe(&res, how, sizeof how),
             res.seconds);
    check(k, ok, res.output, "%s", msg);
    proc_result_free(&res);
    return ok;
}

/* ---- the two trees mirror each other -------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files directly in `dir`, sorted; NULL-terminated. NULL if dir is missing. */
static char **list_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return NULL;
    size_t n = 0, cap = 16;
    char **names = malloc(cap * sizeof *names);
    for (struct dirent *e; names != NULL && (e = readdir(d)) != NULL;) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_name[0] == '.' || !util_is_file(path))
            continue;
        if (n + 2 > cap) {
            char **bigger = realloc(names, (cap *= 2) * sizeof *names);
            if (bigger == NULL)
                break;
            names = bigger;
        }
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (names == NULL)
        return NULL;
    names[n] = NULL;
    qsort(names, n, sizeof *names, cmp_str);
    return names;
}

static void free_names(char **names)
{
    for (size_t i = 0; names != NULL && names[i] != NULL; i++)
        free(names[i]);
    free(names);
}

static int has_name(char **names, const char *name)
{
    for (size_t i = 0; names != NULL && names[i] != NULL; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Appends printf output to a growing detail buffer (bounded). */
static void add_detail(char *buf, size_t bufsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_detail(char *buf, size_t bufsz, const char *fmt, ...)
{
    size_t len = strlen(buf);
    va_list ap;
    if (len + 1 >= bufsz)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + len, bufsz - len, fmt, ap);
    va_end(ap);
}

static void check_mirror(struct checks *k, const struct course_exercise *ex)
{
    char edir[4400], sdir[4400], detail[4096] = "";
    snprintf(edir, sizeof edir, "%s/exercises/%s", k->root, ex->dir);
    snprintf(sdir, sizeof sdir, "%s/solutions/%s", k->root, ex->dir);
    char **ef = list_files(edir), **sf = list_files(sdir);

    if (!check(k, ef != NULL && sf != NULL, NULL, "%s: exercises/%s and solutions/%s exist",
               ex->id, ex->dir, ex->dir))
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
    free_names(ef);
    free_names(sf);
}

/* The grader's data must name exactly the tests the suite has, in the same order. */
static void check_test_names(struct checks *k, const struct runner *r,
                             const struct course_exercise *ex)
{
    char detail[4096] = "";
    char **names = runner_list(r, "solutions", ex);
    size_t n = 0;

    if (names == NULL) {
        check(k, 0, "the suite did not answer --list", "%s: grader/course.json lists the suite's tests",
              ex->id);
        return;
    }
    for (; names[n] != NULL; n++)
        if (n >= ex->ntests || strcmp(names[n], ex->tests[n].name) != 0)
            add_detail(detail, sizeof detail, "test %zu: the suite has %s, course.json has %s\n",
                       n + 1, names[n], n < ex->ntests ? ex->tests[n].name : "nothing");
    for (size_t i = n; i < ex->ntests; i++)
        add_detail(detail, sizeof detail, "course.json has %s, the suite does not\n",
                   ex->tests[i].name);
    for (size_t i = 0; i < ex->ntests; i++)
        if (ex->tests[i].todo == NULL || ex->tests[i].lecture == NULL || ex->tests[i].hint == NULL)
            add_detail(detail, sizeof detail, "%s needs a todo, a lecture and a hint\n",
                       ex->tests[i].name);
    check(k, detail[0] == '\0' && n > 0, detail,
          "%s: grader/course.json describes each of the suite's %zu tests", ex->id, n);
    runner_free_names(names);
}

/* ---- links in the documentation -------------------------------------------------------- */

/* GitHub's anchor for a heading: lower case, spaces to '-', other punctuation dropped. */
static void slugify(const char *heading, size_t len, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < outsz; i++) {
        unsigned char ch = (unsigned char)heading[i];
        if (isalnum(ch) || ch == '-' || ch == '_' || ch >= 0x80)
            out[o++] = (char)tolower(ch);
        else if (ch == ' ')
            out[o++] = '-';
    }
    out[o] = '\0';
}

/* Does the markdown file have a heading whose anchor is `anchor`? Skips fenced code. */
static int has_anchor(const char *text, const char *anchor)
{
    int in_code = 0;
    for (const char *line = text; *line != '\0';) {
        const char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
        if (strncmp(line, "```", 3) == 0)
            in_code = !in_code;
        else if (!in_code && line[0] == '#') {
            size_t h = strspn(line, "#");
            while (h < len && line[h] == ' ')
                h++;
            char slug[512];
            slugify(line + h, len - h, slug, sizeof slug);
            if (strcmp(slug, anchor) == 0)
                return 1;
        }
        line += len + (nl != NULL);
    }
    return 0;
}

/* Checks one link target relative to `base_dir` (both inside the repository). */
static void check_link(struct checks *k, const char *base_dir, const char *target, char *detail,
                       size_t detailsz, const char *from)
{
    char path[4600], anchor[512] = "";
    const char *hash = strchr(target, '#');
    size_t plen = hash != NULL ? (size_t)(hash - target) : strlen(target);

    if (hash != NULL)
        snprintf(anchor, sizeof anchor, "%s", hash + 1);
    if (plen == 0)
        snprintf(path, sizeof path, "%s", from); /* "#anchor" within the same file */
    else
        snprintf(path, sizeof path, "%s/%.*s", base_dir, (int)plen, target);
    if (util_is_dir(path))
        strncat(path, "/README.md", sizeof path - strlen(path) - 1);
    char *text = util_read_file(path);
    if (text == NULL)
        add_detail(detail, detailsz, "%s: link to %s: no such file\n", from + strlen(k->root) + 1,
                   target);
    else if (anchor[0] != '\0' && ends_with(path, ".md") && !has_anchor(text, anchor))
        add_detail(detail, detailsz, "%s: link to %s: no heading with that anchor\n",
                   from + strlen(k->root) + 1, target);
    free(text);
}

/* Every relative link in a markdown file: [text](target). */
static void check_markdown_links(struct checks *k, const char *file, char *detail, size_t detailsz,
                                 int *nlinks)
{
    char *text = util_read_file(file);
    char base[4400];

    if (text == NULL)
        return;
    snprintf(base, sizeof base, "%s", file);
    *strrchr(base, '/') = '\0';
    int in_code = 0;
    for (char *line = text; *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        if (strncmp(line, "```", 3) == 0)
            in_code = !in_code;
        for (char *p = line; !in_code && (p = strstr(p, "](")) != NULL; p += 2) {
            char *end = strchr(p + 2, ')');
            if (end == NULL)
                break;
            char target[1024];
            snprintf(target, sizeof target, "%.*s", (int)(end - p - 2), p + 2);
            if (strstr(target, "://") != NULL || strncmp(target, "mailto:", 7) == 0)
                continue;
            check_link(k, base, target, detail, detailsz, file);
            (*nlinks)++;
        }
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    free(text);
}

/* Appends every .c and .h file of every lecture folder to *all (grown with realloc). */
static void read_lecture_sources(const char *root, char **all, size_t *len)
{
    char dir[4400];
    snprintf(dir, sizeof dir, "%s/lectures", root);
    DIR *d = opendir(dir);
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4700];
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        char **files = list_files(sub);
        for (size_t i = 0; files != NULL && files[i] != NULL; i++) {
            if (!ends_with(files[i], ".c") && !ends_with(files[i], ".h"))
                continue;
            char path[5000];
            snprintf(path, sizeof path, "%s/%s", sub, files[i]);
            char *text = util_read_file(path);
            size_t n = text != NULL ? strlen(text) : 0;
            char *bigger = realloc(*all, *len + n + 2);
            if (bigger != NULL) {
                *all = bigger;
                memcpy(*all + *len, text != NULL ? text : "", n);
                *len += n;
                (*all)[(*len)++] = '\n';
                (*all)[*len] = '\0';
            }
            free(text);
        }
        free_names(files);
    }
    if (d != NULL)
        closedir(d);
}

/* Checks one piece of a quoted block: it must stand, verbatim, in the demo sources. */
static void check_quote_piece(const char *piece, size_t len, const char *sources, const char *file,
                              char *detail, size_t detailsz, int *npieces)
{
    while (len > 0 && piece[0] == '\n') {
        piece++;
        len--;
    }
    while (len > 0 && piece[len - 1] == '\n')
        len--;
    if (len == 0)
        return;
    (*npieces)++;
    char *want = strndup(piece, len);
    if (want != NULL && strstr(sources, want) == NULL)
        add_detail(detail, detailsz, "%s: quoted code not found in any lecture demo: %.60s...\n",
                   file, want);
    free(want);
}

/*
 * Lecture notes quote their demos. Every ```c block in a lecture README (its indentation
 * removed; "..." or a "... " comment line separates quoted pieces) must appear verbatim in a
 * lecture's .c or .h file, so the notes cannot drift from the code they teach.
 */
static void check_lecture_quotes(struct checks *k)
{
    char *sources = NULL, detail[8192] = "";
    size_t slen = 0;
    int npieces = 0;
    char dir[4400];

    read_lecture_sources(k->root, &sources, &slen);
    snprintf(dir, sizeof dir, "%s/lectures", k->root);
    DIR *d = opendir(dir);
    for (struct dirent *e; sources != NULL && d != NULL && (e = readdir(d)) != NULL;) {
        char path[4700];
        snprintf(path, sizeof path, "%s/%s/README.md", dir, e->d_name);
        char *text = e->d_name[0] != '.' ? util_read_file(path) : NULL;
        if (text == NULL)
            continue;
        char *piece = malloc(strlen(text) + 1);
        size_t plen = 0;
        size_t indent = 0;
        int in_c = 0, in_other = 0;
        for (char *line = text; piece != NULL && *line != '\0';) {
            char *nl = strchr(line, '\n');
            size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
            size_t lead = strspn(line, " ");
            if (!in_c && !in_other && strncmp(line + lead, "```", 3) == 0) {
                in_c = strncmp(line + lead, "```c", 4) == 0 && len == lead + 4;
                in_other = !in_c;
                indent = lead;
                plen = 0;
            } else if ((in_c || in_other) && strncmp(line + lead, "```", 3) == 0) {
                if (in_c)
                    check_quote_piece(piece, plen, sources, path + strlen(k->root) + 1, detail,
                                      sizeof detail, &npieces);
                in_c = in_other = 0;
            } else if (in_c) {
                const char *body = line + (lead < indent ? lead : indent);
                size_t blen = len - (size_t)(body - line);
                char trimmed[64];
                snprintf(trimmed, sizeof trimmed, "%.*s", (int)(blen < 63 ? blen : 63), body);
                const char *t = trimmed + strspn(trimmed, " \t");
                if (strcmp(t, "...") == 0 || strcmp(t, "/* ... */") == 0) {
                    check_quote_piece(piece, plen, sources, path + strlen(k->root) + 1, detail,
                                      sizeof detail, &npieces);
                    plen = 0;
                } else {
                    memcpy(piece + plen, body, blen);
                    plen += blen;
                    piece[plen++] = '\n';
                }
            }
            line += len + (nl != NULL);
        }
        free(piece);
        free(text);
    }
    if (d != NULL)
        closedir(d);
    check(k, detail[0] == '\0' && npieces > 0, detail,
          "the lecture notes quote their demos' code verbatim (%d quoted pieces)", npieces);
    free(sources);
}

static void check_docs(struct checks *k, const struct course *c)
{
    char detail[8192] = "";
    char path[8192];
    int nlinks = 0;

    /* The top-level README, and every README one folder down in these trees. */
    snprintf(path, sizeof path, "%s/README.md", k->root);
    check_markdown_links(k, path, detail, sizeof detail, &nlinks);
    const char *trees[] = {"exercises", "solutions", "lectures"};
    for (size_t t = 0; t < 3; t++) {
        char dir[4400];
        snprintf(dir, sizeof dir, "%s/%s", k->root, trees[t]);
        DIR *d = opendir(dir);
        for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%s/%s/README.md", dir, e->d_name);
            if (util_is_file(path))
                check_markdown_links(k, path, detail, sizeof detail, &nlinks);
        }
        if (d != NULL)
            closedir(d);
    }
    check(k, detail[0] == '\0', detail, "every relative link in the READMEs leads somewhere (%d links)",
          nlinks);

    detail[0] = '\0';
    int n = 0;
    snprintf(path, sizeof path, "%s/grader/course.json", k->root);
    for (size_t i = 0; i < c->nexercises; i++)
        for (size_t t = 0; t < c->exercises[i].ntests; t++)
            if (c->exercises[i].tests[t].lecture != NULL) {
                check_link(k, k->root, c->exercises[i].tests[t].lecture, detail, sizeof detail, path);
                n++;
            }
    check(k, detail[0] == '\0', detail, "every lecture section the grader points to exists (%d)", n);
}

/* ---- running tests against a tree ------------------------------------------------------ */

static int verdict_ok_for(const char *tree, enum verdict v)
{
    if (strcmp(tree, "solutions") == 0)
        return v == VERDICT_PASS;
    /* A starter fails cleanly: an assertion (or a timeout it was written to hit). Never a
     * pass (the starter would solve something by accident), crash or early exit. */
    return v == VERDICT_FAIL || v == VERDICT_TIMEOUT;
}

static void run_tree(struct checks *k, const struct runner *r, const struct course_exercise *ex,
                     const char *tree, const char *label)
{
    struct exercise_result res;
    double total = 0;
    int bad = 0;

    grade_exercise(r, ex, tree, NULL, NULL, &k->st, &res);
    if (res.build_log != NULL) {
        check(k, 0, res.build_log, "%s: %s/%s builds", ex->id, tree, ex->dir);
        grade_result_free(&res);
        return;
    }
    /* Every test is a check of its own (so the closing count says how many really ran), but
     * only the ones that are wrong get a line unless --verbose: one summary line says the rest. */
    for (size_t i = 0; i < res.ntests; i++) {
        const struct test_result *tr = &res.tests[i];
        int ok = verdict_ok_for(tree, tr->verdict);
        total += tr->seconds;
        if (ok && !k->verbose) {
            k->passed++;
            continue;
        }
        char detail[8192];
        snprintf(detail, sizeof detail, "%s\n%s%s", tr->message,
                 tr->transcript != NULL ? tr->transcript : "",
                 tr->output != NULL && !ok ? tr->output : "");
        check(k, ok, detail, "%s %s %s: %s", label, ex->id, tr->name, verdict_name(tr->verdict));
        bad += !ok;
    }
    if (!k->verbose)
        printf("  %s%-4s%s %s: %s %zu of %zu tests %s (%.1f s)\n",
               report_color(&k->st, bad == 0 ? VERDICT_PASS : VERDICT_FAIL),
               bad == 0 ? "ok" : "FAIL", report_reset(&k->st), ex->id, label, res.ntests - (size_t)bad,
               res.ntests, strcmp(tree, "solutions") == 0 ? "pass" : "fail cleanly on the starter",
               total);
    grade_result_free(&res);
}

/* ---- demos ----------------------------------------------------------------------------- */

static void run_demos(struct checks *k, const struct course *c, const char *build_dir,
                      int sanitized)
{
    char *env[] = {"ASAN_OPTIONS=detect_leaks=1:exitcode=23",
                   "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=23", NULL};
    char how[128];

    for (size_t i = 0; i < c->ndemos; i++) {
        const struct course_demo *d = &c->demos[i];
        char prog[4600];
        char *argv[32];
        size_t n = 0;
        snprintf(prog, sizeof prog, "%s/%s/%s", k->root, build_dir, d->program);
        argv[n++] = prog;
        for (size_t a = 0; a < d->nargs && n < 31; a++)
            argv[n++] = (char *)d->args[a];
        argv[n] = NULL;

        struct proc_result res;
        if (proc_run(argv, k->root, sanitized ? env : NULL, d->timeout_s * (sanitized ? 3 : 1),
                     &res) != 0)
            continue;
        char detail[4096] = "";
        if (!proc_ok(&res))
            add_detail(detail, sizeof detail, "%s\n", proc_describe(&res, how, sizeof how));
        for (size_t e = 0; e < d->nexpect; e++)
            if (strstr(res.output, d->expect[e]) == NULL)
                add_detail(detail, sizeof detail, "expected in the output: %s\n", d->expect[e]);
        if (detail[0] != '\0')
            add_detail(detail, sizeof detail, "output:\n%s", res.output);
        check(k, detail[0] == '\0', detail, "demo %s %s%s (%.1f s)", d->program,
              d->nargs > 0 ? d->args[0] : "", sanitized ? " under ASan+UBSan" : "", res.seconds);
        proc_result_free(&res);
    }
}

/* ---- the grader's self-tests ----------------------------------------------------------- */

/* Runs this build's grader on some tests (all when `tests` is empty) of one exercise of a
 * tree, through its command line, and returns its JSON report (or NULL). */
static json_t *grade_via_cli(struct checks *k, const char *tree, const char *ex_id,
                             const char *const tests[], int *exit_status, char **output)
{
    char grader[4600], json_path[256];
    struct proc_result res;
    char *argv[64] = {grader, "--build-dir", VERIFY_BUILD_DIR, "--tree", (char *)tree,
                      "--json", json_path, (char *)ex_id};
    size_t n = 8;

    snprintf(grader, sizeof grader, "%s/%s/grader/grader", k->root, VERIFY_BUILD_DIR);
    snprintf(json_path, sizeof json_path, "%s/%s-%s.json", k->tmp_dir, tree, ex_id);
    for (size_t i = 0; tests != NULL && tests[i] != NULL && n < 63; i++)
        argv[n++] = (char *)tests[i];
    argv[n] = NULL;
    if (proc_run(argv, k->root, NULL, 600, &res) != 0)
        return NULL;
    *exit_status = res.timed_out || !WIFEXITED(res.status) ? -1 : WEXITSTATUS(res.status);
    *output = res.output;
    res.output = NULL;
    proc_result_free(&res);
    json_error_t jerr;
    return json_load_file(json_path, 0, &jerr);
}

/* Grades a fixture's listed tests and checks each got the fixture's verdict: the grader must
 * name what is wrong, and a broken submission must never pass. */
static void check_fixture(struct checks *k, const struct course *c, const struct course_fixture *f)
{
    char tree[128], detail[8192] = "";
    int status = -1;
    char *output = NULL;

    snprintf(tree, sizeof tree, "fixture-%s", f->name);
    json_t *report = grade_via_cli(k, tree, f->exercise, f->tests, &status, &output);
    json_t *ex = json_array_get(json_object_get(report, "exercises"), 0);
    json_t *tests = json_object_get(ex, "tests");
    const struct course_exercise *cex = course_find(c, f->exercise);
    size_t want = f->ntests > 0 ? f->ntests : (cex != NULL ? cex->ntests : 0);

    if (report == NULL || !json_is_array(tests) || status != 1) {
        add_detail(detail, sizeof detail, "grader exit status %d (expected 1), report %s\n", status,
                   report == NULL ? "missing" : "present");
    } else {
        size_t got = 0;
        for (size_t i = 0; i < json_array_size(tests); i++) {
            json_t *t = json_array_get(tests, i);
            const char *name = json_string_value(json_object_get(t, "name"));
            const char *v = json_string_value(json_object_get(t, "verdict"));
            if (v != NULL && strcmp(v, f->verdict) == 0)
                got++;
            else
                add_detail(detail, sizeof detail, "%s: %s, expected %s (%s)\n", name, v,
                           f->verdict, json_string_value(json_object_get(t, "message")));
        }
        if (got != want || want == 0)
            add_detail(detail, sizeof detail, "%zu of %zu tests got the verdict %s\n", got, want,
                       f->verdict);
    }
    if (detail[0] != '\0' && output != NULL)
        add_detail(detail, sizeof detail, "grader output:\n%s", output);
    check(k, detail[0] == '\0', detail, "fixture %s (%s): %zu tests graded %s", f->name,
          f->about != NULL ? f->about : "", want, f->verdict);
    json_decref(report);
    free(output);
}

static void check_grader_cli(struct checks *k, const struct course *c)
{
    char grader[4600];
    struct proc_result res;

    snprintf(grader, sizeof grader, "%s/%s/grader/grader", k->root, VERIFY_BUILD_DIR);
    char *list[] = {grader, "--list", NULL};
    if (proc_run(list, k->root, NULL, 30, &res) == 0) {
        int ok = proc_ok(&res);
        for (size_t i = 0; ok && i < c->nexercises; i++)
            ok = strstr(res.output, c->exercises[i].id) != NULL;
        check(k, ok, res.output, "grader --list names every exercise");
        proc_result_free(&res);
    }
    char *bad[] = {grader, "--no-such-option", NULL};
    if (proc_run(bad, k->root, NULL, 30, &res) == 0) {
        int ok = !res.timed_out && WIFEXITED(res.status) && WEXITSTATUS(res.status) == 2 &&
                 strstr(res.output, "usage:") != NULL;
        check(k, ok, res.output, "grader answers a bad option with usage and exit status 2");
        proc_result_free(&res);
    }
    char *unknown[] = {grader, "ex99", NULL};
    if (proc_run(unknown, k->root, NULL, 30, &res) == 0) {
        int ok = !res.timed_out && WIFEXITED(res.status) && WEXITSTATUS(res.status) == 2;
        check(k, ok, res.output, "grader answers an unknown exercise with exit status 2");
        proc_result_free(&res);
    }
    /* The correct submission: one exercise of the reference, through the whole command line. */
    for (size_t i = 0; i < c->nexercises; i++) {
        if (c->exercises[i].ntests == 0)
            continue;
        int status = -1;
        char *output = NULL;
        const char *first[] = {c->exercises[i].tests[0].name, NULL};
        json_t *report = grade_via_cli(k, "solutions", c->exercises[i].id, first, &status, &output);
        json_t *t = json_array_get(
            json_object_get(json_array_get(json_object_get(report, "exercises"), 0), "tests"), 0);
        const char *v = json_string_value(json_object_get(t, "verdict"));
        check(k, status == 0 && v != NULL && strcmp(v, "pass") == 0, output,
              "grader grades a correct submission as pass, exit status 0, with a JSON report");
        json_decref(report);
        free(output);
        break;
    }
}

/* ---- the whole verification ------------------------------------------------------------ */

int verify_course(const struct course *c, int verbose)
{
    struct checks k = {.verbose = verbose};
    k.st = report_style_for(stdout, verbose);
    snprintf(k.tmp_dir, sizeof k.tmp_dir, "/tmp/grade-verify-XXXXXX");
    if (getcwd(k.root, sizeof k.root) == NULL || mkdtemp(k.tmp_dir) == NULL) {
        perror("grade: set-up");
        return 2;
    }
    struct runner plain = {.root = k.root, .build_dir = VERIFY_BUILD_DIR, .tmp_dir = k.tmp_dir};
    struct runner asan = {.root = k.root, .build_dir = VERIFY_ASAN_DIR, .tmp_dir = k.tmp_dir,
                          .sanitized = 1};

    printf("Verifying the course: builds, both trees, demos, the grader, sanitizers.\n");
    section(&k, "Build (warnings are errors)");
    char *plain_opts[] = {"-Dwerror=true", NULL};
    int built = build_all(&k, VERIFY_BUILD_DIR, plain_opts, "everything compiles without a warning");

    section(&k, "The course's files");
    for (size_t i = 0; i < c->nexercises; i++) {
        check_mirror(&k, &c->exercises[i]);
        if (built)
            check_test_names(&k, &plain, &c->exercises[i]);
    }
    check_docs(&k, c);
    check_lecture_quotes(&k);

    if (built) {
        section(&k, "Solutions pass every test");
        for (size_t i = 0; i < c->nexercises; i++)
            run_tree(&k, &plain, &c->exercises[i], "solutions", "solutions:");

        section(&k, "Starters fail every test, cleanly");
        for (size_t i = 0; i < c->nexercises; i++)
            run_tree(&k, &plain, &c->exercises[i], "exercises", "starter:");

        section(&k, "Lecture demos");
        run_demos(&k, c, VERIFY_BUILD_DIR, 0);

        section(&k, "The grader's own tests");
        for (size_t i = 0; i < c->nfixtures; i++)
            check_fixture(&k, c, &c->fixtures[i]);
        check_grader_cli(&k, c);
    }

    section(&k, "AddressSanitizer + UBSan");
    char *asan_opts[] = {"-Dwerror=true", "-Db_sanitize=address,undefined", "-Db_lundef=false",
                         NULL};
    if (build_all(&k, VERIFY_ASAN_DIR, asan_opts, "everything compiles with -fsanitize=address,undefined")) {
        for (size_t i = 0; i < c->nexercises; i++)
            run_tree(&k, &asan, &c->exercises[i], "solutions", "solutions under ASan+UBSan:");
        run_demos(&k, c, VERIFY_ASAN_DIR, 1);
    }

    char *rm[] = {"rm", "-rf", k.tmp_dir, NULL};
    struct proc_result ignored;
    if (proc_run(rm, NULL, NULL, 30, &ignored) == 0)
        proc_result_free(&ignored);

    printf("\n%s\n%d passed, %d failed\n",
           k.failed == 0 ? "The course verifies." : "The course does NOT verify: see FAIL above.",
           k.passed, k.failed);
    return k.failed == 0 ? 0 : 1;
}
