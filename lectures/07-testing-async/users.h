/*
 * users.h - an asynchronous dependency behind a table of function pointers.
 *
 * The greeter (greeter.h) looks users up through this interface and never knows what is
 * behind it: in production an HTTP client, in a test a fake that answers when the test says.
 * This is C's version of a trait object (`Box<dyn UserSource>`): a struct of function pointers
 * and the `self` they are called with.
 */
#ifndef USERS_H
#define USERS_H

/* Called exactly once per fetch that was not cancelled: name on success, or NULL and a
 * message. Both strings are borrowed for the duration of the call. */
typedef void (*users_done_fn)(const char *name, const char *error, void *arg);

struct users {
    /* Starts looking up user `id`; done(…, arg) runs later, on the loop. Returns a handle for
     * cancel(), or -1 if the lookup could not start (done is then never called). */
    long (*fetch)(void *self, int id, users_done_fn done, void *arg);
    /* Cancels a fetch that has not completed: its done is never called. */
    void (*cancel)(void *self, long handle);
    void *self;
};

#endif
