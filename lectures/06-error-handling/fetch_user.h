/*
 * fetch_user.h - an async call whose result, or error, goes to a completion callback: the C
 * shape of `async fn fetch_user(id) -> Result<User, Error>`. http_errors_script.c calls it against
 * the server of http_boundary.c.
 */
#ifndef LECTURE06_FETCH_USER_H
#define LECTURE06_FETCH_USER_H

#include "err.h"

#include <event2/http.h>

#define USER_NAME_MAX 32

struct user {
    long id;
    char name[USER_NAME_MAX];
};

/* Called exactly once per fetch_user(): with the user, or with the error (one of them NULL). */
typedef void (*fetch_user_done_fn)(long id, const struct user *u, const struct err *e, void *arg);

/* Starts GET /users/ID on evcon. Returns 0 (done will be called once), or -1 (it will not). */
int fetch_user(struct evhttp_connection *evcon, long id, fetch_user_done_fn done, void *arg);

/* The name of an evhttp request error, "EVREQ_HTTP_TIMEOUT". */
const char *http_error_str(enum evhttp_request_error e);

#endif
