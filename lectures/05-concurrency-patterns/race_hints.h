/*
 * race_hints.h - what helgrind cannot work out by itself, said in two macros.
 *
 * valgrind's race detectors (helgrind, DRD) understand mutexes, condition variables,
 * semaphores and pthread_join, but not C11 atomics: an atomic load or store looks to them
 * like any other access, and the ordering an acq_rel reference count gives is invisible.
 * These macros tell helgrind what the code already guarantees. When valgrind's headers are
 * not installed they compile to nothing, and outside valgrind they cost a few instructions.
 */
#ifndef RACE_HINTS_H
#define RACE_HINTS_H

#if defined(__has_include)
#if __has_include(<valgrind/helgrind.h>)
#include <valgrind/helgrind.h>
#define RACE_HINTS_VALGRIND 1
#endif
#endif

#ifdef RACE_HINTS_VALGRIND
/* This variable is only ever accessed with atomic operations: do not report it as a race. */
#define RACE_HINT_ATOMIC_VAR(var) VALGRIND_HG_DISABLE_CHECKING(&(var), sizeof(var))
/* Everything this thread did before HAPPENS_BEFORE(p) is visible to the thread that later
 * passes HAPPENS_AFTER(p): what atomic_fetch_sub(acq_rel) on a reference count guarantees. */
#define RACE_HINT_HAPPENS_BEFORE(p) ANNOTATE_HAPPENS_BEFORE(p)
#define RACE_HINT_HAPPENS_AFTER(p) ANNOTATE_HAPPENS_AFTER(p)
#else
#define RACE_HINT_ATOMIC_VAR(var) ((void)0)
#define RACE_HINT_HAPPENS_BEFORE(p) ((void)0)
#define RACE_HINT_HAPPENS_AFTER(p) ((void)0)
#endif

#endif
