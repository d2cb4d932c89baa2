/*
 * course.c - see course.h. jansson does the parsing; this file turns course.json into plain
 * arrays and says exactly what is wrong, and where, when the file is not as expected. Each
 * exercise's tests.json is read by suite_data.c, the loader the test suites use too.
 */
#include "course.h"

#include "util.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct loader {
    const char *path;
    char *text; /* the raw file, to find line numbers */
    char *err;
    size_t errsz;
};

/* Reports a problem at the line of the first `"key"` after the first `"near"` in the text. */
static int fail(struct loader *L, const char *near, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct loader *L, const char *near, const char *key, const char *fmt, ...)
{
    char msg[384], quoted[256];
    const char *at = L->text != NULL ? L->text : "";
    va_list ap;
    int line = 1;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *marks[] = {near, key};
    for (size_t i = 0; i < 2; i++) {
        if (marks[i] == NULL)
            continue;
        snprintf(quoted, sizeof quoted, "\"%s\"", marks[i]);
        const char *p = strstr(at, quoted);
        if (p != NULL)
            at = p;
    }
    for (const char *c = L->text; c != NULL && c < at; c++)
        line += *c == '\n';
    snprintf(L->err, L->errsz, "%s:%d: %s", L->path, line, msg);
    return -1;
}

static int only_keys(struct loader *L, json_t *obj, const char *near, const char *what,
                     const char *const allowed[])
{
    const char *key;
    json_t *value;

    if (!json_is_object(obj))
        return fail(L, near, NULL, "%s must be an object", what);
    json_object_foreach(obj, key, value)
    {
        size_t i = 0;
        while (allowed[i] != NULL && strcmp(allowed[i], key) != 0)
            i++;
        if (allowed[i] == NULL)
            return fail(L, near, key, "unknown key \"%s\" in %s", key, what);
    }
    return 0;
}

/* A required string. */
static int str(struct loader *L, json_t *obj, const char *key, const char *near, const char **out)
{
    *out = json_string_value(json_object_get(obj, key));
    if (*out == NULL || **out == '\0')
        return fail(L, near, key, "%s needs a non-empty string \"%s\"", near, key);
    return 0;
}

/* A NULL-terminated array of borrowed strings from an optional JSON array of strings. */
static int str_array(struct loader *L, json_t *obj, const char *key, const char *near,
                     const char ***out, size_t *n)
{
    json_t *arr = json_object_get(obj, key);
    size_t count = arr != NULL ? json_array_size(arr) : 0;

    if (arr != NULL && !json_is_array(arr))
        return fail(L, near, key, "\"%s\" must be an array of strings", key);
    *out = calloc(count + 1, sizeof **out);
    if (*out == NULL)
        return fail(L, near, key, "out of memory");
    for (size_t i = 0; i < count; i++) {
        (*out)[i] = json_string_value(json_array_get(arr, i));
        if ((*out)[i] == NULL)
            return fail(L, near, key, "\"%s\" must be an array of strings", key);
    }
    *n = count;
    return 0;
}

static int load_exercise(struct loader *L, struct course_exercise *ex, json_t *obj, size_t i)
{
    static const char *const keys[] = {"id", "dir", "title", "program", "aliases", NULL};
    char near[32];

    snprintf(near, sizeof near, "exercise %zu", i + 1);
    if (only_keys(L, obj, NULL, near, keys) != 0 || str(L, obj, "id", near, &ex->id) != 0)
        return -1;
    if (str(L, obj, "dir", ex->id, &ex->dir) != 0 ||
        str(L, obj, "title", ex->id, &ex->title) != 0 ||
        str(L, obj, "program", ex->id, &ex->program) != 0 ||
        str_array(L, obj, "aliases", ex->id, &ex->aliases, &ex->naliases) != 0)
        return -1;
    snprintf(ex->data_path, sizeof ex->data_path, "tests/%s/tests.json", ex->dir);
    return suite_data_load(&ex->data, ex->data_path, L->err, L->errsz);
}

