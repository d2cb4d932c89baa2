/*
 * fd_limit.c - see fd_limit.h.
 */
#include "fd_limit.h"

#include "chaos.h"

#include <fcntl.h>
#include <unistd.h>

int fd_limit_exhaust(struct fd_limit *fl, int spare)
{
    struct rlimit low;
    int fd;

    /* Chaos mode: the test counts on the descriptors it leaves free; a background client
     * (chaos.h) would take one, and the server another when it accepts it. */
    chaos_no_background_clients("the test runs out of file descriptors on purpose");
    fl->nfill = 0;
    if (getrlimit(RLIMIT_NOFILE, &fl->old) != 0)
        return -1;
    low = fl->old;
    if (low.rlim_cur > FD_LIMIT_FOR_TEST)
        low.rlim_cur = FD_LIMIT_FOR_TEST;
    if (setrlimit(RLIMIT_NOFILE, &low) != 0)
        return -1;
    while (fl->nfill < FD_LIMIT_FOR_TEST && (fd = fcntl(0, F_DUPFD_CLOEXEC, 0)) >= 0)
        fl->fillers[fl->nfill++] = fd;
    if (fl->nfill < spare) {
        fd_limit_restore(fl);
        return -1;
    }
    for (int i = 0; i < spare; i++)
        close(fl->fillers[--fl->nfill]);
    return 0;
}

void fd_limit_restore(struct fd_limit *fl)
{
    while (fl->nfill > 0)
        close(fl->fillers[--fl->nfill]);
    setrlimit(RLIMIT_NOFILE, &fl->old);
}
