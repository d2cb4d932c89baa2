/*
 * log_capture.c - see log_capture.h. A pipe, a reader thread, and a condition variable that
 * is signalled whenever new bytes arrive.
 */
#include "log_capture.h"

#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct log_capture {
    FILE *stream; /* write end, handed to the server */
    int read_fd;
    pthread_t reader;
    pthread_mutex_t lock;
    pthread_cond_t grew;
    char *text; /* everything read so far, NUL-terminated */
    size_t len;
};

static void *reader_main(void *arg)
{
    struct log_capture *lc = arg;
    char chunk[4096];

    for (;;) {
        ssize_t n = read(lc->read_fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        pthread_mutex_lock(&lc->lock);
        size_t room = LOG_CAPTURE_MAX - lc->len;
        size_t take = (size_t)n < room ? (size_t)n : room;
        memcpy(lc->text + lc->len, chunk, take);
        lc->len += take;
        lc->text[lc->len] = '\0';
        pthread_cond_broadcast(&lc->grew);
        pthread_mutex_unlock(&lc->lock);
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
    if (lc->text == NULL || pipe(fds) != 0)
        goto err;
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
    fclose(lc->stream); /* the reader sees EOF */
    pthread_join(lc->reader, NULL);
    close(lc->read_fd);
    pthread_cond_destroy(&lc->grew);
    pthread_mutex_destroy(&lc->lock);
    free(lc->text);
    free(lc);
}
