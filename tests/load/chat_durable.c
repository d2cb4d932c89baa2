/*
 * chat_durable.c - checks the chat server's history file against what clients saw.
 *
 *     chat-durable verify HISTORY RECORD   every line a client got (RECORD, from chat-flood
 *                                          --record) is in HISTORY, in the same order, as
 *                                          far back as HISTORY reaches (it is compacted)
 *     chat-durable replay PORT HISTORY     a new client's replay is the end of HISTORY, in order
 *
 * The flood's lines are "m<N>" with N counting up, so order is easy to check. Exit status 0
 * when nothing was lost or reordered, 1 otherwise, 2 for a bad command line.
 */
#include "load_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DURABLE_MAX 4000000 /* messages read from a file */
#define REPLAY_BUF (1 << 20)

/* The numbers of the "m<N>" messages of a history file, in file order. Returns the count. */
static long history_numbers(const char *path, long *out, long *corrupt)
{
    char line[8192];
    long n = 0;
    FILE *f = fopen(path, "r");

    *corrupt = 0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL && n < DURABLE_MAX) {
        const char *t = strstr(line, "\"text\":\"m");
        if (t == NULL || strchr(line, '\n') == NULL) {
            (*corrupt)++;
            continue;
        }
        out[n++] = strtol(t + 9, NULL, 10);
    }
    if (f != NULL)
        fclose(f);
    return f != NULL ? n : -1;
}

static int verify(const char *history, const char *record)
{
    long *hist = malloc(DURABLE_MAX * sizeof *hist), corrupt;
    long nh = hist != NULL ? history_numbers(history, hist, &corrupt) : -1;
    long seen = 0, missing = 0, h = 0, num;
    FILE *f = fopen(record, "r");

    if (nh < 0 || f == NULL) {
        fprintf(stderr, "chat-durable: cannot read %s or %s\n", history, record);
        return 1;
    }
    for (long i = 1; i < nh; i++)
        if (hist[i] <= hist[i - 1]) {
            printf("chat-durable: FAIL: %s is out of order at message %ld (m%ld after m%ld)\n",
                   history, i + 1, hist[i], hist[i - 1]);
            return 1;
        }
    /* The file keeps only the newest messages (compaction drops the older ones by design):
     * every message seen since the file's first one must be there, and nothing seen may be
     * newer than the file's last one. Both lists increase: walk them together. */
    long newest_seen = 0, compared = 0;
    while (fscanf(f, "%ld", &num) == 1) {
        seen++;
        newest_seen = num;
        if (nh == 0 || num < hist[0])
            continue;
        compared++;
        while (h < nh && hist[h] < num)
            h++;
        if (h == nh || hist[h] != num)
            missing++;
    }
    fclose(f);
    long newest_kept = nh > 0 ? hist[nh - 1] : 0;
    int ok = seen > 0 && compared > 0 && missing == 0 && newest_seen <= newest_kept;
    printf("chat-durable: a client saw %ld lines broadcast, the newest m%ld; %s keeps the newest "
           "%ld (m%ld to m%ld; %ld lines not messages): of the %ld seen in that range, %ld "
           "missing; %s\n",
           seen, newest_seen, history, nh, nh > 0 ? hist[0] : 0, newest_kept, corrupt, compared,
           missing,
           newest_seen <= newest_kept ? "nothing seen is newer than the file"
                                      : "LOST: the newest seen is not on file");
    free(hist);
    return ok ? 0 : 1;
}

static int replay(uint16_t port, const char *history)
{
    long *hist = malloc(DURABLE_MAX * sizeof *hist), corrupt;
    long nh = hist != NULL ? history_numbers(history, hist, &corrupt) : -1;
    char *buf = malloc(REPLAY_BUF);
    int fd = load_dial(port, 5000);

    if (nh < 0 || buf == NULL || fd < 0) {
        fprintf(stderr, "chat-durable: cannot read %s or connect to port %u\n", history, port);
        return 1;
    }
    load_read_until(fd, buf, REPLAY_BUF, "* end of history\n", 5000);
    close(fd);
    long got[256], n = 0;
    for (char *line = strtok(buf, "\n"); line != NULL && n < 256; line = strtok(NULL, "\n")) {
        const char *m = strstr(line, ": m");
        if (m != NULL && line[0] != '*')
            got[n++] = strtol(m + 3, NULL, 10);
    }
    int ok = n > 0 && n <= nh;
    for (long i = 0; ok && i < n; i++)
        ok = got[i] == hist[nh - n + i];
    printf("chat-durable: a new client got %ld messages of replay: %s\n", n,
           ok ? "the last ones of the file, in order" : "NOT the end of the file in order");
    free(buf);
    free(hist);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "verify") == 0)
        return verify(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "replay") == 0)
        return replay((uint16_t)load_parse_long("PORT", argv[2], 1, 65535), argv[3]);
    fprintf(stderr, "usage: chat-durable verify HISTORY RECORD | replay PORT HISTORY\n");
    return 2;
}
