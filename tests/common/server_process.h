/*
 * server_process.h - start a course server binary as a real process, as a user would.
 *
 * Used by the tests that need the whole program: command-line parsing, the
 * "listening on HOST:PORT" line, and shutdown on SIGINT/SIGTERM. The binary is started with
 * the arguments given (tests pass `--port 0`), its stdout is read until the listening line
 * (which gives the real port), and its stderr is captured.
 */
#ifndef SERVER_PROCESS_H
#define SERVER_PROCESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SERVER_PROCESS_OUTPUT_MAX 8192 /* bytes of stdout/stderr kept for messages */

struct server_process {
    pid_t pid;          /* -1 once reaped */
    uint16_t port;      /* from "listening on HOST:PORT" */
    int out_fd, err_fd; /* read ends of the child's stdout and stderr */
    char out[SERVER_PROCESS_OUTPUT_MAX];
    size_t out_len;
    char err[SERVER_PROCESS_OUTPUT_MAX];
    size_t err_len;
};

/*
 * Starts `path` with argv (argv[0] included, NULL-terminated) and waits up to timeout_ms for
 * the "listening on HOST:PORT" line. Returns 0 with sp->port set; -1 if the program could not
 * start, exited, or never printed the line (sp->out and sp->err say what it printed).
 */
int server_process_start(struct server_process *sp, const char *path, char *const argv[],
                         int timeout_ms);

/* Runs `path` with argv to completion (up to timeout_ms) and returns its wait status, or -1
 * on timeout (the process is then killed). Output is captured in sp. */
int server_process_run(struct server_process *sp, const char *path, char *const argv[],
                       int timeout_ms);

/* Waits up to timeout_ms for the process to exit; returns its wait status, or -1 on timeout.
 * Keeps collecting its output meanwhile. */
int server_process_wait(struct server_process *sp, int timeout_ms);

/* Sends a signal (no-op once reaped). */
void server_process_signal(struct server_process *sp, int sig);

/* Kills (SIGKILL) and reaps the process if it still runs, and closes the pipes. */
void server_process_cleanup(struct server_process *sp);

/* Describes a wait status in words: "exit status 0", "killed by SIGTERM", "still running". */
const char *server_process_status_str(int status, char *buf, size_t bufsz);

#endif
