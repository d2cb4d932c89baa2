/*
 * replay.c - see replay.h. One program at a time: start it, play every event at its recorded
 * time (pauses capped), keep reading every connection meanwhile (a server that answers while
 * a client still sends must never block on it), let the answers settle, stop the program.
 * Then the same against the reference, and both answers side by side.
 */
#include "replay.h"

#include "proc.h"
#include "transcript.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REPLAY_COLUMN 40        /* characters of one answer's column */
#define REPLAY_CLIENTS_SHOWN 12 /* clients shown in detail; the rest are counted */
#define REPLAY_OUTPUT_LINES 8   /* lines of a program's own output shown */
#define REPLAY_CONNECT_MS 2000
#define REPLAY_SEND_MS 5000 /* for the server to take one chunk */

/* Linux's MSG_NOSIGNAL; elsewhere SIGPIPE is ignored while a replay runs (replay_run). */
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

enum replay_kind { EV_CONNECT, EV_SEND, EV_SHUTDOWN, EV_RESET, EV_CLOSE };

struct replay_event {
    double ms;
    enum replay_kind kind;
    int slot; /* index into the clients */
    unsigned char *data;
    size_t len;
};

struct replay_file {
    char exercise[64], test[128], tree[128], build[256];
    char program[512]; /* how the test started the program; "" when it used the library */
    int cut;           /* the test sent more than the file holds */
    struct replay_event *ev;
    size_t nev, cap;
    int ids[REPLAY_MAX_CLIENTS]; /* client numbers, by slot */
    size_t sent[REPLAY_MAX_CLIENTS], chunks[REPLAY_MAX_CLIENTS];
    int nclients;
    unsigned ports[8];
    int nports;
};

struct replay_answer {
    unsigned char *data; /* REPLAY_ANSWER_MAX bytes */
    size_t len, dropped;
    int fd;
    int eof, reset, refused, stalled, closed_by_client;
};

struct replay_target {
    const char *label; /* "your program", "the reference" */
    char path[1024];   /* the program, from the root */
    char *build_log;   /* when it did not build */
    int started;       /* printed "listening on" */
    char output[REPLAY_OUTPUT_MAX + 1];
    size_t output_len;
    char ended[128];     /* how it ended */
    int ran_out_of_time; /* the replay hit REPLAY_TOTAL_MS */
    struct replay_answer a[REPLAY_MAX_CLIENTS];
};

static volatile sig_atomic_t replay_interrupted;

static void replay_interrupt_cb(int sig)
{
    replay_interrupted = sig;
}

static double now_ms(void)
{
    return util_now_s() * 1000.0;
}

/* ---- the file ------------------------------------------------------------------------- */

/* Reads a C string literal body (transcript_escape's) from *p up to its closing quote.
 * Returns the bytes (malloc'd) and their count in *len, or NULL when malformed. */
static unsigned char *unescape(const char *p, const char *end, size_t *len)
{
    unsigned char *out = malloc((size_t)(end - p) + 1);
    size_t o = 0;

    if (out == NULL)
        util_oom();
    while (p < end && *p != '"') {
        if (*p != '\\') {
            out[o++] = (unsigned char)*p++;
            continue;
        }
        if (++p >= end)
            break;
        char c = *p++;
        switch (c) {
        case 'n':
            out[o++] = '\n';
            break;
        case 'r':
            out[o++] = '\r';
            break;
        case 't':
            out[o++] = '\t';
            break;
        case '0':
            out[o++] = '\0';
            break;
        case 'x': {
            char hex[3] = {0};
            if (end - p < 2)
                goto bad;
            memcpy(hex, p, 2);
            char *stop;
            unsigned long v = strtoul(hex, &stop, 16);
            if (*stop != '\0')
                goto bad;
            out[o++] = (unsigned char)v;
            p += 2;
            break;
        }
        default: /* \\ and \" */
            out[o++] = (unsigned char)c;
        }
    }
    if (p >= end || *p != '"')
        goto bad;
    *len = o;
    return out;
bad:
    free(out);
    return NULL;
}

static int slot_of(struct replay_file *rf, int id)
{
    for (int i = 0; i < rf->nclients; i++)
        if (rf->ids[i] == id)
            return i;
    if (rf->nclients == REPLAY_MAX_CLIENTS)
        return -1;
    rf->ids[rf->nclients] = id;
    return rf->nclients++;
}

