/*
 * verify_reliability.c - the verify command's reliability checks: nothing the fixtures started
 * is left running; the fuzz harnesses run clean for a few seconds each (when clang has
 * libFuzzer); the three reference servers run clean under valgrind's memcheck (a few requests,
 * then SIGTERM); the threaded code has no data race under helgrind (exercise 03 with several
 * worker threads, lecture 05's channel tests), and helgrind does catch the race planted on
 * purpose in lecture 05's atomics demo, which proves the setup. Without valgrind or clang the
 * checks that need them are skipped with a notice.
 */
#include "verify_internal.h"

#include "proc.h"
#include "util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Linux's MSG_NOSIGNAL. Elsewhere the flag is 0: a send to a socket the server already closed
 * would raise SIGPIPE, but these exchanges serve the valgrind checks, which run on Linux. */
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

#define REL_FUZZ_DIR "build-fuzz" /* the clang build of tests/fuzz (the same as run-fuzz's) */
#define REL_FUZZ_SECONDS "4"      /* each harness's run in verify */
#define REL_START_S 60            /* a server under valgrind printing "listening on" */
#define REL_STOP_S 60             /* ... and exiting after SIGTERM */
#define REL_IO_MS 20000           /* one request to a server under valgrind */
#define REL_OUT_MAX (256 * 1024)  /* bytes of a valgrind run's output kept */
#define REL_PARALLEL 16           /* HTTP requests in flight at once, for the race checks */

static const char *const fuzz_names[] = {"chat-lines", "chat-framing", "items-json", "http-router",
                                         "echo-chunks"};

/* True when `prog` runs (found in PATH). */
static int have(const char *prog)
{
    char *argv[] = {(char *)prog, "--version", NULL};
    struct proc_result res;
    if (proc_run(argv, NULL, NULL, 30, &res) != 0)
        return 0;
    int ok = proc_ok(&res);
    proc_result_free(&res);
    return ok;
}

/* ---- nothing left running -------------------------------------------------------------- */

/* No process runs a program from the verify build any more (the fixtures' leftovers). */
static void check_nothing_left(struct checks *k)
{
    char prefix[4200], detail[2048] = "";
    int n = 0;

    snprintf(prefix, sizeof prefix, "%s/%s/", k->root, VERIFY_BUILD_DIR);
    DIR *d = opendir("/proc");
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        char link[64], exe[4200];
        int pid = atoi(e->d_name);
        if (pid <= 0 || pid == (int)getpid())
            continue;
        snprintf(link, sizeof link, "/proc/%d/exe", pid);
        ssize_t len = readlink(link, exe, sizeof exe - 1);
        if (len <= 0)
            continue;
        exe[len] = '\0';
        if (strncmp(exe, prefix, strlen(prefix)) == 0 && strstr(exe, "/grader/grader") == NULL) {
            add_detail(detail, sizeof detail, "pid %d: %s\n", pid, exe);
            n++;
        }
    }
    if (d != NULL)
        closedir(d);
    check(k, n == 0, detail, "no process of the graded submissions is left running");
}

/* ---- fuzzing --------------------------------------------------------------------------- */

