/*
 * suite_data.c - see suite_data.h. jansson parses; this file checks every key and value and
 * says where a mistake is. jansson keeps no positions for parsed values, so an error's line is
 * found again in the file's text: the line of the key, searched from the entry it belongs to.
 */
#include "suite_data.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUITE_DATA_MAX_BYTES (1024 * 1024)
#define SUITE_DATA_MAX_TIMEOUT_S 120.0
#define SUITE_DATA_MAX_WEIGHT 100

struct loader {
    struct suite_data *d;
    char *text; /* the raw file, for line numbers */
    char *err;
    size_t errsz;
};

/* The 1-based line of the first `"key"` at or after the first `"near"` (either may be NULL). */
static int line_of(const struct loader *L, const char *near, const char *key)
{
    char quoted[256];
    const char *at = L->text;

    if (near != NULL) {
        snprintf(quoted, sizeof quoted, "\"%s\"", near);
        const char *p = strstr(at, quoted);
        if (p != NULL)
            at = p;
    }
    if (key != NULL) {
        snprintf(quoted, sizeof quoted, "\"%s\"", key);
        const char *p = strstr(at, quoted);
        if (p != NULL)
            at = p;
    }
    int line = 1;
    for (const char *c = L->text; c < at; c++)
        line += *c == '\n';
    return line;
}

static int fail(struct loader *L, const char *near, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct loader *L, const char *near, const char *key, const char *fmt, ...)
{
    char msg[384];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(L->err, L->errsz, "%s:%d: %s", L->d->path, line_of(L, near, key), msg);
    return -1;
}

/* Every key of `obj` must be one of `allowed` (NULL-terminated). */
static int only_keys(struct loader *L, json_t *obj, const char *near, const char *what,
                     const char *const allowed[])
{
    const char *key;
    json_t *value;

    json_object_foreach(obj, key, value)
    {
        size_t i = 0;
        while (allowed[i] != NULL && strcmp(allowed[i], key) != 0)
            i++;
        if (allowed[i] == NULL) {
            char list[256] = "";
            for (size_t k = 0; allowed[k] != NULL; k++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k > 0 ? ", " : "",
                         allowed[k]);
            return fail(L, near, key, "unknown key \"%s\" in %s (allowed: %s)", key, what, list);
        }
    }
    return 0;
}

/* A text: a string, or an array of strings (lines) joined with newlines. The joined text
 * replaces the array in the document, so the result is borrowed like every other string.
 * Returns 0 with *out NULL when the key is absent and not required. */
static int text(struct loader *L, json_t *obj, const char *key, const char *near, int required,
                const char **out)
{
    json_t *v = json_object_get(obj, key);

    *out = NULL;
    if (v == NULL)
        return required ? fail(L, near, NULL, "%s needs \"%s\"", near, key) : 0;
    if (json_is_string(v)) {
        *out = json_string_value(v);
    } else if (json_is_array(v) && json_array_size(v) > 0) {
        size_t len = 0, i;
        json_t *line;
        json_array_foreach(v, i, line)
        {
            if (!json_is_string(line))
                return fail(L, near, key, "\"%s\" must be a string or an array of strings", key);
            len += json_string_length(line) + 1;
        }
        char *joined = malloc(len);
        if (joined == NULL)
            return fail(L, near, key, "out of memory");
        joined[0] = '\0';
        json_array_foreach(v, i, line)
        {
            strcat(joined, json_string_value(line));
            if (i + 1 < json_array_size(v))
                strcat(joined, "\n");
        }
        json_t *s = json_string(joined);
        free(joined);
        if (s == NULL || json_object_set_new(obj, key, s) != 0)
            return fail(L, near, key, "\"%s\" is not valid UTF-8, or out of memory", key);
        *out = json_string_value(json_object_get(obj, key));
    } else {
        return fail(L, near, key, "\"%s\" must be a string or an array of strings", key);
    }
    if (**out == '\0')
        return fail(L, near, key, "\"%s\" is empty", key);
    return 0;
}

static int integer(struct loader *L, json_t *obj, const char *key, const char *near, int lo, int hi,
                   int *out)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL)
        return 0; /* keeps the default already in *out */
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return fail(L, near, key, "\"%s\" must be a whole number from %d to %d", key, lo, hi);
    *out = (int)json_integer_value(v);
    return 0;
}

