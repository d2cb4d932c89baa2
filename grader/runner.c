/*
 * runner.c - see runner.h.
 *
 * A test's verdict comes from Check's TAP log (CK_TAP_LOG_FILE_NAME), one line per test:
 *     ok 1 - file.c:test_name:test_name: Passed
 *     not ok 1 - file.c:test_name:test_name: Received signal 11 (Segmentation fault)
 * Check words crashes, timeouts and early exits in fixed phrases; those phrases decide the
 * verdict. The suite binary runs under a generous outer time limit as well, in case something
 * goes wrong outside Check's own timers.
 */
#include "runner.h"

#include "proc.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BLOCKED_LOOP_PHRASE "the server's event loop was blocked" /* tests/common/loop_thread.h */
/* What one test's process (and everything it starts) may use. A student's code is untrusted. */
#define TEST_NPROC 512          /* processes and threads at once: a fork bomb stops here */
#define TEST_MEM_MB 2048        /* address space, unsanitized builds only (ASan needs terabytes) */
#define TEST_FSIZE_MB 64        /* the largest file a test may write */
#define TEST_TIMEOUT_MARGIN_S 5 /* beyond the test's own timeout: the grader's outer deadline */

const char *verdict_name(enum verdict v)
{
    switch (v) {
    case VERDICT_PASS:
        return "pass";
    case VERDICT_FAIL:
        return "fail";
    case VERDICT_CRASH:
        return "crash";
    case VERDICT_TIMEOUT:
        return "timeout";
    case VERDICT_EARLY_EXIT:
        return "early-exit";
    case VERDICT_SANITIZER:
        return "sanitizer";
    case VERDICT_BUILD_ERROR:
        return "build-error";
    case VERDICT_ERROR:
        return "error";
    }
    return "?";
}

static int is_fixture(const char *tree)
{
    return strncmp(tree, "fixture-", 8) == 0;
}

void runner_suite_path(const char *tree, const struct course_exercise *ex, char *out, size_t outsz)
{
    snprintf(out, outsz, "tests/%s-%s", ex->dir, tree);
}

void runner_program_path(const char *tree, const struct course_exercise *ex, char *out,
                         size_t outsz)
{
    if (is_fixture(tree))
        snprintf(out, outsz, "grader/%s-%s", ex->program, tree);
    else
        snprintf(out, outsz, "%s/%s/%s", tree, ex->dir, ex->program);
}

/* True for a line of ninja's or the compiler driver's own, not the compiler's diagnostics. */
static int is_build_noise(const char *line, size_t len)
{
    const char *close_bracket = memchr(line, ']', len);
    if (line[0] == '[' && close_bracket != NULL && close_bracket[1] == ' ')
        return 1; /* "[3/10] Compiling C object ..." */
    if (strncmp(line, "ninja: ", 7) == 0 || strncmp(line, "FAILED: ", 8) == 0)
        return 1;
    /* The full compiler command line: long, and says nothing a student needs. */
    for (const char *p = line; p + 4 < line + len; p++)
        if (strncmp(p, " -MD ", 5) == 0 || strncmp(p, " -Wl,", 5) == 0)
            return 1;
    return 0;
}

/* Keeps the compiler's words, without colour codes; paths become relative to the repository
 * root ("../exercises/x.c" -> "exercises/x.c"), the way a student sees them. */
static char *clean_build_log(const char *raw)
{
    char *out = malloc(strlen(raw) + 1);
    size_t o = 0;

    if (out == NULL)
        util_oom();
    for (const char *line = raw; *line != '\0';) {
        const char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) + 1 : strlen(line);
        if (!is_build_noise(line, len)) {
            for (size_t i = 0; i < len;) {
                if (line[i] == '\033' && i + 1 < len && line[i + 1] == '[') {
                    i += 2; /* an ANSI colour sequence: ESC [ ... letter */
                    while (i < len && !((line[i] >= 'A' && line[i] <= 'Z') ||
                                        (line[i] >= 'a' && line[i] <= 'z')))
                        i++;
                    i++;
                    continue;
                }
                if (strncmp(line + i, "../", 3) == 0 &&
                    (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\'')) {
                    i += 3;
                    continue;
                }
                out[o++] = line[i++];
            }
        }
        line += len;
    }
    out[o] = '\0';
    return out;
}

