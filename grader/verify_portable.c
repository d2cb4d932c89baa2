/*
 * verify_portable.c - the course runs where libevent does, so Linux-only interfaces stand
 * behind a guard. A use of one of them outside an #if/#ifdef that names a guard macro (the
 * interface's own macro, __linux__, or a HAVE_ switch) fails, with its file and line. Portable
 * spellings exist for most: evutil_make_socket_nonblocking() and
 * evutil_make_socket_closeonexec() instead of SOCK_NONBLOCK / SOCK_CLOEXEC, SO_NOSIGPIPE or an
 * ignored SIGPIPE where MSG_NOSIGNAL is missing. A file that defines a fallback itself
 * (`#ifndef MSG_NOSIGNAL` ... `#define MSG_NOSIGNAL 0`) may use the name anywhere. The load
 * generators in tests/bench and tests/load and the fuzz harnesses in tests/fuzz are Linux-only
 * tools on purpose (epoll, like the floor they race) and are built on Linux only.
 */
#include "verify_internal.h"

#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const linux_only[] = {"SOCK_NONBLOCK",
                                         "SOCK_CLOEXEC",
                                         "MSG_NOSIGNAL",
                                         "accept4",
                                         "epoll_",
                                         "eventfd",
                                         "pipe2",
                                         "prctl",
                                         "TCP_USER_TIMEOUT",
                                         "TCP_KEEPIDLE",
                                         "sched_setaffinity",
                                         "inotify_",
                                         "signalfd",
                                         NULL};
static const char *const guards[] = {"__linux__",    "HAVE_",        "SOCK_NONBLOCK",
                                     "SOCK_CLOEXEC", "MSG_NOSIGNAL", "TCP_USER_TIMEOUT",
                                     "TCP_KEEPIDLE", "SO_REUSEPORT", "EFD_",
                                     "SO_NOSIGPIPE", "__APPLE__",    NULL};

/* Does `line` use `name` as (the start of) an identifier? */
static int uses(const char *line, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strstr(line, name); p != NULL; p = strstr(p + 1, name))
        if ((p == line || !(isalnum((unsigned char)p[-1]) || p[-1] == '_')) &&
            (name[n - 1] == '_' || !(isalnum((unsigned char)p[n]) || p[n] == '_')))
            return 1;
    return 0;
}

/* Scans one file; appends "FILE:LINE: NAME" for each unguarded use. Comments and string
 * literals are blanked first, so prose about an interface is not a use. */
static int scan(const char *path, const char *shown, char *detail, size_t detailsz)
{
    char *text = util_read_file(path);
    int depth = 0, guarded_depth = 0, bad = 0, line = 1;
    int guarded_at[64] = {0};

    if (text == NULL)
        return 0;
    /* Names this file gives a fallback of its own: `#ifndef NAME`. */
    char fallbacks[512] = " ";
    for (const char *p = strstr(text, "#ifndef "); p != NULL; p = strstr(p + 1, "#ifndef ")) {
        size_t n = strcspn(p + 8, " \t\n");
        if (strlen(fallbacks) + n + 2 < sizeof fallbacks)
            snprintf(fallbacks + strlen(fallbacks), sizeof fallbacks - strlen(fallbacks), "%.*s ",
                     (int)n, p + 8);
    }
    for (char *p = text, in_comment = 0; *p != '\0'; p++) { /* blank comments and strings */
        if (in_comment) {
            if (p[0] == '*' && p[1] == '/')
                in_comment = 0, p[0] = p[1] = ' ', p++;
            else if (*p != '\n')
                *p = ' ';
        } else if (p[0] == '/' && p[1] == '*') {
            in_comment = 1, p[0] = p[1] = ' ', p++;
        } else if (p[0] == '/' && p[1] == '/') {
            while (*p != '\0' && *p != '\n')
                *p++ = ' ';
            p--;
        } else if (*p == '"') {
            for (p++; *p != '\0' && *p != '"' && *p != '\n'; p++)
                if (*p == '\\' && p[1] != '\0' && p[1] != '\n')
                    *p++ = ' ', *p = ' ';
                else
                    *p = ' ';
            if (*p == '\0')
                break;
        }
    }
    for (char *l = text; *l != '\0'; line++) {
        char *nl = strchr(l, '\n');
        if (nl != NULL)
            *nl = '\0';
        const char *t = l + strspn(l, " \t");
        if (strncmp(t, "#if", 3) == 0) {
            int g = 0;
            for (size_t i = 0; guards[i] != NULL; i++)
                g = g || strstr(t, guards[i]) != NULL;
            if (depth < 64)
                guarded_at[depth] = g;
            depth++;
            guarded_depth += g;
        } else if (strncmp(t, "#endif", 6) == 0 && depth > 0) {
            depth--;
            if (depth < 64)
                guarded_depth -= guarded_at[depth];
        } else if (guarded_depth == 0 && strncmp(t, "#include", 8) != 0) {
            for (size_t i = 0; linux_only[i] != NULL; i++)
                if (uses(l, linux_only[i]) && !uses(fallbacks, linux_only[i])) {
                    add_detail(detail, detailsz, "%s:%d: %s outside a guard\n", shown, line,
                               linux_only[i]);
                    bad++;
                }
        }
        if (nl == NULL)
            break;
        l = nl + 1;
    }
    free(text);
    return bad;
}

/* Every .c and .h under `dir`, one level of subfolders deep. */
static void scan_tree(struct checks *k, const char *dir, char *detail, size_t detailsz, int *nfiles)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", k->root, dir);
    DIR *d = opendir(path);
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        char sub[1024];
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        if (strcmp(sub, "tests/bench") == 0 || strcmp(sub, "tests/load") == 0 ||
            strcmp(sub, "tests/fuzz") == 0)
            continue; /* Linux-only load generators, on purpose (see above) */
        char full[8192];
        snprintf(full, sizeof full, "%s/%s", k->root, sub);
        if (util_is_dir(full)) {
            char **files = list_files(full);
            for (size_t i = 0; files != NULL && files[i] != NULL; i++) {
                if (!ends_with(files[i], ".c") && !ends_with(files[i], ".h"))
                    continue;
                char f[9000], shown[2048];
                snprintf(f, sizeof f, "%s/%s", full, files[i]);
                snprintf(shown, sizeof shown, "%s/%s", sub, files[i]);
                scan(f, shown, detail, detailsz);
                (*nfiles)++;
            }
            util_free_strv(files);
        } else if (ends_with(e->d_name, ".c") || ends_with(e->d_name, ".h")) {
            scan(full, sub, detail, detailsz);
            (*nfiles)++;
        }
    }
    if (d != NULL)
        closedir(d);
}

void check_portable(struct checks *k)
{
    static const char *const dirs[] = {"exercises", "solutions", "tests",
                                       "lectures",  "grader",    NULL};
    char detail[8192] = "";
    int nfiles = 0;

    for (size_t i = 0; dirs[i] != NULL; i++)
        scan_tree(k, dirs[i], detail, sizeof detail, &nfiles);
    check(k, detail[0] == '\0', detail, "Linux-only interfaces stand behind a guard (%d C files)",
          nfiles);
}
