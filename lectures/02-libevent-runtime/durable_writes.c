/*
 * durable_writes.c - saving state so that a crash leaves either the old data or the new, never
 * a mix.
 *
 * Part 1 replaces a whole file the safe way: write a temporary file in the same directory,
 * fflush, fsync, rename it over the old name, fsync the directory. Part 2 keeps an append-only
 * log with one JSON object per line and, on load, skips a torn last line (what a crash in the
 * middle of an append leaves behind), then compacts the log with part 1's function. Part 3
 * times fsync on this file system: the cost that decides whether it may run on the loop thread.
 *
 *     ./durable-writes [--demo] [PARENT_DIR]   (works in a new directory under /tmp, or PARENT_DIR)
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PATH_BYTES 512
#define RECORD_MAX_BYTES 1024 /* a longer log line is corrupt: it is skipped, not buffered */
#define FSYNC_ROUNDS 20       /* part 3: appends timed with and without fsync */

/* out = dir/name. Returns 0, or -1 (errno ENAMETOOLONG) if it does not fit in PATH_BYTES. */
static int join_path(char out[PATH_BYTES], const char *dir, const char *name)
{
    int n = snprintf(out, PATH_BYTES, "%s/%s", dir, name);
    if (n < 0 || n >= PATH_BYTES) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* Replaces dir/name with data, so that a crash at any moment leaves either the whole old file or
 * the whole new one under that name. Returns 0, or -1 with errno set. */
static int save_atomically(const char *dir, const char *name, const char *data, size_t len)
{
    char path[PATH_BYTES], tmp[PATH_BYTES], tmp_name[PATH_BYTES];
    FILE *f = NULL;
    int dir_fd = -1, saved_errno;

    snprintf(tmp_name, sizeof tmp_name, "%.*s.tmp", PATH_BYTES - 8, name);
    /* The same directory as the target: rename() is atomic only within one file system. */
    if (join_path(path, dir, name) != 0 || join_path(tmp, dir, tmp_name) != 0)
        return -1;
    f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    if (fwrite(data, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0)
        goto fail; /* fflush: stdio's buffer -> the kernel; fsync: the kernel's cache -> disk */
    if (fclose(f) != 0) {
        f = NULL;
        goto fail;
    }
    f = NULL;
    if (rename(tmp, path) != 0) /* atomic: from here on the name means the new file */
        goto fail;
    /* The rename changed the directory, not the file: fsync the directory, or a power cut can
     * bring the old name back. The new file is in place either way, so no cleanup is needed. */
    dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0 || fsync(dir_fd) != 0) {
        saved_errno = errno;
        if (dir_fd >= 0)
            close(dir_fd);
        errno = saved_errno;
        return -1;
    }
    close(dir_fd);
    return 0;
fail:
    saved_errno = errno;
    if (f != NULL)
        fclose(f);
    unlink(tmp); /* the old file is untouched; do not leave a half-written temporary behind */
    errno = saved_errno;
    return -1;
}

/* Appends one record as one line. The whole line goes to the kernel in one fflush, so a crash
 * of the program after this returns loses nothing; a power cut can, until the next fsync.
 * Returns 0 or -1. */
static int log_append(FILE *log, const json_t *record)
{
    char *line = json_dumps(record, JSON_COMPACT | JSON_SORT_KEYS);
    int rc = -1;

    if (line != NULL && fprintf(log, "%s\n", line) > 0 && fflush(log) == 0)
        rc = 0;
    free(line);
    return rc;
}

/* Loads every complete, valid line of the log into `records` (a JSON array). A line that is not
 * a JSON object, is too long, or has no '\n' at the end (torn by a crash mid-append) is skipped
 * with a message. Returns the number of lines skipped, or -1 if the file cannot be read. */
static long log_load(const char *path, json_t *records)
{
    char line[RECORD_MAX_BYTES + 2]; /* the line, its '\n', and fgets' '\0' */
    long lineno = 0, skipped = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return errno == ENOENT ? 0 : -1; /* no log yet: an empty history */
    while (fgets(line, sizeof line, f) != NULL) {
        size_t len = strlen(line); /* a NUL byte (never in JSON text) cuts the line short */
        const char *why = NULL;
        json_error_t err;
        json_t *obj = NULL;

        lineno++;
        if (len > 0 && line[len - 1] == '\n') {
            obj = json_loadb(line, len - 1, JSON_REJECT_DUPLICATES, &err);
            if (obj == NULL || !json_is_object(obj))
                why = obj == NULL ? err.text : "not a JSON object";
        } else if (len == sizeof line - 1) {
            why = "longer than RECORD_MAX_BYTES";
            int c;
            while ((c = getc(f)) != EOF && c != '\n') /* skip the rest of it */
                ;
        } else if (feof(f)) {
            why = "torn: no newline at the end of the file";
        } else {
            why = "contains a NUL byte";
        }
        if (why == NULL) {
            json_array_append_new(records, obj); /* steals obj */
        } else {
            printf("  load: skipping line %ld: %s\n", lineno, why);
            json_decref(obj);
            skipped++;
        }
    }
    fclose(f);
    return skipped;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void show_file(const char *dir, const char *name)
{
    char path[PATH_BYTES], buf[256];
    if (join_path(path, dir, name) != 0)
        return;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        printf("  %s: (no such file)\n", name);
        return;
    }
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    printf("  %s now holds: %s", name, buf);
    if (n == 0 || buf[n - 1] != '\n')
        printf("  (no newline at the end)\n");
}

static int part1_replace_a_file(const char *dir)
{
    char tmp[PATH_BYTES];

    printf("== 1. Replacing a file: temporary file, fsync, rename, fsync the directory ==\n");
    if (save_atomically(dir, "settings.json", "{\"volume\":3}\n", 13) != 0)
        return -1;
    show_file(dir, "settings.json");

    /* A crash in the middle of the next save: half the new contents reached the temporary
     * file, and the program died before rename(). */
    if (join_path(tmp, dir, "settings.json.tmp") != 0)
        return -1;
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    fputs("{\"volu", f);
    fclose(f);
    printf("  a crash before rename() left settings.json.tmp half-written:\n");
    show_file(dir, "settings.json");
    printf("  the old file is intact; at start-up a leftover .tmp is simply deleted\n");
    unlink(tmp);

    if (save_atomically(dir, "settings.json", "{\"volume\":7}\n", 13) != 0)
        return -1;
    printf("  the next save completes:\n");
    show_file(dir, "settings.json");
    return 0;
}

static int part2_append_log(const char *dir)
{
    char path[PATH_BYTES];
    const char *texts[] = {"hello", "how are you?", "fine"};
    json_t *records = json_array();
    char *all = NULL;
    FILE *out = NULL;
    int rc = -1;

    printf("\n== 2. An append-only log: one JSON line per record, a torn last line skipped ==\n");
    if (join_path(path, dir, "chat.jsonl") != 0)
        goto done;
    out = fopen(path, "a");
    if (out == NULL || records == NULL)
        goto done;
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        json_t *record = json_pack("{s:s, s:s}", "nick", "alice", "text", texts[i]);
        int failed = record == NULL || log_append(out, record) != 0;
        json_decref(record);
        if (failed)
            goto done;
    }
    /* What a crash in the middle of the fourth append leaves: part of a line, no newline. */
    fputs("{\"nick\":\"bob\",\"te", out);
    fclose(out);
    out = NULL;
    printf("  appended 3 records, then a crash tore the 4th\n");

    long skipped = log_load(path, records);
    if (skipped < 0)
        goto done;
    printf("  load: %zu records kept, %ld line(s) skipped\n", json_array_size(records), skipped);
    if (skipped > 0) {
        /* Rewrite the log with only the good records (compaction), with part 1's function: the
         * next append must not be glued onto the torn piece. */
        size_t len = 0, cap = 1;
        for (size_t i = 0; i < json_array_size(records); i++)
            cap += RECORD_MAX_BYTES + 1;
        all = malloc(cap);
        if (all == NULL)
            goto done;
        for (size_t i = 0; i < json_array_size(records); i++) {
            size_t n = json_dumpb(json_array_get(records, i), all + len, cap - len - 1,
                                  JSON_COMPACT | JSON_SORT_KEYS);
            if (n == 0 || n > RECORD_MAX_BYTES)
                goto done;
            len += n;
            all[len++] = '\n';
        }
        if (save_atomically(dir, "chat.jsonl", all, len) != 0)
            goto done;
        printf("  compacted chat.jsonl: %zu complete lines, the torn one is gone\n",
               json_array_size(records));
    }
    rc = 0;
done:
    if (out != NULL)
        fclose(out);
    free(all);
    json_decref(records);
    return rc;
}

