/*
 * proc.c - see proc.h. fork + execvp with stdout and stderr on one pipe, read with poll() so
 * the timeout is honoured even when the program prints nothing.
 *
 * The child starts a new process group so that a timeout stops everything it started too.
 * (Check's fork-mode test children make groups of their own; Check kills those itself when a
 * test times out, and they die with the suite otherwise because their pipes close.)
 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
    int fds[2];

    memset(res, 0, sizeof *res);
    res->output = malloc(PROC_OUTPUT_MAX + 1);
    if (res->output == NULL)
        return -1;
    res->output[0] = '\0';
    if (pipe(fds) != 0) {
        append(res, "pipe failed\n", 12);
        res->failed_to_start = 1;
        return 0;
    }
    fflush(NULL);
    double start = now_s();
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        res->failed_to_start = 1;
        append(res, "fork failed\n", 12);
        return 0;
    }
    if (pid == 0) {
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
        if (cwd != NULL && chdir(cwd) != 0) {
            fprintf(stderr, "cannot enter %s: %s\n", cwd, strerror(errno));
            _exit(127);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid); /* also here, so a kill right away cannot miss the group */
    close(fds[1]);

    char chunk[8192];
    int open_fd = fds[0];
    while (open_fd >= 0) {
        int wait_ms = -1;
        if (timeout_s > 0) {
            double left = start + timeout_s - now_s();
            if (left <= 0) {
                res->timed_out = 1;
                break;
            }
            wait_ms = (int)(left * 1000) + 1;
        }
        struct pollfd pfd = {.fd = open_fd, .events = POLLIN};
        int r = poll(&pfd, 1, wait_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue; /* the deadline check above ends the loop */
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

    /* Output closed: the program (and everything that shared its output) is done, or time is
     * up. Reap it, still within the deadline. */
    for (;;) {
        pid_t w = waitpid(pid, &res->status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            break;
        if (res->timed_out || (timeout_s > 0 && now_s() > start + timeout_s)) {
            res->timed_out = 1;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &res->status, 0);
            break;
        }
        struct timespec pause = {0, 2 * 1000000L};
        nanosleep(&pause, NULL);
    }
    if (open_fd >= 0)
        close(open_fd);
    res->seconds = now_s() - start;
    if (!res->timed_out && WIFEXITED(res->status) && WEXITSTATUS(res->status) == 127 &&
        strstr(res->output, "cannot run ") != NULL)
        res->failed_to_start = 1;
    return 0;
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