static void add_event(struct replay_file *rf, const struct replay_event *ev)
{
    if (rf->nev == rf->cap) {
        rf->cap = rf->cap ? rf->cap * 2 : 64;
        struct replay_event *bigger = realloc(rf->ev, rf->cap * sizeof *bigger);
        if (bigger == NULL)
            util_oom();
        rf->ev = bigger;
    }
    rf->ev[rf->nev++] = *ev;
}

static void replay_file_free(struct replay_file *rf)
{
    for (size_t i = 0; i < rf->nev; i++)
        free(rf->ev[i].data);
    free(rf->ev);
}

static void copy_word(char *dst, size_t dstsz, const char *src, size_t len)
{
    snprintf(dst, dstsz, "%.*s", (int)len, src);
}

/* Parses one event line ("1.3 send c1 \"...\""). Returns 0, or -1 when malformed. */
static int parse_event(struct replay_file *rf, const char *line, size_t len)
{
    const char *end = line + len;
    char *p;
    struct replay_event ev = {.ms = strtod(line, &p)};
    char word[16];
    size_t n;

    if (p == line || *p != ' ')
        return -1;
    p++;
    n = strcspn(p, " \n");
    copy_word(word, sizeof word, p, n);
    p += n;
    if (strcmp(word, "cut") == 0) {
        rf->cut = 1;
        return 0;
    }
    if (strcmp(word, "program") == 0) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        size_t blen;
        unsigned char *cmd = q != NULL ? unescape(q + 1, end, &blen) : NULL;
        if (cmd == NULL)
            return -1;
        snprintf(rf->program, sizeof rf->program, "%.*s", (int)blen, (char *)cmd);
        free(cmd);
        return 0;
    }
    static const char *const kinds[] = {"connect", "send", "shutdown", "reset", "close"};
    int kind = -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(word, kinds[i]) == 0)
            kind = i;
    if (kind < 0 || strncmp(p, " c", 2) != 0)
        return -1;
    long id = strtol(p + 2, &p, 10);
    if (id <= 0)
        return -1;
    ev.kind = (enum replay_kind)kind;
    ev.slot = slot_of(rf, (int)id);
    if (ev.slot < 0)
        return 0; /* beyond REPLAY_MAX_CLIENTS: left out */
    if (ev.kind == EV_CONNECT) {
        unsigned long port = strtoul(p, NULL, 10);
        int known = 0;
        for (int i = 0; i < rf->nports; i++)
            known |= rf->ports[i] == port;
        if (!known && rf->nports < 8)
            rf->ports[rf->nports++] = (unsigned)port;
    } else if (ev.kind == EV_SEND) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        ev.data = q != NULL ? unescape(q + 1, end, &ev.len) : NULL;
        if (ev.data == NULL)
            return -1;
        rf->sent[ev.slot] += ev.len;
        rf->chunks[ev.slot]++;
    }
    add_event(rf, &ev);
    return 0;
}

/* Loads a replay file. Returns 0, or -1 with the reason in err. */
static int replay_load(struct replay_file *rf, const char *path, char *err, size_t errsz)
{
    memset(rf, 0, sizeof *rf);
    char *text = util_read_file(path);
    if (text == NULL) {
        snprintf(err, errsz, "cannot read %s", path);
        return -1;
    }
    const char *cursor = text, *line;
    size_t len;
    int lineno = 0, rc = 0;
    while (rc == 0 && util_next_line(&cursor, &line, &len)) {
        lineno++;
        if (len == 0 || line[0] == '#')
            continue;
        size_t key = strcspn(line, " ");
        const char *value = line + key + 1;
        size_t vlen = key < len ? len - key - 1 : 0;
        if (key < len && strncmp(line, "exercise", key) == 0 && key == 8)
            copy_word(rf->exercise, sizeof rf->exercise, value, vlen);
        else if (key < len && key == 4 && strncmp(line, "test", 4) == 0)
            copy_word(rf->test, sizeof rf->test, value, vlen);
        else if (key < len && key == 4 && strncmp(line, "tree", 4) == 0)
            copy_word(rf->tree, sizeof rf->tree, value, vlen);
        else if (key < len && key == 5 && strncmp(line, "build", 5) == 0)
            copy_word(rf->build, sizeof rf->build, value, vlen);
        else if (parse_event(rf, line, len) != 0)
            rc = -1;
    }
    free(text);
    if (rc != 0)
        snprintf(err, errsz, "%s:%d: not a replay record", path, lineno);
    else if (rf->exercise[0] == '\0' || rf->tree[0] == '\0' || rf->build[0] == '\0')
        snprintf(err, errsz, "%s: no exercise, tree or build line: not a replay file", path);
    else if (strstr(rf->tree, "..") != NULL || strchr(rf->tree, '/') != NULL ||
             strstr(rf->build, "..") != NULL || rf->build[0] == '/')
        snprintf(err, errsz, "%s: the tree or build directory leaves the repository", path);
    else
        return 0;
    replay_file_free(rf);
    return -1;
}

