/*
 * proc.c - see proc.h. fork + execvp with stdout and stderr on one pipe, read with poll() so
 * the timeout is honoured even when the program prints nothing.
 *
 * The child starts a new process group so that a timeout stops everything it started too.
 * (Check's fork-mode test children make groups of their own; Check kills those itself when a
 * test times out.) A process that left its group (setsid) would keep the output pipe open and
 * hold the run up to its deadline; the grader is the subreaper of everything it starts, so
 * such a process becomes its child once its parent is gone, and is stopped when the run ends.
 *
 * A cap on processes (proc_limits.nproc) cannot use RLIMIT_NPROC alone: it counts every
 * process of the user, and root ignores it. Where the grader may create a cgroup (Linux, the
 * "pids" controller, usually as root) the program runs in one of its own with pids.max set,
 * which also lists everything it started for the final kill. Elsewhere RLIMIT_NPROC is set to
 * the user's current number of tasks plus the cap.
 */
#include "proc.h"

#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define PROC_PARALLEL_MAX 64 /* workers of proc_parallel at once, whatever -j says */
#define PROC_DRAIN_MS 300    /* after the program exits: how long its last output may take */
#define PROC_CGROUP_V1 "/sys/fs/cgroup/pids" /* the pids controller's hierarchy (cgroup v1) */
#define PROC_CGROUP_V2 "/sys/fs/cgroup"      /* the unified hierarchy (cgroup v2) */

static volatile sig_atomic_t interrupted;   /* SIGINT or SIGTERM arrived */
static volatile sig_atomic_t running_group; /* the group of the program running now, or 0 */
static int in_worker; /* this process is a worker of proc_parallel: the parent reports */
/* proc_parallel's running workers: whatever runs beside them, they are nobody's leftovers. */
static pid_t live_workers[PROC_PARALLEL_MAX];

static void on_interrupt(int sig)
{
    interrupted = sig;
    if (running_group > 0)
        kill(-running_group, SIGKILL); /* async-signal-safe; the leftovers are found later */
}

void proc_init(void)
{
    struct sigaction sa;

#ifdef __linux__
    prctl(PR_SET_CHILD_SUBREAPER, 1);
#endif
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt; /* no SA_RESTART: poll() returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int proc_interrupted(void)
{
    return (int)interrupted;
}

/* Stops every child of the grader but `keep` (0: none), and reaps them: leftovers of a run
 * that were reparented here. Returns how many there were. Linux only (reads /proc); elsewhere
 * the process group kill is all there is. */
static int stop_leftovers(pid_t keep)
{
    int n = 0;
#ifdef __linux__
    pid_t self = getpid();
    DIR *d = opendir("/proc");
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        char path[64], buf[512];
        pid_t pid = (pid_t)atoi(e->d_name);
        int worker = 0;
        for (size_t w = 0; w < sizeof live_workers / sizeof *live_workers; w++)
            worker |= live_workers[w] == pid;
        if (pid <= 0 || pid == keep || worker)
            continue;
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        const char *close_paren = strrchr(buf, ')'); /* the name may hold spaces and parens */
        int ppid = 0;
        char state;
        if (close_paren != NULL && sscanf(close_paren + 1, " %c %d", &state, &ppid) == 2 &&
            ppid == self) {
            kill(-pid, SIGKILL); /* its group, if it made one */
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            n++;
        }
    }
    if (d != NULL)
        closedir(d);
#else
    (void)keep;
#endif
    return n;
}

/* Writes text to a file (a cgroup control file). Returns 0 or -1. */
static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Makes a cgroup allowing at most `max` tasks into dir (PATH_MAX). Returns 0, or -1 when
 * cgroups cannot be used here (dir is then ""). */
