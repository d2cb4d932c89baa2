/*
 * greet_log_fake.h - what the fake greet_log() records, for tests (see greet_log_fake.c).
 */
#ifndef GREET_LOG_FAKE_H
#define GREET_LOG_FAKE_H

#define GREET_LOG_FAKE_MAX 256

extern char greet_log_fake_last[GREET_LOG_FAKE_MAX]; /* the latest line, without '\n' */
extern int greet_log_fake_count;                     /* lines logged so far */

#endif
