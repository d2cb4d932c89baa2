/*
 * starters.c - see starters.h. One pass over each file, a line at a time: outside a marked
 * block lines are copied; a marked block becomes either its solution code (kept) or its TODO
 * comment and stub (taken out).
 */
#include "starters.h"

#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STARTERS_MAX_TODO 63

static const char pragmas[] =
    "\n"
    "/* Until every TODO is done, some functions are not called yet and some stubs leave\n"
    " * parameters and variables unused. These lines keep the compiler quiet about that; delete\n"
    " * them when you have finished, and the compiler will check your work again. */\n"
    "#pragma GCC diagnostic ignored \"-Wunused-function\"\n"
    "#pragma GCC diagnostic ignored \"-Wunused-parameter\"\n"
    "#pragma GCC diagnostic ignored \"-Wunused-variable\"\n"
    "#pragma GCC diagnostic ignored \"-Wunused-but-set-variable\"\n";

/* A growing output buffer; running out of memory ends the grader (util_oom). */
struct out {
    char *buf;
    size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (o->len + n + 1 > cap)
            cap *= 2;
        char *bigger = realloc(o->buf, cap);
        if (bigger == NULL)
            util_oom();
        o->buf = bigger;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put(o, tmp, n < 0 ? 0 : (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

struct line {
    const char *s;
    size_t len; /* without the newline */
};

static int next_line(const char **p, struct line *l)
{
    return util_next_line(p, &l->s, &l->len);
}

/* "    /" "* STUDENT(3): text" -> indent 4, number 3, text after the colon. */
static int is_open(const struct line *l, size_t *indent, int *n, size_t *text_at)
{
    size_t i = strspn(l->s, " \t");
    int used = 0;
    if (i >= l->len || sscanf(l->s + i, "/* STUDENT(%d):%n", n, &used) != 1 || used == 0)
        return 0;
    *indent = i;
    *text_at = i + (size_t)used;
    return 1;
}

static int is_close(const struct line *l, int *n)
{
    size_t i = strspn(l->s, " \t");
    int used = 0;
    return i < l->len && sscanf(l->s + i, "/* END STUDENT(%d) */%n", n, &used) == 1 && used > 0;
}

static int ends_comment(const struct line *l)
{
    return l->len >= 2 && memcmp(l->s + l->len - 2, "*/", 2) == 0;
}

/* Does this comment line say "stub:"? Sets *rest to what follows it on the line. */
static int is_stub(const struct line *l, const char **rest)
{
    size_t i = strspn(l->s, " \t");
    if (l->len - i >= 7 && memcmp(l->s + i, "* stub:", 7) == 0) {
        *rest = l->s + i + 7;
        return 1;
    }
    return 0;
}

struct gen {
    const char *file; /* for messages */
    const struct suite_data *d;
    starters_set which;
    int *nblocks;
    char *err;
    size_t errsz;
};

static int gen_fail(struct gen *g, int lineno, const char *what)
{
    snprintf(g->err, g->errsz, "%s:%d: %s", g->file, lineno, what);
    return -1;
}

/* Emits the TODO comment and the stub for one block. `stub` lines are comment lines; their
 * common indentation is removed and the block's indentation put in its place. */
static void emit_todo(struct out *o, size_t indent, const struct suite_todo *t,
                      const char *first_text, size_t first_len, const struct line *text,
                      size_t ntext, const struct line *stub, size_t nstub)
{
    const char *pad = "                                                                ";
    int ind = (int)(indent < 64 ? indent : 64);

    putf(o, "%.*s/* TODO(%d): %s\n", ind, pad, t->number, t->title);
    putf(o, "%.*s * Read: %s\n", ind, pad, t->lecture);
    while (first_len > 0 && first_text[0] == ' ')
        first_text++, first_len--;
    if (first_len > 0)
        putf(o, "%.*s * %.*s\n", ind, pad, (int)first_len, first_text);
    for (size_t i = 0; i < ntext; i++)
        putf(o, "%.*s\n", (int)text[i].len, text[i].s);
    putf(o, "%.*s */\n", ind, pad);

    size_t common = (size_t)-1;
    for (size_t i = 0; i < nstub; i++) {
        size_t lead = strspn(stub[i].s, " ");
        if (lead < stub[i].len && lead < common)
            common = lead;
    }
    for (size_t i = 0; i < nstub; i++) {
        if (strspn(stub[i].s, " ") >= stub[i].len) {
            put(o, "\n", 1);
            continue;
        }
        putf(o, "%.*s%.*s\n", ind, pad, (int)(stub[i].len - common), stub[i].s + common);
    }
}

#define MAX_BLOCK_LINES 200

/* Generates one file. Returns 0 with the text in *o, or -1. */
static int gen_file(struct gen *g, const char *text, int is_c, struct out *o)
{
    struct line l, textl[MAX_BLOCK_LINES], stubl[MAX_BLOCK_LINES], stubrest;
    const char *p = text;
    size_t last_include_end = 0;
    int lineno = 0, any_taken = 0;

    while (next_line(&p, &l)) {
        size_t indent, text_at;
        int n, closing;
        lineno++;
        if (is_close(&l, &closing))
            return gen_fail(g, lineno, "END STUDENT without its STUDENT marker");
        if (!is_open(&l, &indent, &n, &text_at)) {
            put(o, l.s, l.len);
            put(o, "\n", 1);
            if (strncmp(l.s, "#include", 8) == 0)
                last_include_end = o->len;
            continue;
        }
        if (!is_c)
            return gen_fail(g, lineno,
                            "STUDENT markers belong in .c files (headers are the same "
                            "in both trees)");
        const struct suite_todo *t = suite_data_todo(g->d, n);
        if (t == NULL || n > STARTERS_MAX_TODO)
            return gen_fail(g, lineno, "STUDENT(n) names a TODO that tests.json does not have");
        int open_line = lineno;
        const char *first = l.s + text_at;
        size_t first_len = l.len - text_at, ntext = 0, nstub = 0;
        int in_stub = 0, done = ends_comment(&l);
        if (done)
            first_len -= 2;
        /* The marker comment: text lines, then "stub:" and the stub's lines. */
        while (!done && next_line(&p, &l)) {
            lineno++;
            const char *rest;
            done = ends_comment(&l);
            struct line body = l;
            if (done) {
                body.len -= 2;
                while (body.len > 0 && body.s[body.len - 1] == ' ')
                    body.len--;
                if (body.len == 0 || strspn(body.s, " \t") >= body.len)
                    break; /* the comment's closing line holds nothing else */
            }
            if (!in_stub && is_stub(&body, &rest)) {
                in_stub = 1;
                stubrest.s = rest;
                stubrest.len = body.len - (size_t)(rest - body.s);
                if (strspn(stubrest.s, " ") < stubrest.len && nstub < MAX_BLOCK_LINES)
                    stubl[nstub++] = stubrest;
                continue;
            }
            if (in_stub) {
                size_t i = strspn(body.s, " \t");
                if (i < body.len && body.s[i] == '*')
                    i++;
                struct line sl = {body.s + i, body.len - i};
                if (nstub < MAX_BLOCK_LINES)
                    stubl[nstub++] = sl;
            } else if (ntext < MAX_BLOCK_LINES) {
                textl[ntext++] = body;
            }
        }
        if (!done)
            return gen_fail(g, open_line, "the STUDENT marker's comment never ends");
        if (!in_stub)
            return gen_fail(g, open_line,
                            "the STUDENT marker has no \"stub:\" line (write "
                            "\"stub:\" alone for an empty stub)");
        /* The solution's code, up to the closing marker. */
        struct out code = {0};
        int closed = 0;
        while (next_line(&p, &l)) {
            lineno++;
            int m;
            if (is_close(&l, &m)) {
                if (m != n) {
                    free(code.buf);
                    return gen_fail(g, lineno, "END STUDENT closes another TODO's block");
                }
                closed = 1;
                break;
            }
            if (is_open(&l, &indent, &m, &text_at)) {
                free(code.buf);
                return gen_fail(g, lineno, "a STUDENT block inside another one");
            }
            put(&code, l.s, l.len);
            put(&code, "\n", 1);
        }
        if (!closed) {
            free(code.buf);
            return gen_fail(g, open_line, "this STUDENT block has no END STUDENT");
        }
        if (g->nblocks != NULL)
            g->nblocks[n]++;
        if (g->which & STARTERS_ONLY(n)) {
            emit_todo(o, indent, t, first, first_len, textl, ntext, stubl, nstub);
            any_taken = 1;
        } else if (code.len > 0) {
            put(o, code.buf, code.len);
        }
        free(code.buf);
    }
    if (any_taken && is_c) {
        /* The pragmas go right after the last #include. */
        size_t at = last_include_end;
        struct out with = {0};
        put(&with, o->buf, at);
        put(&with, pragmas, sizeof pragmas - 1);
        put(&with, o->buf + at, o->len - at);
        free(o->buf);
        *o = with;
    }
    return 0;
}

static int wanted_file(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' &&
           ((n > 2 && (strcmp(name + n - 2, ".c") == 0 || strcmp(name + n - 2, ".h") == 0)) ||
            strcmp(name, "meson.build") == 0);
}

/* Calls fn for every generated file of src_dir. */
static int each_file(const char *src_dir, const struct suite_data *d, starters_set which,
                     int nblocks[64], char *err, size_t errsz,
                     int (*fn)(const char *name, const char *text, void *arg), void *arg)
{
    DIR *dir = opendir(src_dir);
    int rc = 0;

    if (dir == NULL) {
        snprintf(err, errsz, "%s: %s", src_dir, strerror(errno));
        return -1;
    }
    if (nblocks != NULL)
        memset(nblocks, 0, 64 * sizeof *nblocks);
    for (struct dirent *e; rc == 0 && (e = readdir(dir)) != NULL;) {
        if (!wanted_file(e->d_name))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", src_dir, e->d_name);
        char *text = util_read_file(path);
        if (text == NULL) {
            snprintf(err, errsz, "%s: cannot read it", path);
            rc = -1;
            break;
        }
        struct gen g = {
            .file = path, .d = d, .which = which, .nblocks = nblocks, .err = err, .errsz = errsz};
        struct out o = {0};
        size_t n = strlen(e->d_name);
        rc = gen_file(&g, text, strcmp(e->d_name + n - 2, ".c") == 0, &o);
        if (rc == 0)
            rc = fn(e->d_name, o.buf != NULL ? o.buf : "", arg);
        free(o.buf);
        free(text);
    }
    closedir(dir);
    return rc;
}

struct write_ctx {
    const char *out_dir;
    char *err;
    size_t errsz;
};

static int write_cb(const char *name, const char *text, void *arg)
{
    struct write_ctx *w = arg;
    char path[4096];

    snprintf(path, sizeof path, "%s/%s", w->out_dir, name);
    char *old = util_read_file(path);
    int same = old != NULL && strcmp(old, text) == 0;
    free(old);
    if (same)
        return 0;
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
        snprintf(w->err, w->errsz, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int starters_write(const char *src_dir, const struct suite_data *d, starters_set which,
                   const char *out_dir, int nblocks[64], char *err, size_t errsz)
{
    struct write_ctx w = {out_dir, err, errsz};

    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        snprintf(err, errsz, "%s: %s", out_dir, strerror(errno));
        return -1;
    }
    return each_file(src_dir, d, which, nblocks, err, errsz, write_cb, &w);
}

struct compare_ctx {
    const char *dir;
    char *detail;
    size_t detailsz;
    int differ;
};

static int compare_cb(const char *name, const char *text, void *arg)
{
    struct compare_ctx *c = arg;
    char path[4096];

    snprintf(path, sizeof path, "%s/%s", c->dir, name);
    char *old = util_read_file(path);
    if (old == NULL || strcmp(old, text) != 0) {
        size_t len = strlen(c->detail);
        snprintf(c->detail + len, c->detailsz - len, "%s %s\n", path,
                 old == NULL ? "is missing" : "differs from what the markers make");
        c->differ++;
    }
    free(old);
    return 0;
}

int starters_compare(const char *src_dir, const struct suite_data *d, const char *starter_dir,
                     char *detail, size_t detailsz, char *err, size_t errsz)
{
    struct compare_ctx c = {starter_dir, detail, detailsz, 0};

    if (each_file(src_dir, d, STARTERS_ALL, NULL, err, errsz, compare_cb, &c) != 0)
        return -1;
    return c.differ;
}
