/*
 * verify_failure.c - the grader's own tests of what it keeps of a failing test: the picture
 * is well-formed XML with the lanes and the escaped bytes, and nothing a program prints can
 * become markup in it; the replay runs against a fixture's program and the reference and
 * shows that they answer differently.
 */
#include "verify_internal.h"

#include "failure.h"
#include "picture.h"
#include "proc.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define XML_DEPTH_MAX 64
#define XML_NAME_MAX 32
#define FAILURE_FIXTURE "segfault" /* crashes on the first bytes: the reference echoes them */
#define FAILURE_TEST "test_one_client_gets_its_bytes_back"

/* Reads an XML name at *p; returns its length (0: none). */
static size_t xml_name(const char *p)
{
    size_t n = 0;
    if (!isalpha((unsigned char)p[0]))
        return 0;
    while (isalnum((unsigned char)p[n]) || p[n] == '-' || p[n] == ':' || p[n] == '_')
        n++;
    return n;
}

/* An entity at p ("&lt;", "&#39;"): its length, or 0 when it is not one XML knows. */
static size_t xml_entity(const char *p)
{
    static const char *const known[] = {"&lt;", "&gt;", "&amp;", "&quot;", "&apos;", NULL};
    for (size_t i = 0; known[i] != NULL; i++)
        if (strncmp(p, known[i], strlen(known[i])) == 0)
            return strlen(known[i]);
    size_t n = 2;
    if (p[1] != '#' || !isdigit((unsigned char)p[2]))
        return 0;
    while (isdigit((unsigned char)p[n]))
        n++;
    return p[n] == ';' ? n + 1 : 0;
}

/*
 * A small check that `s` is well-formed XML, as a browser's XML parser would see it: one root
 * element, every element closed in order, attribute values quoted, '<' only in markup, '&'
 * only in entities, and nothing outside printable ASCII and line breaks. Returns 0, or -1 with
 * what is wrong (and where) in why.
 */
static int xml_well_formed(const char *s, char *why, size_t whysz)
{
    char stack[XML_DEPTH_MAX][XML_NAME_MAX];
    int depth = 0, roots = 0;
    const char *p = s;

#define XML_FAIL(...)                                                                              \
    do {                                                                                           \
        snprintf(why, whysz, __VA_ARGS__);                                                         \
        return -1;                                                                                 \
    } while (0)
    while (*p != '\0') {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x7f || (c < 0x20 && c != '\n' && c != '\t'))
            XML_FAIL("byte 0x%02x at offset %ld", c, (long)(p - s));
        if (c == '&') {
            size_t n = xml_entity(p);
            if (n == 0)
                XML_FAIL("a bare '&' at offset %ld", (long)(p - s));
            p += n;
            continue;
        }
        if (c == '>' && depth == 0 && roots == 0)
            XML_FAIL("a '>' outside the root at offset %ld", (long)(p - s));
        if (c != '<') {
            if (depth == 0 && !isspace(c))
                XML_FAIL("text outside the root at offset %ld", (long)(p - s));
            p++;
            continue;
        }
        if (strncmp(p, "<!--", 4) == 0 || strncmp(p, "<?", 2) == 0 || strncmp(p, "<!", 2) == 0) {
            const char *end = strncmp(p, "<!--", 4) == 0 ? strstr(p, "-->")
                              : p[1] == '?'              ? strstr(p, "?>")
                                                         : strchr(p, '>');
            if (end == NULL || (p[1] == '!' && p[2] != '-' && depth > 0))
                XML_FAIL("an unclosed declaration at offset %ld", (long)(p - s));
            p = strchr(end, '>') + 1;
            continue;
        }
        if (p[1] == '/') {
            size_t n = xml_name(p + 2);
            if (n == 0 || p[2 + n] != '>' || depth == 0 || strlen(stack[depth - 1]) != n ||
                strncmp(stack[depth - 1], p + 2, n) != 0)
                XML_FAIL("a closing tag that does not match at offset %ld", (long)(p - s));
            depth--;
            p += n + 3;
            continue;
        }
        size_t n = xml_name(p + 1);
        if (n == 0 || n >= XML_NAME_MAX)
            XML_FAIL("a '<' that opens no tag at offset %ld", (long)(p - s));
        if (depth == 0 && roots++ > 0)
            XML_FAIL("a second root element at offset %ld", (long)(p - s));
        const char *name = p + 1;
        p += 1 + n;
        for (;;) { /* attributes, then '>' or '/>' */
            while (isspace((unsigned char)*p))
                p++;
            if (*p == '>' || strncmp(p, "/>", 2) == 0)
                break;
            size_t an = xml_name(p);
            if (an == 0 || p[an] != '=' || p[an + 1] != '"')
                XML_FAIL("a malformed attribute at offset %ld", (long)(p - s));
            p += an + 2;
            while (*p != '"') {
                if (*p == '\0' || *p == '<')
                    XML_FAIL("an unclosed attribute value at offset %ld", (long)(p - s));
                if (*p == '&') {
                    size_t en = xml_entity(p);
                    if (en == 0)
                        XML_FAIL("a bare '&' in an attribute at offset %ld", (long)(p - s));
                    p += en;
                } else {
                    p++;
                }
            }
            p++;
        }
        if (*p == '/') {
            p += 2;
            continue;
        }
        if (depth == XML_DEPTH_MAX)
            XML_FAIL("elements nested deeper than %d", XML_DEPTH_MAX);
        snprintf(stack[depth++], XML_NAME_MAX, "%.*s", (int)n, name);
        p++;
    }
    if (depth != 0 || roots != 1)
        XML_FAIL("%d elements left open, %d root elements", depth, roots);
