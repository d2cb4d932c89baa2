/*
 * failure.c - see failure.h.
 */
#include "failure.h"

#include "picture.h"
#include "replay.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void failure_path(const char *tree, const char *exercise, const char *test, const char *ext,
                  char *out, size_t outsz)
{
    int other = strcmp(tree, "exercises") != 0;
    snprintf(out, outsz, "%s/%s/%s%s%s/%s.%s", FAILURE_DIR,
             strcmp(ext, "html") == 0 ? "pictures" : "replay", other ? tree : "", other ? "/" : "",
             exercise, test, ext);
}

/* mkdir -p of the folder that holds `path` (relative to the root). Returns 0 or -1. */
static int make_parents(const char *root, const char *path)
{
    char full[4400];
    snprintf(full, sizeof full, "%s/%s", root, path);
    size_t start = strlen(root) + 1;
    for (char *p = full + start; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(full, 0777);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

/* The script next to the replay file: runs it from the repository root, wherever it is. */
static int write_script(const char *root, const char *sh, const char *replay)
{
    char full[4400], up[64] = "";
    snprintf(full, sizeof full, "%s/%s", root, sh);
    for (const char *p = strchr(sh, '/'); p != NULL; p = strchr(p + 1, '/'))
        strcat(up, up[0] == '\0' ? ".." : "/..");
    FILE *f = fopen(full, "w");
    if (f == NULL)
        return -1;
    fprintf(f,
            "#!/bin/sh\n"
            "# Replays what the test's clients sent, against your program (and the reference,\n"
            "# when solutions/ is there), and shows the answers side by side. Options such as\n"
            "# --fast are passed on.\n"
            "cd \"$(dirname \"$0\")/%s\" || exit 2\n"
            "exec ./grader/grade --replay %s \"$@\"\n",
            up, replay);
    if (fclose(f) != 0)
        return -1;
    return chmod(full, 0755);
}

void failure_files(const struct runner *r, const struct course_exercise *ex, const char *tree,
                   const struct test_result *res)
{
    char html[1024], replay[1024], sh[1024], full[4400], raw[1024], err[512];

    failure_path(tree, ex->id, res->name, "html", html, sizeof html);
    failure_path(tree, ex->id, res->name, "replay", replay, sizeof replay);
    failure_path(tree, ex->id, res->name, "sh", sh, sizeof sh);
    if (res->verdict == VERDICT_PASS || res->verdict == VERDICT_BUILD_ERROR || res->hidden) {
        const char *paths[] = {html, replay, sh};
        for (size_t i = 0; i < 3; i++) {
            snprintf(full, sizeof full, "%s/%s", r->root, paths[i]);
            unlink(full); /* a fixed test keeps no stale picture */
        }
        return;
    }
    snprintf(full, sizeof full, "%s/%s", r->root, html);
    int drawn =
        make_parents(r->root, html) == 0 && picture_write(full, ex->id, res, err, sizeof err) == 0;
    runner_replay_path(r, ex, res->name, raw, sizeof raw);
    snprintf(full, sizeof full, "%s/%s", r->root, replay);
    int saved =
        make_parents(r->root, replay) == 0
            ? replay_save(raw, full, replay, ex, res->name, tree, r->build_dir, err, sizeof err)
            : -1;
    if (saved == 1)
        saved = write_script(r->root, sh, replay) == 0 ? 1 : -1;
    if (saved != 1) {
        const char *stale[] = {replay, sh};
        for (size_t i = 0; i < 2; i++) {
            snprintf(full, sizeof full, "%s/%s", r->root, stale[i]);
            unlink(full);
        }
    }
    if (!drawn) { /* no stale picture: report_failure() names the files that exist */
        snprintf(full, sizeof full, "%s/%s", r->root, html);
        unlink(full);
    }
}