static int load_demo(struct loader *L, struct course_demo *cd, json_t *d, size_t i)
{
    static const char *const keys[] = {"lecture", "program", "args", "expect", "timeout", NULL};
    char near[32];

    snprintf(near, sizeof near, "demo %zu", i + 1);
    if (only_keys(L, d, NULL, near, keys) != 0 || str(L, d, "program", near, &cd->program) != 0 ||
        str(L, d, "lecture", cd->program, &cd->lecture) != 0 ||
        str_array(L, d, "args", cd->program, &cd->args, &cd->nargs) != 0 ||
        str_array(L, d, "expect", cd->program, &cd->expect, &cd->nexpect) != 0)
        return -1;
    json_t *t = json_object_get(d, "timeout");
    cd->timeout_s = 30;
    if (t != NULL && (!json_is_number(t) || json_number_value(t) <= 0))
        return fail(L, cd->program, "timeout", "\"timeout\" must be a number of seconds");
    if (t != NULL)
        cd->timeout_s = json_number_value(t);
    return 0;
}

static int load_fixture(struct loader *L, struct course_fixture *cf, json_t *f, size_t i)
{
    static const char *const keys[] = {"name",    "exercise", "verdict", "tests", "about",
                                       "message", "warnings", "chaos",   NULL};
    char near[32];

    snprintf(near, sizeof near, "fixture %zu", i + 1);
    if (only_keys(L, f, NULL, near, keys) != 0 || str(L, f, "name", near, &cf->name) != 0)
        return -1;
    if (str(L, f, "exercise", cf->name, &cf->exercise) != 0 ||
        str(L, f, "verdict", cf->name, &cf->verdict) != 0 ||
        str(L, f, "about", cf->name, &cf->about) != 0 ||
        str_array(L, f, "tests", cf->name, &cf->tests, &cf->ntests) != 0 ||
        str_array(L, f, "message", cf->name, &cf->message, &cf->nmessage) != 0 ||
        str_array(L, f, "warnings", cf->name, &cf->warnings, &cf->nwarnings) != 0)
        return -1;
    json_t *seed = json_object_get(f, "chaos");
    if (seed != NULL && (!json_is_integer(seed) || json_integer_value(seed) < 0))
        return fail(L, cf->name, "chaos", "\"chaos\" must be a seed: a number, 0 or more");
    if (seed != NULL && cf->ntests == 0)
        return fail(L, cf->name, "chaos",
                    "a fixture graded with \"chaos\" must list its \"tests\" (they must pass "
                    "without chaos)");
    cf->chaos = seed != NULL;
    cf->chaos_seed = seed != NULL ? (unsigned long long)json_integer_value(seed) : 0;
    return 0;
}

/* The length of a JSON array under `key` (0 when absent); -1 when it is not an array. */
static long array_len(json_t *root, const char *key)
{
    json_t *arr = json_object_get(root, key);
    return arr == NULL ? 0 : json_is_array(arr) ? (long)json_array_size(arr) : -1;
}

