/*
 * test_chan_mpsc.c - unit tests for chan_mpsc.c (Check): order, the bound, close, wake-ups.
 *
 * Each test runs in its own process (Check's fork mode) with its own base and threads, and
 * counts what arrived, asserting after the loop returns.
 *
 *     ./test-chan-mpsc          (--demo does the same)
 */
#include "chan_mpsc.h"

#include <check.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PRODUCERS 2
#define PER_PRODUCER 2000

struct sink {
    struct event_base *base;
    pthread_t loop_thread;
    long received, wrong_thread, out_of_order;
    long last[PRODUCERS]; /* the last number seen from each producer */
    long stop_at;
};

/* Messages are small integers packed into the pointer: producer * 1e6 + number. */
static void count_cb(void *msg, void *arg)
{
    struct sink *s = arg;
    long v = (long)(intptr_t)msg, producer = v / 1000000, n = v % 1000000;
    if (!pthread_equal(pthread_self(), s->loop_thread))
        s->wrong_thread++;
    if (n != s->last[producer] + 1)
        s->out_of_order++;
    s->last[producer] = n;
    if (++s->received == s->stop_at)
        event_base_loopexit(s->base, NULL);
}

struct producer {
    struct mpsc *ch;
    long id;
    long refused; /* checked after the join: Check's asserts belong on the test's thread */
};

static void *producer_main(void *arg)
{
    struct producer *p = arg;
    for (long n = 1; n <= PER_PRODUCER; n++)
        if (mpsc_send(p->ch, (void *)(intptr_t)(p->id * 1000000 + n)) != 0)
            p->refused++;
    return NULL;
}

static struct event_base *new_base(void)
{
    ck_assert_int_eq(evthread_use_pthreads(), 0);
    struct event_base *base = event_base_new();
    ck_assert_ptr_nonnull(base);
    return base;
}

START_TEST(test_messages_arrive_in_order_on_the_loop_thread)
{
    struct sink s = {.base = new_base(), .loop_thread = pthread_self()};
    struct producer p[PRODUCERS];
    pthread_t threads[PRODUCERS];
    struct mpsc *ch = mpsc_new(s.base, 16, MPSC_WAIT, count_cb, &s);
    ck_assert_ptr_nonnull(ch);
    s.stop_at = PRODUCERS * PER_PRODUCER;
    for (long i = 0; i < PRODUCERS; i++) {
        p[i] = (struct producer){ch, i, 0};
        ck_assert_int_eq(pthread_create(&threads[i], NULL, producer_main, &p[i]), 0);
    }
    event_base_loop(s.base, EVLOOP_NO_EXIT_ON_EMPTY);
    for (int i = 0; i < PRODUCERS; i++) {
        pthread_join(threads[i], NULL);
        ck_assert_int_eq(p[i].refused, 0);
    }
    ck_assert_int_eq(s.received, PRODUCERS * PER_PRODUCER);
    ck_assert_int_eq(s.out_of_order, 0);
    ck_assert_int_eq(s.wrong_thread, 0);
    mpsc_free(ch, NULL);
    event_base_free(s.base);
}
END_TEST

START_TEST(test_full_channel_refuses_and_sender_keeps_the_message)
{
    struct sink s = {.base = new_base(), .loop_thread = pthread_self(), .stop_at = 4};
    struct mpsc *ch = mpsc_new(s.base, 4, MPSC_REFUSE, count_cb, &s);
    ck_assert_ptr_nonnull(ch);
    for (long n = 1; n <= 4; n++)
        ck_assert_int_eq(mpsc_send(ch, (void *)(intptr_t)n), 0);
    ck_assert_int_eq(mpsc_send(ch, (void *)(intptr_t)5), -1); /* full: refused */
    event_base_dispatch(s.base);
    ck_assert_int_eq(s.received, 4);
    ck_assert_int_eq(mpsc_send(ch, (void *)(intptr_t)5), 0); /* drained: room again */
    mpsc_free(ch, NULL);
    event_base_free(s.base);
}
END_TEST

START_TEST(test_closed_channel_refuses_but_delivers_what_it_holds)
{
    struct sink s = {.base = new_base(), .loop_thread = pthread_self(), .stop_at = 2};
    struct mpsc *ch = mpsc_new(s.base, 4, MPSC_WAIT, count_cb, &s);
    ck_assert_ptr_nonnull(ch);
    ck_assert_int_eq(mpsc_send(ch, (void *)(intptr_t)1), 0);
    ck_assert_int_eq(mpsc_send(ch, (void *)(intptr_t)2), 0);
    mpsc_close(ch);
    ck_assert_int_eq(mpsc_send(ch, (void *)(intptr_t)3), -1);
    event_base_dispatch(s.base);
    ck_assert_int_eq(s.received, 2);
    mpsc_free(ch, NULL);
    event_base_free(s.base);
}
END_TEST

START_TEST(test_one_wakeup_drains_a_whole_batch)
{
    struct sink s = {.base = new_base(), .loop_thread = pthread_self(), .stop_at = 100};
    struct mpsc *ch = mpsc_new(s.base, 100, MPSC_REFUSE, count_cb, &s);
    ck_assert_ptr_nonnull(ch);
    for (long n = 1; n <= 100; n++)
        ck_assert_int_eq(mpsc_send(ch, (void *)(intptr_t)n), 0);
    event_base_dispatch(s.base);
    ck_assert_int_eq(s.received, 100);
    ck_assert_uint_eq(mpsc_wakeups(ch), 1);
    mpsc_free(ch, NULL);
    event_base_free(s.base);
}
END_TEST

START_TEST(test_free_releases_undelivered_messages)
{
    struct event_base *base = new_base();
    struct mpsc *ch = mpsc_new(base, 4, MPSC_REFUSE, count_cb, NULL);
    ck_assert_ptr_nonnull(ch);
    ck_assert_int_eq(mpsc_send(ch, malloc(16)), 0); /* never delivered: the loop never runs */
    mpsc_free(ch, free);                            /* AddressSanitizer checks the leak */
    event_base_free(base);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--demo") != 0)) {
        fprintf(stderr, "usage: %s [--demo]\n", argv[0]);
        return 2;
    }
    Suite *suite = suite_create("chan_mpsc");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_messages_arrive_in_order_on_the_loop_thread);
    tcase_add_test(tc, test_full_channel_refuses_and_sender_keeps_the_message);
    tcase_add_test(tc, test_closed_channel_refuses_but_delivers_what_it_holds);
    tcase_add_test(tc, test_one_wakeup_drains_a_whole_batch);
    tcase_add_test(tc, test_free_releases_undelivered_messages);
    suite_add_tcase(suite, tc);
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_VERBOSE);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
