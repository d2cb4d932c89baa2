/*
 * chan_oneshot.h - one result, from a worker thread to the event loop, once (Tokio's oneshot).
 *
 * The loop makes a oneshot and gives it to the worker with the job. The worker sends one value
 * (or closes without one); the loop's callback runs once with it. Either side may go away
 * first: the receiver can cancel (the job's client left), and then the send fails and the
 * worker keeps its value. The oneshot is shared by two threads, so an atomic reference count
 * (one reference per side) decides who frees it.
 */
#ifndef CHAN_ONESHOT_H
#define CHAN_ONESHOT_H

struct event_base;
struct oneshot;

/* Called once on the loop thread: sent is 1 with the value (fn owns it), or 0 when the sender
 * closed without sending (value is NULL). The receiver's side is finished afterwards. */
typedef void (*oneshot_fn)(int sent, void *value, void *arg);

/* free_value frees a value that was sent but never received (the receiver cancelled). NULL if
 * out of memory. evthread_use_pthreads() must have been called before base was created. */
struct oneshot *oneshot_new(struct event_base *base, oneshot_fn fn, void *arg,
                            void (*free_value)(void *));

/* Sender, any thread, at most once. 0: the callback will get value. -1: the receiver has
 * cancelled; the caller still owns value. Either way the sender's side is finished: do not
 * use the oneshot afterwards. */
int oneshot_send(struct oneshot *o, void *value);

/* Sender: finish without a value; the callback gets sent = 0. */
void oneshot_close(struct oneshot *o);

/* Receiver, loop thread, before the callback has run: the callback will not run, and a value
 * already sent is freed. The receiver's side is finished. */
void oneshot_cancel(struct oneshot *o);

#endif