int replay_save(const char *raw, const char *path, const char *shown,
                const struct course_exercise *ex, const char *test, const char *tree,
                const char *build_dir, char *err, size_t errsz)
{
    char *text = util_read_file(raw);
    if (text == NULL || strstr(text, " connect c") == NULL) {
        free(text);
        return 0;
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        free(text);
        snprintf(err, errsz, "cannot write %s", path);
        return -1;
    }
    fprintf(f,
            "# What the clients of %s sent, byte for byte,\n"
            "# in their send() calls, with the milliseconds since the test started. Play it\n"
            "# against your program (and the reference, when solutions/ is there):\n"
            "#     ./grader/grade --replay %s\n"
            "exercise %s\ntest %s\ntree %s\nbuild %s\n",
            test, shown, ex->id, test, tree, build_dir);
    fputs(text, f);
    free(text);
    if (fclose(f) != 0) {
        snprintf(err, errsz, "cannot write %s", path);
        return -1;
    }
    return 1;
}

/* ---- playing -------------------------------------------------------------------------- */

static void keep_output(struct replay_target *t, const char *buf, size_t n)
{
    size_t room = REPLAY_OUTPUT_MAX - t->output_len;
    size_t take = n < room ? n : room;
    memcpy(t->output + t->output_len, buf, take);
    t->output_len += take;
    t->output[t->output_len] = '\0';
}

static void keep_answer(struct replay_answer *a, const char *buf, size_t n)
{
    size_t room = REPLAY_ANSWER_MAX - a->len;
    size_t take = n < room ? n : room;
    memcpy(a->data + a->len, buf, take);
    a->len += take;
    a->dropped += n - take;
}

/* Reads whatever the connections and the program's output have, for up to wait_ms. With
 * write_fd >= 0, returns as soon as that connection may be written. Returns the bytes read. */
static size_t pump(struct replay_target *t, int nclients, int *out_fd, int wait_ms, int write_fd)
{
    struct pollfd pfd[REPLAY_MAX_CLIENTS + 1];
    int who[REPLAY_MAX_CLIENTS + 1];
    size_t got = 0;
    double until = now_ms() + wait_ms;

    do {
        int n = 0;
        for (int i = 0; i < nclients; i++) {
            struct replay_answer *a = &t->a[i];
            if (a->fd < 0 || (a->eof && a->fd != write_fd))
                continue;
            pfd[n].fd = a->fd;
            pfd[n].events = (short)((a->eof ? 0 : POLLIN) | (a->fd == write_fd ? POLLOUT : 0));
            who[n++] = i;
        }
        if (*out_fd >= 0) {
            pfd[n].fd = *out_fd;
            pfd[n].events = POLLIN;
            who[n++] = -1;
        }
        double left = until - now_ms();
        int r = poll(pfd, (nfds_t)n, left > 0 ? (int)left + 1 : 0);
        if (r < 0 && errno == EINTR) {
            if (replay_interrupted)
                return got;
            continue;
        }
        if (r <= 0)
            break;
        int writable = 0;
        for (int k = 0; k < n; k++) {
            char buf[16384];
            if (pfd[k].revents == 0)
                continue;
            if (who[k] >= 0 && (pfd[k].revents & POLLOUT) && pfd[k].fd == write_fd)
                writable = 1;
            if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t m = read(pfd[k].fd, buf, sizeof buf);
            if (who[k] < 0) {
                if (m > 0)
                    keep_output(t, buf, (size_t)m);
                else if (m == 0 || errno != EINTR) {
                    close(*out_fd);
                    *out_fd = -1;
                }
                continue;
            }
            struct replay_answer *a = &t->a[who[k]];
            if (m > 0) {
                keep_answer(a, buf, (size_t)m);
                got += (size_t)m;
            } else if (m == 0) {
                a->eof = 1;
            } else if (errno != EAGAIN && errno != EINTR) {
                a->eof = 1;
                a->reset = 1;
            }
        }
        if (writable)
            break;
    } while (now_ms() < until && !replay_interrupted);
    return got;
}