int runner_build(const struct runner *r, const char *tree, const struct course_exercise *ex,
                 char **log)
{
    char suite[256], program[256];
    struct proc_result res;

    runner_suite_path(tree, ex, suite, sizeof suite);
    runner_program_path(tree, ex, program, sizeof program);
    char *argv[] = {"ninja", "-C", (char *)r->build_dir, suite, program, NULL};
    if (proc_run(argv, r->root, NULL, LIMIT_BUILD_S, &res) != 0) {
        *log = xstrdup("out of memory");
        return -1;
    }
    int ok = proc_ok(&res);
    *log = ok ? NULL : clean_build_log(res.output);
    proc_result_free(&res);
    return ok ? 0 : -1;
}

void runner_build_all(const struct runner *r, const char *tree,
                      const struct course_exercise *const exs[], size_t n)
{
    char **argv = calloc(2 * n + 6, sizeof *argv);
    char(*paths)[256] = calloc(2 * n + 1, sizeof *paths);
    size_t k = 0;
    struct proc_result res;

    if (argv == NULL || paths == NULL)
        util_oom();
    argv[k++] = "ninja";
    argv[k++] = "-C";
    argv[k++] = (char *)r->build_dir;
    argv[k++] = "-k"; /* one exercise that does not compile stops none of the others */
    argv[k++] = "0";
    for (size_t i = 0; i < n; i++) {
        runner_suite_path(tree, exs[i], paths[2 * i], sizeof paths[2 * i]);
        runner_program_path(tree, exs[i], paths[2 * i + 1], sizeof paths[2 * i + 1]);
        argv[k++] = paths[2 * i];
        argv[k++] = paths[2 * i + 1];
    }
    argv[k] = NULL;
    if (proc_run(argv, r->root, NULL, LIMIT_BUILD_S, &res) == 0)
        proc_result_free(&res);
    free(paths);
    free(argv);
}

static void abs_suite(const struct runner *r, const char *tree, const struct course_exercise *ex,
                      char *out, size_t outsz)
{
    char suite[256];
    runner_suite_path(tree, ex, suite, sizeof suite);
    if (r->build_dir[0] == '/')
        snprintf(out, outsz, "%s/%s", r->build_dir, suite);
    else
        snprintf(out, outsz, "%s/%s/%s", r->root, r->build_dir, suite);
}

char **runner_list(const struct runner *r, const char *tree, const struct course_exercise *ex)
{
    char path[1024];
    struct proc_result res;

    abs_suite(r, tree, ex, path, sizeof path);
    char *argv[] = {path, "--list", NULL};
    if (proc_run(argv, NULL, NULL, 30, &res) != 0)
        return NULL;
    if (!proc_ok(&res)) {
        proc_result_free(&res);
        return NULL;
    }
    size_t n = 0;
    for (const char *p = res.output; *p != '\0'; p++)
        n += *p == '\n';
    char **names = calloc(n + 1, sizeof *names);
    size_t k = 0;
    if (names == NULL)
        util_oom();
    for (char *line = strtok(res.output, "\n"); line != NULL; line = strtok(NULL, "\n"))
        names[k++] = xstrdup(line);
    proc_result_free(&res);
    return names;
}

void runner_free_names(char **names)
{
    util_free_strv(names);
}

/* Reads the verdict from one TAP record: "ok N - ..." or "not ok N - file:case:test: message". */
static void classify(const struct runner *r, const char *tap, const struct proc_result *proc,
                     struct test_result *res)
{
    const char *rec = tap != NULL ? strstr(tap, "ok ") : NULL;
    char how[128];

