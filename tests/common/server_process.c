/*
 * server_process.c - see server_process.h. fork + execv with the child's stdout and stderr on
 * pipes; poll() on both pipes for every wait, so a silent or stuck program cannot hang a test.
 */
#include "server_process.h"

#include "client.h"
#include "transcript.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define DRAIN_MS 500 /* after the program exits, how long its pipes may still deliver */

static void append(char *buf, size_t *len, const char *data, size_t n)
{
    size_t room = SERVER_PROCESS_OUTPUT_MAX - 1 - *len;
    if (n > room)
        n = room;
    memcpy(buf + *len, data, n);
    *len += n;
    buf[*len] = '\0';
}

/* Reads what is available on the child's pipes, waiting up to timeout_ms for anything. */
static void collect(struct server_process *sp, int timeout_ms)
{
    struct pollfd pfd[2] = {{.fd = sp->out_fd, .events = POLLIN},
                            {.fd = sp->err_fd, .events = POLLIN}};
    char chunk[1024];

    if (poll(pfd, 2, timeout_ms) <= 0)
        return;
    for (int i = 0; i < 2; i++) {
        if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP)))
            continue;
        ssize_t n = read(pfd[i].fd, chunk, sizeof chunk);
        if (n > 0) {
            if (i == 0)
                append(sp->out, &sp->out_len, chunk, (size_t)n);
            else
                append(sp->err, &sp->err_len, chunk, (size_t)n);
        } else if (n == 0) {
            close(pfd[i].fd);
            if (i == 0)
                sp->out_fd = -1;
            else
                sp->err_fd = -1;
        }
    }
}

static int spawn(struct server_process *sp, const char *path, char *const argv[])
{
    int out[2], err[2];

    memset(sp, 0, sizeof *sp);
    sp->pid = -1;
    sp->out_fd = sp->err_fd = -1;
    if (pipe(out) != 0)
        return -1;
    if (pipe(err) != 0) {
        close(out[0]);
        close(out[1]);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(out[0]);
        close(out[1]);
        close(err[0]);
        close(err[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        close(out[0]);
        close(out[1]);
        close(err[0]);
        close(err[1]);
        signal(SIGPIPE, SIG_DFL); /* give the program the default disposition a shell would */
        execv(path, argv);
        fprintf(stderr, "cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    sp->pid = pid;
    sp->out_fd = out[0];
    sp->err_fd = err[0];

    char line[512] = "";
    for (int i = 0; argv[i] != NULL; i++) {
        strncat(line, argv[i], sizeof line - strlen(line) - 2);
        strncat(line, " ", sizeof line - strlen(line) - 1);
    }
    transcript_note("started: %s", line);
    transcript_program(line);
    return 0;
}

int server_process_start(struct server_process *sp, const char *path, char *const argv[],
                         int timeout_ms)
{
    if (spawn(sp, path, argv) != 0)
        return -1;
    int64_t deadline = client_now_ms() + timeout_ms;
    for (;;) {
        const char *hit = strstr(sp->out, "listening on ");
        const char *nl = hit != NULL ? strchr(hit, '\n') : NULL;
        if (nl != NULL) {
            const char *colon = NULL;
            for (const char *p = hit; p < nl; p++)
                if (*p == ':')
                    colon = p;
            long port = colon != NULL ? strtol(colon + 1, NULL, 10) : 0;
            if (port > 0 && port < 65536) {
                sp->port = (uint16_t)port;
                transcript_note("server printed: %.*s", (int)(nl - hit), hit);
                return 0;
            }
            return -1;
        }
        int64_t left = deadline - client_now_ms();
        if (left <= 0 || (sp->out_fd < 0 && sp->err_fd < 0))
            return -1;
        if (sp->out_fd < 0) {
            /* stdout closed without the line: the program has probably exited */
            collect(sp, (int)left);
            return -1;
        }
        collect(sp, (int)left);
    }
}

int server_process_wait(struct server_process *sp, int timeout_ms)
{
    int64_t deadline = client_now_ms() + timeout_ms;
    int status;

    if (sp->pid < 0)
        return -1;
    for (;;) {
        pid_t r = waitpid(sp->pid, &status, WNOHANG);
        if (r == sp->pid) {
            sp->pid = -1;
            /* Its last output: until both pipes close, but no longer than DRAIN_MS, since a
             * process it started and left running may hold them open for ever. */
            int64_t drain_until = client_now_ms() + DRAIN_MS;
            while ((sp->out_fd >= 0 || sp->err_fd >= 0) && client_now_ms() < drain_until)
                collect(sp, 50);
            if (sp->out_fd >= 0)
                close(sp->out_fd);
            if (sp->err_fd >= 0)
                close(sp->err_fd);
            sp->out_fd = sp->err_fd = -1;
            return status;
        }
        int64_t left = deadline - client_now_ms();
        if (left <= 0)
            return -1;
        /* Wait on the pipes: they report hang-up when the process exits. A short cap keeps
         * us checking waitpid in case a grandchild still holds them open. */
        if (sp->out_fd >= 0 || sp->err_fd >= 0)
            collect(sp, left < 50 ? (int)left : 50);
        else
            poll(NULL, 0, left < 10 ? (int)left : 10);
    }
}

int server_process_run(struct server_process *sp, const char *path, char *const argv[],
                       int timeout_ms)
{
    if (spawn(sp, path, argv) != 0)
        return -1;
    int status = server_process_wait(sp, timeout_ms);
    if (status == -1)
        server_process_cleanup(sp);
    return status;
}

void server_process_signal(struct server_process *sp, int sig)
{
    if (sp->pid > 0) {
        transcript_note("sent %s to the server", sig == SIGTERM  ? "SIGTERM"
                                                 : sig == SIGINT ? "SIGINT"
                                                                 : "a signal");
        kill(sp->pid, sig);
    }
}

void server_process_cleanup(struct server_process *sp)
{
    if (sp->pid > 0) {
        kill(sp->pid, SIGKILL);
        waitpid(sp->pid, NULL, 0);
        sp->pid = -1;
    }
    if (sp->out_fd >= 0)
        close(sp->out_fd);
    if (sp->err_fd >= 0)
        close(sp->err_fd);
    sp->out_fd = sp->err_fd = -1;
}

const char *server_process_status_str(int status, char *buf, size_t bufsz)
{
    if (status == -1)
        snprintf(buf, bufsz, "still running");
    else if (WIFEXITED(status))
        snprintf(buf, bufsz, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, bufsz, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, bufsz, "wait status %d", status);
    return buf;
}
