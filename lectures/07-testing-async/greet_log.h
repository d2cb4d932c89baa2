/*
 * greet_log.h - the greeter's log. Two implementations with this one header: greet_log.c
 * (production: stderr) and greet_log_fake.c (tests: lines kept in memory to assert on). The
 * build links one or the other: a link-time fake.
 */
#ifndef GREET_LOG_H
#define GREET_LOG_H

void greet_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
