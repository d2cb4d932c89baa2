/*
 * greet_log_fake.c - greet_log() for tests: keeps the last line so a test can assert on it.
 * Linked instead of greet_log.c (see meson.build); greet_log_fake.h declares what tests read.
 */
#include "greet_log.h"
#include "greet_log_fake.h"

#include <stdarg.h>
#include <stdio.h>

char greet_log_fake_last[GREET_LOG_FAKE_MAX];
int greet_log_fake_count;

void greet_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(greet_log_fake_last, sizeof greet_log_fake_last, fmt, ap);
    va_end(ap);
    greet_log_fake_count++;
}