static void check_fuzz(struct checks *k)
{
    struct proc_result res;
    char probe_src[256], probe_bin[256];

    snprintf(probe_src, sizeof probe_src, "%s/fuzz-probe.c", k->tmp_dir);
    snprintf(probe_bin, sizeof probe_bin, "%s/fuzz-probe", k->tmp_dir);
    FILE *f = fopen(probe_src, "w");
    if (f != NULL) {
        fputs("#include <stddef.h>\n#include <stdint.h>\n"
              "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\n"
              "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; "
              "return 0; }\n",
              f);
        fclose(f);
    }
    char *cc[] = {"clang", "-fsanitize=fuzzer,address,undefined", probe_src, "-o", probe_bin, NULL};
    if (!have("clang") || proc_run(cc, NULL, NULL, 120, &res) != 0) {
        printf("  skip fuzzing: clang is not installed (tests/fuzz/run-fuzz needs it)\n");
        return;
    }
    int usable = proc_ok(&res);
    proc_result_free(&res);
    if (!usable) {
        printf("  skip fuzzing: this clang has no libFuzzer (-fsanitize=fuzzer)\n");
        return;
    }
    char *opts[] = {"-Dfuzz=true", "-Db_sanitize=address,undefined", "-Db_lundef=false", NULL};
    char ninja_file[4300];
    snprintf(ninja_file, sizeof ninja_file, "%s/%s/build.ninja", k->root, REL_FUZZ_DIR);
    if (!util_is_file(ninja_file)) {
        char path[4300];
        snprintf(path, sizeof path, "%s/%s", k->root, REL_FUZZ_DIR);
        int wipe = util_is_dir(path); /* a half-made directory from an interrupted run */
        char *setup[] = {"meson",
                         "setup",
                         wipe ? "--wipe" : opts[0],
                         REL_FUZZ_DIR,
                         wipe ? opts[0] : opts[1],
                         wipe ? opts[1] : opts[2],
                         wipe ? opts[2] : NULL,
                         NULL};
        char *env[] = {"CC=clang", NULL};
        if (proc_run(setup, k->root, env, LIMIT_SETUP_S, &res) != 0)
            return;
        int ok = check(k, proc_ok(&res), res.output, "meson setup %s (clang, -Dfuzz=true)",
                       REL_FUZZ_DIR);
        proc_result_free(&res);
        if (!ok)
            return;
    }
    char targets[5][64];
    char *build[16] = {"ninja", "-C", REL_FUZZ_DIR};
    for (size_t i = 0; i < 5; i++) {
        snprintf(targets[i], sizeof targets[i], "tests/fuzz/fuzz-%s", fuzz_names[i]);
        build[3 + i] = targets[i];
    }
    build[8] = NULL;
    if (proc_run(build, k->root, NULL, LIMIT_BUILD_S, &res) != 0)
        return;
    int built = check(k, proc_ok(&res) && strstr(res.output, "warning:") == NULL, res.output,
                      "the fuzz harnesses build with clang and libFuzzer (%.0f s)", res.seconds);
    proc_result_free(&res);
    for (size_t i = 0; built && i < 5; i++) {
        char bin[4500], corpus[256], seeds[4500], artifacts[300];
        snprintf(bin, sizeof bin, "%s/%s/%s", k->root, REL_FUZZ_DIR, targets[i]);
        snprintf(corpus, sizeof corpus, "%s/fuzz-%s", k->tmp_dir, fuzz_names[i]);
        snprintf(seeds, sizeof seeds, "%s/tests/fuzz/corpus/%s", k->root, fuzz_names[i]);
        snprintf(artifacts, sizeof artifacts, "-artifact_prefix=%s/", k->tmp_dir);
        mkdir(corpus, 0700);
        char *run[] = {
            bin, "-max_total_time=" REL_FUZZ_SECONDS, "-timeout=20", artifacts, corpus, seeds,
            NULL};
        if (proc_run(run, k->root, util_sanitizer_env, 60, &res) != 0)
            continue;
        const char *stats = strstr(res.output, "DONE");
        const char *eol = stats != NULL ? strchr(stats, '\n') : NULL;
        check(k, proc_ok(&res), res.output, "fuzz %s for %s s under ASan+UBSan: %.*s",
              fuzz_names[i], REL_FUZZ_SECONDS,
              stats != NULL && eol != NULL ? (int)(eol - stats) : 6,
              stats != NULL ? stats : "failed");
        proc_result_free(&res);
    }
}

/* ---- a server under valgrind ------------------------------------------------------------- */

struct vg_server {
    pid_t pid;
    int out; /* its stdout and stderr */
    char text[REL_OUT_MAX];
    size_t len;
    int port;
};

/* Reads what the server printed, for at most ms. */
static void vg_read(struct vg_server *s, int ms)
{
    struct pollfd p = {.fd = s->out, .events = POLLIN};
    while (poll(&p, 1, ms) > 0) {
        ssize_t n = read(s->out, s->text + s->len, sizeof s->text - 1 - s->len);
        if (n <= 0)
            break;
        s->len += (size_t)n;
        s->text[s->len] = '\0';
        ms = 0;
    }
}

/* Starts argv with its output on a pipe, and waits for "listening on HOST:PORT". */
static int vg_start(struct vg_server *s, char *const argv[], char *const env[])
{
    memset(s, 0, sizeof *s);
    s->pid = proc_spawn(argv, NULL, env, &s->out);
    if (s->pid < 0)
        return -1;
    for (double end = util_now_s() + REL_START_S; s->port == 0 && util_now_s() < end;) {
        vg_read(s, 200);
        const char *l = strstr(s->text, "listening on ");
        const char *colon = l != NULL ? strchr(l, '\n') : NULL;
        if (colon != NULL) {
            while (colon > l && colon[-1] != ':')
                colon--;
            s->port = atoi(colon);
        }
    }
    return s->port > 0 ? 0 : -1;
}