    if (rec == NULL) {
        res->verdict = proc->timed_out ? VERDICT_TIMEOUT : VERDICT_ERROR;
        char msg[256];
        snprintf(msg, sizeof msg, "the test suite reported nothing (%s)",
                 proc_describe(proc, how, sizeof how));
        res->message = xstrdup(msg);
        return;
    }
    if (rec == tap) { /* "ok ..." at the very start: passed */
        res->verdict = VERDICT_PASS;
        res->message = xstrdup("passed");
        return;
    }
    /* "not ok N - file:case:test: message" */
    const char *p = strstr(rec, " - ");
    p = p != NULL ? p + 3 : rec;
    for (int colons = 0; colons < 3 && *p != '\0'; p++)
        colons += *p == ':';
    while (*p == ' ')
        p++;
    /* The message runs to the TAP plan line ("1..N") or the end. */
    const char *end = strstr(p, "\n1..");
    size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == ' '))
        len--;
    res->message = strndup(p, len);
    if (res->message == NULL)
        res->message = xstrdup("");

    int code;
    if (strncmp(p, "Received signal", 15) == 0)
        res->verdict = VERDICT_CRASH;
    else if (strncmp(p, "Test timeout expired", 20) == 0)
        res->verdict = VERDICT_TIMEOUT;
    else if (strstr(res->message, BLOCKED_LOOP_PHRASE) != NULL)
        res->verdict = VERDICT_TIMEOUT;
    else if (sscanf(p, "Early exit with return value %d", &code) == 1)
        res->verdict = (r->sanitized || r->valgrind) && code == SANITIZER_EXIT ? VERDICT_SANITIZER
                                                                               : VERDICT_EARLY_EXIT;
    else
        res->verdict = VERDICT_FAIL;
}

