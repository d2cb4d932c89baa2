/*
 * replay.h - play a failing test's clients again, against your program and the reference.
 *
 * While a test runs, the test clients keep every byte they send, with its connection, its
 * send() call and its time (HARNESS_REPLAY, tests/common/transcript.h). For a failing test the
 * grader saves that as .grade/replay/EXERCISE/TEST.replay, with TEST.sh beside it, and
 *
 *     ./grader/grade --replay .grade/replay/ex01/test_one_client_gets_its_bytes_back.replay
 *
 * builds and starts the exercise's command-line program with --port 0 (yours, and the
 * reference's when solutions/ is there), opens the same connections, sends the same bytes in
 * the same chunks with the same pauses (each pause at most REPLAY_GAP_MAX_MS), shows what each
 * client got from each server side by side, and stops both servers (SIGTERM, then SIGKILL).
 * A test that ran the server through its library API with settings of its own (a short idle
 * timeout, say) is replayed against the program's defaults; the output's header says so.
 *
 * The file is text, one record a line, after a header:
 *     exercise ex01
 *     test test_one_client_gets_its_bytes_back
 *     tree exercises
 *     build build-sanitized
 *     server library                    (or: server program "echo-server --port 0")
 *     1.2 connect c1 40123
 *     1.3 send c1 "hello\n"
 *     5.0 close c1
 */
#ifndef REPLAY_H
#define REPLAY_H

#include "course.h"
#include "runner.h"

#include <stddef.h>

#define REPLAY_GAP_MAX_MS 3000        /* longest pause between two events of a replay */
#define REPLAY_TOTAL_MS 60000         /* longest replay against one program */
#define REPLAY_START_MS 15000         /* for the program to print "listening on" */
#define REPLAY_SETTLE_MS 400          /* after the last event: silence this long ends the replay */
#define REPLAY_SETTLE_MAX_MS 5000     /* ... or this much time */
#define REPLAY_STOP_MS 3000           /* after SIGTERM, before SIGKILL */
#define REPLAY_ANSWER_MAX (64 * 1024) /* bytes kept of what one client received */
#define REPLAY_OUTPUT_MAX (64 * 1024) /* bytes kept of what a program printed */
#define REPLAY_ROWS_MAX 24            /* rows of one client's answers shown side by side */
#define REPLAY_MAX_CLIENTS 256

/* What a replay says in a student edition, where solutions/ is not included. */
#define REPLAY_NO_REFERENCE                                                                        \
    "The reference solution is not included in this edition: your program's answers alone."

/* Turns the test's raw record (`raw`, from runner_replay_path) into the replay file `path`
 * (`shown`: the same from the repository root, for the header), with the header naming the
 * exercise, the test, the tree and the build directory. Returns 1 when written, 0 when the
 * test opened no connection (nothing to replay), -1 on an error (said in err). */
int replay_save(const char *raw, const char *path, const char *shown,
                const struct course_exercise *ex, const char *test, const char *tree,
                const char *build_dir, char *err, size_t errsz);

/* --replay FILE: plays it against the programs and prints both answers. `fast` plays it
 * against the plain build (build/) instead of the one the file names. Returns the exit status:
 * 0 the answers match (or, without solutions/, the replay ran), 1 they differ or a program did
 * not build or start, 2 the file cannot be used. */
int replay_run(const struct course *c, const char *path, int fast);

#endif