int course_load(struct course *c, const char *path, char *err, size_t errsz)
{
    static const char *const keys[] = {"about", "exercises", "demos", "fixtures", NULL};
    struct loader L = {.path = path, .err = err, .errsz = errsz};
    json_error_t jerr;

    memset(c, 0, sizeof *c);
    L.text = util_read_file(path);
    if (L.text == NULL) {
        snprintf(err, errsz, "%s: cannot read it", path);
        return -1;
    }
    json_t *root = json_loads(L.text, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        snprintf(err, errsz, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        goto fail;
    }
    c->doc = root;
    if (only_keys(&L, root, NULL, "the file", keys) != 0)
        goto fail;
    long nex = array_len(root, "exercises"), ndemo = array_len(root, "demos");
    long nfix = array_len(root, "fixtures");
    if (nex <= 0 || ndemo < 0 || nfix < 0) {
        fail(&L, NULL, NULL,
             "\"exercises\" must be a non-empty array; \"demos\" and "
             "\"fixtures\" arrays");
        goto fail;
    }
    c->exercises = calloc((size_t)nex, sizeof *c->exercises);
    c->demos = calloc((size_t)ndemo + 1, sizeof *c->demos);
    c->fixtures = calloc((size_t)nfix + 1, sizeof *c->fixtures);
    if (c->exercises == NULL || c->demos == NULL || c->fixtures == NULL) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    /* Each count grows before its entry loads, so course_free() frees a half-loaded entry. */
    for (size_t i = 0; i < (size_t)nex; i++)
        if (c->nexercises++,
            load_exercise(&L, &c->exercises[i],
                          json_array_get(json_object_get(root, "exercises"), i), i) != 0)
            goto fail;
    for (size_t i = 0; i < (size_t)ndemo; i++)
        if (c->ndemos++,
            load_demo(&L, &c->demos[i], json_array_get(json_object_get(root, "demos"), i), i) != 0)
            goto fail;
    for (size_t i = 0; i < (size_t)nfix; i++) {
        struct course_fixture *cf = &c->fixtures[c->nfixtures++];
        if (load_fixture(&L, cf, json_array_get(json_object_get(root, "fixtures"), i), i) != 0)
            goto fail;
        const struct course_exercise *ex = course_find(c, cf->exercise);
        if (ex == NULL) {
            fail(&L, cf->name, "exercise", "fixture %s: no exercise %s", cf->name, cf->exercise);
            goto fail;
        }
        for (size_t k = 0; k < cf->ntests; k++)
            if (course_find_test(ex, cf->tests[k]) == NULL) {
                fail(&L, cf->name, cf->tests[k], "fixture %s: %s has no test %s", cf->name, ex->id,
                     cf->tests[k]);
                goto fail;
            }
    }
    free(L.text);
    return 0;
fail:
    free(L.text);
    course_free(c);
    return -1;
}

const struct course_exercise *course_find(const struct course *c, const char *name)
{
    for (size_t i = 0; i < c->nexercises; i++) {
        const struct course_exercise *ex = &c->exercises[i];
        /* "1", "01", "ex1", "ex01" all mean ex01 */
        const char *num = ex->id + strspn(ex->id, "ex");
        const char *want = name + (strncmp(name, "ex", 2) == 0 ? 2 : 0);
        if (strcmp(ex->id, name) == 0 || strcmp(ex->dir, name) == 0 ||
            (*want != '\0' && strspn(want, "0123456789") == strlen(want) &&
             atoi(want) == atoi(num)))
            return ex;
        for (size_t a = 0; a < ex->naliases; a++)
            if (strcmp(ex->aliases[a], name) == 0)
                return ex;
    }
    return NULL;
}

const struct suite_test *course_find_test(const struct course_exercise *ex, const char *name)
{
    return suite_data_test(&ex->data, name);
}

const struct suite_todo *course_test_todo(const struct course_exercise *ex,
                                          const struct suite_test *t)
{
    return suite_data_todo(&ex->data, t->todo);
}

void course_exercise_ids(const struct course *c, char *out, size_t outsz)
{
    out[0] = '\0';
    for (size_t i = 0; i < c->nexercises; i++)
        snprintf(out + strlen(out), outsz - strlen(out), "%s%s", i > 0 ? ", " : "",
                 c->exercises[i].id);
}

void course_free(struct course *c)
{
    for (size_t i = 0; c->exercises != NULL && i < c->nexercises; i++) {
        free(c->exercises[i].aliases);
        suite_data_free(&c->exercises[i].data);
    }
    for (size_t i = 0; c->demos != NULL && i < c->ndemos; i++) {
        free(c->demos[i].args);
        free(c->demos[i].expect);
    }
    for (size_t i = 0; c->fixtures != NULL && i < c->nfixtures; i++) {
        free(c->fixtures[i].tests);
        free(c->fixtures[i].message);
        free(c->fixtures[i].warnings);
    }
    free(c->exercises);
    free(c->demos);
    free(c->fixtures);
    json_decref(c->doc);
    memset(c, 0, sizeof *c);
}
