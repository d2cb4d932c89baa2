/*
 * loop_thread.c - see loop_thread.h.
 *
 * The loop runs with EVLOOP_NO_EXIT_ON_EMPTY so that it waits for work instead of returning
 * when the server has not registered anything yet. Cross-thread calls (loopbreak, the
 * loop_thread_call event) work because evthread_use_pthreads() installs libevent's locks and
 * its wake-up pipe.
 */
#include "loop_thread.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdlib.h>

struct loop_thread {
    struct event_base *base;
    pthread_t thread;
    int running;
};

struct call_ctx {
    void (*fn)(void *);
    void *arg;
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    int done;
};

struct loop_thread *loop_thread_new(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, (void (*)(void))evthread_use_pthreads);

    struct loop_thread *lt = calloc(1, sizeof *lt);
    if (lt == NULL)
        return NULL;
    lt->base = event_base_new();
    if (lt->base == NULL) {
        free(lt);
        return NULL;
    }
    return lt;
}

struct event_base *loop_thread_base(struct loop_thread *lt)
{
    return lt->base;
}

static void *loop_main(void *arg)
{
    struct loop_thread *lt = arg;
    event_base_loop(lt->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

int loop_thread_start(struct loop_thread *lt)
{
    if (lt->running)
        return 0;
    if (pthread_create(&lt->thread, NULL, loop_main, lt) != 0)
        return -1;
    lt->running = 1;
    return 0;
}

static void call_cb(evutil_socket_t fd, short what, void *arg)
{
    struct call_ctx *ctx = arg;
    (void)fd;
    (void)what;
    ctx->fn(ctx->arg);
    pthread_mutex_lock(&ctx->lock);
    ctx->done = 1;
    pthread_cond_signal(&ctx->done_cond);
    pthread_mutex_unlock(&ctx->lock);
}

int loop_thread_call(struct loop_thread *lt, void (*fn)(void *), void *arg)
{
    struct call_ctx ctx = {.fn = fn, .arg = arg, .done = 0};

    if (!lt->running)
        return -1;
    pthread_mutex_init(&ctx.lock, NULL);
    pthread_cond_init(&ctx.done_cond, NULL);
    if (event_base_once(lt->base, -1, EV_TIMEOUT, call_cb, &ctx, NULL) != 0)
        return -1;
    pthread_mutex_lock(&ctx.lock);
    while (!ctx.done)
        pthread_cond_wait(&ctx.done_cond, &ctx.lock);
    pthread_mutex_unlock(&ctx.lock);
    pthread_cond_destroy(&ctx.done_cond);
    pthread_mutex_destroy(&ctx.lock);
    return 0;
}

void loop_thread_stop(struct loop_thread *lt)
{
    if (!lt->running)
        return;
    event_base_loopbreak(lt->base);
    pthread_join(lt->thread, NULL);
    lt->running = 0;
}

void loop_thread_free(struct loop_thread *lt)
{
    if (lt == NULL)
        return;
    loop_thread_stop(lt);
    event_base_free(lt->base);
    free(lt);
}
