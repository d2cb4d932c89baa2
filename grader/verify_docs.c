/*
 * verify_docs.c - the documentation: every relative link and anchor resolves, and every piece of
 * code a lecture quotes stands verbatim in one of its demos.
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

/* ---- links in the documentation -------------------------------------------------------- */

/* GitHub's anchor for a heading: lower case, spaces to '-', other punctuation dropped. */
static void slugify(const char *heading, size_t len, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < outsz; i++) {
        unsigned char ch = (unsigned char)heading[i];
        if (isalnum(ch) || ch == '-' || ch == '_' || ch >= 0x80)
            out[o++] = (char)tolower(ch);
        else if (ch == ' ')
            out[o++] = '-';
    }
    out[o] = '\0';
}

/* Does the markdown file have a heading whose anchor is `anchor`? Skips fenced code. */
static int has_anchor(const char *text, const char *anchor)
{
    int in_code = 0;
    const char *cursor = text, *line;
    size_t len;
    while (util_next_line(&cursor, &line, &len)) {
        if (strncmp(line, "```", 3) == 0)
            in_code = !in_code;
        else if (!in_code && line[0] == '#') {
            size_t h = strspn(line, "#");
            while (h < len && line[h] == ' ')
                h++;
            char slug[512];
            slugify(line + h, len - h, slug, sizeof slug);
            if (strcmp(slug, anchor) == 0)
                return 1;
        }
    }
    return 0;
}

/* Checks one link target relative to `base_dir` (both inside the repository). */
static void check_link(struct checks *k, const char *base_dir, const char *target, char *detail,
                       size_t detailsz, const char *from)
{
    char path[4600], anchor[512] = "";
    const char *hash = strchr(target, '#');
    size_t plen = hash != NULL ? (size_t)(hash - target) : strlen(target);

    if (hash != NULL)
        snprintf(anchor, sizeof anchor, "%s", hash + 1);
    if (plen == 0)
        snprintf(path, sizeof path, "%s", from); /* "#anchor" within the same file */
    else
        snprintf(path, sizeof path, "%s/%.*s", base_dir, (int)plen, target);
    if (util_is_dir(path))
        strncat(path, "/README.md", sizeof path - strlen(path) - 1);
    char *text = util_read_file(path);
    if (text == NULL)
        add_detail(detail, detailsz, "%s: link to %s: no such file\n", from + strlen(k->root) + 1,
                   target);
    else if (anchor[0] != '\0' && ends_with(path, ".md") && !has_anchor(text, anchor))
        add_detail(detail, detailsz, "%s: link to %s: no heading with that anchor\n",
                   from + strlen(k->root) + 1, target);
    free(text);
}

/* Every relative link in a markdown file: [text](target). */
static void check_markdown_links(struct checks *k, const char *file, char *detail, size_t detailsz,
                                 int *nlinks)
{
    char *text = util_read_file(file);
    char base[4400];

    if (text == NULL)
        return;
    snprintf(base, sizeof base, "%s", file);
    *strrchr(base, '/') = '\0';
    int in_code = 0;
    for (char *line = text; *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        if (strncmp(line, "```", 3) == 0)
            in_code = !in_code;
        for (char *p = line; !in_code && (p = strstr(p, "](")) != NULL; p += 2) {
            char *end = strchr(p + 2, ')');
            if (end == NULL)
                break;
            char target[1024];
            snprintf(target, sizeof target, "%.*s", (int)(end - p - 2), p + 2);
            if (strstr(target, "://") != NULL || strncmp(target, "mailto:", 7) == 0)
                continue;
            check_link(k, base, target, detail, detailsz, file);
            (*nlinks)++;
        }
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    free(text);
}

/* Appends every .c and .h file of every lecture folder to *all (grown with realloc). */
static void read_lecture_sources(const char *root, char **all, size_t *len)
{
    char dir[4400];
    snprintf(dir, sizeof dir, "%s/lectures", root);
    DIR *d = opendir(dir);
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4700];
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        char **files = list_files(sub);
        for (size_t i = 0; files != NULL && files[i] != NULL; i++) {
            if (!ends_with(files[i], ".c") && !ends_with(files[i], ".h"))
                continue;
            char path[5000];
            snprintf(path, sizeof path, "%s/%s", sub, files[i]);
            char *text = util_read_file(path);
            size_t n = text != NULL ? strlen(text) : 0;
            char *bigger = realloc(*all, *len + n + 2);
            if (bigger != NULL) {
                *all = bigger;
                memcpy(*all + *len, text != NULL ? text : "", n);
                *len += n;
                (*all)[(*len)++] = '\n';
                (*all)[*len] = '\0';
            }
            free(text);
        }
        util_free_strv(files);
    }
    if (d != NULL)
        closedir(d);
}

