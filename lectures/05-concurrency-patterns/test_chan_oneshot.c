/*
 * test_chan_oneshot.c - unit tests for chan_oneshot.c (Check): a value arrives once; a
 * cancelled receiver makes the send fail; a sender that closes is reported; a value sent to a
 * receiver that then cancels is freed.
 *
 *     ./test-chan-oneshot          (--demo does the same)
 */
#include "chan_oneshot.h"

#include <check.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct result {
    struct event_base *base;
    int calls, sent;
    long value;
};

static void result_cb(int sent, void *value, void *arg)
{
    struct result *r = arg;
    r->calls++;
    r->sent = sent;
    if (value != NULL) {
        r->value = *(long *)value;
        free(value);
    }
    event_base_loopexit(r->base, NULL);
}

struct job {
    struct oneshot *reply;
    int send_rc;
};

static void *worker_main(void *arg)
{
    struct job *j = arg;
    long *answer = malloc(sizeof *answer);
    if (answer == NULL) {
        oneshot_close(j->reply);
        return NULL;
    }
    *answer = 42;
    j->send_rc = oneshot_send(j->reply, answer);
    if (j->send_rc != 0)
        free(answer); /* refused: still ours */
    return NULL;
}

START_TEST(test_a_value_from_a_worker_arrives_once)
{
    ck_assert_int_eq(evthread_use_pthreads(), 0);
    struct result r = {.base = event_base_new()};
    struct job j = {oneshot_new(r.base, result_cb, &r, free), 0};
    pthread_t worker;
    ck_assert_ptr_nonnull(j.reply);
    ck_assert_int_eq(pthread_create(&worker, NULL, worker_main, &j), 0);
    event_base_loop(r.base, EVLOOP_NO_EXIT_ON_EMPTY);
    pthread_join(worker, NULL);
    ck_assert_int_eq(j.send_rc, 0);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.sent, 1);
    ck_assert_int_eq(r.value, 42);
    event_base_free(r.base);
}
END_TEST

START_TEST(test_send_to_a_cancelled_receiver_fails)
{
    struct result r = {.base = event_base_new()};
    struct job j = {oneshot_new(r.base, result_cb, &r, free), 0};
    ck_assert_ptr_nonnull(j.reply);
    oneshot_cancel(j.reply); /* the client left before the worker answered */
    worker_main(&j);
    ck_assert_int_eq(j.send_rc, -1);
    event_base_dispatch(r.base);
    ck_assert_int_eq(r.calls, 0);
    event_base_free(r.base);
}
END_TEST

START_TEST(test_a_closed_sender_is_reported)
{
    struct result r = {.base = event_base_new()};
    struct oneshot *o = oneshot_new(r.base, result_cb, &r, free);
    ck_assert_ptr_nonnull(o);
    oneshot_close(o); /* the worker failed: no value */
    event_base_dispatch(r.base);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.sent, 0);
    event_base_free(r.base);
}
END_TEST

START_TEST(test_cancel_after_send_frees_the_value)
{
    struct result r = {.base = event_base_new()};
    struct job j = {oneshot_new(r.base, result_cb, &r, free), 0};
    ck_assert_ptr_nonnull(j.reply);
    worker_main(&j); /* sent; the callback is queued */
    ck_assert_int_eq(j.send_rc, 0);
    oneshot_cancel(j.reply); /* the value is freed here: AddressSanitizer checks */
    event_base_dispatch(r.base);
    ck_assert_int_eq(r.calls, 0);
    event_base_free(r.base);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--demo") != 0)) {
        fprintf(stderr, "usage: %s [--demo]\n", argv[0]);
        return 2;
    }
    Suite *suite = suite_create("chan_oneshot");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_a_value_from_a_worker_arrives_once);
    tcase_add_test(tc, test_send_to_a_cancelled_receiver_fails);
    tcase_add_test(tc, test_a_closed_sender_is_reported);
    tcase_add_test(tc, test_cancel_after_send_frees_the_value);
    suite_add_tcase(suite, tc);
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_VERBOSE);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
