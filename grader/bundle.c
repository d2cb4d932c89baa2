/*
 * bundle.c - see bundle.h. Lays the bundle out in a scratch folder with cp, then zips it.
 */
#include "bundle.h"

#include "proc.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int run(char *const argv[], const char *cwd)
{
    struct proc_result res;
    if (proc_run(argv, cwd, NULL, 300, &res) != 0)
        util_oom();
    int ok = proc_ok(&res);
    if (!ok) {
        char how[128];
        fprintf(stderr, "grade: %s failed (%s):\n%s\n", argv[0],
                proc_describe(&res, how, sizeof how), res.output);
    }
    proc_result_free(&res);
    return ok ? 0 : -1;
}

int bundle_write(const char *zip_path, const struct course_exercise *only)
{
    char scratch[] = "/tmp/grade-bundle-XXXXXX", course[128], path[4400], zip_abs[4400];
    static const char *const course_entries[] = {
        "README.md", "LICENSE",  "meson.build", "meson_options.txt", "exercises", "tests",
        "grader",    "lectures", NULL};

    if (strlen(zip_path) < 5 || strcmp(zip_path + strlen(zip_path) - 4, ".zip") != 0) {
        fprintf(stderr, "grade: --gradescope-bundle needs a file name ending in .zip\n");
        return 2;
    }
    if (zip_path[0] == '/') {
        snprintf(zip_abs, sizeof zip_abs, "%s", zip_path);
    } else {
        char cwd[4096];
        if (getcwd(cwd, sizeof cwd) == NULL)
            return 2;
        snprintf(zip_abs, sizeof zip_abs, "%s/%s", cwd, zip_path);
    }
    if (mkdtemp(scratch) == NULL) {
        perror("grade: set-up");
        return 2;
    }
    int status = 2;
    snprintf(course, sizeof course, "%s/course", scratch);
    char *mk[] = {"mkdir", course, NULL};
    if (run(mk, NULL) != 0)
        goto out;
    for (size_t i = 0; course_entries[i] != NULL; i++) {
        char *cp[] = {"cp", "-a", (char *)course_entries[i], course, NULL};
        if (run(cp, NULL) != 0)
            goto out;
    }
    char *cps[] = {"cp", "grader/gradescope/setup.sh", "grader/gradescope/run_autograder", scratch,
                   NULL};
    if (run(cps, NULL) != 0)
        goto out;
    snprintf(path, sizeof path, "%s/grade.env", scratch);
    FILE *env = fopen(path, "w");
    if (env == NULL) {
        fprintf(stderr, "grade: cannot write %s: %s\n", path, strerror(errno));
        goto out;
    }
    fprintf(env,
            "# Read by run_autograder: the exercise this assignment grades (empty: all).\n"
            "GRADE_EXERCISE=\"%s\"\nGRADE_EXERCISE_DIR=\"%s\"\n"
            "GRADE_OPTIONS=\"\"   # for example --fast to skip the sanitizers\n",
            only != NULL ? only->id : "", only != NULL ? only->dir : "");
    fclose(env);
    unlink(zip_abs);
    char *zip[] = {"zip",
                   "-q",
                   "-r",
                   "-X",
                   zip_abs,
                   "setup.sh",
                   "run_autograder",
                   "grade.env",
                   "course",
                   "-x",
                   "course/.grade/*",
                   NULL};
    if (run(zip, scratch) != 0)
        goto out;
    printf("Wrote %s: the Gradescope autograder for %s. Upload it in the assignment's "
           "\"Configure Autograder\" page.\n",
           zip_path, only != NULL ? only->id : "every exercise");
    status = 0;
out:;
    char *rm[] = {"rm", "-rf", scratch, NULL};
    struct proc_result res;
    if (proc_run(rm, NULL, NULL, 60, &res) == 0)
        proc_result_free(&res);
    return status;
}