static int cgroup_make(unsigned max, char *dir, size_t dirsz)
{
    static unsigned serial;
    char path[512], value[32];
    const char *roots[] = {PROC_CGROUP_V1, PROC_CGROUP_V2};

    dir[0] = '\0';
#ifdef __linux__
    for (size_t i = 0; i < 2; i++) {
        snprintf(dir, dirsz, "%s/grade-%d-%u", roots[i], (int)getpid(), serial++);
        if (mkdir(dir, 0755) != 0)
            continue;
        snprintf(path, sizeof path, "%s/pids.max", dir);
        snprintf(value, sizeof value, "%u", max);
        if (write_text(path, value) == 0)
            return 0;
        rmdir(dir);
    }
#else
    (void)max;
#endif
    dir[0] = '\0';
    return -1;
}

/* Kills every task in the cgroup until it is empty, then removes it. Returns how many there
 * were at the first look. */
static int cgroup_kill_and_remove(const char *dir)
{
    char path[512];
    int first = -1;

    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    for (int round = 0; round < 500; round++) { /* at most ~5 s: SIGKILL is quick */
        FILE *f = fopen(path, "r");
        int pid, n = 0;
        while (f != NULL && fscanf(f, "%d", &pid) == 1) {
            kill(pid, SIGKILL);
            n++;
        }
        if (f != NULL)
            fclose(f);
        if (first < 0)
            first = n;
        while (waitpid(-1, NULL, WNOHANG) > 0) /* reparented here: reap them */
            ;
        if (n == 0 && rmdir(dir) == 0)
            break;
        struct timespec pause = {0, 10 * 1000000L};
        nanosleep(&pause, NULL);
    }
    return first < 0 ? 0 : first;
}

/* The tasks (threads) the real user runs now: RLIMIT_NPROC counts them all. */
static unsigned user_tasks(void)
{
    unsigned n = 0;
#ifdef __linux__
    DIR *d = opendir("/proc");
    uid_t me = getuid();
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        char path[64], line[128];
        unsigned uid = 0, threads = 0;
        int pid = atoi(e->d_name);
        if (pid <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%d/status", pid);
        FILE *f = fopen(path, "r");
        while (f != NULL && fgets(line, sizeof line, f) != NULL) {
            sscanf(line, "Uid: %u", &uid);
            sscanf(line, "Threads: %u", &threads);
        }
        if (f != NULL)
            fclose(f);
        if (uid == (unsigned)me)
            n += threads;
    }
    if (d != NULL)
        closedir(d);
#endif
    return n;
}

/* In the child, before exec: the limits of untrusted code. */
static void apply_limits(const struct proc_limits *l)
{
    struct rlimit r;
#define PROC_SET(res, value)                                                                       \
    do {                                                                                           \
        if ((value) > 0) {                                                                         \
            r.rlim_cur = r.rlim_max = (rlim_t)(value);                                             \
            setrlimit((res), &r);                                                                  \
        }                                                                                          \
    } while (0)
    PROC_SET(RLIMIT_CPU, l->cpu_s);
    PROC_SET(RLIMIT_AS, l->mem_mb * 1024 * 1024);
    PROC_SET(RLIMIT_NOFILE, l->nofile);
    PROC_SET(RLIMIT_FSIZE, l->fsize_mb * 1024 * 1024);
#undef PROC_SET
}

static void append(struct proc_result *res, const char *data, size_t n)
{
    size_t room = PROC_OUTPUT_MAX - res->output_len;
    size_t take = n < room ? n : room;
    memcpy(res->output + res->output_len, data, take);
    res->output_len += take;
    res->output[res->output_len] = '\0';
    res->output_dropped += n - take;
}

int proc_run(char *const argv[], const char *cwd, char *const env_add[], double timeout_s,
             struct proc_result *res)
{
    return proc_run_limited(argv, cwd, env_add, timeout_s, NULL, res);
}

/* In a child just forked to run a program: its own process group, stdin from /dev/null,
 * stdout and stderr into the pipe fds (both ends closed here), env_add added, and the default
 * action for the signals the grader catches or ignores: a program must not inherit an ignored
 * SIGPIPE it did not ask for. */