static int connect_to(unsigned port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    fcntl(fd, F_SETFD, FD_CLOEXEC); /* the next program started must not inherit it */
    fcntl(fd, F_SETFL, O_NONBLOCK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (poll(&pfd, 1, REPLAY_CONNECT_MS) != 1 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Starts the program with --port 0 in `dir`; returns its pid (its own process group) and the
 * read end of its stdout+stderr, or -1. */
static pid_t start_program(const char *path, const char *dir, int *out_fd)
{
    char *argv[] = {(char *)path, "--port", "0", NULL};
    pid_t pid = proc_spawn(argv, dir, NULL, out_fd);
    if (pid > 0)
        fcntl(*out_fd, F_SETFL, O_NONBLOCK);
    return pid;
}

/* The port of the first "listening on HOST:PORT" line of the output, or 0. */
static unsigned listening_port(const char *out)
{
    const char *hit = strstr(out, "listening on ");
    const char *nl = hit != NULL ? strchr(hit, '\n') : NULL;
    if (nl == NULL)
        return 0;
    const char *colon = NULL;
    for (const char *p = hit; p < nl; p++)
        if (*p == ':')
            colon = p;
    long port = colon != NULL ? strtol(colon + 1, NULL, 10) : 0;
    return port > 0 && port < 65536 ? (unsigned)port : 0;
}

/* SIGTERM to the program's group, a grace, then SIGKILL; says how it ended in t->ended. */
static void stop_program(struct replay_target *t, pid_t pid, int *out_fd, int nclients)
{
    int status = 0;
    pid_t w = waitpid(pid, &status, WNOHANG);
    const char *how = "after SIGTERM";
    if (w == 0) {
        kill(-pid, SIGTERM);
        double until = now_ms() + REPLAY_STOP_MS;
        while ((w = waitpid(pid, &status, WNOHANG)) == 0 && now_ms() < until)
            pump(t, nclients, out_fd, 20, -1);
        if (w == 0) {
            kill(-pid, SIGKILL);
            w = waitpid(pid, &status, 0);
            how = "killed: SIGTERM did not stop it";
        }
    } else {
        how = "before the replay ended, by itself";
    }
    kill(-pid, SIGKILL); /* whatever it started */
    if (*out_fd >= 0) {
        pump(t, 0, out_fd, 50, -1);
        if (*out_fd >= 0)
            close(*out_fd);
        *out_fd = -1;
    }
    if (w != pid)
        snprintf(t->ended, sizeof t->ended, "could not be waited for");
    else if (WIFEXITED(status))
        snprintf(t->ended, sizeof t->ended, "exit status %d, %s", WEXITSTATUS(status), how);
    else if (WIFSIGNALED(status))
        snprintf(t->ended, sizeof t->ended, "killed by signal %d (%s), %s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)), how);
}

static void close_client(struct replay_answer *a, int reset)
{
    if (a->fd < 0)
        return;
    if (reset) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(a->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(a->fd);
    a->fd = -1;
    a->closed_by_client = 1;
}

/* Plays the whole file against t->path. */
static void play(const struct replay_file *rf, struct replay_target *t, const char *root)
{
    char dir[] = "/tmp/grade-replay-XXXXXX", program[2048];
    int out_fd = -1;

    for (int i = 0; i < rf->nclients; i++) {
        t->a[i].fd = -1;
        t->a[i].data = malloc(REPLAY_ANSWER_MAX);
        if (t->a[i].data == NULL)
            util_oom();
    }
    snprintf(program, sizeof program, "%s/%s", root, t->path);
    if (mkdtemp(dir) == NULL) {
        snprintf(t->ended, sizeof t->ended, "no scratch directory: %s", strerror(errno));
        return;
    }
    pid_t pid = start_program(program, dir, &out_fd);
    if (pid < 0) {
        snprintf(t->ended, sizeof t->ended, "could not start: %s", strerror(errno));
        rmdir(dir);
        return;
    }
    unsigned port = 0;
    double until = now_ms() + REPLAY_START_MS;
    while (port == 0 && out_fd >= 0 && now_ms() < until && !replay_interrupted) {
        pump(t, 0, &out_fd, 50, -1);
        port = listening_port(t->output);
    }
    t->started = port != 0;
    double start = now_ms(), prev = 0;
    for (size_t i = 0; t->started && i < rf->nev && !replay_interrupted; i++) {
        const struct replay_event *ev = &rf->ev[i];
        struct replay_answer *a = &t->a[ev->slot];
        double gap = ev->ms - prev;
        prev = ev->ms;
        if (gap > REPLAY_GAP_MAX_MS)
            gap = REPLAY_GAP_MAX_MS;
        if (now_ms() - start + gap > REPLAY_TOTAL_MS) {
            t->ran_out_of_time = 1;
            break;
        }
        if (gap > 0)
            pump(t, rf->nclients, &out_fd, (int)gap, -1);
        switch (ev->kind) {
        case EV_CONNECT:
            close_client(a, 0);
            a->closed_by_client = 0;
            a->fd = connect_to(port);
            a->refused = a->fd < 0;
            break;
        case EV_SEND: {
            size_t off = 0;
            double deadline = now_ms() + REPLAY_SEND_MS;
            while (a->fd >= 0 && off < ev->len && !a->stalled && !replay_interrupted) {
                ssize_t n = send(a->fd, ev->data + off, ev->len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n > 0) {
                    off += (size_t)n;
                } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                    if (now_ms() > deadline)
                        a->stalled = 1;
                    else
                        pump(t, rf->nclients, &out_fd, 50, a->fd);
                } else {
                    break; /* the server closed or reset: what it said is in the answer */
                }
            }
            break;
        }
        case EV_SHUTDOWN:
            if (a->fd >= 0)
                shutdown(a->fd, SHUT_WR);
            break;
        case EV_RESET:
        case EV_CLOSE:
            pump(t, rf->nclients, &out_fd, 0, -1);
            close_client(a, ev->kind == EV_RESET);
            break;
        }
    }
    /* The answers settle: silence for REPLAY_SETTLE_MS, or REPLAY_SETTLE_MAX_MS in all. */
    double settle_until = now_ms() + REPLAY_SETTLE_MAX_MS;
    while (t->started && now_ms() < settle_until && !replay_interrupted)
        if (pump(t, rf->nclients, &out_fd, REPLAY_SETTLE_MS, -1) == 0)
            break;
    for (int i = 0; i < rf->nclients; i++)
        if (t->a[i].fd >= 0) {
            close(t->a[i].fd);
            t->a[i].fd = -1;
        }
    stop_program(t, pid, &out_fd, rf->nclients);
    char *rm[] = {"rm", "-rf", dir, NULL};
    struct proc_result ignored;
    if (proc_run(rm, NULL, NULL, 30, &ignored) == 0)
        proc_result_free(&ignored);
}

/* ---- showing -------------------------------------------------------------------------- */

/* The bytes with HTTP "Date:" header values blanked: they differ between any two runs. */
static size_t normalise(const unsigned char *in, size_t len, unsigned char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        int line_start = i == 0 || in[i - 1] == '\n';
        if (line_start && len - i > 6 && memcmp(in + i, "Date: ", 6) == 0) {
            memcpy(out + o, "Date: *", 7);
            o += 7;
            i += 6;
            while (i < len && in[i] != '\r' && in[i] != '\n')
                i++;
            continue;
        }
        out[o++] = in[i++];
    }
    return o;
}

static int same_answer(const struct replay_answer *x, const struct replay_answer *y)
{
    if (x->refused != y->refused ||
        (x->eof && !x->closed_by_client) != (y->eof && !y->closed_by_client))
        return 0;
    unsigned char *nx = malloc(x->len + 8), *ny = malloc(y->len + 8);
    if (nx == NULL || ny == NULL)
        util_oom();
    size_t lx = normalise(x->data, x->len, nx), ly = normalise(y->data, y->len, ny);
    int same = lx == ly && memcmp(nx, ny, lx) == 0 && x->dropped == y->dropped;
    free(nx);
    free(ny);
    return same;
}

/* One byte as shown: as in a C string, with \xNN for anything else (NUL too). */
static void escape_byte(unsigned char c, char esc[8])
{
    if (c == '\n')
        strcpy(esc, "\\n");
    else if (c == '\r')
        strcpy(esc, "\\r");
    else if (c == '\t')
        strcpy(esc, "\\t");
    else if (c == '\\')
        strcpy(esc, "\\\\");
    else if (c == '"')
        strcpy(esc, "\\\"");
    else if (c >= 0x20 && c < 0x7f)
        snprintf(esc, 8, "%c", c);
    else
        snprintf(esc, 8, "\\x%02x", c);
}

/* The answer as rows of at most REPLAY_COLUMN characters: escaped as in C, a new row after
 * each line end, an escape never split. Returns the number of rows (all of them); fills at
 * most `max` (each REPLAY_COLUMN + 1 bytes). */
static int answer_rows(const struct replay_answer *a, char rows[][REPLAY_COLUMN + 1], int max)
{
    int n = 0;
    size_t col = 0;
    char cur[REPLAY_COLUMN + 1] = "";

    for (size_t i = 0; i < a->len; i++) {
        char esc[8];
        unsigned char c = a->data[i];
        escape_byte(c, esc);
        size_t el = strlen(esc);
        if (col + el > REPLAY_COLUMN) {
            if (n < max)
                strcpy(rows[n], cur);
            n++;
            col = 0;
        }
        memcpy(cur + col, esc, el);
        col += el;
        cur[col] = '\0';
        if (c == '\n') {
            if (n < max)
                strcpy(rows[n], cur);
            n++;
            col = 0;
            cur[0] = '\0';
        }
    }
    if (col > 0) {
        if (n < max)
            strcpy(rows[n], cur);
        n++;
    }
    char end[REPLAY_COLUMN + 1];
    if (a->refused)
        snprintf(end, sizeof end, "(could not connect)");
    else if (a->len == 0 && a->dropped == 0 && !a->eof)
        snprintf(end, sizeof end, "(nothing)");
    else
        end[0] = '\0';
    if (a->dropped > 0)
        snprintf(end, sizeof end, "(+%zu bytes more)", a->dropped);
    if (a->eof && !a->closed_by_client) {
        if (end[0] != '\0') {
            if (n < max)
                strcpy(rows[n], end);
            n++;
        }
        snprintf(end, sizeof end, a->reset ? "(reset by the server)" : "(closed by the server)");
    }
    if (a->stalled) {
        if (end[0] != '\0') {
            if (n < max)
                strcpy(rows[n], end);
            n++;
        }
        snprintf(end, sizeof end, "(the server stopped reading)");
    }
    if (end[0] != '\0') {
        if (n < max)
            strcpy(rows[n], end);
        n++;
    }
    return n;
}

static void show_sent(const struct replay_file *rf, int slot)
{
    char shown[3 * REPLAY_COLUMN];
    size_t left = sizeof shown - 16, o = 0;
    int first = 1;

    shown[0] = '\0';
    for (size_t i = 0; i < rf->nev && o < left; i++) {
        const struct replay_event *ev = &rf->ev[i];
        if (ev->slot != slot || ev->kind != EV_SEND)
            continue;
        for (size_t k = 0; k < ev->len && o < left; k++) {
            char esc[8];
            escape_byte(ev->data[k], esc);
            o += (size_t)snprintf(shown + o, sizeof shown - o, "%s", esc);
        }
        first = 0;
    }
    printf("c%d  sent %zu byte%s in %zu chunk%s%s%s%s%s\n", rf->ids[slot], rf->sent[slot],
           rf->sent[slot] == 1 ? "" : "s", rf->chunks[slot], rf->chunks[slot] == 1 ? "" : "s",
           first ? "" : ": \"", shown, first ? "" : "\"", o >= left ? "..." : "");
}

/* Prints one client's answers side by side (or alone). Returns 1 when they differ. */
static int show_client(const struct replay_file *rf, int slot, const struct replay_target *mine,
                       const struct replay_target *ref)
{
    static char left[REPLAY_ROWS_MAX][REPLAY_COLUMN + 1], right[REPLAY_ROWS_MAX][REPLAY_COLUMN + 1];
    int nl = answer_rows(&mine->a[slot], left, REPLAY_ROWS_MAX);
    int nr = ref != NULL ? answer_rows(&ref->a[slot], right, REPLAY_ROWS_MAX) : 0;
    int differ = ref != NULL && !same_answer(&mine->a[slot], &ref->a[slot]);
    int rows = nl > nr ? nl : nr;

    show_sent(rf, slot);
    if (ref != NULL)
        printf("    %-*s  %s\n", REPLAY_COLUMN + 2, "your program got", "the reference got");
    else
        printf("    your program got\n");
    for (int i = 0; i < rows && i < REPLAY_ROWS_MAX; i++) {
        const char *l = i < nl ? left[i] : "";
        if (ref == NULL) {
            printf("    \"%s\"\n", l);
            continue;
        }
        const char *r = i < nr ? right[i] : "";
        int dates = strncmp(l, "Date: ", 6) == 0 && strncmp(r, "Date: ", 6) == 0;
        int row_differs = differ && !dates && ((i < nl) != (i < nr) || strcmp(l, r) != 0);
        printf("  %c %-*s  %s\n", row_differs ? '*' : ' ', REPLAY_COLUMN + 2, l, r);
    }
    if (rows > REPLAY_ROWS_MAX)
        printf("    ... (%d more rows)\n", rows - REPLAY_ROWS_MAX);
    if (differ)
        printf("    -> c%d's answers differ (* marks the rows)\n", rf->ids[slot]);
    return differ;
}

/* The last lines a program printed, escaped. */
static void show_output(const struct replay_target *t)
{
    int total = 0, shown = 0;
    const char *cursor = t->output, *line;
    size_t len;
    while (util_next_line(&cursor, &line, &len))
        total++;
    if (total == 0)
        return;
    printf("  %s printed (last %d of %d lines):\n", t->label,
           total < REPLAY_OUTPUT_LINES ? total : REPLAY_OUTPUT_LINES, total);
    cursor = t->output;
    while (util_next_line(&cursor, &line, &len)) {
        if (shown++ < total - REPLAY_OUTPUT_LINES)
            continue;
        printf("    ");
        for (size_t i = 0; i < len && i < 160; i++) {
            unsigned char c = (unsigned char)line[i];
            if (c >= 0x20 && c < 0x7f)
                putchar(c);
            else
                printf("\\x%02x", c);
        }
        printf("%s\n", len > 160 ? "..." : "");
    }
}

/* Builds the program of `tree`; returns 0, or -1 with the build's last lines in t->build_log. */
static int build_program(const char *build_dir, struct replay_target *t, const char *target)
{
    struct proc_result res;
    char *argv[] = {"ninja", "-C", (char *)build_dir, (char *)target, NULL};
    if (proc_run(argv, NULL, NULL, LIMIT_BUILD_S, &res) != 0)
        util_oom();
    int ok = proc_ok(&res);
    if (!ok) {
        size_t len = strlen(res.output);
        const char *from = len > 3000 ? res.output + len - 3000 : res.output;
        t->build_log = xstrdup(from);
    }
    proc_result_free(&res);
    return ok ? 0 : -1;
}

static int prepare(const char *build_dir, const char *tree, const struct course_exercise *ex,
                   struct replay_target *t, const char *label)
{
    char target[512];
    memset(t, 0, sizeof *t);
    t->label = label;
    runner_program_path(tree, ex, target, sizeof target);
    snprintf(t->path, sizeof t->path, "%s/%s", build_dir, target);
    return build_program(build_dir, t, target);
}

static void free_target(struct replay_target *t, int nclients)
{
    for (int i = 0; i < nclients; i++)
        free(t->a[i].data);
    free(t->build_log);
}

int replay_run(const struct course *c, const char *path, int fast)
{
    struct replay_file rf;
    char err[512], cwd[4096];

    if (replay_load(&rf, path, err, sizeof err) != 0) {
        fprintf(stderr, "grade: --replay: %s\n", err);
        return 2;
    }
    const struct course_exercise *ex = course_find(c, rf.exercise);
    const char *build_dir = fast ? "build" : rf.build;
    char ninja[600];
    snprintf(ninja, sizeof ninja, "%s/build.ninja", build_dir);
    if (ex == NULL || getcwd(cwd, sizeof cwd) == NULL || !util_is_file(ninja)) {
        fprintf(stderr, "grade: --replay: %s\n",
                ex == NULL ? "the file names no exercise of this course"
                           : "the build directory it names is not configured: grade first");
        replay_file_free(&rf);
        return 2;
    }
    int with_reference = util_is_dir("solutions");
    struct replay_target *mine = calloc(1, sizeof *mine), *ref = calloc(1, sizeof *ref);
    if (mine == NULL || ref == NULL)
        util_oom();

    struct sigaction sa = {.sa_handler = replay_interrupt_cb}, old_int, old_term, old_pipe;
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    sigemptyset(&sa.sa_mask);
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGPIPE, &ignore, &old_pipe); /* a send to a server that closed: EPIPE instead */

    double recorded = rf.nev > 0 ? rf.ev[rf.nev - 1].ms - rf.ev[0].ms : 0;
    printf("Replay of %s %s\n  from %s\n", ex->id, rf.test, path);
    printf("  %d client%s, %zu events over %.1f ms as recorded (a pause longer than %d ms is\n"
           "  cut to %d ms)\n",
           rf.nclients, rf.nclients == 1 ? "" : "s", rf.nev, recorded, REPLAY_GAP_MAX_MS,
           REPLAY_GAP_MAX_MS);
    if (rf.program[0] != '\0')
        printf("  The test started the program as \"%s\";\n  the replay starts it with --port 0 "
               "alone, so its other options take their defaults.\n",
               rf.program);
    else
        printf("  Note: the test ran the server through its library API, with a configuration of "
               "its own\n  (a short idle timeout, a connection limit, ...). The replay runs the "
               "command-line\n  program with --port 0 and its defaults: an answer that depends "
               "on that configuration\n  may differ from what the test saw.\n");
    if (rf.nports > 1)
        printf("  The test talked to %d servers; the replay sends everything to one.\n", rf.nports);
    if (rf.cut)
        printf("  The test sent more than %d bytes; the replay holds the first %d.\n",
               TRANSCRIPT_REPLAY_MAX_BYTES, TRANSCRIPT_REPLAY_MAX_BYTES);
    if (!with_reference)
        printf("  " REPLAY_NO_REFERENCE "\n");

    int differ = 0, failed = 0;
    if (prepare(build_dir, rf.tree, ex, mine, "your program") != 0) {
        printf("\n%s does not build:\n%s\n", mine->path, mine->build_log);
        failed = 1;
    }
    if (!failed && with_reference &&
        prepare(build_dir, "solutions", ex, ref, "the reference") != 0) {
        fprintf(stderr, "grade: --replay: the reference does not build:\n%s\n", ref->build_log);
        free_target(mine, rf.nclients);
        free_target(ref, rf.nclients);
        free(mine);
        free(ref);
        replay_file_free(&rf);
        return 2;
    }
    if (!failed) {
        printf("  your program:  %s --port 0\n", mine->path);
        if (with_reference)
            printf("  the reference: %s --port 0\n", ref->path);
        fflush(stdout);
        play(&rf, mine, cwd);
        if (with_reference && !replay_interrupted)
            play(&rf, ref, cwd);
        printf("\n");
        if (!mine->started) {
            printf("Your program did not start: no \"listening on HOST:PORT\" line (%s).\n",
                   mine->ended[0] != '\0' ? mine->ended : "still silent after the wait");
            failed = 1;
        }
        if (with_reference && !ref->started)
            printf("The reference did not start (%s).\n", ref->ended);
        int shown = 0, more = 0, more_differ = 0;
        for (int i = 0; mine->started && i < rf.nclients; i++) {
            if (shown == REPLAY_CLIENTS_SHOWN) {
                more++;
                more_differ += with_reference && !same_answer(&mine->a[i], &ref->a[i]);
                continue;
            }
            differ += show_client(&rf, i, mine, with_reference ? ref : NULL);
            shown++;
            printf("\n");
        }
        differ += more_differ;
        if (more > 0)
            printf("... and %d more client%s (%d with different answers)\n\n", more,
                   more == 1 ? "" : "s", more_differ);
        if (mine->ran_out_of_time)
            printf("The replay stopped after %d ms.\n", REPLAY_TOTAL_MS);
        show_output(mine);
        printf("  your program: %s\n", mine->ended);
        if (with_reference) {
            show_output(ref);
            printf("  the reference: %s\n", ref->ended);
        }
    }
    if (replay_interrupted)
        printf("Interrupted; both servers are stopped.\n");
    int status;
    if (failed)
        status = 1;
    else if (!with_reference)
        status = 0;
    else
        status = differ > 0 || !ref->started ? 1 : 0;
    if (!failed && with_reference)
        printf("%s\n", status == 0 ? "Same answers from your program and the reference."
                                   : "The answers differ (HTTP Date: headers are not compared).");
    free_target(mine, rf.nclients);
    free_target(ref, rf.nclients);
    free(mine);
    free(ref);
    replay_file_free(&rf);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    return replay_interrupted ? 2 : status;
}
