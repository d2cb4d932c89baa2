/*
 * test_chan_broadcast.c - unit tests for chan_broadcast.c (Check): everyone gets everything,
 * a slow subscriber lags without holding anyone up, and unsubscribing frees what it held.
 *
 *     ./test-chan-broadcast          (--demo does the same)
 */
#include "chan_broadcast.h"

#include <check.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

struct reader {
    int per_wakeup;    /* how many it takes per wake-up; 0: all of them */
    uint64_t seqs[64]; /* the sequence numbers received, in order */
    int n;
    uint64_t lost; /* the sum of every BCAST_LAGGED report */
};

static void read_cb(struct bcast_sub *sub, void *arg)
{
    struct reader *r = arg;
    struct bcast_msg *m;
    uint64_t lost;
    int taken = 0;
    while (r->per_wakeup == 0 || taken < r->per_wakeup) {
        enum bcast_status st = bcast_recv(sub, &m, &lost);
        if (st == BCAST_EMPTY)
            break;
        if (st == BCAST_LAGGED) {
            r->lost += lost;
            continue;
        }
        if (r->n < 64)
            r->seqs[r->n++] = m->seq;
        bcast_msg_unref(m);
        taken++;
    }
}

START_TEST(test_every_subscriber_gets_every_message_in_order)
{
    struct event_base *base = event_base_new();
    struct bcast *b = bcast_new(base, 8);
    struct reader r1 = {0}, r2 = {0};
    ck_assert_ptr_nonnull(bcast_subscribe(b, read_cb, &r1));
    ck_assert_ptr_nonnull(bcast_subscribe(b, read_cb, &r2));
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(bcast_send(b, "hi", 2), 0);
    event_base_dispatch(base);
    ck_assert_int_eq(r1.n, 5);
    ck_assert_int_eq(r2.n, 5);
    for (int i = 0; i < 5; i++) {
        ck_assert_uint_eq(r1.seqs[i], (uint64_t)i + 1);
        ck_assert_uint_eq(r2.seqs[i], (uint64_t)i + 1);
    }
    bcast_free(b);
    event_base_free(base);
}
END_TEST

START_TEST(test_a_full_ring_drops_the_oldest_and_reports_lagged)
{
    struct event_base *base = event_base_new();
    struct bcast *b = bcast_new(base, 4);
    struct reader r = {0};
    ck_assert_ptr_nonnull(bcast_subscribe(b, read_cb, &r));
    for (int i = 0; i < 10; i++) /* the loop does not run: nobody reads */
        ck_assert_int_eq(bcast_send(b, "x", 1), 0);
    event_base_dispatch(base);
    ck_assert_uint_eq(r.lost, 6); /* 10 sent, room for 4 */
    ck_assert_int_eq(r.n, 4);
    ck_assert_uint_eq(r.seqs[0], 7); /* it carries on with the oldest it still has */
    ck_assert_uint_eq(r.seqs[3], 10);
    bcast_free(b);
    event_base_free(base);
}
END_TEST

static void send_batch_cb(evutil_socket_t fd, short what, void *arg)
{
    struct bcast *b = arg;
    (void)fd;
    (void)what;
    for (int i = 0; i < 3; i++)
        bcast_send(b, "tick", 4);
}

START_TEST(test_a_slow_subscriber_does_not_slow_the_others)
{
    struct event_base *base = event_base_new();
    struct bcast *b = bcast_new(base, 4);
    struct reader fast = {0}, slow = {.per_wakeup = 1};
    struct timeval every = {0, 1000};
    ck_assert_ptr_nonnull(bcast_subscribe(b, read_cb, &fast));
    ck_assert_ptr_nonnull(bcast_subscribe(b, read_cb, &slow));
    struct event *tick = event_new(base, -1, EV_PERSIST, send_batch_cb, b);
    event_add(tick, &every);
    for (int round = 0; round < 10; round++) /* 10 batches of 3 messages */
        event_base_loop(base, EVLOOP_ONCE);
    event_free(tick);
    event_base_loop(base, EVLOOP_NONBLOCK); /* deliver what is queued */
    ck_assert_int_eq(fast.n, 30);
    ck_assert_int_eq(fast.lost, 0);
    ck_assert_uint_gt(slow.lost, 0);
    /* Each message was received, lost, or is still in the ring (at most 4). */
    ck_assert_uint_le(slow.lost + (uint64_t)slow.n, 30);
    ck_assert_uint_ge(slow.lost + (uint64_t)slow.n, 26);
    for (int i = 1; i < slow.n; i++)
        ck_assert_uint_gt(slow.seqs[i], slow.seqs[i - 1]);
    bcast_free(b);
    event_base_free(base);
}
END_TEST

START_TEST(test_unsubscribe_drops_unread_messages)
{
    struct event_base *base = event_base_new();
    struct bcast *b = bcast_new(base, 4);
    struct reader r = {0};
    struct bcast_sub *sub = bcast_subscribe(b, read_cb, &r);
    ck_assert_ptr_nonnull(sub);
    ck_assert_int_eq(bcast_send(b, "unread", 6), 0);
    bcast_unsubscribe(sub); /* its queued wake-up is cancelled too */
    event_base_dispatch(base);
    ck_assert_int_eq(r.n, 0); /* and AddressSanitizer checks that "unread" was freed */
    bcast_free(b);
    event_base_free(base);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--demo") != 0)) {
        fprintf(stderr, "usage: %s [--demo]\n", argv[0]);
        return 2;
    }
    Suite *suite = suite_create("chan_broadcast");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_every_subscriber_gets_every_message_in_order);
    tcase_add_test(tc, test_a_full_ring_drops_the_oldest_and_reports_lagged);
    tcase_add_test(tc, test_a_slow_subscriber_does_not_slow_the_others);
    tcase_add_test(tc, test_unsubscribe_drops_unread_messages);
    suite_add_tcase(suite, tc);
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_VERBOSE);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