static void child_setup(const int fds[2], char *const env_add[])
{
    setpgid(0, 0);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
        close(devnull);
    }
    for (size_t i = 0; env_add != NULL && env_add[i] != NULL; i++)
        putenv(env_add[i]);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
}

/* In the child, last: enters cwd (NULL: stays) and runs argv; says why on stderr if it
 * cannot, with exit status 127 as a shell would. */
static _Noreturn void child_exec(char *const argv[], const char *cwd)
{
    if (cwd != NULL && chdir(cwd) != 0) {
        fprintf(stderr, "cannot enter %s: %s\n", cwd, strerror(errno));
        _exit(127);
    }
    execvp(argv[0], argv);
    fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

pid_t proc_spawn(char *const argv[], const char *cwd, char *const env_add[], int *out_fd)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        child_setup(fds, env_add);
        child_exec(argv, cwd);
    }
    setpgid(pid, pid); /* also here, so a kill right away cannot miss the group */
    close(fds[1]);
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    *out_fd = fds[0];
    return pid;
}

int proc_run_limited(char *const argv[], const char *cwd, char *const env_add[], double timeout_s,
                     const struct proc_limits *limits, struct proc_result *res)
{
    int fds[2];

    memset(res, 0, sizeof *res);
    res->output = malloc(PROC_OUTPUT_MAX + 1);
    if (res->output == NULL)
        util_oom();
    res->output[0] = '\0';
    if (pipe(fds) != 0) {
        append(res, "pipe failed\n", 12);
        res->failed_to_start = 1;
        return 0;
    }
    fflush(NULL);
    char cgroup[256] = "";
    unsigned nproc_limit = 0; /* without a cgroup: RLIMIT_NPROC for the child */
    if (limits != NULL && limits->nproc > 0 &&
        cgroup_make(limits->nproc, cgroup, sizeof cgroup) != 0 && geteuid() != 0)
        nproc_limit = user_tasks() + limits->nproc;
    double start = util_now_s();
    pid_t pid = fork();
    if (pid < 0) {
        if (cgroup[0] != '\0')
            rmdir(cgroup);
        close(fds[0]);
        close(fds[1]);
        res->failed_to_start = 1;
        append(res, "fork failed\n", 12);
        return 0;
    }
    if (pid == 0) {
        child_setup(fds, env_add);
        if (cgroup[0] != '\0') {
            char procs[300], self[16];
            snprintf(procs, sizeof procs, "%s/cgroup.procs", cgroup);
            snprintf(self, sizeof self, "%d", (int)getpid());
            write_text(procs, self);
        }
        if (limits != NULL)
            apply_limits(limits);
        if (nproc_limit > 0) {
            struct rlimit r = {nproc_limit, nproc_limit};
            setrlimit(RLIMIT_NPROC, &r);
        }
        child_exec(argv, cwd);
    }
    setpgid(pid, pid); /* also here, so a kill right away cannot miss the group */
    running_group = pid;
    close(fds[1]);

    /* Read until the output closes. Every 50 ms, see whether the program itself has exited:
     * then its leftovers get PROC_DRAIN_MS to finish printing, and are stopped. */
    char chunk[8192];
    int open_fd = fds[0], exited = 0;
    double drain_until = 0;
    while (open_fd >= 0) {
        double now = util_now_s();
        if (interrupted)
            break;
        if (timeout_s > 0 && now >= start + timeout_s) {
            res->timed_out = 1;
            break;
        }
        if (!exited && waitpid(pid, &res->status, WNOHANG) == pid) {
            exited = 1;
            drain_until = now + PROC_DRAIN_MS / 1000.0;
        }
        if (exited && now >= drain_until)
            break;
        struct pollfd pfd = {.fd = open_fd, .events = POLLIN};
        int r = poll(&pfd, 1, 50);
        if (r <= 0)
            continue; /* EINTR or nothing yet: the checks above decide */
        ssize_t n = read(open_fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(open_fd);
            open_fd = -1;
            break;
        }
        append(res, chunk, (size_t)n);
    }
    if (exited) {
        kill(-pid, SIGKILL); /* its group: whatever it started and left behind */
        res->leftovers = stop_leftovers(0);
        if (cgroup[0] != '\0') { /* what escaped its group and its parent too */
            int more = cgroup_kill_and_remove(cgroup);
            res->leftovers = more > res->leftovers ? more : res->leftovers;
        }
        goto done;
    }

    /* Output closed: the program (and everything that shared its output) is done, or time is
     * up. Reap it, still within the deadline. */
    for (;;) {
        pid_t w = waitpid(pid, &res->status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            break;
        if (interrupted || res->timed_out || (timeout_s > 0 && util_now_s() > start + timeout_s)) {
            res->timed_out = 1;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &res->status, 0);
            break;
        }
        struct timespec pause = {0, 2 * 1000000L};
        nanosleep(&pause, NULL);
    }
    /* A process it started may have let go of the output and still be running (one that
     * escaped its group, holding other pipes): a leftover all the same. */
    res->leftovers = stop_leftovers(0);
    if (cgroup[0] != '\0') {
        int more = cgroup_kill_and_remove(cgroup);
        res->leftovers = more > res->leftovers ? more : res->leftovers;
    }
done:
    running_group = 0;
    if (open_fd >= 0)
        close(open_fd);
    res->seconds = util_now_s() - start;
    if (interrupted) {
        /* The user stopped the grader: nothing may be left running. */
        if (!in_worker)
            fprintf(stderr, "\ngrade: interrupted; stopped what was running\n");
        signal((int)interrupted, SIG_DFL);
        raise((int)interrupted);
    }
    if (!res->timed_out && WIFEXITED(res->status) && WEXITSTATUS(res->status) == 127 &&
        strstr(res->output, "cannot run ") != NULL)
        res->failed_to_start = 1;
    return 0;
}

