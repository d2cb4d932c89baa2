/*
 * error_values.c - Rust's `?`, thiserror and anyhow, in C: return codes, one cleanup label, a
 * typed error enum, and an error value that gathers context on its way up (err.h).
 *
 * A small config loader fails in every way it can (a missing file, a directory, a file too big,
 * a syntax error, a value out of range) against files it writes into a fresh temporary
 * directory, and prints the error each failure produces at the top. Last, it nests contexts until
 * the fixed-size message buffer is full, to show what happens at the bound.
 *
 *     ./error-values          (--demo does the same)
 */
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CFG_MAX_BYTES 4096 /* a config file larger than this is refused, not read */

/* ---- thiserror: a typed error a caller can match on ---- */

/* What parsing a config can go wrong with. Like a `#[derive(Error)] enum`: a caller may switch
 * on it (retry on IO, report SYNTAX to the user), and cfg_error_str() is its Display. */
enum cfg_error {
    CFG_OK = 0,
    CFG_ERR_SYNTAX,  /* a line is not `key = value` */
    CFG_ERR_UNKNOWN, /* a key we do not know */
    CFG_ERR_RANGE,   /* a number outside its range */
};

static const char *cfg_error_str(enum cfg_error e)
{
    switch (e) {
    case CFG_OK:
        return "ok";
    case CFG_ERR_SYNTAX:
        return "expected `key = value`";
    case CFG_ERR_UNKNOWN:
        return "unknown key";
    case CFG_ERR_RANGE:
        return "value out of range";
    }
    return "unknown error"; /* not reached: -Wswitch warns when a case is missing above */
}

/* ---- the library layer: returns the typed error ---- */

struct config {
    int port;
    int workers;
};

/* Parses "key = value" lines. Returns CFG_OK, or the error and the 1-based line in *line.
 * Does not allocate: nothing to clean up on any path. */
static enum cfg_error config_parse(const char *text, struct config *cfg, int *line)
{
    char key[32];
    int value, used;

    *line = 0;
    for (const char *p = text; *p != '\0';) {
        const char *end = strchr(p, '\n');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        ++*line;
        if (sscanf(p, " %31[a-z] = %d%n", key, &value, &used) != 2 || (size_t)used != len)
            return CFG_ERR_SYNTAX;
        if (strcmp(key, "port") == 0) {
            if (value < 1 || value > 65535)
                return CFG_ERR_RANGE;
            cfg->port = value;
        } else if (strcmp(key, "workers") == 0) {
            if (value < 1 || value > 64)
                return CFG_ERR_RANGE;
            cfg->workers = value;
        } else {
            return CFG_ERR_UNKNOWN;
        }
        p += len + (end != NULL);
    }
    return CFG_OK;
}

/* ---- the application layer: `?` with context, one cleanup path ---- */

/* Reads the whole file into a malloc'd, NUL-terminated buffer. Returns it (the caller frees),
 * or NULL with *e set. Every exit after open() goes through `cleanup`, which closes the file. */
static char *read_file(const char *path, struct err *e)
{
    struct stat st;
    char *text = NULL;
    ssize_t got;
    int fd = open(path, O_RDONLY);

    if (fd < 0) {
        err_errno(e, errno, "open");
        return NULL;
    }
    if (fstat(fd, &st) != 0) {
        err_errno(e, errno, "fstat");
        goto cleanup;
    }
    if (st.st_size > CFG_MAX_BYTES) {
        err_set(e, "%lld bytes, more than the %d allowed", (long long)st.st_size, CFG_MAX_BYTES);
        goto cleanup;
    }
    text = malloc((size_t)st.st_size + 1);
    if (text == NULL) {
        err_errno(e, ENOMEM, "malloc");
        goto cleanup;
    }
    got = read(fd, text, (size_t)st.st_size);
    if (got < 0) {
        err_errno(e, errno, "read");
        free(text);
        text = NULL;
        goto cleanup;
    }
    text[got] = '\0';
cleanup:
    close(fd);
    return text;
}

/* Loads a config: `let text = read_file(path).context("reading config")?;` and so on.
 * Returns 0, or -1 with *e set. */
static int config_load(const char *path, struct config *cfg, struct err *e)
{
    char *text = NULL;
    int line, rc = -1;
    enum cfg_error perr;

    text = read_file(path, e);
    if (text == NULL) {
        err_context(e, "reading config");
        goto cleanup;
    }
    perr = config_parse(text, cfg, &line);
    if (perr != CFG_OK) {
        err_set(e, "line %d: %s", line, cfg_error_str(perr));
        err_context(e, "parsing config");
        goto cleanup;
    }
    rc = 0;
cleanup:
    free(text);
    return rc;
}

/* ---- the demo ---- */

/* Writes `text` to dir/name. Returns 0, or -1. */
static int write_text(const char *dir, const char *name, const char *text, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    size_t put = fwrite(text, 1, len, f);
    return fclose(f) == 0 && put == len ? 0 : -1;
}

static void try_load(const char *dir, const char *name)
{
    char path[256];
    struct config cfg = {8080, 1};
    struct err e = {0, ""};

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (config_load(path, &cfg, &e) == 0)
        printf("  %-14s ok: port %d, %d workers\n", name, cfg.port, cfg.workers);
    else
        printf("  %-14s error: %s (errno %d%s)\n", name, e.msg, e.code,
               e.code == ENOENT   ? " = ENOENT"
               : e.code == EISDIR ? " = EISDIR"
                                  : "");
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/error-values-XXXXXX";
    char big[CFG_MAX_BYTES + 2];
    const char *names[] = {"good.conf", "syntax.conf", "unknown.conf", "range.conf", "big.conf"};
    int rc = 1;

    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--demo") != 0)) {
        fprintf(stderr, "usage: %s [--demo]\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    memset(big, '#', sizeof big);
    if (write_text(dir, names[0], "port = 7000\nworkers = 4\n", 24) != 0 ||
        write_text(dir, names[1], "port = 7000\nworkers: 4\n", 23) != 0 ||
        write_text(dir, names[2], "port = 7000\ncolour = 3\n", 23) != 0 ||
        write_text(dir, names[3], "port = 70000\n", 13) != 0 ||
        write_text(dir, names[4], big, sizeof big) != 0) {
        fprintf(stderr, "could not write the test files in %s\n", dir);
        goto cleanup;
    }

    printf("== 1. one loader, every way it can fail ==\n");
    try_load(dir, "missing.conf");
    try_load(dir, ".");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        try_load(dir, names[i]);

    printf("\n== 2. the bound: contexts added until the %d-byte buffer is full ==\n", ERR_MSG_MAX);
    struct err e;
    err_errno(&e, ECONNRESET, "read");
    for (int depth = 1; depth <= 12; depth++) {
        err_context(&e, "layer %d", depth);
        if (depth == 3 || depth == 12)
            printf("  after %2d contexts (%zu bytes): %s\n", depth, strlen(e.msg), e.msg);
    }
    printf("  the text was cut, the root cause was not: errno %d (%s)\n", e.code, strerror(e.code));
    rc = 0;
cleanup:
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    return rc;
}
