/*
 * suite_main.c - exercise 03's suite: the store, the JSON validator, the API over HTTP, and the
 * http-api command, in the order a student meets them.
 */
#include "suite.h"


void test_list_add(struct test_list *list, const struct harness_test *tests, size_t count)
{
    for (size_t i = 0; i < count && list->count < SUITE_MAX_TESTS; i++)
        list->tests[list->count++] = tests[i];
}

int main(int argc, char **argv)
{
    static struct test_list list;
    add_store_tests(&list);
    add_json_tests(&list);
    add_api_tests(&list);
    add_cli_tests(&list);
    return harness_main("ex03-http-api", list.tests, list.count, argc, argv);
}
