/*
 * test_store.c - unit tests of items_store.c: the hash map behind a read-write lock.
 */
#include "items_store.h"
#include "suite.h"

#include <pthread.h>
#include <string.h>

#define HINT " (items_store.c)"

static struct items_store *new_store(size_t max_items)
{
    struct items_store *s = items_store_new(max_items);
    ck_assert_msg(s != NULL,
                  "items_store_new(%zu) returned NULL; it must return an empty store" HINT,
                  max_items);
    return s;
}

static struct item fields(const char *title, bool completed)
{
    struct item it;
    memset(&it, 0, sizeof it);
    snprintf(it.title, sizeof it.title, "%s", title);
    it.completed = completed;
    return it;
}

HARNESS_TEST(test_store_assigns_increasing_ids)
{
    struct items_store *s = new_store(0);
    const char *titles[] = {"buy milk", "walk dog", "call mum"};
    for (int i = 0; i < 3; i++) {
        struct item in = fields(titles[i], false), out = {0};
        ck_assert_msg(items_store_create(s, &in, &out) == ITEMS_STORE_OK,
                      "items_store_create(\"%s\") failed on an empty store" HINT, titles[i]);
        ck_assert_msg(out.id == (uint64_t)i + 1,
                      "item %d: expected id %d, got %llu; ids start at "
                      "1 and go up by one" HINT,
                      i + 1, i + 1, (unsigned long long)out.id);
        ck_assert_msg(strcmp(out.title, titles[i]) == 0,
                      "items_store_create wrote title \"%s\", "
                      "expected \"%s\"" HINT,
                      out.title, titles[i]);
    }
    struct item got = {0};
    ck_assert_msg(items_store_get(s, 2, &got) == ITEMS_STORE_OK &&
                      strcmp(got.title, "walk dog") == 0,
                  "items_store_get(2) after three creates: expected \"walk dog\", got \"%s\"" HINT,
                  got.title);
    ck_assert_msg(items_store_count(s) == 3, "items_store_count: expected 3, got %zu" HINT,
                  items_store_count(s));
    items_store_free(s);
    harness_pass();
}

HARNESS_TEST(test_store_unknown_id_is_not_found)
{
    struct items_store *s = new_store(0);
    struct item in = fields("x", false), out;
    ck_assert_msg(items_store_create(s, &in, &out) == ITEMS_STORE_OK &&
                      items_store_get(s, 1, &out) == ITEMS_STORE_OK,
                  "items_store_create then items_store_get(1) on an empty store failed" HINT);
    ck_assert_msg(
        items_store_get(s, 2, &out) == ITEMS_STORE_NOT_FOUND,
        "items_store_get(2) with only item 1 stored: expected ITEMS_STORE_NOT_FOUND" HINT);
    ck_assert_msg(
        items_store_update(s, 7, &in, ITEM_FIELDS_ALL, &out) == ITEMS_STORE_NOT_FOUND,
        "items_store_update(7) with only item 1 stored: expected ITEMS_STORE_NOT_FOUND" HINT);
    ck_assert_msg(
        items_store_delete(s, 7) == ITEMS_STORE_NOT_FOUND,
        "items_store_delete(7) with only item 1 stored: expected ITEMS_STORE_NOT_FOUND" HINT);
    items_store_free(s);
    harness_pass();
}

HARNESS_TEST(test_store_update_changes_only_the_given_fields)
{
    struct items_store *s = new_store(0);
    struct item in = fields("buy milk", false), out;
    in.has_order = true;
    in.order = 5;
    items_store_create(s, &in, &out);

    struct item change = fields("ignored", true);
    ck_assert_msg(items_store_update(s, 1, &change, ITEM_FIELD_COMPLETED, &out) == ITEMS_STORE_OK,
                  "items_store_update(1, completed only) failed" HINT);
    ck_assert_msg(out.completed && strcmp(out.title, "buy milk") == 0 && out.has_order &&
                      out.order == 5,
                  "items_store_update with set = ITEM_FIELD_COMPLETED must change "
                  "only completed; got title \"%s\", completed %d, order %s%lld" HINT,
                  out.title, out.completed, out.has_order ? "" : "null ", (long long)out.order);

    change = fields("buy oat milk", false); /* has_order false: order becomes null */
    items_store_update(s, 1, &change, ITEM_FIELDS_ALL, &out);
    struct item got;
    items_store_get(s, 1, &got);
    ck_assert_msg(strcmp(got.title, "buy oat milk") == 0 && !got.completed && !got.has_order,
                  "after items_store_update(ITEM_FIELDS_ALL) with title \"buy oat milk\", not "
                  "completed, no order, items_store_get returned \"%s\", %d, has_order %d" HINT,
                  got.title, got.completed, got.has_order);
    items_store_free(s);
    harness_pass();
}

