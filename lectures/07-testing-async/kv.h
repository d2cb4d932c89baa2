/*
 * kv.h - a tiny fixed-size hash table from int keys to int values: the store that properties.c
 * tests against a model.
 *
 * kv.c is compiled twice: as it is (kv_ops), and with -DKV_DRAFT (kv_draft_ops), the first
 * draft with the bug the model-based test finds. The test reaches both through this table of
 * function pointers.
 */
#ifndef KV_H
#define KV_H

#include <stddef.h>

#define KV_CAPACITY 8 /* entries the store holds; put() of a new key beyond this fails */

struct kv;

struct kv_ops {
    const char *name;
    struct kv *(*create)(void); /* NULL when out of memory */
    void (*destroy)(struct kv *s);
    int (*put)(struct kv *s, int key, int value);        /* 0, or -1 when full */
    int (*get)(const struct kv *s, int key, int *value); /* 1 found, 0 absent */
    int (*del)(struct kv *s, int key);                   /* 1 removed, 0 absent */
    size_t (*count)(const struct kv *s);
};

extern const struct kv_ops kv_ops;       /* kv.c */
extern const struct kv_ops kv_draft_ops; /* kv.c built with -DKV_DRAFT */

#endif
