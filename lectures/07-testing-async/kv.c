/*
 * kv.c - see kv.h. Open addressing with linear probing: a key lives in the first free slot at
 * or after its hash. A lookup walks from the hash until it finds the key or an empty slot, so
 * deleting must not leave an empty slot in the middle of a chain: it leaves a tombstone.
 */
#include "kv.h"

#include <stdlib.h>

enum slot_state { SLOT_EMPTY, SLOT_FULL, SLOT_DELETED };

struct kv {
    struct {
        enum slot_state state;
        int key, value;
    } slots[KV_CAPACITY];
    size_t count;
};

static size_t slot_of(int key)
{
    return ((unsigned)key * 2654435761u) % KV_CAPACITY; /* Knuth's multiplicative hash */
}

/* The slot holding key, or -1. */
static int find(const struct kv *s, int key)
{
    for (size_t i = 0; i < KV_CAPACITY; i++) {
        size_t k = (slot_of(key) + i) % KV_CAPACITY;
        if (s->slots[k].state == SLOT_EMPTY)
            return -1; /* the end of the chain */
        if (s->slots[k].state == SLOT_FULL && s->slots[k].key == key)
            return (int)k;
    }
    return -1;
}

static struct kv *kv_create(void)
{
    return calloc(1, sizeof(struct kv));
}

static void kv_destroy(struct kv *s)
{
    free(s);
}

static int kv_put(struct kv *s, int key, int value)
{
    int at = find(s, key);
    if (at >= 0) {
        s->slots[at].value = value;
        return 0;
    }
    if (s->count == KV_CAPACITY)
        return -1;
    size_t k = slot_of(key);
    while (s->slots[k].state == SLOT_FULL)
        k = (k + 1) % KV_CAPACITY;
    s->slots[k].state = SLOT_FULL;
    s->slots[k].key = key;
    s->slots[k].value = value;
    s->count++;
    return 0;
}

static int kv_get(const struct kv *s, int key, int *value)
{
    int at = find(s, key);
    if (at < 0)
        return 0;
    *value = s->slots[at].value;
    return 1;
}

static int kv_del(struct kv *s, int key)
{
    int at = find(s, key);
    if (at < 0)
        return 0;
#ifdef KV_DRAFT
    s->slots[at].state = SLOT_EMPTY; /* the draft's bug: it cuts the chain of later keys */
#else
    s->slots[at].state = SLOT_DELETED; /* a tombstone: lookups walk past it, put() reuses it */
#endif
    s->count--;
    return 1;
}

static size_t kv_count(const struct kv *s)
{
    return s->count;
}

#ifdef KV_DRAFT
const struct kv_ops kv_draft_ops = {"kv_draft", kv_create, kv_destroy, kv_put,
                                    kv_get,     kv_del,    kv_count};
#else
const struct kv_ops kv_ops = {"kv", kv_create, kv_destroy, kv_put, kv_get, kv_del, kv_count};
#endif
