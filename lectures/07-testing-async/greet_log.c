/*
 * greet_log.c - the production greet_log(): one line on stderr. Tests link greet_log_fake.c
 * instead.
 */
#include "greet_log.h"

#include <stdarg.h>
#include <stdio.h>

void greet_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