HARNESS_TEST(test_store_delete_removes_only_that_item)
{
    struct items_store *s = new_store(0);
    struct item in = fields("x", false), out;
    for (int i = 0; i < 3; i++)
        items_store_create(s, &in, &out);
    ck_assert_msg(items_store_delete(s, 2) == ITEMS_STORE_OK, "items_store_delete(2) failed" HINT);
    ck_assert_msg(items_store_get(s, 2, &out) == ITEMS_STORE_NOT_FOUND,
                  "item 2 can still be read after items_store_delete(2)" HINT);
    ck_assert_msg(items_store_get(s, 1, &out) == ITEMS_STORE_OK &&
                      items_store_get(s, 3, &out) == ITEMS_STORE_OK,
                  "items_store_delete(2) also removed item 1 or 3" HINT);
    ck_assert_msg(items_store_count(s) == 2,
                  "count after deleting 1 of 3: expected 2, got %zu" HINT, items_store_count(s));
    items_store_free(s);
    harness_pass();
}

/* 1000 items created, the even ids deleted: ids 1, 3, 5, ..., 999 remain. */
static struct items_store *store_with_odd_ids(void)
{
    struct items_store *s = new_store(0);
    struct item in = fields("x", false), out;
    for (int i = 0; i < 1000; i++) /* enough to make a hash map grow several times */
        ck_assert_msg(items_store_create(s, &in, &out) == ITEMS_STORE_OK,
                      "items_store_create failed at item %d of 1000" HINT, i + 1);
    for (uint64_t id = 2; id <= 1000; id += 2)
        items_store_delete(s, id);
    return s;
}

HARNESS_TEST(test_store_lists_in_id_order)
{
    struct items_store *s = store_with_odd_ids();
    static struct item page[600];
    size_t total = 0, out_n;
    struct item out;

    out_n = items_store_page(s, 0, 600, page, &total);
    ck_assert_msg(out_n == 500 && total == 500,
                  "1000 items created, the 500 even ids deleted: "
                  "items_store_page(offset 0, max 600) copied %zu items and said total %zu, "
                  "expected 500 and 500" HINT,
                  out_n, total);
    for (size_t i = 0; i < out_n; i++)
        ck_assert_msg(page[i].id == 2 * i + 1,
                      "items_store_page item %zu: expected id %zu, got "
                      "%llu; items must come in id order" HINT,
                      i, 2 * i + 1, (unsigned long long)page[i].id);
    for (uint64_t id = 1; id <= 1000; id++)
        ck_assert_msg((items_store_get(s, id, &out) == ITEMS_STORE_OK) == (id % 2 == 1),
                      "items_store_get(%llu) after deleting the even ids: wrong answer" HINT,
                      (unsigned long long)id);
    items_store_free(s);
    harness_pass();
}

