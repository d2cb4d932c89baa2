/*
 * fd_limit.h - run the process out of file descriptors on purpose.
 *
 * The accept-error tests need accept() to fail with EMFILE. fd_limit_exhaust() lowers
 * RLIMIT_NOFILE and fills the descriptor table, leaving exactly `spare` descriptors free (the
 * test's own client socket needs one); fd_limit_restore() gives everything back. Restore before
 * asserting anything, so a failing test does not leave the process unable to open files.
 */
#ifndef FD_LIMIT_H
#define FD_LIMIT_H

#include <sys/resource.h>

#define FD_LIMIT_FOR_TEST 256 /* RLIMIT_NOFILE while descriptors are exhausted */

struct fd_limit {
    struct rlimit old;
    int fillers[FD_LIMIT_FOR_TEST];
    int nfill;
};

/* Returns 0, or -1 (with nothing changed) if the limit cannot be lowered or filled. */
int fd_limit_exhaust(struct fd_limit *fl, int spare);

void fd_limit_restore(struct fd_limit *fl);

#endif