/* SIGTERM, then the exit status (-1 if it had to be killed). */
static int vg_stop(struct vg_server *s)
{
    int status = 0;
    kill(s->pid, SIGTERM);
    for (double end = util_now_s() + REL_STOP_S; util_now_s() < end;) {
        vg_read(s, 100);
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            vg_read(s, 100);
            close(s->out);
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
    }
    kill(-s->pid, SIGKILL);
    waitpid(s->pid, &status, 0);
    close(s->out);
    return -1;
}

/* A TCP socket that the programs verify starts do not inherit. -1 on failure. */
static int vg_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0)
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
}

/* One exchange on a fresh connection: sends req, reads until `until` or the server closes. */
static int vg_talk(int port, const char *req, const char *until, char *buf, size_t cap)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {REL_IO_MS / 1000, 0};
    size_t got = 0;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = vg_socket();
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    buf[0] = '\0';
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
        (req != NULL && send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    while (got + 1 < cap && strstr(buf, until) == NULL) {
        ssize_t n = recv(fd, buf + got, cap - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
    }
    close(fd);
    return strstr(buf, until) != NULL ? 0 : -1;
}

/* Sends each request on a connection of its own, all before reading any answer, so that the
 * server's worker threads handle them at the same time. Returns how many got no `until`. */
static int vg_talk_parallel(int port, const char *const req[], const char *const until[], int n)
{
    int fds[REL_PARALLEL], failed = 0;
    char buf[16384];
    struct timeval tv = {REL_IO_MS / 1000, 0};

    for (int i = 0; i < n; i++) {
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fds[i] = vg_socket();
        setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sin, sizeof sin) != 0 ||
            send(fds[i], req[i], strlen(req[i]), MSG_NOSIGNAL) != (ssize_t)strlen(req[i])) {
            if (fds[i] >= 0)
                close(fds[i]);
            fds[i] = -1;
        }
    }
    for (int i = 0; i < n; i++) {
        size_t got = 0;
        buf[0] = '\0';
        while (fds[i] >= 0 && got + 1 < sizeof buf && strstr(buf, until[i]) == NULL) {
            ssize_t r = recv(fds[i], buf + got, sizeof buf - 1 - got, 0);
            if (r <= 0)
                break;
            got += (size_t)r;
            buf[got] = '\0';
        }
        failed += strstr(buf, until[i]) == NULL;
        if (fds[i] >= 0)
            close(fds[i]);
    }
    return failed;
}

/* The requests each server gets while under valgrind. Returns how many failed. */
static int exercise_server(const char *which, int port, int rounds)
{
    static const char post[] = "POST /items HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                               "Content-Type: application/json\r\nContent-Length: 20\r\n\r\n"
                               "{\"title\":\"buy milk\"}";
    static const char get[] = "GET /items?limit=5 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Connection: close\r\n\r\n";
    char buf[16384];
    int failed = 0;
    if (strcmp(which, "http") == 0) {
        const char *req[REL_PARALLEL], *until[REL_PARALLEL];
        int n = rounds < REL_PARALLEL ? rounds : REL_PARALLEL;
        for (int i = 0; i < n; i++) {
            req[i] = i % 2 ? get : post;
            until[i] = i % 2 ? "HTTP/1.1 200" : "HTTP/1.1 201";
        }
        return vg_talk_parallel(port, req, until, n) + (rounds - n);
    }
    for (int i = 0; i < rounds; i++) {
        if (strcmp(which, "echo") == 0)
            failed += vg_talk(port, "hello, valgrind\n", "hello, valgrind\n", buf, sizeof buf) != 0;
        else
            failed += vg_talk(port, "hi\n/list\n", "* users", buf, sizeof buf) != 0;
    }
    return failed;
}

/* Runs one program under a valgrind tool, makes requests, stops it; the check passes when the
 * requests worked and the program exited 0 (valgrind's --error-exitcode turns any error or
 * leak into status 99). */
