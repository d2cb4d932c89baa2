/*
 * log_capture.c - see log_capture.h. A pipe, a reader thread, and a condition variable that
 * is signalled whenever new bytes arrive.
 */
#include "log_capture.h"

#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct log_capture {
    FILE *stream; /* write end, handed to the server */
    int read_fd;
    int stop_fd[2]; /* log_capture_free() writes here: the reader drains the pipe and ends */
    pthread_t reader;
    pthread_mutex_t lock;
    pthread_cond_t grew;
    char *text; /* everything read so far, NUL-terminated */
    size_t len;
};

/* Appends n bytes read from the pipe (beyond LOG_CAPTURE_MAX they are dropped). */
static void append(struct log_capture *lc, const char *chunk, size_t n)
{
    pthread_mutex_lock(&lc->lock);
    size_t room = LOG_CAPTURE_MAX - lc->len;
    size_t take = n < room ? n : room;
    memcpy(lc->text + lc->len, chunk, take);
    lc->len += take;
    lc->text[lc->len] = '\0';
    pthread_cond_broadcast(&lc->grew);
    pthread_mutex_unlock(&lc->lock);
}

/* Reads the pipe until EOF or until log_capture_free() says stop. Not only EOF: a process the
 * server forked (and left running) holds a copy of the write end, and the EOF would never
 * come. On stop, what is in the pipe already is read (up to LOG_CAPTURE_MAX), then no more. */
static void *reader_main(void *arg)
{
    struct log_capture *lc = arg;
    char chunk[4096];
    struct pollfd pfd[2] = {{.fd = lc->read_fd, .events = POLLIN},
                            {.fd = lc->stop_fd[0], .events = POLLIN}};

    for (;;) {
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[0].revents != 0) {
            ssize_t n = read(lc->read_fd, chunk, sizeof chunk);
            if (n > 0)
                append(lc, chunk, (size_t)n);
            else if (n == 0 || errno != EINTR)
                break; /* EOF: every writer is gone */
            continue;  /* what has arrived goes before a stop */
        }
        if (pfd[1].revents != 0) {
            fcntl(lc->read_fd, F_SETFL, O_NONBLOCK);
            ssize_t n;
            for (size_t drained = 0;
                 drained < LOG_CAPTURE_MAX && (n = read(lc->read_fd, chunk, sizeof chunk)) > 0;
                 drained += (size_t)n)
                append(lc, chunk, (size_t)n);
            break;
        }
    }
    return NULL;
}

struct log_capture *log_capture_new(void)
{
    int fds[2];
    struct log_capture *lc = calloc(1, sizeof *lc);

    if (lc == NULL)
        return NULL;
    lc->text = calloc(1, LOG_CAPTURE_MAX + 1);
    lc->stop_fd[0] = lc->stop_fd[1] = -1;
    if (lc->text == NULL || pipe(fds) != 0)
        goto err;
    if (pipe(lc->stop_fd) != 0) {
        close(fds[0]);
        close(fds[1]);
        goto err;
    }
    lc->read_fd = fds[0];
    lc->stream = fdopen(fds[1], "w");
    if (lc->stream == NULL) {
        close(fds[0]);
        close(fds[1]);
        goto err;
    }
    setvbuf(lc->stream, NULL, _IOLBF, 0);
    pthread_mutex_init(&lc->lock, NULL);
    pthread_cond_init(&lc->grew, NULL);
    if (pthread_create(&lc->reader, NULL, reader_main, lc) != 0) {
        fclose(lc->stream);
        close(lc->read_fd);
        goto err;
    }
    return lc;
err:
    if (lc->stop_fd[0] >= 0) {
        close(lc->stop_fd[0]);
        close(lc->stop_fd[1]);
    }
    free(lc->text);
    free(lc);
    return NULL;
}

FILE *log_capture_stream(struct log_capture *lc)
{
    return lc->stream;
}

/* Finds a complete line containing every needle. Caller holds the lock. */
static const char *find_line(struct log_capture *lc, const char *const *needles, size_t *linelen)
{
    const char *line = lc->text;
    const char *end = lc->text + lc->len;

    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        if (nl == NULL)
            break; /* an incomplete line: wait for the rest */
        int all = 1;
        for (const char *const *n = needles; *n != NULL && all; n++) {
            const char *hit = strstr(line, *n);
            all = hit != NULL && hit < nl;
        }
        if (all) {
            *linelen = (size_t)(nl - line);
            return line;
        }
        line = nl + 1;
    }
    return NULL;
}

int log_capture_wait(struct log_capture *lc, int timeout_ms, char *out, size_t outsz, ...)
{
    const char *needles[16];
    size_t n = 0;
    va_list ap;

    va_start(ap, outsz);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL && n < 15;)
        needles[n++] = s;
    va_end(ap);
    needles[n] = NULL;

    struct timespec deadline = client_realtime_deadline(timeout_ms);

    int found = 0;
    pthread_mutex_lock(&lc->lock);
    for (;;) {
        size_t linelen = 0;
        const char *line = find_line(lc, needles, &linelen);
        if (line != NULL) {
            if (out != NULL && outsz > 0) {
                size_t k = linelen < outsz - 1 ? linelen : outsz - 1;
                memcpy(out, line, k);
                out[k] = '\0';
            }
            found = 1;
            break;
        }
        if (pthread_cond_timedwait(&lc->grew, &lc->lock, &deadline) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&lc->lock);
    if (!found && out != NULL && outsz > 0)
        out[0] = '\0';
    return found;
}

/* Caller holds the lock. */
static int count_locked(struct log_capture *lc, const char *needle)
{
    int count = 0;
    for (const char *p = lc->text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        count++;
    return count;
}

int log_capture_count(struct log_capture *lc, const char *needle)
{
    pthread_mutex_lock(&lc->lock);
    int count = count_locked(lc, needle);
    pthread_mutex_unlock(&lc->lock);
    return count;
}

int log_capture_wait_count(struct log_capture *lc, const char *needle, int n, int timeout_ms)
{
    struct timespec deadline = client_realtime_deadline(timeout_ms);
    int count;

    pthread_mutex_lock(&lc->lock);
    while ((count = count_locked(lc, needle)) < n &&
           pthread_cond_timedwait(&lc->grew, &lc->lock, &deadline) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&lc->lock);
    return count;
}

char *log_capture_tail(struct log_capture *lc, char *out, size_t outsz)
{
    if (outsz == 0)
        return out;
    pthread_mutex_lock(&lc->lock);
    size_t start = lc->len > outsz - 1 ? lc->len - (outsz - 1) : 0;
    memcpy(out, lc->text + start, lc->len - start);
    out[lc->len - start] = '\0';
    pthread_mutex_unlock(&lc->lock);
    return out;
}

void log_capture_free(struct log_capture *lc)
{
    if (lc == NULL)
        return;
    fclose(lc->stream); /* the reader sees EOF, unless a forked process holds a copy: */
    while (write(lc->stop_fd[1], "", 1) < 0 && errno == EINTR)
        continue; /* so it is told to stop as well */
    pthread_join(lc->reader, NULL);
    close(lc->read_fd);
    close(lc->stop_fd[0]);
    close(lc->stop_fd[1]);
    pthread_cond_destroy(&lc->grew);
    pthread_mutex_destroy(&lc->lock);
    free(lc->text);
    free(lc);
}