#undef XML_FAIL
    return 0;
}

static int has(const char *text, const char *needle)
{
    return text != NULL && strstr(text, needle) != NULL;
}

/* A transcript full of markup and odd bytes, drawn: none of it may survive as markup. */
static void check_picture_escapes(struct checks *k)
{
    char path[256], err[512], why[256], detail[4096] = "";
    struct test_result res = {
        .name = "test_hostile_bytes",
        .verdict = VERDICT_TIMEOUT,
        .message = "expected \"ok\", got <b>bold</b> & \"quotes\" ]]> \x01\xff",
        .transcript = "    0.1 ms  # server: echo_server_new(port 0, idle_timeout_ms 300)\n"
                      "    0.3 ms  # c1: connected to 127.0.0.1:4000 </text><script>x()</script>\n"
                      "    0.4 ms  > c1 \"<script>alert(1)</script>&amp;\\\"'\"\n"
                      "    0.9 ms  < c2 \"]]><!-- \\x00\"\n"
                      "    1.0 ms  # server printed: \x1b[31mred\xc3\xa9</svg></div><img src=x>\n"
                      "  2005.0 ms  # the event loop has not turned for 2005 ms\n"
                      "> c3 \"an old record without a time\"\n",
        .seconds = 2.1,
    };
    snprintf(path, sizeof path, "%s/hostile-picture.html", k->tmp_dir);
    if (picture_write(path, "ex01", &res, err, sizeof err) != 0) {
        check(k, 0, err, "picture: a transcript with markup in it is drawn");
        return;
    }
    char *html = util_read_file(path);
    if (html == NULL || xml_well_formed(html, why, sizeof why) != 0)
        add_detail(detail, sizeof detail, "not well-formed XML: %s\n",
                   html == NULL ? "unreadable" : why);
    const char *never[] = {"<script", "<b>", "<img", "<!--", "]]>", "\x1b", NULL};
    for (size_t i = 0; never[i] != NULL; i++)
        if (has(html, never[i]))
            add_detail(detail, sizeof detail, "the picture contains \"%s\" unescaped\n",
                       never[i][0] == '\x1b' ? "ESC" : never[i]);
    const char *must[] = {"&lt;script&gt;alert(1)&lt;/script&gt;&amp;amp;",
                          ">c1</text>",
                          ">c2</text>",
                          ">c3</text>",
                          ">server</text>",
                          "class=\"mark\"",
                          "has not turned for 2005 ms",
                          "\\x1b[31mred\\xc3\\xa9",
                          NULL};
    for (size_t i = 0; must[i] != NULL; i++)
        if (!has(html, must[i]))
            add_detail(detail, sizeof detail, "the picture lacks %s\n", must[i]);
    /* The set-up note names an idle timeout, but nothing timed out there: no band for it. */
    const char *setup = html != NULL ? strstr(html, "idle_timeout_ms 300") : NULL;
    const char *tag = setup;
    while (tag != NULL && tag > html && *tag != '<')
        tag--;
    if (tag == NULL || strncmp(tag, "<text class=\"note\"", 18) != 0)
        add_detail(detail, sizeof detail, "the set-up note is drawn as a timeout\n");
    if (!picture_is_mark("Test timeout expired", 20) || !picture_is_mark("c1: timed out", 13) ||
        picture_is_mark("idle_timeout_ms 0", 17))
        add_detail(detail, sizeof detail, "picture_is_mark() marks the wrong notes\n");
    free(html);
    check(k, detail[0] == '\0', detail,
          "picture: a transcript full of markup and odd bytes is drawn as well-formed XML, with "
          "its lanes and its stall marked, and none of it as markup");
}

