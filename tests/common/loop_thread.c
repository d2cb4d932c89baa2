/*
 * loop_thread.c - see loop_thread.h.
 *
 * The loop runs with EVLOOP_NO_EXIT_ON_EMPTY so that it waits for work instead of returning
 * when the server has not registered anything yet. Cross-thread calls (loopbreak, the
 * loop_thread_call event) work because evthread_use_pthreads() installs libevent's locks and
 * its wake-up pipe.
 *
 * The watchdog: a persistent heartbeat timer on the loop stamps the time (and the loop thread's
 * CPU time) every few milliseconds; a watchdog thread checks the stamp. A stamp that stops
 * moving means some callback has not returned. Before failing the test the watchdog takes a
 * backtrace of the loop thread (stack_trace.h) and names the callback: the CPU time the thread
 * used since the last stamp tells an endless loop (busy) from a blocking call (idle). All of it
 * happens only when the loop is stuck; a test whose loop turns pays for the stamps alone.
 */
#include "loop_thread.h"

#include "client.h"
#include "stack_trace.h"
#include "transcript.h"

#include <check.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define HEARTBEAT_MS 20      /* how often the loop stamps the time */
#define WATCHDOG_CHECK_MS 50 /* how often the watchdog looks at the stamp */
#define BUSY_SHARE 4         /* CPU time above 1/4 of the stall: the callback is spinning */
#define WHERE_MAX 512        /* the words naming where the loop is stuck */

struct loop_thread {
    struct event_base *base;
    struct event *heartbeat; /* owned; freed before the base */
    pthread_t thread;
    pthread_t watchdog;
    pthread_mutex_t lock; /* guards stopping, with stop_cond */
    pthread_cond_t stop_cond;
    int stopping;
    int running;
    atomic_llong last_beat_ms;  /* monotonic ms of the latest heartbeat */
    atomic_llong last_beat_cpu; /* the loop thread's CPU time then, in ms */
    long long blocked_limit_ms;
};

struct call_ctx {
    void (*fn)(void *);
    void *arg;
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    int done;
};

static void heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
    struct loop_thread *lt = arg;
    (void)fd;
    struct timespec cpu;
    (void)what;
    atomic_store(&lt->last_beat_ms, client_now_ms());
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0)
        atomic_store(&lt->last_beat_cpu, cpu.tv_sec * 1000LL + cpu.tv_nsec / 1000000);
}

struct loop_thread *loop_thread_new(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, (void (*)(void))evthread_use_pthreads);
    stack_trace_init(); /* without it, a blocked loop is reported without its place */

    struct loop_thread *lt = calloc(1, sizeof *lt);
    if (lt == NULL)
        return NULL;
    lt->base = event_base_new();
    if (lt->base == NULL)
        goto err;
    lt->heartbeat = event_new(lt->base, -1, EV_PERSIST, heartbeat_cb, lt);
    if (lt->heartbeat == NULL)
        goto err;
    pthread_mutex_init(&lt->lock, NULL);
    pthread_cond_init(&lt->stop_cond, NULL);

    double mult = 1.0;
    const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
    if (m != NULL && atof(m) >= 1.0)
        mult = atof(m);
    lt->blocked_limit_ms = (long long)(LOOP_THREAD_BLOCKED_MS * mult);
    if (lt->blocked_limit_ms > LOOP_THREAD_BLOCKED_MAX_MS)
        lt->blocked_limit_ms = LOOP_THREAD_BLOCKED_MAX_MS;
    return lt;
err:
    if (lt->base != NULL)
        event_base_free(lt->base);
    free(lt);
    return NULL;
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

/* The loop thread's CPU time in ms, or -1. */
static long long loop_cpu_ms(struct loop_thread *lt)
{
    clockid_t clock;
    struct timespec cpu;
    if (pthread_getcpuclockid(lt->thread, &clock) != 0 || clock_gettime(clock, &cpu) != 0)
        return -1;
    return cpu.tv_sec * 1000LL + cpu.tv_nsec / 1000000;
}

#define ADVICE_WAIT                                                                                \
    "a callback waited instead of returning; every callback must return at once and let the "      \
    "loop call it again when there is more to do (a non-blocking socket, not a blocking one; a "   \
    "timer, not a sleep)"
#define ADVICE_SPIN                                                                                \
    "an endless loop? A callback must do what it can now and return; the loop calls it again "     \
    "when there is more to do"
#define ADVICE_UNKNOWN                                                                             \
    "a callback did not return (a blocking read()/write()/sleep() or an endless loop in a "        \
    "callback?)"

