/*
 * course.c - see course.h. jansson does the parsing; this file turns the document into plain
 * arrays and says exactly what is wrong when the data file is not as expected.
 */
#include "course.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *opt_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Fills a NULL-terminated array of borrowed strings from a JSON array of strings. */
static const char **str_array(json_t *arr, size_t *n)
{
    size_t count = json_is_array(arr) ? json_array_size(arr) : 0;
    const char **out = calloc(count + 1, sizeof *out);
    size_t k = 0;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        json_t *v = json_array_get(arr, i);
        if (json_is_string(v))
            out[k++] = json_string_value(v);
    }
    *n = k;
    return out;
}

static int load_exercise(struct course_exercise *ex, json_t *obj, char *err, size_t errsz)
{
    ex->id = opt_str(obj, "id");
    ex->dir = opt_str(obj, "dir");
    ex->title = opt_str(obj, "title");
    ex->file = opt_str(obj, "file");
    ex->program = opt_str(obj, "program");
    ex->port = (int)json_integer_value(json_object_get(obj, "port"));
    if (ex->id == NULL || ex->dir == NULL || ex->title == NULL) {
        snprintf(err, errsz, "an exercise needs \"id\", \"dir\" and \"title\"");
        return -1;
    }
    ex->aliases = str_array(json_object_get(obj, "aliases"), &ex->naliases);
    json_t *tests = json_object_get(obj, "tests");
    ex->ntests = json_is_array(tests) ? json_array_size(tests) : 0;
    ex->tests = calloc(ex->ntests + 1, sizeof *ex->tests);
    if (ex->aliases == NULL || ex->tests == NULL) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < ex->ntests; i++) {
        json_t *t = json_array_get(tests, i);
        struct course_test *ct = &ex->tests[i];
        ct->name = opt_str(t, "name");
        if (ct->name == NULL) {
            snprintf(err, errsz, "%s: test %zu has no \"name\"", ex->id, i + 1);
            return -1;
        }
        ct->todo = opt_str(t, "todo");
        ct->lecture = opt_str(t, "lecture");
        ct->hint = opt_str(t, "hint");
        ct->repro = opt_str(t, "repro");
        json_t *w = json_object_get(t, "weight");
        ct->weight = json_is_integer(w) ? (int)json_integer_value(w) : 1;
    }
    return 0;
}

int course_load(struct course *c, const char *path, char *err, size_t errsz)
{
    json_error_t jerr;

    memset(c, 0, sizeof *c);
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        snprintf(err, errsz, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        return -1;
    }
    c->doc = root;

    json_t *exs = json_object_get(root, "exercises");
    c->nexercises = json_is_array(exs) ? json_array_size(exs) : 0;
    c->exercises = calloc(c->nexercises + 1, sizeof *c->exercises);
    json_t *demos = json_object_get(root, "demos");
    c->ndemos = json_is_array(demos) ? json_array_size(demos) : 0;
    c->demos = calloc(c->ndemos + 1, sizeof *c->demos);
    json_t *fix = json_object_get(root, "fixtures");
    c->nfixtures = json_is_array(fix) ? json_array_size(fix) : 0;
    c->fixtures = calloc(c->nfixtures + 1, sizeof *c->fixtures);
    if (c->exercises == NULL || c->demos == NULL || c->fixtures == NULL) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }

    for (size_t i = 0; i < c->nexercises; i++) {
        char sub[256];
        if (load_exercise(&c->exercises[i], json_array_get(exs, i), sub, sizeof sub) != 0) {
            snprintf(err, errsz, "%s: %s", path, sub);
            goto fail;
        }
    }
    for (size_t i = 0; i < c->ndemos; i++) {
        json_t *d = json_array_get(demos, i);
        struct course_demo *cd = &c->demos[i];
        cd->lecture = opt_str(d, "lecture");
        cd->program = opt_str(d, "program");
        cd->args = str_array(json_object_get(d, "args"), &cd->nargs);
        cd->expect = str_array(json_object_get(d, "expect"), &cd->nexpect);
        json_t *t = json_object_get(d, "timeout");
        cd->timeout_s = json_is_number(t) ? json_number_value(t) : 30;
        if (cd->program == NULL || cd->args == NULL || cd->expect == NULL) {
            snprintf(err, errsz, "%s: demo %zu needs a \"program\"", path, i + 1);
            goto fail;
        }
    }
    for (size_t i = 0; i < c->nfixtures; i++) {
        json_t *f = json_array_get(fix, i);
        struct course_fixture *cf = &c->fixtures[i];
        cf->name = opt_str(f, "name");
        cf->exercise = opt_str(f, "exercise");
        cf->verdict = opt_str(f, "verdict");
        cf->about = opt_str(f, "about");
        cf->tests = str_array(json_object_get(f, "tests"), &cf->ntests);
        if (cf->name == NULL || cf->exercise == NULL || cf->verdict == NULL || cf->tests == NULL) {
            snprintf(err, errsz, "%s: fixture %zu needs \"name\", \"exercise\" and \"verdict\"",
                     path, i + 1);
            goto fail;
        }
    }
    return 0;
fail:
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
            (*want != '\0' && strspn(want, "0123456789") == strlen(want) && atoi(want) == atoi(num)))
            return ex;
        for (size_t a = 0; a < ex->naliases; a++)
            if (strcmp(ex->aliases[a], name) == 0)
                return ex;
    }
    return NULL;
}

const struct course_test *course_find_test(const struct course_exercise *ex, const char *name)
{
    for (size_t i = 0; i < ex->ntests; i++)
        if (strcmp(ex->tests[i].name, name) == 0)
            return &ex->tests[i];
    return NULL;
}

void course_free(struct course *c)
{
    for (size_t i = 0; c->exercises != NULL && i < c->nexercises; i++) {
        free(c->exercises[i].aliases);
        free(c->exercises[i].tests);
    }
    for (size_t i = 0; c->demos != NULL && i < c->ndemos; i++) {
        free(c->demos[i].args);
        free(c->demos[i].expect);
    }
    for (size_t i = 0; c->fixtures != NULL && i < c->nfixtures; i++)
        free(c->fixtures[i].tests);
    free(c->exercises);
    free(c->demos);
    free(c->fixtures);
    json_decref(c->doc);
    memset(c, 0, sizeof *c);
}
