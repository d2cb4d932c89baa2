/*
 * util.h - small helpers the grader's modules share.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>

/* strdup that exits with status 2 ("set-up error") when memory runs out. */
char *xstrdup(const char *s);

/* The whole file as a NUL-terminated string (free it), or NULL if it cannot be read. */
char *util_read_file(const char *path);

/* 1 when the path exists as a directory / as a regular file. */
int util_is_dir(const char *path);
int util_is_file(const char *path);

#endif