/* Says where the loop thread is stuck, as words that follow "blocked for 2.0 s": " inside
 * read(), called from conn_read_cb (echo_conn.c:88)". Empty when the stack cannot be read.
 * Returns the advice that goes with it. */
static const char *describe_block(struct loop_thread *lt, long long stalled_ms, char *out,
                                  size_t outsz)
{
    void *frames[STACK_TRACE_MAX_FRAMES];
    struct stack_summary sum;
    char mine[sizeof sum.mine.func + sizeof sum.mine.file + 32] = "";
    long long cpu = loop_cpu_ms(lt);
    int busy = cpu >= 0 && (cpu - atomic_load(&lt->last_beat_cpu)) * BUSY_SHARE >= stalled_ms;

    out[0] = '\0';
    int n = stack_trace_sample(lt->thread, frames, STACK_TRACE_MAX_FRAMES);
    if (n == 0 || stack_trace_summarise(frames, n, &sum) != 0)
        return ADVICE_UNKNOWN;
    if (sum.mine.file[0] != '\0')
        snprintf(mine, sizeof mine, "%s (%s:%d)",
                 sum.mine.func[0] != '\0' ? sum.mine.func : "your code", sum.mine.file,
                 sum.mine.line);
    if (busy && mine[0] != '\0') {
        snprintf(out, outsz, ": %s kept running and used the CPU all that time (%s%s%s)", mine,
                 sum.call[0] != '\0' ? "it was calling " : "in its own code", sum.call,
                 sum.call[0] != '\0' ? "() over and over" : "");
        return ADVICE_SPIN;
    }
    if (sum.call[0] != '\0' && mine[0] != '\0')
        snprintf(out, outsz, " inside %s(), called from %s", sum.call, mine);
    else if (sum.call[0] != '\0')
        snprintf(out, outsz, " inside %s()", sum.call);
    else
        snprintf(out, outsz, " in %s", mine);
    return busy ? ADVICE_SPIN : ADVICE_WAIT;
}

static void *watchdog_main(void *arg)
{
    struct loop_thread *lt = arg;

    pthread_mutex_lock(&lt->lock);
    while (!lt->stopping) {
        struct timespec wake = client_realtime_deadline(WATCHDOG_CHECK_MS);
        if (pthread_cond_timedwait(&lt->stop_cond, &lt->lock, &wake) != ETIMEDOUT)
            continue;
        long long stalled = client_now_ms() - atomic_load(&lt->last_beat_ms);
        if (stalled > lt->blocked_limit_ms) {
            char where[WHERE_MAX];
            const char *advice = describe_block(lt, stalled, where, sizeof where);
            transcript_note("the event loop was blocked for %lld ms%s", stalled, where);
            /* Fails the test from this thread: Check reports the message and ends the process. */
            ck_abort_msg(LOOP_THREAD_BLOCKED_MESSAGE " for %.1f s%s: %s", stalled / 1000.0, where,
                         advice);
        }
    }
    pthread_mutex_unlock(&lt->lock);
    return NULL;
}

int loop_thread_start(struct loop_thread *lt)
{
    struct timeval beat = {0, HEARTBEAT_MS * 1000};

    if (lt->running)
        return 0;
    atomic_store(&lt->last_beat_ms, client_now_ms());
    if (event_add(lt->heartbeat, &beat) != 0)
        return -1;
    lt->stopping = 0;
    if (pthread_create(&lt->thread, NULL, loop_main, lt) != 0)
        return -1;
    if (pthread_create(&lt->watchdog, NULL, watchdog_main, lt) != 0) {
        event_base_loopbreak(lt->base);
        pthread_join(lt->thread, NULL);
        return -1;
    }
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
    /* loopexit, not loopbreak: a loop that has not started turning yet clears the break flag
     * when it starts, and would then run forever; a pending loopexit still ends it. The
     * watchdog keeps watching until the loop has ended: a callback that never returns is
     * reported as such, not as a test that ran out of time while it stopped the server. */
    event_base_loopexit(lt->base, NULL);
    pthread_join(lt->thread, NULL);
    pthread_mutex_lock(&lt->lock);
    lt->stopping = 1;
    pthread_cond_signal(&lt->stop_cond);
    pthread_mutex_unlock(&lt->lock);
    pthread_join(lt->watchdog, NULL);
    event_del(lt->heartbeat);
    lt->running = 0;
}

void loop_thread_free(struct loop_thread *lt)
{
    if (lt == NULL)
        return;
    loop_thread_stop(lt);
    event_free(lt->heartbeat);
    pthread_cond_destroy(&lt->stop_cond);
    pthread_mutex_destroy(&lt->lock);
    event_base_free(lt->base);
    free(lt);
}