/* Checks one piece of a quoted block: it must stand, verbatim, in the demo sources. */
static void check_quote_piece(const char *piece, size_t len, const char *sources, const char *file,
                              char *detail, size_t detailsz, int *npieces)
{
    while (len > 0 && piece[0] == '\n') {
        piece++;
        len--;
    }
    while (len > 0 && piece[len - 1] == '\n')
        len--;
    if (len == 0)
        return;
    (*npieces)++;
    char *want = strndup(piece, len);
    if (want != NULL && strstr(sources, want) == NULL)
        add_detail(detail, detailsz, "%s: quoted code not found in any lecture demo: %.60s...\n",
                   file, want);
    free(want);
}

/*
 * Lecture notes quote their demos. Every ```c block in a lecture README (its indentation
 * removed; "..." or a "... " comment line separates quoted pieces) must appear verbatim in a
 * lecture's .c or .h file, so the notes cannot drift from the code they teach.
 */
void check_lecture_quotes(struct checks *k)
{
    char *sources = NULL, detail[8192] = "";
    size_t slen = 0;
    int npieces = 0;
    char dir[4400];

    read_lecture_sources(k->root, &sources, &slen);
    snprintf(dir, sizeof dir, "%s/lectures", k->root);
    DIR *d = opendir(dir);
    for (struct dirent *e; sources != NULL && d != NULL && (e = readdir(d)) != NULL;) {
        char path[4700];
        snprintf(path, sizeof path, "%s/%s/README.md", dir, e->d_name);
        char *text = e->d_name[0] != '.' ? util_read_file(path) : NULL;
        if (text == NULL)
            continue;
        char *piece = malloc(strlen(text) + 1);
        size_t plen = 0;
        size_t indent = 0;
        int in_c = 0, in_other = 0;
        for (char *line = text; piece != NULL && *line != '\0';) {
            char *nl = strchr(line, '\n');
            size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
            size_t lead = strspn(line, " ");
            if (!in_c && !in_other && strncmp(line + lead, "```", 3) == 0) {
                in_c = strncmp(line + lead, "```c", 4) == 0 && len == lead + 4;
                in_other = !in_c;
                indent = lead;
                plen = 0;
            } else if ((in_c || in_other) && strncmp(line + lead, "```", 3) == 0) {
                if (in_c)
                    check_quote_piece(piece, plen, sources, path + strlen(k->root) + 1, detail,
                                      sizeof detail, &npieces);
                in_c = in_other = 0;
            } else if (in_c) {
                const char *body = line + (lead < indent ? lead : indent);
                size_t blen = len - (size_t)(body - line);
                char trimmed[64];
                snprintf(trimmed, sizeof trimmed, "%.*s", (int)(blen < 63 ? blen : 63), body);
                const char *t = trimmed + strspn(trimmed, " \t");
                if (strcmp(t, "...") == 0 || strcmp(t, "/* ... */") == 0) {
                    check_quote_piece(piece, plen, sources, path + strlen(k->root) + 1, detail,
                                      sizeof detail, &npieces);
                    plen = 0;
                } else {
                    memcpy(piece + plen, body, blen);
                    plen += blen;
                    piece[plen++] = '\n';
                }
            }
            line += len + (nl != NULL);
        }
        free(piece);
        free(text);
    }
    if (d != NULL)
        closedir(d);
    check(k, detail[0] == '\0' && npieces > 0, detail,
          "the lecture notes quote their demos' code verbatim (%d quoted pieces)", npieces);
    free(sources);
}

void check_docs(struct checks *k, const struct course *c)
{
    char detail[8192] = "";
    char path[8192];
    int nlinks = 0;

    /* The top-level README, and every README one folder down in these trees. */
    snprintf(path, sizeof path, "%s/README.md", k->root);
    check_markdown_links(k, path, detail, sizeof detail, &nlinks);
    const char *trees[] = {"exercises", "solutions", "lectures"};
    for (size_t t = 0; t < 3; t++) {
        char dir[4400];
        snprintf(dir, sizeof dir, "%s/%s", k->root, trees[t]);
        DIR *d = opendir(dir);
        for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%s/%s/README.md", dir, e->d_name);
            if (util_is_file(path))
                check_markdown_links(k, path, detail, sizeof detail, &nlinks);
        }
        if (d != NULL)
            closedir(d);
    }
    check(k, detail[0] == '\0', detail,
          "every relative link in the READMEs leads somewhere (%d links)", nlinks);

    detail[0] = '\0';
    int n = 0;
    for (size_t i = 0; i < c->nexercises; i++) {
        const struct course_exercise *ex = &c->exercises[i];
        snprintf(path, sizeof path, "%s/%s", k->root, ex->data_path);
        for (size_t t = 0; t < ex->data.ntodos; t++, n++)
            check_link(k, k->root, ex->data.todos[t].lecture, detail, sizeof detail, path);
    }
    check(k, detail[0] == '\0', detail, "every lecture section a TODO points to exists (%d)", n);
}