/* Times FSYNC_ROUNDS one-line appends, without and with an fsync after each. */
static int part3_fsync_cost(const char *dir)
{
    char path[PATH_BYTES];
    double plain_ms, synced_ms, t0;

    printf("\n== 3. What fsync costs here ==\n");
    if (join_path(path, dir, "timing.log") != 0)
        return -1;
    FILE *f = fopen(path, "a");
    if (f == NULL)
        return -1;
    t0 = now_ms();
    for (int i = 0; i < FSYNC_ROUNDS; i++)
        if (fprintf(f, "{\"round\":%d}\n", i) < 0 || fflush(f) != 0)
            goto fail;
    plain_ms = (now_ms() - t0) / FSYNC_ROUNDS;
    t0 = now_ms();
    for (int i = 0; i < FSYNC_ROUNDS; i++)
        if (fprintf(f, "{\"round\":%d}\n", i) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0)
            goto fail;
    synced_ms = (now_ms() - t0) / FSYNC_ROUNDS;
    fclose(f);
    printf("  append + fflush:         %8.3f ms per line\n", plain_ms);
    printf("  append + fflush + fsync: %8.3f ms per line\n", synced_ms);
    printf(
        "  fsync waits for the device: typically 0.05 to a few ms on an SSD, 10 ms or more on\n"
        "  a spinning disk or a busy network volume, almost nothing on tmpfs. The figure varies\n"
        "  with the file system and with what else is writing.\n");
    return 0;
fail:
    fclose(f);
    return -1;
}

