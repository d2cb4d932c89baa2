/*
 * scratch.h - files for tests: a fresh scratch directory per test, and small helpers to write,
 * read and count the lines of a file in it (a chat history, say). Failures to set up fail the
 * test with the reason.
 */
#ifndef SCRATCH_H
#define SCRATCH_H

#include <stddef.h>

#define SCRATCH_PATH_MAX 256 /* room for a scratch directory's path */

/* Makes a fresh scratch directory (under $TMPDIR or /tmp) and writes its path into dir. */
void scratch_make_dir(char *dir, size_t size);

/* Removes the files in dir, then dir. */
void scratch_remove_dir(const char *dir);

/* Writes `text` to path, replacing the file. Fails the test on error. */
void scratch_write_file(const char *path, const char *text);

/* Reads up to size - 1 bytes of path into buf, NUL-terminated. Returns the length, or -1. */
long scratch_read_file(const char *path, char *buf, size_t size);

/* The number of '\n' in the file, or -1 if it cannot be read. */
long scratch_count_lines(const char *path);

#endif