HARNESS_TEST(test_store_page_starts_at_the_offset)
{
    struct items_store *s = store_with_odd_ids(); /* positions 0..499 hold ids 1, 3, ..., 999 */
    struct item page[10];
    size_t total = 0, n;
    const struct {
        size_t offset, max, want_n;
    } cases[] = {
        {0, 10, 10},  {7, 10, 10},  {260, 10, 10},   {495, 10, 5},
        {499, 10, 1}, {500, 10, 0}, {100000, 10, 0}, {3, 0, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        n = items_store_page(s, cases[c].offset, cases[c].max, page, &total);
        ck_assert_msg(n == cases[c].want_n && total == 500,
                      "500 items: items_store_page(offset "
                      "%zu, max %zu) copied %zu items, total %zu; expected %zu and 500" HINT,
                      cases[c].offset, cases[c].max, n, total, cases[c].want_n);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(page[i].id == 2 * (cases[c].offset + i) + 1,
                          "500 items with ids 1, 3, "
                          "5, ...: items_store_page(offset %zu) item %zu has id %llu, expected "
                          "%zu; the page starts at position offset in id order" HINT,
                          cases[c].offset, i, (unsigned long long)page[i].id,
                          2 * (cases[c].offset + i) + 1);
    }
    items_store_free(s);
    harness_pass();
}

HARNESS_TEST(test_store_clear_keeps_ids_growing)
{
    struct items_store *s = new_store(0);
    struct item in = fields("x", false), out;
    items_store_create(s, &in, &out);
    items_store_create(s, &in, &out);
    items_store_clear(s);
    ck_assert_msg(items_store_count(s) == 0, "items_store_clear left %zu items" HINT,
                  items_store_count(s));
    ck_assert_msg(items_store_get(s, 1, &out) == ITEMS_STORE_NOT_FOUND,
                  "item 1 can still be read after items_store_clear" HINT);
    ck_assert_msg(items_store_create(s, &in, &out) == ITEMS_STORE_OK,
                  "items_store_create "
                  "failed after items_store_clear" HINT);
    ck_assert_msg(out.id == 3,
                  "the first item after a clear got id %llu, expected 3: ids are "
                  "never reused" HINT,
                  (unsigned long long)out.id);
    items_store_free(s);
    harness_pass();
}

HARNESS_TEST(test_store_refuses_items_past_capacity)
{
    struct items_store *s = new_store(2);
    struct item in = fields("x", false), out;
    items_store_create(s, &in, &out);
    items_store_create(s, &in, &out);
    ck_assert_msg(items_store_create(s, &in, &out) == ITEMS_STORE_FULL,
                  "a third item in a store made with max_items 2: expected ITEMS_STORE_FULL" HINT);
    items_store_delete(s, 1);
    ck_assert_msg(items_store_create(s, &in, &out) == ITEMS_STORE_OK,
                  "after deleting one of 2 items, a new item must fit again" HINT);
    items_store_free(s);
    harness_pass();
}

#define WRITERS 4
#define PER_WRITER 500

struct writer {
    struct items_store *store;
    uint64_t ids[PER_WRITER];
    int failures;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct item in = fields("concurrent", false), out;
    for (int i = 0; i < PER_WRITER; i++) {
        if (items_store_create(w->store, &in, &out) != ITEMS_STORE_OK)
            w->failures++;
        w->ids[i] = out.id;
        items_store_get(w->store, out.id, &out); /* readers and writers mixed */
    }
    return NULL;
}

HARNESS_TEST(test_store_threads_get_unique_ids)
{
    static struct writer writers[WRITERS];
    pthread_t threads[WRITERS];
    static unsigned char seen[WRITERS * PER_WRITER + 1];
    struct items_store *s = new_store(0);

    for (int i = 0; i < WRITERS; i++) {
        writers[i].store = s;
        pthread_create(&threads[i], NULL, writer_main, &writers[i]);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(threads[i], NULL);
    for (int i = 0; i < WRITERS; i++) {
        ck_assert_msg(writers[i].failures == 0,
                      "items_store_create failed %d times with 4 "
                      "threads writing at once" HINT,
                      writers[i].failures);
        for (int k = 0; k < PER_WRITER; k++) {
            uint64_t id = writers[i].ids[k];
            ck_assert_msg(id >= 1 && id <= WRITERS * PER_WRITER && !seen[id],
                          "4 threads x 500 "
                          "creates: id %llu was handed out twice or is out of range; take the "
                          "write lock around next_id++ and the insert" HINT,
                          (unsigned long long)id);
            seen[id] = 1;
        }
    }
    ck_assert_msg(items_store_count(s) == WRITERS * PER_WRITER,
                  "4 threads x 500 creates: count "
                  "is %zu, expected 2000; some inserts were lost" HINT,
                  items_store_count(s));
    items_store_free(s);
    harness_pass();
}
