/*
 * starters.h - the starters are made from the solutions.
 *
 * In solutions/, the code a student writes stands between two markers. The opening marker is a
 * comment that holds the TODO's text for the starter and, after "stub:", the code the starter
 * has in its place (nothing, or say `return NULL;`). The example below shows a marked block
 * and what the starter gets instead: a TODO comment whose first two lines come from the TODO's
 * entry in tests.json (its title and lecture), then the marker's text, then the stub.
 *
 * A .c file with at least one TODO also gets, after its last #include, the few pragmas that
 * keep the compiler quiet about what is unused until the TODOs are done. Everything else is
 * copied as it is. The same machinery makes the "proof" variants: the solution with only
 * some TODOs taken out, which the verify command grades to show that each TODO is needed.
 */
#if 0 /* an example, never compiled */
/* In solutions/: */
    /* STUDENT(3): Echo what arrived. write() may take less than you give it: nothing may
     * be lost or reordered, and no client may wait for another.
     * stub:
     *     return NULL;
     */
    ...the code of the solution...
    /* END STUDENT(3) */
/* In exercises/: */
    /* TODO(3): echo what arrived
     * Read: lectures/03-tcp-networking/README.md#reading-and-writing
     * Echo what arrived. write() may take less than you give it: nothing may
     * be lost or reordered, and no client may wait for another.
     */
    return NULL;
#endif

#ifndef STARTERS_H
#define STARTERS_H

#include "suite_data.h"

#include <stdbool.h>
#include <stddef.h>

/* Which TODOs to take out: a bit per TODO number (1..63). */
typedef unsigned long long starters_set;
#define STARTERS_ALL (~0ULL)
#define STARTERS_ONLY(n) (1ULL << (n))

/* Writes the generated version of every .c, .h and meson.build file of `src_dir` (a solution)
 * into `out_dir`, with the TODOs in `which` taken out. A file whose content is already what
 * would be written is left untouched (so a build does not recompile it). `nblocks`, when not
 * NULL, receives how many marked blocks were found for each TODO number (array of 64).
 * Returns 0, or -1 with "FILE:LINE: what is wrong" in err (a marker without its end, a TODO
 * number tests.json does not have, ...). */
int starters_write(const char *src_dir, const struct suite_data *d, starters_set which,
                   const char *out_dir, int nblocks[64], char *err, size_t errsz);

/* Compares what starters_write(..., STARTERS_ALL, ...) would write with the files in
 * `starter_dir`. Returns the number of files that differ or are missing (their names, one per
 * line, appended to `detail`), or -1 with a message in err. */
int starters_compare(const char *src_dir, const struct suite_data *d, const char *starter_dir,
                     char *detail, size_t detailsz, char *err, size_t errsz);

#endif