static int seconds(struct loader *L, json_t *obj, const char *key, const char *near, double *out)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL)
        return 0;
    if (!json_is_number(v) || json_number_value(v) <= 0 ||
        json_number_value(v) > SUITE_DATA_MAX_TIMEOUT_S)
        return fail(L, near, key, "\"%s\" must be a number of seconds above 0 and at most %.0f",
                    key, SUITE_DATA_MAX_TIMEOUT_S);
    *out = json_number_value(v);
    return 0;
}

static int load_todos(struct loader *L, json_t *arr)
{
    static const char *const keys[] = {"todo", "title", "lecture", "api", "shape", NULL};
    struct suite_data *d = L->d;

    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return fail(L, NULL, "todos", "\"todos\" must be a non-empty array");
    d->ntodos = json_array_size(arr);
    d->todos = calloc(d->ntodos, sizeof *d->todos);
    if (d->todos == NULL)
        return fail(L, NULL, NULL, "out of memory");
    for (size_t i = 0; i < d->ntodos; i++) {
        json_t *t = json_array_get(arr, i);
        struct suite_todo *st = &d->todos[i];
        char near[32];
        snprintf(near, sizeof near, "TODO %zu", i + 1);
        if (!json_is_object(t))
            return fail(L, NULL, "todos", "todo %zu is not an object", i + 1);
        if (only_keys(L, t, NULL, near, keys) != 0)
            return -1;
        json_t *n = json_object_get(t, "todo");
        if (!json_is_integer(n) || json_integer_value(n) != (json_int_t)(i + 1))
            return fail(L, NULL, "todos",
                        "the todos must be numbered 1, 2, 3, ... in order; "
                        "entry %zu says %s",
                        i + 1, json_is_integer(n) ? "another number" : "no \"todo\" number");
        st->number = (int)(i + 1);
        if (text(L, t, "title", near, 1, &st->title) != 0 ||
            text(L, t, "lecture", near, 1, &st->lecture) != 0 ||
            text(L, t, "api", near, 1, &st->api) != 0 ||
            text(L, t, "shape", near, 1, &st->shape) != 0)
            return -1;
        if (strncmp(st->lecture, "lectures/", 9) != 0 || strchr(st->lecture, '#') == NULL)
            return fail(L, NULL, "lecture",
                        "TODO %d: \"lecture\" must be a lectures/...#section "
                        "link",
                        st->number);
    }
    return 0;
}

