/*
 * err.h - an application error value in the manner of Rust's anyhow: a root cause (with its
 * errno, when it was a system error) and a chain of context that each caller on the way up adds
 * in front, "reading config: open: No such file or directory".
 *
 * The message lives in a fixed buffer inside the struct, so making, passing and printing an
 * error never allocates: it still works right after malloc() has failed. error_values.c shows
 * it at work; fetch_user.c carries one through callbacks.
 */
#ifndef LECTURE06_ERR_H
#define LECTURE06_ERR_H

#define ERR_MSG_MAX 128 /* the whole context chain of one error, including the NUL */

/* An application error: the root cause's errno (0 if it was not a system error) and a message
 * that each caller on the way up prefixes with what it was doing. Fixed size, so building an
 * error never allocates: it works when malloc has just failed. */
struct err {
    int code;
    char msg[ERR_MSG_MAX];
};

/* Sets the root cause: "what: strerror(code)". */
void err_errno(struct err *e, int code, const char *what);

/* Sets a root cause that is not a system error (code 0). */
__attribute__((format(printf, 2, 3))) void err_set(struct err *e, const char *fmt, ...);

/* Prefixes "context: " (anyhow's .context()). When the chain no longer fits, the end is cut and
 * marked with "..."; the root cause's errno stays in e->code. */
__attribute__((format(printf, 2, 3))) void err_context(struct err *e, const char *fmt, ...);

#endif
