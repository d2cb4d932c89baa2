/*
 * batch.c - see batch.h. The parent forks one worker per submission, at most `jobs` at a time.
 * A worker lays out its scratch copy of the course, then becomes a grader (exec of this very
 * program) in that copy: a grader process per submission means a submission's crash or hang
 * can only ever take its own grader down. The parent never runs anything else while workers
 * run (proc_run stops every child of the grader when it ends), and collects the JSON reports
 * once the last worker is done.
 */
#include "batch.h"

#include "chaos.h"
#include "proc.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH_LOG_LIMIT_MB 256 /* a worker's log and every file its tests write */
#define BATCH_NPROC 4096       /* processes of this user, when not root (root ignores it) */
#define BATCH_TERM_GRACE_S 3   /* SIGTERM first (the grader stops its tests), then SIGKILL */

struct job {
    char *name;
    pid_t pid;
    double started, seconds;
    int done, timed_out, status;
};

static volatile sig_atomic_t batch_interrupted;

static void batch_on_interrupt(int sig)
{
    batch_interrupted = sig;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The submission folders of `dir`, sorted; NULL-terminated. */
static char **list_submissions(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    size_t cap = 16;
    char **names = malloc(cap * sizeof *names);
    *n = 0;
    for (struct dirent *e; d != NULL && names != NULL && (e = readdir(d)) != NULL;) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_name[0] == '.' || !util_is_dir(path))
            continue;
        if (*n + 2 > cap) {
            char **bigger = realloc(names, (cap *= 2) * sizeof *names);
            if (bigger == NULL)
                util_oom();
            names = bigger;
        }
        names[(*n)++] = xstrdup(e->d_name);
    }
    if (d != NULL)
        closedir(d);
    if (names == NULL)
        util_oom();
    names[*n] = NULL;
    qsort(names, *n, sizeof *names, cmp_str);
    return names;
}

/* In the worker: runs a command, exits with status 2 (logged) when it fails. */
static void must_run(char *const argv[], const char *cwd)
{
    struct proc_result res;
    if (proc_run(argv, cwd, NULL, LIMIT_SETUP_S, &res) != 0)
        _exit(2);
    if (!proc_ok(&res)) {
        char how[128];
        printf("batch: %s failed (%s):\n%s\n", argv[0], proc_describe(&res, how, sizeof how),
               res.output);
        fflush(stdout);
        _exit(2);
    }
    proc_result_free(&res);
}

