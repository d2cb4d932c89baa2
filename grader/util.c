/*
 * util.c - see util.h.
 */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

char *const util_sanitizer_env[] = {SANITIZER_ASAN_OPTIONS, SANITIZER_UBSAN_OPTIONS, NULL};

_Noreturn void util_oom(void)
{
    fputs("grade: out of memory\n", stderr);
    exit(2);
}

int util_next_line(const char **cursor, const char **line, size_t *len)
{
    const char *p = *cursor;
    if (*p == '\0')
        return 0;
    const char *nl = strchr(p, '\n');
    *line = p;
    *len = nl != NULL ? (size_t)(nl - p) : strlen(p);
    *cursor = p + *len + (nl != NULL);
    return 1;
}

void util_free_strv(char **strv)
{
    for (size_t i = 0; strv != NULL && strv[i] != NULL; i++)
        free(strv[i]);
    free(strv);
}

char *xstrdup(const char *s)
{
    char *d = strdup(s != NULL ? s : "");
    if (d == NULL)
        util_oom();
    return d;
}

char *util_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (size_t n; buf != NULL && (n = fread(buf + len, 1, cap - len - 1, f)) > 0;) {
        len += n;
        if (cap - len < 2) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf != NULL)
        buf[len] = '\0';
    return buf;
}

int util_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int util_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

void util_put_xml(FILE *f, const char *s, size_t n, size_t max, int flags)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i >= max) {
            fputs("...", f);
            return;
        }
        switch (c) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        case '\n':
            fputs(flags & UTIL_XML_ONELINE ? " " : "\n", f);
            break;
        case '\t':
            fputc(c, f);
            break;
        default:
            if (c < 0x20 || c == 0x7f || (c > 0x7f && (flags & UTIL_XML_ASCII)))
                fprintf(f, "\\x%02x", c);
            else
                fputc(c, f);
        }
    }
}

double util_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