static int load_tests(struct loader *L, json_t *arr, double timeout_s, int weight)
{
    static const char *const keys[] = {"name",    "todo", "timeout", "weight", "hidden",
                                       "concept", "api",  "shape",   "repro",  NULL};
    struct suite_data *d = L->d;
    int last_todo = 0;

    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return fail(L, NULL, "tests", "\"tests\" must be a non-empty array");
    d->ntests = json_array_size(arr);
    d->tests = calloc(d->ntests, sizeof *d->tests);
    if (d->tests == NULL)
        return fail(L, NULL, NULL, "out of memory");
    for (size_t i = 0; i < d->ntests; i++) {
        json_t *t = json_array_get(arr, i);
        struct suite_test *st = &d->tests[i];
        if (!json_is_object(t))
            return fail(L, NULL, "tests", "test %zu is not an object", i + 1);
        st->name = json_string_value(json_object_get(t, "name"));
        if (st->name == NULL || strncmp(st->name, "test_", 5) != 0 ||
            strspn(st->name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(st->name))
            return fail(L, st->name, "name", "test %zu needs a \"name\" like test_what_it_checks",
                        i + 1);
        if (only_keys(L, t, st->name, st->name, keys) != 0)
            return -1;
        for (size_t k = 0; k < i; k++)
            if (strcmp(d->tests[k].name, st->name) == 0)
                return fail(L, st->name, NULL, "%s is listed twice", st->name);
        json_t *n = json_object_get(t, "todo");
        if (!json_is_integer(n) || json_integer_value(n) < 1 ||
            json_integer_value(n) > (json_int_t)d->ntodos)
            return fail(L, st->name, "todo", "%s: \"todo\" must be a TODO number from 1 to %zu",
                        st->name, d->ntodos);
        st->todo = (int)json_integer_value(n);
        if (st->todo < last_todo)
            return fail(L, st->name, "todo",
                        "%s belongs to TODO %d but comes after a test of "
                        "TODO %d: list the tests in TODO order",
                        st->name, st->todo, last_todo);
        last_todo = st->todo;
        st->timeout_s = timeout_s;
        st->weight = weight;
        json_t *h = json_object_get(t, "hidden");
        if (h != NULL && !json_is_boolean(h))
            return fail(L, st->name, "hidden", "%s: \"hidden\" must be true or false", st->name);
        st->hidden = json_is_true(h);
        if (seconds(L, t, "timeout", st->name, &st->timeout_s) != 0 ||
            integer(L, t, "weight", st->name, 0, SUITE_DATA_MAX_WEIGHT, &st->weight) != 0 ||
            text(L, t, "concept", st->name, 1, &st->concept) != 0 ||
            text(L, t, "api", st->name, 0, &st->api) != 0 ||
            text(L, t, "shape", st->name, 0, &st->shape) != 0 ||
            text(L, t, "repro", st->name, 0, &st->repro) != 0)
            return -1;
    }
    return 0;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0;

    if (f == NULL)
        return NULL;
    buf = malloc(SUITE_DATA_MAX_BYTES + 1);
    if (buf != NULL) {
        len = fread(buf, 1, SUITE_DATA_MAX_BYTES + 1, f);
        if (ferror(f) || len > SUITE_DATA_MAX_BYTES) {
            free(buf);
            buf = NULL;
        } else {
            buf[len] = '\0';
        }
    }
    fclose(f);
    return buf;
}

int suite_data_load(struct suite_data *d, const char *path, char *err, size_t errsz)
{
    static const char *const top_keys[] = {"about", "defaults", "todos", "tests", NULL};
    static const char *const default_keys[] = {"timeout", "weight", NULL};
    struct loader L = {.d = d, .err = err, .errsz = errsz};
    json_error_t jerr;
    double timeout_s = 0;
    int weight = -1;

    memset(d, 0, sizeof *d);
    d->path = path;
    L.text = read_text(path);
    if (L.text == NULL) {
        snprintf(err, errsz, "%s: cannot read it (missing, unreadable, or over %d bytes)", path,
                 SUITE_DATA_MAX_BYTES);
        return -1;
    }
    json_t *root = json_loads(L.text, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        snprintf(err, errsz, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        goto fail;
    }
    d->doc = root;
    if (!json_is_object(root)) {
        fail(&L, NULL, NULL, "the file must hold one JSON object");
        goto fail;
    }
    if (only_keys(&L, root, NULL, "the file", top_keys) != 0)
        goto fail;
    json_t *defaults = json_object_get(root, "defaults");
    if (!json_is_object(defaults)) {
        fail(&L, NULL, NULL, "\"defaults\" must be an object with \"timeout\" and \"weight\"");
        goto fail;
    }
    if (only_keys(&L, defaults, NULL, "defaults", default_keys) != 0 ||
        seconds(&L, defaults, "timeout", NULL, &timeout_s) != 0 ||
        integer(&L, defaults, "weight", NULL, 0, SUITE_DATA_MAX_WEIGHT, &weight) != 0)
        goto fail;
    if (timeout_s <= 0 || weight < 0) {
        fail(&L, NULL, "defaults", "\"defaults\" must give both \"timeout\" and \"weight\"");
        goto fail;
    }
    if (load_todos(&L, json_object_get(root, "todos")) != 0 ||
        load_tests(&L, json_object_get(root, "tests"), timeout_s, weight) != 0)
        goto fail;
    for (size_t k = 0; k < d->ntodos; k++) {
        size_t i = 0;
        while (i < d->ntests && d->tests[i].todo != d->todos[k].number)
            i++;
        if (i == d->ntests) {
            fail(&L, NULL, "todos",
                 "TODO %d has no test: every TODO needs a test that proves "
                 "it",
                 d->todos[k].number);
            goto fail;
        }
    }
    free(L.text);
    return 0;
fail:
    free(L.text);
    suite_data_free(d);
    return -1;
}

const struct suite_todo *suite_data_todo(const struct suite_data *d, int number)
{
    return number >= 1 && (size_t)number <= d->ntodos ? &d->todos[number - 1] : NULL;
}

const struct suite_test *suite_data_test(const struct suite_data *d, const char *name)
{
    for (size_t i = 0; i < d->ntests; i++)
        if (strcmp(d->tests[i].name, name) == 0)
            return &d->tests[i];
    return NULL;
}

void suite_data_free(struct suite_data *d)
{
    free(d->todos);
    free(d->tests);
    json_decref(d->doc);
    memset(d, 0, sizeof *d);
}
