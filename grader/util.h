/*
 * util.h - small helpers the grader's modules share.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <stdio.h>

/* Time limits, in seconds, of the processes the grader starts. Sanitized runs get
 * SANITIZER_SLOWDOWN times as long. */
#define LIMIT_SETUP_S 300  /* meson setup */
#define LIMIT_BUILD_S 1200 /* one ninja run */
#define LIMIT_TEST_S                                                                               \
    120 /* one test's process, an outer bound: Check's own timeouts are shorter                    \
         */
#define SANITIZER_SLOWDOWN 3
#define SANITIZER_SLOWDOWN_TEXT "3"

/* The environment of a sanitized test or demo: ASan (leaks included) and UBSan report with the
 * exit status SANITIZER_EXIT. The options are written once, in the root meson.build, which
 * passes them here and to `meson test --setup=asan`. NULL-terminated. */
#define SANITIZER_EXIT 23
#define SANITIZER_EXIT_TEXT "23"
#define VALGRIND_SLOWDOWN 10 /* --valgrind: timeouts are this many times longer */
#define VALGRIND_SLOWDOWN_TEXT "10"
extern char *const util_sanitizer_env[];

/* The grader's one policy for running out of memory: say so and exit with status 2 (a set-up
 * error), never carry on with a partial result. */
_Noreturn void util_oom(void);

/* Walks a text a line at a time. *cursor starts at the text; each call sets *line and *len
 * (without the newline) to the next line and returns 1, or returns 0 at the end. */
int util_next_line(const char **cursor, const char **line, size_t *len);

/* Frees a NULL-terminated array of strings and the array (NULL is fine). */
void util_free_strv(char **strv);

/* strdup that exits with status 2 ("set-up error") when memory runs out. */
char *xstrdup(const char *s);

/* The whole file as a NUL-terminated string (free it), or NULL if it cannot be read. */
char *util_read_file(const char *path);

/* Seconds on the monotonic clock: for timing and deadlines, never for dates. */
double util_now_s(void);

#define UTIL_XML_ONELINE 1 /* a line break becomes a space */
#define UTIL_XML_ASCII 2   /* bytes above 0x7e become \xNN too (the text need not be UTF-8) */
/* Writes the n bytes of s for XML and HTML alike: markup characters as entities, control
 * characters (which XML 1.0 cannot hold) as \xNN, at most `max` bytes of s, then "..." if it
 * cut. `flags`: UTIL_XML_ONELINE, UTIL_XML_ASCII. */
void util_put_xml(FILE *f, const char *s, size_t n, size_t max, int flags);

/* 1 when the path exists as a directory / as a regular file. */
int util_is_dir(const char *path);
int util_is_file(const char *path);

#endif