void runner_run_test(const struct runner *r, const char *tree, const struct course_exercise *ex,
                     const char *test, struct test_result *res)
{
    char path[1024], tap[1024], transcript[1024], replay[1024], warnings[1024];
    char env_case[512], env_tap[1100], env_transcript[1100], env_replay[1100];
    char env_warnings[1100];
    struct proc_result proc;

    memset(res, 0, sizeof *res);
    res->name = test;
    abs_suite(r, tree, ex, path, sizeof path);
    snprintf(tap, sizeof tap, "%s/%s.%s.tap", r->tmp_dir, ex->id, test);
    snprintf(transcript, sizeof transcript, "%s/%s.%s.transcript", r->tmp_dir, ex->id, test);
    runner_replay_path(r, ex, test, replay, sizeof replay);
    /* Warnings: lines the suite writes about what a test left behind (tests/common/lifetime.h);
     * they never change the verdict. */
    snprintf(warnings, sizeof warnings, "%s/%s.%s.warnings", r->tmp_dir, ex->id, test);
    snprintf(env_warnings, sizeof env_warnings, "HARNESS_WARNINGS=%s", warnings);
    unlink(tap);
    unlink(transcript);
    unlink(replay);
    unlink(warnings);
    snprintf(env_case, sizeof env_case, "CK_RUN_CASE=%s", test);
    snprintf(env_tap, sizeof env_tap, "CK_TAP_LOG_FILE_NAME=%s", tap);
    snprintf(env_transcript, sizeof env_transcript, "HARNESS_TRANSCRIPT=%s", transcript);
    snprintf(env_replay, sizeof env_replay, "HARNESS_REPLAY=%s", replay);
    /* Sanitized builds get the same settings as meson's "asan" test setup, and more time. */
    char *env[] = {env_case, env_tap, env_transcript, "CK_FORK=yes", "CK_VERBOSITY=silent",
                   NULL,     NULL,    NULL,           NULL,          NULL,
                   NULL,     NULL};
    if (r->sanitized) {
        env[5] = util_sanitizer_env[0];
        env[6] = util_sanitizer_env[1];
        env[7] = "CK_TIMEOUT_MULTIPLIER=" SANITIZER_SLOWDOWN_TEXT;
    }
    char *argv[] = {path, NULL};
    /* valgrind memcheck: its report goes to the test's output; an error, or a definite leak,
     * makes the test process exit with SANITIZER_EXIT, read like a sanitizer's. */
    char *vg_argv[] = {"valgrind",
                       "-q",
                       "--error-exitcode=" SANITIZER_EXIT_TEXT,
                       "--leak-check=full",
                       "--errors-for-leak-kinds=definite",
                       "--trace-children=yes",
                       path,
                       NULL};
    unsigned slowdown = r->sanitized ? SANITIZER_SLOWDOWN : 1;
    if (r->valgrind) {
        env[5] = "CK_TIMEOUT_MULTIPLIER=" VALGRIND_SLOWDOWN_TEXT;
        slowdown = VALGRIND_SLOWDOWN;
    }

    /* Each test runs in a scratch directory of its own, which is also its TMPDIR, so whatever
     * it writes outside the build directory lands there and is removed afterwards. */
    char scratch[1100], env_tmpdir[1200];
    snprintf(scratch, sizeof scratch, "%s/%s.%s.d", r->tmp_dir, ex->id, test);
    snprintf(env_tmpdir, sizeof env_tmpdir, "TMPDIR=%s", scratch);
    env[r->sanitized ? 8 : (r->valgrind ? 6 : 5)] = env_tmpdir;
    size_t free_slot = 0;
    while (env[free_slot] != NULL)
        free_slot++;
    env[free_slot++] = env_replay;
    env[free_slot] = env_warnings;
    mkdir(scratch, 0700);

    /* A student's code is untrusted: bounded CPU time, processes, memory and file size, and no
     * way to keep running once the test is over (proc.c). The outer deadline is the test's own
     * timeout plus a margin: code that hangs before Check's timers exist (a constructor that
     * never returns) is stopped in about the test's time, not LIMIT_TEST_S. Address space is
     * not limited under ASan or valgrind: they need far more of it than they use. */
    const struct suite_test *info = suite_data_test(&ex->data, test);
    double timeout = info != NULL && info->timeout_s > 0 ? info->timeout_s + TEST_TIMEOUT_MARGIN_S
                                                         : LIMIT_TEST_S;
    const struct proc_limits limits = {.cpu_s = LIMIT_TEST_S * slowdown,
                                       .fsize_mb = TEST_FSIZE_MB,
                                       .nproc = TEST_NPROC,
                                       .mem_mb = r->sanitized || r->valgrind ? 0 : TEST_MEM_MB};
    int rc = proc_run_limited(r->valgrind ? vg_argv : argv, scratch, env, timeout * slowdown,
                              &limits, &proc);
    char *rm[] = {"rm", "-rf", scratch, NULL};
    struct proc_result ignored;
    if (proc_run(rm, NULL, NULL, 60, &ignored) == 0)
        proc_result_free(&ignored);
    if (rc != 0) {
        res->verdict = VERDICT_ERROR;
        res->message = xstrdup("out of memory");
        return;
    }
    char *taptext = util_read_file(tap);
    classify(r, taptext, &proc, res);
    free(taptext);
    if (proc.leftovers > 0) {
        /* Something the test started outlived it (a fork that escaped its process group). */
        char *msg = malloc(strlen(res->message) + 200);
        if (msg == NULL)
            util_oom();
        int passed = res->verdict == VERDICT_PASS;
        sprintf(msg,
                "%s%s%d process%s started during the test kept running after it (the grader "
                "stopped %s): a server must not leave processes behind",
                passed ? "the test's checks passed, but " : res->message, passed ? "" : "; and ",
                proc.leftovers, proc.leftovers == 1 ? "" : "es",
                proc.leftovers == 1 ? "it" : "them");
        free(res->message);
        res->message = msg;
        if (res->verdict == VERDICT_PASS)
            res->verdict = VERDICT_FAIL;
    }
    res->seconds = proc.seconds;
    res->transcript = util_read_file(transcript);
    res->warnings = util_read_file(warnings);
    res->output = proc.output; /* keep: sanitizer reports and prints live there */
    proc.output = NULL;
    proc_result_free(&proc);
}

void runner_replay_path(const struct runner *r, const struct course_exercise *ex, const char *test,
                        char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/%s.%s.replay", r->tmp_dir, ex->id, test);
}

void runner_result_free(struct test_result *res)
{
    free(res->message);
    free(res->transcript);
    free(res->warnings);
    free(res->output);
    memset(res, 0, sizeof *res);
}

unsigned runner_default_jobs(const struct runner *r)
{
    return r->valgrind ? proc_cpus() : RUNNER_JOBS_PER_CPU * proc_cpus();
}

/* ---- several tests at once ------------------------------------------------------------- */

/* A result on its way from a worker to the grader: this header, then the texts it counts. */
struct wire_result {
    int verdict;
    double seconds;
    size_t len[4]; /* message, transcript, output, warnings; SIZE_MAX for NULL */
};