/* Removes what the demo wrote, and its directory. */
static void remove_demo_files(const char *dir)
{
    const char *names[] = {"settings.json", "settings.json.tmp", "chat.jsonl", "chat.jsonl.tmp",
                           "timing.log"};
    char path[PATH_BYTES];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (join_path(path, dir, names[i]) == 0)
            unlink(path);
    }
    rmdir(dir);
}

int main(int argc, char **argv)
{
    char dir[PATH_BYTES];
    const char *parent = "/tmp";
    int argi = 1, rc = 1;

    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, even into a pipe */
    if (argi < argc && strcmp(argv[argi], "--demo") == 0)
        argi++;
    if (argi < argc && argv[argi][0] != '-')
        parent = argv[argi++];
    if (argi != argc || strlen(parent) > PATH_BYTES - 64) {
        fprintf(stderr, "usage: %s [--demo] [PARENT_DIR]\n", argv[0]);
        return 2;
    }
    /* A fresh directory of our own, so the demo never touches a file it did not create. */
    if (join_path(dir, parent, "durable-writes-XXXXXX") != 0 || mkdtemp(dir) == NULL) {
        fprintf(stderr, "durable-writes: cannot create a directory in %s: %s\n", parent,
                strerror(errno));
        return 1;
    }
    printf("writing in %s\n\n", dir);
    if (part1_replace_a_file(dir) != 0 || part2_append_log(dir) != 0 ||
        part3_fsync_cost(dir) != 0) {
        fprintf(stderr, "durable-writes: %s\n", strerror(errno));
        goto cleanup;
    }
    rc = 0;
cleanup:
    remove_demo_files(dir);
    return rc;
}
