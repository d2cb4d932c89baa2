/*
 * notes_store.c - see notes_store.h. A linear search over at most NOTES_MAX entries: simple,
 * and at this size as fast as anything cleverer.
 */
#include "notes_store.h"

#include <stdio.h>
#include <string.h>

/* The index of the note called `name`, or NOTES_MAX if there is none. */
static size_t find_index(const struct notes_store *store, const char *name)
{
    for (size_t i = 0; i < store->count; i++)
        if (strcmp(store->notes[i].name, name) == 0)
            return i;
    return NOTES_MAX;
}

const struct note *notes_store_find(const struct notes_store *store, const char *name)
{
    size_t i = find_index(store, name);

    return i < NOTES_MAX ? &store->notes[i] : NULL;
}

int notes_store_put(struct notes_store *store, const char *name, const char *text, bool *created)
{
    size_t i = find_index(store, name);

    *created = i == NOTES_MAX;
    if (*created) {
        if (store->count == NOTES_MAX)
            return -1;
        i = store->count++;
        snprintf(store->notes[i].name, sizeof store->notes[i].name, "%s", name);
    }
    snprintf(store->notes[i].text, sizeof store->notes[i].text, "%s", text);
    return 0;
}

bool notes_store_delete(struct notes_store *store, const char *name)
{
    size_t i = find_index(store, name);

    if (i == NOTES_MAX)
        return false;
    /* Keep the order: shift the later notes down by one. O(NOTES_MAX), which is small. */
    memmove(&store->notes[i], &store->notes[i + 1],
            (store->count - i - 1) * sizeof store->notes[0]);
    store->count--;
    return true;
}