/* The worker: lays out scratch/NAME and execs the grader there. Never returns. */
static void worker(const struct course *c, const char *root, const char *grader, const char *subs,
                   const char *name, const char *scratch, const char *out_dir, int fast,
                   const struct course_exercise *only, unsigned tests_at_once)
{
    char log[4400], copy[4400], src[8800], dst[8800], json[4400], jobs[16];

    setpgid(0, 0);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    snprintf(log, sizeof log, "%s/logs/%s.log", out_dir, name);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        _exit(2);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    snprintf(json, sizeof json, "%s/results/%s.json", out_dir, name);
    unlink(json); /* a report from an earlier batch must not stand in for this one */
    struct rlimit fsize = {.rlim_cur = (rlim_t)BATCH_LOG_LIMIT_MB << 20,
                           .rlim_max = (rlim_t)BATCH_LOG_LIMIT_MB << 20};
    setrlimit(RLIMIT_FSIZE, &fsize);
    if (getuid() != 0) {
        struct rlimit nproc = {.rlim_cur = BATCH_NPROC, .rlim_max = BATCH_NPROC};
        setrlimit(RLIMIT_NPROC, &nproc);
    }

    /* The course: its build files, tests, grader and lectures (the build configures the
     * lecture demos too, and builds none of them). Never the solutions. */
    snprintf(copy, sizeof copy, "%s/%s", scratch, name);
    char *mk[] = {"mkdir", "-p", copy, NULL};
    must_run(mk, NULL);
    const char *const course_files[] = {"meson.build", "meson_options.txt", "grader",
                                        "tests",       "lectures",          NULL};
    for (size_t i = 0; course_files[i] != NULL; i++) {
        snprintf(src, sizeof src, "%s/%s", root, course_files[i]);
        char *cp[] = {"cp", "-a", src, copy, NULL};
        must_run(cp, NULL);
    }
    /* The submission: its exercises/, or the folder itself when it is a copy of exercises/. */
    snprintf(src, sizeof src, "%s/%s/exercises", subs, name);
    if (!util_is_dir(src))
        snprintf(src, sizeof src, "%s/%s", subs, name);
    snprintf(dst, sizeof dst, "%s/exercises", copy);
    strncat(src, "/.", sizeof src - strlen(src) - 1);
    char *mk2[] = {"mkdir", "-p", dst, NULL};
    char *cp[] = {"cp", "-a", src, dst, NULL};
    must_run(mk2, NULL);
    must_run(cp, NULL);
    /* The build files are the course's: a submission's meson.build never runs. */
    for (size_t i = 0; i < c->nexercises; i++) {
        char ours[4400], theirs[8900];
        snprintf(ours, sizeof ours, "%s/exercises/%s/meson.build", root, c->exercises[i].dir);
        snprintf(theirs, sizeof theirs, "%s/%s", dst, c->exercises[i].dir);
        if (!util_is_dir(theirs))
            continue;
        strncat(theirs, "/meson.build", sizeof theirs - strlen(theirs) - 1);
        char *cpb[] = {"cp", ours, theirs, NULL};
        must_run(cpb, NULL);
    }
    if (fast) {
        char *setup[] = {"meson", "setup", "build", NULL};
        must_run(setup, copy);
    }
    char *argv[8] = {(char *)grader, fast ? "--fast" : "--asan", "--json", json, NULL};
    size_t n = 4;
    if (!fast) { /* the sanitized build directory, configured by the grader */
        argv[1] = "--json";
        argv[2] = json;
        n = 3;
    }
    snprintf(jobs, sizeof jobs, "%u", tests_at_once);
    argv[n++] = "-j";
    argv[n++] = jobs;
    if (only != NULL)
        argv[n++] = (char *)only->id;
    argv[n] = NULL;
    if (chdir(copy) != 0)
        _exit(2);
    printf("batch: grading %s/%s in %s\n", subs, name, copy);
    fflush(stdout);
    execv(grader, argv);
    printf("batch: cannot run %s: %s\n", grader, strerror(errno));
    _exit(2);
}

/* Makes digit runs of 4 or more (ports, sizes, process ids) "N", so that the same failure
 * in two submissions reads the same. Keeps the first line only. */
