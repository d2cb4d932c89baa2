/*
 * verify_build.c - configuring and building the verify command's build directories.
 */
#include "verify_internal.h"

#include "grade.h"
#include "proc.h"
#include "report.h"
#include "runner.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- building ------------------------------------------------------------------------- */

/* Configures `dir` once (meson setup with `opts`), then builds everything in it. */
int build_all(struct checks *k, const char *dir, char *const opts[], const char *what)
{
    struct proc_result res;
    char ninja_file[4200];
    char how[128];

    snprintf(ninja_file, sizeof ninja_file, "%s/%s/build.ninja", k->root, dir);
    if (!util_is_file(ninja_file)) {
        char *argv[16] = {"meson", "setup"};
        int n = 2;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", k->root, dir);
        if (util_is_dir(path))
            argv[n++] = "--wipe";
        argv[n++] = (char *)dir;
        for (size_t i = 0; opts[i] != NULL && n < 15; i++)
            argv[n++] = opts[i];
        argv[n] = NULL;
        printf("  (configuring %s)\n", dir);
        fflush(stdout);
        if (proc_run(argv, k->root, NULL, LIMIT_SETUP_S, &res) != 0)
            return 0;
        int ok = check(k, proc_ok(&res), res.output, "meson setup %s", dir);
        proc_result_free(&res);
        if (!ok)
            return 0;
    }
    printf("  (building %s: the first time takes a minute)\n", dir);
    fflush(stdout);
    char *argv[] = {"ninja", "-C", (char *)dir, NULL};
    if (proc_run(argv, k->root, NULL, LIMIT_BUILD_S, &res) != 0)
        return 0;
    int ok = proc_ok(&res) && strstr(res.output, "warning:") == NULL;
    char msg[160];
    snprintf(msg, sizeof msg, "%s (%s, %.0f s)", what, proc_describe(&res, how, sizeof how),
             res.seconds);
    check(k, ok, res.output, "%s", msg);
    proc_result_free(&res);
    return ok;
}