unsigned proc_cpus(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus > 0 ? (unsigned)cpus : 1;
}

int proc_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One worker of proc_parallel, as the parent sees it. */
struct worker {
    size_t index;
    pid_t pid;
    int fd; /* the read end of its result pipe */
    char *data;
    size_t len, cap;
};

/* In the new worker: becomes the subreaper of what it runs, runs the job, exits. */
static _Noreturn void worker_main(size_t i, int fd, void (*job)(size_t, void *, int), void *arg)
{
    in_worker = 1;
    running_group = 0;
#ifdef __linux__
    prctl(PR_SET_CHILD_SUBREAPER, 1); /* not inherited across fork: set it again */
#endif
    job(i, arg, fd);
    close(fd);
    stop_leftovers(0);
    _exit(0);
}

/* Reads what worker w has written; returns 1 once its pipe is closed (it is done). */
static int worker_read(struct worker *w)
{
    if (w->cap - w->len < 65536) {
        size_t cap = w->cap * 2 + 65536;
        char *bigger = realloc(w->data, cap);
        if (bigger == NULL)
            util_oom();
        w->data = bigger;
        w->cap = cap;
    }
    ssize_t n = read(w->fd, w->data + w->len, w->cap - w->len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0)
        return 1;
    w->len += (size_t)n;
    return 0;
}

