/*
 * scratch.c - see scratch.h.
 */
#include "scratch.h"

#include "transcript.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void scratch_make_dir(char *dir, size_t size)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, size, "%s/course-test-XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    ck_assert_msg(mkdtemp(dir) != NULL, "test setup failed: mkdtemp(%s): %s", dir, strerror(errno));
    transcript_note("scratch directory: %s", dir);
}

void scratch_remove_dir(const char *dir)
{
    char path[SCRATCH_PATH_MAX * 2];
    DIR *d = opendir(dir);

    if (d == NULL)
        return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

void scratch_write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    ck_assert_msg(fp != NULL, "test setup failed: cannot create %s: %s", path, strerror(errno));
    fputs(text, fp);
    ck_assert_msg(fclose(fp) == 0, "test setup failed: cannot write %s", path);
}

long scratch_read_file(const char *path, char *buf, size_t size)
{
    FILE *fp = fopen(path, "r");

    if (fp == NULL)
        return -1;
    size_t n = fread(buf, 1, size - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return (long)n;
}

long scratch_count_lines(const char *path)
{
    FILE *fp = fopen(path, "r");
    long lines = 0;
    int ch;

    if (fp == NULL)
        return -1;
    while ((ch = getc(fp)) != EOF)
        if (ch == '\n')
            lines++;
    fclose(fp);
    return lines;
}