void check_failure_files(struct checks *k, const struct course *c)
{
    char grader[4600], tree[64], html[512], replay[512], sh[512], full[4700], why[256];
    char detail[16384] = "";
    struct proc_result res;
    const struct course_exercise *ex = course_find(c, "ex01");

    check_picture_escapes(k);
    if (ex == NULL || course_find_test(ex, FAILURE_TEST) == NULL) {
        check(k, 0, NULL, "the failure files' check needs ex01's %s", FAILURE_TEST);
        return;
    }
    snprintf(grader, sizeof grader, "%s/%s/grader/grader", k->root, VERIFY_BUILD_DIR);
    snprintf(tree, sizeof tree, "fixture-%s", FAILURE_FIXTURE);
    failure_path(tree, ex->id, FAILURE_TEST, "html", html, sizeof html);
    failure_path(tree, ex->id, FAILURE_TEST, "replay", replay, sizeof replay);
    failure_path(tree, ex->id, FAILURE_TEST, "sh", sh, sizeof sh);
    char *grade[] = {grader, "--build-dir",  VERIFY_BUILD_DIR, "--tree",
                     tree,   (char *)ex->id, FAILURE_TEST,     NULL};
    if (proc_run(grade, k->root, NULL, 300, &res) != 0)
        return;
    if (!has(res.output, html) || !has(res.output, sh))
        add_detail(detail, sizeof detail, "the report names no picture or replay:\n%s\n",
                   res.output);
    proc_result_free(&res);

    snprintf(full, sizeof full, "%s/%s", k->root, html);
    char *text = util_read_file(full);
    if (text == NULL)
        add_detail(detail, sizeof detail, "no picture at %s\n", html);
    else if (xml_well_formed(text, why, sizeof why) != 0)
        add_detail(detail, sizeof detail, "%s is not well-formed XML: %s\n", html, why);
    const char *must[] = {"<svg ",
                          ">c1</text>",
                          ">server</text>",
                          "c1 sent &quot;",
                          "&gt; c1 &quot;",
                          "the test ends: crash",
                          NULL};
    for (size_t i = 0; text != NULL && must[i] != NULL; i++)
        if (!has(text, must[i]))
            add_detail(detail, sizeof detail, "%s lacks %s\n", html, must[i]);
    free(text);
    check(k, detail[0] == '\0', detail,
          "a failing test of fixture-%s gets a picture (%s): well-formed, a lane per client and "
          "the server's, the bytes escaped; the report names it",
          FAILURE_FIXTURE, html);

    /* The replay: the fixture crashes on the bytes, the reference echoes them. */
    detail[0] = '\0';
    struct stat st;
    snprintf(full, sizeof full, "%s/%s", k->root, sh);
    char *script_text = util_read_file(full);
    if (stat(full, &st) != 0 || !(st.st_mode & S_IXUSR) || !has(script_text, replay))
        add_detail(detail, sizeof detail, "%s is missing, not executable or names no %s\n", sh,
                   replay);
    free(script_text);
    char *play[] = {grader, "--replay", replay, NULL};
    if (proc_run(play, k->root, NULL, 300, &res) != 0)
        return;
    int status = res.timed_out || !WIFEXITED(res.status) ? -1 : WEXITSTATUS(res.status);
    const char *want[] = {"your program got",
                          "the reference got",
                          "c1's answers differ",
                          "library API",
                          "the reference: exit status 0",
                          NULL};
    for (size_t i = 0; want[i] != NULL; i++)
        if (!has(res.output, want[i]))
            add_detail(detail, sizeof detail, "the replay's output lacks \"%s\"\n", want[i]);
    if (status != 1)
        add_detail(detail, sizeof detail, "exit status %d, expected 1 (the answers differ)\n",
                   status);
    if (detail[0] != '\0')
        add_detail(detail, sizeof detail, "output:\n%s", res.output);
    check(k, detail[0] == '\0', detail,
          "--replay %s: the fixture's program and the reference get the same bytes; the answers "
          "differ, side by side, exit status 1; both servers stopped (%.1f s)",
          replay, res.seconds);
    proc_result_free(&res);

    /* The fixtures' pictures and replays (these and the fixture checks') are verify's own. */
    char script[600];
    snprintf(script, sizeof script, "rm -rf %s/pictures/fixture-* %s/replay/fixture-*", FAILURE_DIR,
             FAILURE_DIR);
    char *rm[] = {"sh", "-c", script, NULL};
    if (proc_run(rm, k->root, NULL, 30, &res) == 0)
        proc_result_free(&res);
}
