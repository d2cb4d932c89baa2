/*
 * test_json.c - unit tests of items_json.c: checking request bodies and writing
 * items as JSON.
 */
#include "items_json.h"
#include "suite.h"

#include <event2/buffer.h>
#include <string.h>

#define HINT4 " (items_json_parse in items_json.c)"

/* Parses `body`; returns the status (0 on success) and keeps the results for the test. */
static struct item out;
static unsigned set;
static struct items_json_error err;

static int parse(const char *body, enum items_json_mode mode)
{
    memset(&err, 0, sizeof err);
    if (items_json_parse(body, strlen(body), mode, &out, &set, &err) == 0)
        return 0;
    return err.status != 0 ? err.status : -1;
}

/* Asserts that `body` is refused with `status` and a message containing `needle`. */
static void expect_refused(const char *body, enum items_json_mode mode, int status,
                           const char *needle)
{
    int got = parse(body, mode);
    ck_assert_msg(got == status && strstr(err.message, needle) != NULL,
                  "items_json_parse(%s, %s): expected status %d and a message containing \"%s\", "
                  "got %s %d and \"%s\"" HINT4,
                  esc(body, strlen(body)), mode == ITEMS_JSON_FULL ? "FULL" : "PARTIAL", status,
                  needle, got == 0 ? "success" : "status", got, err.message);
}

HARNESS_TEST(test_json_accepts_a_full_item)
{
    const char *body = "{\"title\": \"buy milk\", \"completed\": true, \"order\": 3}";
    int got = parse(body, ITEMS_JSON_FULL);
    ck_assert_msg(got == 0,
                  "items_json_parse(%s, FULL) failed with %d \"%s\"; it is a valid item" HINT4,
                  esc(body, strlen(body)), got, err.message);
    ck_assert_msg(strcmp(out.title, "buy milk") == 0 && out.completed && out.has_order &&
                      out.order == 3 && set == ITEM_FIELDS_ALL,
                  "items_json_parse(%s, FULL) gave title \"%s\", completed %d, has_order %d, order "
                  "%lld, set %u; expected the body's values and set ITEM_FIELDS_ALL" HINT4,
                  esc(body, strlen(body)), out.title, out.completed, out.has_order,
                  (long long)out.order, set);
    harness_pass();
}

HARNESS_TEST(test_json_full_body_gets_defaults)
{
    const char *body = "{\"title\": \"walk dog\"}";
    int got = parse(body, ITEMS_JSON_FULL);
    ck_assert_msg(got == 0 && !out.completed && !out.has_order && set == ITEM_FIELDS_ALL,
                  "items_json_parse(%s, FULL): expected success with completed false, no order "
                  "and set ITEM_FIELDS_ALL (PUT resets what it leaves out), got %d, completed %d, "
                  "has_order %d, set %u" HINT4,
                  esc(body, strlen(body)), got, out.completed, out.has_order, set);
    harness_pass();
}

HARNESS_TEST(test_json_partial_body_sets_only_its_fields)
{
    const char *body = "{\"completed\": true, \"order\": null}";
    int got = parse(body, ITEMS_JSON_PARTIAL);
    ck_assert_msg(got == 0 && out.completed && !out.has_order &&
                      set == (ITEM_FIELD_COMPLETED | ITEM_FIELD_ORDER),
                  "items_json_parse(%s, PARTIAL): expected success, completed true, order null, "
                  "set = ITEM_FIELD_COMPLETED | ITEM_FIELD_ORDER (%d); got %d, set %u" HINT4,
                  esc(body, strlen(body)), ITEM_FIELD_COMPLETED | ITEM_FIELD_ORDER, got, set);
    ck_assert_msg(parse("{}", ITEMS_JSON_PARTIAL) == 0 && set == 0,
                  "items_json_parse({}, "
                  "PARTIAL): expected success with set 0 (a PATCH that changes nothing)" HINT4);
    harness_pass();
}

HARNESS_TEST(test_json_syntax_error_names_line_and_column)
{
    expect_refused("{\n  \"title\": \"x\",\n  \"completed\": tru\n}", ITEMS_JSON_FULL, 400,
                   "line 3");
    expect_refused("{\"title\": \"x\"", ITEMS_JSON_FULL, 400, "column");
    expect_refused("", ITEMS_JSON_FULL, 400, SPEC("empty"));
    harness_pass();
}

HARNESS_TEST(test_json_body_must_be_an_object)
{
    expect_refused("[{\"title\": \"x\"}]", ITEMS_JSON_FULL, 400, SPEC("object"));
    expect_refused("\"buy milk\"", ITEMS_JSON_FULL, 400, SPEC("object"));
    harness_pass();
}

HARNESS_TEST(test_json_duplicate_keys_are_refused)
{
    expect_refused("{\"title\": \"a\", \"title\": \"b\"}", ITEMS_JSON_FULL, 400, SPEC("duplicate"));
    harness_pass();
}