static void result_send(int fd, const struct test_result *res)
{
    const char *texts[4] = {res->message, res->transcript, res->output, res->warnings};
    struct wire_result w = {.verdict = (int)res->verdict, .seconds = res->seconds};
    for (int i = 0; i < 4; i++)
        w.len[i] = texts[i] != NULL ? strlen(texts[i]) : SIZE_MAX;
    proc_write_all(fd, &w, sizeof w);
    for (int i = 0; i < 4; i++)
        if (texts[i] != NULL)
            proc_write_all(fd, texts[i], w.len[i]);
}

/* Fills res from what result_send wrote. Returns 0, or -1 when the data is cut short (the
 * worker died: a crash of the grader, not of the test). */
static int result_receive(const char *data, size_t len, struct test_result *res)
{
    struct wire_result w;
    char **texts[4] = {&res->message, &res->transcript, &res->output, &res->warnings};
    if (len < sizeof w)
        return -1;
    memcpy(&w, data, sizeof w);
    res->verdict = (enum verdict)w.verdict;
    res->seconds = w.seconds;
    size_t at = sizeof w;
    for (int i = 0; i < 4; i++) {
        if (w.len[i] == SIZE_MAX)
            continue;
        if (w.len[i] > len - at)
            return -1;
        *texts[i] = strndup(data + at, w.len[i]);
        if (*texts[i] == NULL)
            util_oom();
        at += w.len[i];
    }
    return 0;
}

struct run_tests {
    const struct runner *r;
    const char *tree;
    const struct runner_job *jobs;
    size_t n;
    runner_test_fn run;
    struct test_result *results;
    unsigned char *arrived; /* per test: its result is in */
    size_t delivered;       /* results handed to each(), in order */
    int (*each)(size_t, struct test_result *, void *);
    void *arg;
    int stopped;
};

static void run_tests_job(size_t i, void *arg, int fd)
{
    struct run_tests *rt = arg;
    struct test_result res;
    rt->run(rt->r, rt->tree, rt->jobs[i].ex, rt->jobs[i].test, &res);
    result_send(fd, &res);
    runner_result_free(&res);
}

/* The results that are in and whose predecessors are all in go to each(), in order. */
static int run_tests_deliver(struct run_tests *rt)
{
    while (!rt->stopped && rt->delivered < rt->n && rt->arrived[rt->delivered]) {
        size_t i = rt->delivered++;
        if (rt->each != NULL && rt->each(i, &rt->results[i], rt->arg) != 0)
            rt->stopped = 1;
    }
    return rt->stopped;
}

/* In the grader: worker i is done, and wrote `data`. */
static int run_tests_done(size_t i, const char *data, size_t len, void *arg)
{
    struct run_tests *rt = arg;
    struct test_result *res = &rt->results[i];
    memset(res, 0, sizeof *res);
    if (data == NULL || result_receive(data, len, res) != 0) {
        runner_result_free(res);
        res->verdict = VERDICT_ERROR;
        res->message = xstrdup("the grader's worker for this test died before reporting");
    }
    res->name = rt->jobs[i].test;
    rt->arrived[i] = 1;
    return run_tests_deliver(rt);
}

size_t runner_run_tests(const struct runner *r, const char *tree, const struct runner_job jobs[],
                        size_t n, runner_test_fn run, struct test_result results[],
                        int (*each)(size_t i, struct test_result *res, void *arg), void *arg)
{
    struct run_tests rt = {.r = r,
                           .tree = tree,
                           .jobs = jobs,
                           .n = n,
                           .run = run,
                           .results = results,
                           .arrived = calloc(n + 1, 1),
                           .each = each,
                           .arg = arg};
    unsigned at_once = r->jobs > 0 ? r->jobs : runner_default_jobs(r);

    if (rt.arrived == NULL)
        util_oom();
    if (at_once == 1 || n <= 1) {
        /* One at a time, in this process: no workers needed. */
        for (size_t i = 0; i < n && !rt.stopped; i++) {
            run(r, tree, jobs[i].ex, jobs[i].test, &results[i]);
            results[i].name = jobs[i].test;
            rt.arrived[i] = 1;
            run_tests_deliver(&rt);
        }
    } else {
        proc_parallel(n, at_once, run_tests_job, run_tests_done, &rt);
    }
    /* Results that came in after a stop are not handed out: free them. */
    for (size_t i = rt.delivered; i < n; i++)
        if (rt.arrived[i])
            runner_result_free(&results[i]);
    free(rt.arrived);
    return rt.delivered;
}
