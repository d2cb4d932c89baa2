/*
 * test_chan_watch.c - unit tests for chan_watch.c (Check): the newest value always arrives,
 * many sends make few wake-ups, and versions only go up.
 *
 *     ./test-chan-watch          (--demo does the same)
 */
#include "chan_watch.h"

#include <check.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <string.h>

#define SENDS 10000

struct seen {
    struct event_base *base;
    long last_value, calls, versions_backwards;
    uint64_t last_version;
};

static void seen_cb(const void *value, uint64_t version, void *arg)
{
    struct seen *s = arg;
    memcpy(&s->last_value, value, sizeof s->last_value);
    if (version <= s->last_version)
        s->versions_backwards++;
    s->last_version = version;
    s->calls++;
    if (s->last_value == SENDS)
        event_base_loopexit(s->base, NULL);
}

static void *sender_main(void *arg)
{
    struct watch *w = arg;
    for (long v = 1; v <= SENDS; v++)
        watch_send(w, &v);
    return NULL;
}

START_TEST(test_the_newest_value_arrives_with_few_wakeups)
{
    ck_assert_int_eq(evthread_use_pthreads(), 0);
    struct seen s = {.base = event_base_new()};
    struct watch *w = watch_new(s.base, sizeof(long), seen_cb, &s);
    pthread_t sender;
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(pthread_create(&sender, NULL, sender_main, w), 0);
    event_base_loop(s.base, EVLOOP_NO_EXIT_ON_EMPTY);
    pthread_join(sender, NULL);
    ck_assert_int_eq(s.last_value, SENDS);
    ck_assert_uint_eq(s.last_version, SENDS);
    ck_assert_int_eq(s.versions_backwards, 0);
    ck_assert_int_lt(s.calls, SENDS); /* coalesced: typically a handful */
    ck_assert_uint_eq(watch_wakeups(w), (size_t)s.calls);
    watch_free(w);
    event_base_free(s.base);
}
END_TEST

START_TEST(test_sends_before_the_loop_runs_make_one_wakeup)
{
    struct seen s = {.base = event_base_new()};
    struct watch *w = watch_new(s.base, sizeof(long), seen_cb, &s);
    ck_assert_ptr_nonnull(w);
    for (long v = 1; v <= 3; v++)
        watch_send(w, &v);
    event_base_dispatch(s.base);
    ck_assert_int_eq(s.calls, 1);
    ck_assert_int_eq(s.last_value, 3);
    ck_assert_uint_eq(s.last_version, 3); /* versions 1 and 2 were never seen: skipped */
    watch_free(w);
    event_base_free(s.base);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--demo") != 0)) {
        fprintf(stderr, "usage: %s [--demo]\n", argv[0]);
        return 2;
    }
    Suite *suite = suite_create("chan_watch");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_the_newest_value_arrives_with_few_wakeups);
    tcase_add_test(tc, test_sends_before_the_loop_runs_make_one_wakeup);
    suite_add_tcase(suite, tc);
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_VERBOSE);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