static void check_under_valgrind(struct checks *k, const char *tool, const char *which,
                                 const char *program, const char *const extra[], int rounds)
{
    char bin[4300], supp[4400];
    char *argv[24];
    int n = 0;
    struct vg_server *s = malloc(sizeof *s);
    if (s == NULL)
        util_oom();
    snprintf(bin, sizeof bin, "%s/%s/%s", k->root, VERIFY_BUILD_DIR, program);
    snprintf(supp, sizeof supp, "--suppressions=%s/lectures/05-concurrency-patterns/helgrind.supp",
             k->root);
    argv[n++] = "valgrind";
    argv[n++] = strcmp(tool, "memcheck") == 0 ? "--tool=memcheck" : "--tool=helgrind";
    argv[n++] = "--error-exitcode=99";
    if (strcmp(tool, "memcheck") == 0) {
        argv[n++] = "--leak-check=full";
        argv[n++] = "--show-leak-kinds=all";
        argv[n++] = "--errors-for-leak-kinds=all";
    } else {
        argv[n++] = "--fair-sched=yes";
        argv[n++] = supp;
    }
    argv[n++] = bin;
    argv[n++] = "--port";
    argv[n++] = "0";
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 22; i++)
        argv[n++] = (char *)extra[i];
    argv[n] = NULL;

    double start = util_now_s();
    int started = vg_start(s, argv, NULL) == 0;
    int failed = started ? exercise_server(which, s->port, rounds) : rounds;
    int status = vg_stop(s);
    const char *summary = strstr(s->text, "ERROR SUMMARY:");
    const char *eol = summary != NULL ? strchr(summary, '\n') : NULL;
    check(k, started && failed == 0 && status == 0, s->text,
          "%s under %s: %d requests, SIGTERM, exit status %d; %.*s (%.0f s)", program, tool,
          rounds - failed, status, summary != NULL && eol != NULL ? (int)(eol - summary) : 20,
          summary != NULL ? summary : "no valgrind summary", util_now_s() - start);
    free(s);
}

/* Runs a program under helgrind to its end; passes when its exit status is `want`. */
static void check_helgrind_run(struct checks *k, const char *program, const char *arg, int want,
                               const char *what)
{
    char bin[4300], supp[4400];
    struct proc_result res;
    char how[128];
    snprintf(bin, sizeof bin, "%s/%s/%s", k->root, VERIFY_BUILD_DIR, program);
    snprintf(supp, sizeof supp, "--suppressions=%s/lectures/05-concurrency-patterns/helgrind.supp",
             k->root);
    char *argv[] = {"valgrind",
                    "--tool=helgrind",
                    "--fair-sched=yes",
                    "--error-exitcode=99",
                    supp,
                    bin,
                    (char *)arg,
                    arg != NULL ? "--quick" : NULL,
                    NULL};
    char *env[] = {"CK_FORK=no", NULL};
    if (proc_run(argv, k->root, env, 300, &res) != 0)
        return;
    int ok = !res.timed_out && WIFEXITED(res.status) && WEXITSTATUS(res.status) == want;
    check(k, ok, res.output, "%s under helgrind: %s (%s, %.0f s)", program, what,
          proc_describe(&res, how, sizeof how), res.seconds);
    proc_result_free(&res);
}

void verify_reliability(struct checks *k)
{
    section(k, "Reliability: leftovers, fuzzing, valgrind, races");
    check_nothing_left(k);
    check_fuzz(k);
    if (!have("valgrind")) {
        printf("  skip valgrind checks: valgrind is not installed\n");
        return;
    }
    static const char *const echo_args[] = {"--idle-timeout", "0", NULL};
    static const char *const http_args[] = {"--threads", "3", NULL};
    check_under_valgrind(k, "memcheck", "echo", "solutions/ex01-echo-server/echo-server", echo_args,
                         3);
    check_under_valgrind(k, "memcheck", "chat", "solutions/ex02-chat-server/chat-server", NULL, 3);
    check_under_valgrind(k, "memcheck", "http", "solutions/ex03-http-api/http-api", http_args, 6);
    check_under_valgrind(k, "helgrind", "http", "solutions/ex03-http-api/http-api", http_args, 16);
    static const char *const chans[] = {"mpsc", "broadcast", "watch", "oneshot"};
    for (size_t i = 0; i < 4; i++) {
        char prog[128];
        snprintf(prog, sizeof prog, "lectures/05-concurrency-patterns/test-chan-%s", chans[i]);
        check_helgrind_run(k, prog, NULL, 0, "no race reported");
    }
    check_helgrind_run(k, "lectures/05-concurrency-patterns/atomics", "--planted-race", 99,
                       "the race planted on purpose is caught (exit status 99)");
}
