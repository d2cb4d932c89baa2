/*
 * verify_format.c - every C file is formatted as .clang-format says, with the clang-format
 * major version the check is pinned to (formatting differs between versions). Where that
 * version is absent the check is skipped with a notice, not failed. The starters' .c files are
 * generated (their TODO comments are made, not typed) and are left out.
 */
#include "verify_internal.h"

#include "proc.h"
#include "util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_MAJOR 14 /* Debian 12's clang-format, what CI runs */
#define FORMAT_MAX_FILES 1024

static void collect(const char *root, const char *dir, int with_c, char **files, size_t *n)
{
    char full[4400];
    snprintf(full, sizeof full, "%s/%s", root, dir);
    char **names = list_files(full);
    for (size_t i = 0; names != NULL && names[i] != NULL && *n < FORMAT_MAX_FILES; i++)
        if (ends_with(names[i], ".h") || (with_c && ends_with(names[i], ".c"))) {
            char rel[4600];
            snprintf(rel, sizeof rel, "%s/%s", dir, names[i]);
            files[(*n)++] = xstrdup(rel);
        }
    util_free_strv(names);
}

/* The folders directly under `dir` (one level), each collected. */
static void collect_below(const char *root, const char *dir, int with_c, char **files, size_t *n)
{
    char full[4400];
    snprintf(full, sizeof full, "%s/%s", root, dir);
    collect(root, dir, with_c, files, n);
    DIR *d = opendir(full);
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        char sub[4600], path[9000];
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        snprintf(path, sizeof path, "%s/%s", root, sub);
        if (e->d_name[0] != '.' && util_is_dir(path))
            collect(root, sub, with_c, files, n);
    }
    if (d != NULL)
        closedir(d);
}

void check_format(struct checks *k)
{
    char *version_argv[] = {"clang-format", "--version", NULL};
    struct proc_result res;
    int major = 0;

    proc_run(version_argv, k->root, NULL, 30, &res);
    const char *v = proc_ok(&res) ? strstr(res.output, "version ") : NULL;
    if (v != NULL)
        major = atoi(v + 8);
    proc_result_free(&res);
    if (major != FORMAT_MAJOR) {
        printf("  skip formatting not checked: it needs clang-format %d (found %s)\n", FORMAT_MAJOR,
               major > 0 ? "another version" : "none");
        return;
    }

    char **files = calloc(FORMAT_MAX_FILES + 8, sizeof *files);
    size_t n = 0;
    if (files == NULL)
        util_oom();
    files[n++] = xstrdup("clang-format");
    files[n++] = xstrdup("--dry-run");
    size_t first = n;
    collect_below(k->root, "solutions", 1, files, &n);
    collect_below(k->root, "exercises", 0, files, &n);
    collect_below(k->root, "tests", 1, files, &n);
    collect_below(k->root, "lectures", 1, files, &n);
    collect_below(k->root, "grader", 1, files, &n);
    proc_run(files, k->root, NULL, 120, &res);

    /* Each complaint starts "FILE:LINE:COL: error|warning: code should be clang-formatted". */
    char detail[4096] = "";
    int bad = 0;
    for (size_t i = first; i < n; i++) {
        char needle[4700];
        snprintf(needle, sizeof needle, "%s:", files[i]);
        if (strstr(res.output, needle) != NULL) {
            add_detail(detail, sizeof detail, "%s\n", files[i]);
            bad++;
        }
    }
    if (bad > 0)
        add_detail(detail, sizeof detail, "run: clang-format -i FILE (clang-format %d)\n",
                   FORMAT_MAJOR);
    check(k, bad == 0 && !res.timed_out, detail, "every C file is clang-formatted (%zu files)",
          n - first);
    proc_result_free(&res);
    util_free_strv(files);
}