HARNESS_TEST(test_json_title_is_required_and_checked)
{
    char long_title[ITEM_TITLE_MAX + 32];
    char max_title[ITEM_TITLE_MAX + 32];
    snprintf(long_title, sizeof long_title, "{\"title\": \"%0*d\"}", ITEM_TITLE_MAX + 1, 0);
    snprintf(max_title, sizeof max_title, "{\"title\": \"%0*d\"}", ITEM_TITLE_MAX, 0);

    expect_refused("{\"completed\": true}", ITEMS_JSON_FULL, 422, "title");
    expect_refused("{\"title\": \"\"}", ITEMS_JSON_FULL, 422, "title");
    expect_refused("{\"title\": 42}", ITEMS_JSON_FULL, 422, "title");
    expect_refused("{\"title\": null}", ITEMS_JSON_PARTIAL, 422, "title");
    expect_refused(long_title, ITEMS_JSON_FULL, 422, "title");
    ck_assert_msg(parse(max_title, ITEMS_JSON_FULL) == 0 && strlen(out.title) == ITEM_TITLE_MAX,
                  "a title of exactly %d bytes must be accepted and kept whole, got \"%s\"" HINT4,
                  ITEM_TITLE_MAX, err.message);
    harness_pass();
}

HARNESS_TEST(test_json_completed_must_be_a_boolean)
{
    expect_refused("{\"title\": \"x\", \"completed\": \"yes\"}", ITEMS_JSON_FULL, 422, "completed");
    expect_refused("{\"completed\": 1}", ITEMS_JSON_PARTIAL, 422, "completed");
    harness_pass();
}

HARNESS_TEST(test_json_order_must_be_an_integer_in_range)
{
    expect_refused("{\"title\": \"x\", \"order\": 1.5}", ITEMS_JSON_FULL, 422, "order");
    expect_refused("{\"title\": \"x\", \"order\": \"3\"}", ITEMS_JSON_FULL, 422, "order");
    expect_refused("{\"order\": 9007199254740992}", ITEMS_JSON_PARTIAL, 422, "order");
    expect_refused("{\"order\": 99999999999999999999}", ITEMS_JSON_PARTIAL, 422, "range");
    ck_assert_msg(parse("{\"order\": -9007199254740991}", ITEMS_JSON_PARTIAL) == 0 &&
                      out.has_order && out.order == -ITEM_INT_MAX,
                  "{\"order\": -9007199254740991} is in range and "
                  "must be accepted, got \"%s\"" HINT4,
                  err.message);
    harness_pass();
}

HARNESS_TEST(test_json_unknown_fields_are_refused_id_and_url_ignored)
{
    expect_refused("{\"title\": \"x\", \"done\": true}", ITEMS_JSON_FULL, 422, "done");
    const char *body = "{\"id\": 99, \"title\": \"x\", \"url\": \"http://elsewhere/items/99\"}";
    int got = parse(body, ITEMS_JSON_FULL);
    ck_assert_msg(got == 0 && strcmp(out.title, "x") == 0,
                  "items_json_parse(%s): \"id\" and "
                  "\"url\" are read-only and must be ignored, not refused; got %d \"%s\"" HINT4,
                  esc(body, strlen(body)), got, err.message);
    harness_pass();
}

HARNESS_TEST(test_json_writes_an_item)
{
    struct evbuffer *buf = evbuffer_new();
    struct item it = {.id = 7, .completed = true, .has_order = true, .order = -2};
    snprintf(it.title, sizeof it.title, "say \"hi\"");
    int rc = items_json_write(buf, &it, "http://example.com:3000");
    size_t len = evbuffer_get_length(buf);
    const char *text = (const char *)evbuffer_pullup(buf, -1);
    const char *want = "{\"id\":7,\"title\":\"say \\\"hi\\\"\",\"completed\":true,\"order\":-2,"
                       "\"url\":\"http://example.com:3000/items/7\"}";
    ck_assert_msg(rc == 0 && len == strlen(want) && memcmp(text, want, len) == 0,
                  "items_json_write(item 7, origin http://example.com:3000): expected %s, got "
                  "%s (items_json.c)",
                  esc(want, strlen(want)), esc(text ? text : "", len));

    evbuffer_drain(buf, len);
    it.has_order = false;
    items_json_write(buf, &it, "http://h");
    char copy[512] = "";
    evbuffer_copyout(buf, copy, sizeof copy - 1);
    ck_assert_msg(strstr(copy, "\"order\":null") != NULL,
                  "an item without an order must be "
                  "written with \"order\":null, got %s (items_json.c)",
                  esc(copy, strlen(copy)));

    /* Every character a title may hold must come back as it went in. */
    const char *title = "tab\there \\ \"q\" \x01 caf\xc3\xa9 \xe2\x9c\x93";
    evbuffer_drain(buf, evbuffer_get_length(buf));
    snprintf(it.title, sizeof it.title, "%s", title);
    items_json_write(buf, &it, "http://h");
    len = evbuffer_get_length(buf);
    json_t *back = json_loadb((const char *)evbuffer_pullup(buf, -1), len, 0, NULL);
    const char *got = json_string_value(json_object_get(back, "title"));
    ck_assert_msg(got != NULL && strcmp(got, title) == 0,
                  "items_json_write with the title %s "
                  "wrote %s, which does not read back as that title; escape '\"', '\\' and bytes "
                  "below 0x20 (as \\u00XX) and copy the rest (items_json.c)",
                  esc(title, strlen(title)), esc((const char *)evbuffer_pullup(buf, -1), len));
    json_decref(back);
    evbuffer_free(buf);
    harness_pass();
}
