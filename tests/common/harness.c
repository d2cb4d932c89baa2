/*
 * harness.c - see harness.h. Runs the tests of one suite in Check's fork mode, one test per
 * test case so that Check's reports (and the grader, which reads them) name each test.
 */
#include "harness.h"

#include "chaos.h"
#include "suite_data.h"
#include "transcript.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HARNESS_WARNING_MAX 1024 /* bytes of one warning line */

/* Filled by the HARNESS_TEST constructors before main() runs; lives as long as the process. */
static const TTest **registered;
static size_t nregistered;

void harness_register(const TTest *test)
{
    const TTest **grown = realloc(registered, (nregistered + 1) * sizeof *grown);
    if (grown == NULL) {
        fprintf(stderr, "harness: out of memory registering %s\n", test->name);
        abort();
    }
    registered = grown;
    registered[nregistered++] = test;
}

void harness_begin_test(const char *name)
{
    chaos_begin_test(name);
}

_Noreturn void harness_pass(void)
{
    fflush(NULL);
    exit(HARNESS_PASS_EXIT);
}

void harness_warn(const char *fmt, ...)
{
    char line[HARNESS_WARNING_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    size_t n = strcspn(line, "\n"); /* one line each */
    line[n++] = '\n';
    const char *path = getenv("HARNESS_WARNINGS");
    if (path == NULL || *path == '\0') {
        fprintf(stderr, "warning: %.*s", (int)n, line);
        return;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;                           /* a warning is a courtesy: never fail a test over it */
    ssize_t ignored = write(fd, line, n); /* one write: lines never interleave */
    (void)ignored;
    close(fd);
}

static const TTest *find_registered(const char *name)
{
    for (size_t i = 0; i < nregistered; i++)
        if (strcmp(registered[i]->name, name) == 0)
            return registered[i];
    return NULL;
}

/* Both lists must name the same tests: a test in C that the data file does not describe
 * would never run, and a description without a test would grade nothing. */
static int lists_agree(const struct suite_data *d)
{
    int ok = 1;

    for (size_t i = 0; i < d->ntests; i++)
        if (find_registered(d->tests[i].name) == NULL) {
            fprintf(stderr, "harness: %s lists %s, but no HARNESS_TEST defines it\n", d->path,
                    d->tests[i].name);
            ok = 0;
        }
    for (size_t i = 0; i < nregistered; i++) {
        if (suite_data_test(d, registered[i]->name) == NULL) {
            fprintf(stderr, "harness: %s:%d defines %s, but %s does not list it\n",
                    registered[i]->file, registered[i]->line, registered[i]->name, d->path);
            ok = 0;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(registered[k]->name, registered[i]->name) == 0) {
                fprintf(stderr, "harness: %s is defined twice (%s:%d and %s:%d)\n",
                        registered[i]->name, registered[k]->file, registered[k]->line,
                        registered[i]->file, registered[i]->line);
                ok = 0;
            }
    }
    return ok;
}

static int wanted(const char *name, int argc, char **argv)
{
    if (argc <= 1)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

int harness_main(const char *suite_name, const char *data_path, int argc, char **argv)
{
    struct suite_data data;
    char err[512];

    if (suite_data_load(&data, data_path, err, sizeof err) != 0) {
        fprintf(stderr, "harness: %s\n", err);
        return 2;
    }
    int status = 2;
    if (!lists_agree(&data))
        goto out;
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < data.ntests; i++)
            printf("%s\n", data.tests[i].name);
        status = 0;
        goto out;
    }
    for (int i = 1; i < argc; i++)
        if (suite_data_test(&data, argv[i]) == NULL) {
            fprintf(stderr, "usage: %s [--list | TEST...]\nunknown test: %s\n", argv[0], argv[i]);
            goto out;
        }

    /* A test that writes to a socket the server already closed must get EPIPE, not die. The
     * forked children inherit this. */
    signal(SIGPIPE, SIG_IGN);

    Suite *suite = suite_create(suite_name);
    for (size_t i = 0; i < data.ntests; i++) {
        const struct suite_test *t = &data.tests[i];
        if (!wanted(t->name, argc, argv))
            continue;
        TCase *tc = tcase_create(t->name);
        tcase_set_timeout(tc, t->timeout_s);
        tcase_add_checked_fixture(tc, transcript_start, NULL); /* the records' time 0 */
        tcase_add_exit_test(tc, find_registered(t->name), HARNESS_PASS_EXIT);
        suite_add_tcase(suite, tc);
    }
    SRunner *runner = srunner_create(suite);
    srunner_set_fork_status(runner, CK_FORK); /* timeouts and crash isolation need fork mode */
    srunner_run_all(runner, CK_NORMAL);
    status = srunner_ntests_failed(runner) == 0 ? 0 : 1;
    srunner_free(runner);
out:
    suite_data_free(&data);
    return status;
}
