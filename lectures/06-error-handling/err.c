/*
 * err.c - the error value of err.h: set a root cause, add context in front, never allocate.
 * See error_values.c for it at work.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void err_errno(struct err *e, int code, const char *what)
{
    e->code = code;
    snprintf(e->msg, sizeof e->msg, "%s: %s", what, strerror(code));
}

void err_set(struct err *e, const char *fmt, ...)
{
    va_list ap;
    e->code = 0;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

/* Cutting the end keeps the outermost contexts, the ones a reader of a log looks at first; the
 * root cause survives as e->code, so a program can still tell ENOENT from EACCES. */
void err_context(struct err *e, const char *fmt, ...)
{
    char prefix[ERR_MSG_MAX], joined[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    int n = snprintf(joined, sizeof joined, "%s: %s", prefix, e->msg);
    if (n >= (int)sizeof joined)
        memcpy(joined + sizeof joined - 4, "...", 4);
    memcpy(e->msg, joined, sizeof joined);
}