void proc_parallel(size_t n, unsigned jobs, void (*job)(size_t i, void *arg, int fd),
                   int (*done)(size_t i, const char *data, size_t len, void *arg), void *arg)
{
    if (jobs == 0)
        jobs = proc_cpus();
    if (jobs > n)
        jobs = n > 0 ? (unsigned)n : 1;
    if (jobs > PROC_PARALLEL_MAX)
        jobs = PROC_PARALLEL_MAX;
    struct worker *ws = calloc(jobs, sizeof *ws);
    size_t next = 0, running = 0;
    double stop_sent = 0;
    int cancelled = 0; /* done() asked to stop */
    if (ws == NULL)
        util_oom();
    while (next < n || running > 0) {
        /* Start workers while there is room (none once the user has interrupted). */
        for (size_t s = 0; s < jobs && next < n && !interrupted && !cancelled; s++) {
            if (ws[s].pid != 0)
                continue;
            int fds[2];
            if (pipe(fds) != 0)
                util_oom();
            /* Not inherited by the programs the workers run: a leftover holding a write end
             * would keep the result open. */
            fcntl(fds[0], F_SETFD, FD_CLOEXEC);
            fcntl(fds[1], F_SETFD, FD_CLOEXEC);
            fflush(NULL);
            pid_t pid = fork();
            if (pid == 0) {
                close(fds[0]);
                for (size_t o = 0; o < jobs; o++)
                    if (ws[o].pid != 0)
                        close(ws[o].fd); /* a sibling's result is not this worker's business */
                worker_main(next, fds[1], job, arg);
            }
            close(fds[1]);
            if (pid < 0) {
                close(fds[0]);
                cancelled = done(next++, NULL, 0, arg);
                continue;
            }
            ws[s] = (struct worker){.index = next++, .pid = pid, .fd = fds[0]};
            live_workers[s] = pid;
            running++;
        }
        if ((interrupted || cancelled) && running > 0) {
            /* Each worker stops its own run (SIGTERM is like Ctrl-C for it); one that does not
             * within a few seconds is killed, and what it ran is reparented here. */
            double now = util_now_s();
            if (stop_sent == 0)
                stop_sent = now;
            for (size_t s = 0; s < jobs; s++)
                if (ws[s].pid != 0)
                    kill(ws[s].pid, now - stop_sent < 3 ? SIGTERM : SIGKILL);
        }
        if (running == 0)
            break;
        struct pollfd pfds[PROC_PARALLEL_MAX];
        size_t slot[PROC_PARALLEL_MAX], np = 0;
        for (size_t s = 0; s < jobs; s++) {
            if (ws[s].pid == 0)
                continue;
            pfds[np] = (struct pollfd){.fd = ws[s].fd, .events = POLLIN};
            slot[np++] = s;
        }
        if (poll(pfds, (nfds_t)np, 100) <= 0)
            continue; /* EINTR (Ctrl-C: handled above) or nothing yet */
        for (size_t p = 0; p < np; p++) {
            struct worker *w = &ws[slot[p]];
            if (pfds[p].revents == 0 || !worker_read(w))
                continue;
            close(w->fd);
            while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
                ;
            if (!interrupted && !cancelled)
                cancelled = done(w->index, w->data, w->len, arg);
            free(w->data);
            *w = (struct worker){0};
            live_workers[slot[p]] = 0;
            running--;
        }
    }
    free(ws);
    if (interrupted) {
        stop_leftovers(0); /* what a killed worker left: reparented to the grader */
        fprintf(stderr, "\ngrade: interrupted; stopped what was running\n");
        signal((int)interrupted, SIG_DFL);
        raise((int)interrupted);
    }
}

int proc_ok(const struct proc_result *res)
{
    return !res->timed_out && !res->failed_to_start && WIFEXITED(res->status) &&
           WEXITSTATUS(res->status) == 0;
}

const char *proc_describe(const struct proc_result *res, char *buf, size_t bufsz)
{
    if (res->failed_to_start)
        snprintf(buf, bufsz, "could not start");
    else if (res->timed_out)
        snprintf(buf, bufsz, "timed out after %.0f s", res->seconds);
    else if (WIFEXITED(res->status))
        snprintf(buf, bufsz, "exit status %d", WEXITSTATUS(res->status));
    else if (WIFSIGNALED(res->status))
        snprintf(buf, bufsz, "killed by signal %d (%s)", WTERMSIG(res->status),
                 strsignal(WTERMSIG(res->status)));
    else
        snprintf(buf, bufsz, "wait status %d", res->status);
    return buf;
}

void proc_result_free(struct proc_result *res)
{
    free(res->output);
    res->output = NULL;
}