static void normalise(const char *msg, char *out, size_t outsz)
{
    size_t o = 0;
    for (const char *p = msg; *p != '\0' && *p != '\n' && o + 2 < outsz;) {
        size_t digits = strspn(p, "0123456789");
        if (digits >= 4) {
            out[o++] = 'N';
            p += digits;
        } else if (digits > 0) {
            size_t take = digits < outsz - o - 1 ? digits : outsz - o - 1;
            memcpy(out + o, p, take);
            o += take;
            p += digits;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

static void csv_field(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s != '\0'; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Per test of the course: how many submissions failed it, and their messages. */
struct tally {
    const char *ex, *test;
    int failed;
    json_t *messages; /* normalised message -> [count, index of the first job that got it] */
};

static void write_results(const struct course *c, const struct course_exercise *only,
                          const char *out_dir, struct job *jobs, size_t njobs, unsigned parallel,
                          double seconds)
{
    char path[8900];
    size_t ntally = 0;
    for (size_t i = 0; i < c->nexercises; i++)
        ntally += c->exercises[i].data.ntests;
    struct tally *tally = calloc(ntally + 1, sizeof *tally);
    if (tally == NULL)
        util_oom();

    snprintf(path, sizeof path, "%s/gradebook.csv", out_dir);
    FILE *csv = fopen(path, "w");
    if (csv == NULL) {
        fprintf(stderr, "grade: cannot write %s: %s\n", path, strerror(errno));
        free(tally);
        return;
    }
    fprintf(csv, "submission,status");
    size_t t = 0;
    for (size_t i = 0; i < c->nexercises; i++) {
        const struct course_exercise *ex = &c->exercises[i];
        if (only != NULL && ex != only)
            continue;
        for (size_t k = 0; k < ex->data.ntests; k++, t++) {
            tally[t] = (struct tally){
                .ex = ex->id, .test = ex->data.tests[k].name, .messages = json_object()};
            fprintf(csv, ",%s %s", ex->id, ex->data.tests[k].name);
        }
        fprintf(csv, ",%s points", ex->id);
    }
    fprintf(csv, ",total,max\n");
    ntally = t;

    int graded = 0;
    for (size_t j = 0; j < njobs; j++) {
        json_error_t jerr;
        snprintf(path, sizeof path, "%s/results/%s.json", out_dir, jobs[j].name);
        json_t *report = jobs[j].timed_out ? NULL : json_load_file(path, 0, &jerr);
        char status[160];
        if (report != NULL)
            snprintf(status, sizeof status, "graded");
        else if (jobs[j].timed_out)
            snprintf(status, sizeof status, "not graded: over the %d s deadline", BATCH_DEADLINE_S);
        else
            snprintf(status, sizeof status, "not graded: see logs/%s.log", jobs[j].name);
        graded += report != NULL;
        csv_field(csv, jobs[j].name);
        fputc(',', csv);
        csv_field(csv, status);
        json_int_t total = 0, max = 0;
        t = 0;
        for (size_t i = 0; i < c->nexercises; i++) {
            const struct course_exercise *ex = &c->exercises[i];
            if (only != NULL && ex != only)
                continue;
            json_t *jex = NULL, *v;
            size_t idx;
            json_array_foreach(json_object_get(report, "exercises"), idx,
                               v) if (strcmp(json_string_value(json_object_get(v, "id")), ex->id) ==
                                      0) jex = v;
            json_int_t points = 0;
            for (size_t k = 0; k < ex->data.ntests; k++, t++) {
                const struct suite_test *st = &ex->data.tests[k];
                json_t *jt = NULL;
                json_array_foreach(json_object_get(jex, "tests"), idx,
                                   v) if (strcmp(json_string_value(json_object_get(v, "name")),
                                                 st->name) == 0) jt = v;
                const char *verdict = json_string_value(json_object_get(jt, "verdict"));
                int pass = verdict != NULL && strcmp(verdict, "pass") == 0;
                fprintf(csv, ",%d", pass ? st->weight : 0);
                points += pass ? st->weight : 0;
                max += st->weight;
                if (pass || report == NULL)
                    continue;
                char msg[300], key[400];
                normalise(json_string_value(json_object_get(jt, "message")) != NULL
                              ? json_string_value(json_object_get(jt, "message"))
                              : "not run",
                          msg, sizeof msg);
                snprintf(key, sizeof key, "%s: %s", verdict != NULL ? verdict : "not run", msg);
                tally[t].failed++;
                /* [count, the first submission (in sorted order) that got this message] */
                json_t *seen = json_object_get(tally[t].messages, key);
                if (seen == NULL)
                    json_object_set_new(tally[t].messages, key,
                                        json_pack("[I,I]", (json_int_t)1, (json_int_t)j));
                else
                    json_array_set_new(
                        seen, 0, json_integer(json_integer_value(json_array_get(seen, 0)) + 1));
            }
            fprintf(csv, ",%lld", (long long)points);
            total += points;
        }
        fprintf(csv, ",%lld,%lld\n", (long long)total, (long long)max);
        json_decref(report);
    }
    fclose(csv);

    /* The class summary: tests by how many submissions fail them. */
    snprintf(path, sizeof path, "%s/summary.md", out_dir);
    FILE *md = fopen(path, "w");
    if (md == NULL) {
        fprintf(stderr, "grade: cannot write %s: %s\n", path, strerror(errno));
    } else {
        fprintf(md, "# Class summary\n\n%d of %zu submissions graded in %.0f s (%u at a time).\n\n",
                graded, njobs, seconds, parallel);
        const char *seed = getenv(CHAOS_ENV);
        if (seed != NULL && *seed != '\0')
            fprintf(md, "Graded in chaos mode, seed %s (`./grader/grade --chaos %s`).\n\n", seed,
                    seed);
        fprintf(md, "Tests by how many submissions fail them (equal counts in course order), each "
                    "with its commonest failure message (of equally common ones, the message of "
                    "the first submission by name).\n\n");
        fprintf(md, "| test | failed by | commonest failure |\n| --- | --- | --- |\n");
        for (int shown = 0; shown < (int)ntally; shown++) {
            size_t best = ntally;
            for (size_t i = 0; i < ntally; i++)
                if (tally[i].failed >= 0 &&
                    (best == ntally || tally[i].failed > tally[best].failed))
                    best = i;
            if (best == ntally || tally[best].failed <= 0)
                break;
            /* The commonest message; of equally common ones, the one the first submission (in
             * sorted order) got: the same class gives the same summary, every time. */
            const char *key, *common = "";
            json_t *v;
            json_int_t most = 0, first = 0;
            json_object_foreach(tally[best].messages, key, v)
            {
                json_int_t count = json_integer_value(json_array_get(v, 0));
                json_int_t at = json_integer_value(json_array_get(v, 1));
                if (count > most || (count == most && at < first)) {
                    most = count;
                    first = at;
                    common = key;
                }
            }
            fprintf(md, "| %s %s | %d of %d | %s (%lld) |\n", tally[best].ex, tally[best].test,
                    tally[best].failed, graded, common, (long long)most);
            tally[best].failed = -1; /* shown */
        }
        fclose(md);
    }
    for (size_t i = 0; i < ntally; i++)
        json_decref(tally[i].messages);
    free(tally);
}

/* Stops whatever a worker left behind and was reparented to us (we are the subreaper). */
static void stop_orphans(void)
{
    DIR *d = opendir("/proc");
    pid_t self = getpid();
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        char path[300], buf[512];
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        const char *close_paren = strrchr(buf, ')');
        int ppid = 0;
        char state;
        if (close_paren != NULL && sscanf(close_paren + 1, " %c %d", &state, &ppid) == 2 &&
            ppid == self) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
    if (d != NULL)
        closedir(d);
}

int batch_grade(const struct course *c, const char *subs, const char *out_dir, unsigned jobs,
                int fast, const struct course_exercise *only)
{
    char root[4096], grader[4096], out[4400], scratch[4200];
    size_t n;

    if (!util_is_dir(subs)) {
        fprintf(stderr, "grade: %s is not a folder of submissions\n", subs);
        return 2;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/grade-batch-XXXXXX",
             tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    ssize_t len = readlink("/proc/self/exe", grader, sizeof grader - 1);
    if (getcwd(root, sizeof root) == NULL || len <= 0 || mkdtemp(scratch) == NULL) {
        perror("grade: set-up");
        return 2;
    }
    grader[len] = '\0';
    if (out_dir == NULL) {
        char parent[4400];
        snprintf(parent, sizeof parent, "%s", subs);
        char *slash = strrchr(parent, '/');
        while (slash != NULL && slash[1] == '\0' && slash != parent) { /* "DIR/" */
            *slash = '\0';
            slash = strrchr(parent, '/');
        }
        if (slash == NULL)
            snprintf(out, sizeof out, "grades");
        else
            snprintf(out, sizeof out, "%.*s/grades", (int)(slash - parent), parent);
    } else {
        snprintf(out, sizeof out, "%s", out_dir);
    }
    char logs[4500], results[4500];
    snprintf(logs, sizeof logs, "%s/logs", out);
    snprintf(results, sizeof results, "%s/results", out);
    char *mk[] = {"mkdir", "-p", logs, results, NULL};
    struct proc_result res;
    if (proc_run(mk, NULL, NULL, 30, &res) != 0 || !proc_ok(&res)) {
        fprintf(stderr, "grade: cannot make %s\n", out);
        return 2;
    }
    proc_result_free(&res);
    /* Absolute paths: the workers grade in their own folders. */
    char subs_abs[4096], out_abs[4096];
    if (realpath(subs, subs_abs) == NULL || realpath(out, out_abs) == NULL) {
        perror("grade: set-up");
        return 2;
    }

    char **names = list_submissions(subs_abs, &n);
    /* -j bounds the tests at once over the whole batch: that many graders (one test each),
     * or fewer graders sharing it when there are fewer submissions. */
    if (jobs == 0)
        jobs = proc_cpus();
    unsigned tests_total = jobs;
    if (n > 0 && jobs > n)
        jobs = (unsigned)n;
    unsigned tests_each = tests_total / jobs;
    struct job *job = calloc(n + 1, sizeof *job);
    if (job == NULL)
        util_oom();
    printf("Grading %zu submissions from %s, %u at a time (%u test%s each); results in %s/\n", n,
           subs, jobs, tests_each, tests_each == 1 ? "" : "s", out);
    const char *seed = getenv(CHAOS_ENV); /* set by --chaos; each worker's grader inherits it */
    if (seed != NULL && *seed != '\0')
        printf("Chaos mode, seed %s, the same for every submission.\n", seed);
    fflush(stdout);

    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = batch_on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    double start = util_now_s();
    size_t next = 0, running = 0, finished = 0;
    while (finished < n) {
        while (!batch_interrupted && running < jobs && next < n) {
            struct job *jb = &job[next];
            jb->name = names[next];
            fflush(NULL);
            jb->started = util_now_s();
            jb->pid = fork();
            if (jb->pid == 0)
                worker(c, root, grader, subs_abs, jb->name, scratch, out_abs, fast, only,
                       tests_each);
            if (jb->pid < 0) {
                jb->done = 1;
                jb->status = -1;
                finished++;
            } else {
                setpgid(jb->pid, jb->pid);
                running++;
            }
            next++;
        }
        int st;
        pid_t w = waitpid(-1, &st, WNOHANG);
        for (size_t j = 0; w > 0 && j < next; j++) {
            if (job[j].pid == w && !job[j].done) {
                job[j].done = 1;
                job[j].status = st;
                job[j].seconds = util_now_s() - job[j].started;
                running--;
                finished++;
                printf("  %-24s %s (%.0f s)\n", job[j].name,
                       job[j].timed_out                        ? "over the deadline, stopped"
                       : WIFEXITED(st) && WEXITSTATUS(st) <= 1 ? "graded"
                                                               : "not graded (see its log)",
                       job[j].seconds);
                fflush(stdout);
            }
        }
        if (w > 0)
            continue; /* a worker, or an orphan reparented to us: reaped either way */
        double now = util_now_s();
        for (size_t j = 0; j < next; j++) {
            struct job *jb = &job[j];
            if (jb->done || jb->pid <= 0)
                continue;
            if (batch_interrupted || now - jb->started > BATCH_DEADLINE_S) {
                jb->timed_out = !batch_interrupted;
                kill(-jb->pid, SIGTERM); /* the grader stops its running test, then exits */
                if (now - jb->started > BATCH_DEADLINE_S + BATCH_TERM_GRACE_S || batch_interrupted)
                    kill(-jb->pid, SIGKILL);
            }
        }
        if (batch_interrupted && running == 0)
            break;
        struct timespec pause = {0, 100 * 1000000L};
        nanosleep(&pause, NULL);
    }
    double seconds = util_now_s() - start;
    stop_orphans();
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    char *rm[] = {"rm", "-rf", scratch, NULL};
    if (proc_run(rm, NULL, NULL, 120, &res) == 0)
        proc_result_free(&res);
    if (batch_interrupted) {
        fprintf(stderr, "grade: interrupted; stopped every submission's grader\n");
        free(job);
        util_free_strv(names);
        return 2;
    }

    write_results(c, only, out, job, n, jobs, seconds);
    int ungraded = 0;
    for (size_t j = 0; j < n; j++) {
        char path[4500];
        snprintf(path, sizeof path, "%s/results/%s.json", out, job[j].name);
        ungraded += job[j].timed_out || !util_is_file(path);
    }
    printf("%zu submissions in %.1f s: %zu graded, %d not; %s/gradebook.csv and "
           "%s/summary.md\n",
           n, seconds, n - (size_t)ungraded, ungraded, out, out);
    free(job);
    util_free_strv(names);
    return ungraded == 0 ? 0 : 1;
}
