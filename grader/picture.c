/*
 * picture.c - see picture.h. The HTML is also well-formed XML (every element closed, every
 * attribute quoted, only ASCII), so any XML tool can check it, and it opens in any browser.
 *
 * Layout: a row per drawn record, top to bottom in time order; the time at the left margin;
 * the client lanes, then the server's lane on the right. An escaped byte in a label is at most
 * PICTURE_LABEL_CHARS characters; the text transcript underneath has every record in full.
 */
#include "picture.h"

#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PICTURE_LABEL_CHARS 56    /* characters of a label (bytes or note) drawn in the diagram */
#define PICTURE_ROW_PX 24         /* height of one record's row */
#define PICTURE_TOP_PX 56         /* the lane headers */
#define PICTURE_TIME_PX 84        /* the time column */
#define PICTURE_SERVER_GAP_PX 260 /* from the last client lane to the server's: room for labels */
#define PICTURE_MARKS_MAX 8       /* stall phrases a note may contain */

/* A note with one of these is drawn as a red band: the watchdog's note, a client's "timed out
 * waiting", Check's "Test timeout expired". */
static const char *const mark_phrases[PICTURE_MARKS_MAX] = {
    "blocked", "timeout", "timed out", "has not turned", "stalled", NULL};

int picture_is_mark(const char *text, size_t len)
{
    char buf[512];
    size_t n = len < sizeof buf - 1 ? len : sizeof buf - 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)tolower((unsigned char)text[i]);
    buf[n] = '\0';
    /* Whole words only: "idle_timeout_ms 300" in a set-up note is no timeout. */
    for (size_t i = 0; mark_phrases[i] != NULL; i++) {
        size_t plen = strlen(mark_phrases[i]);
        for (const char *hit = strstr(buf, mark_phrases[i]); hit != NULL;
             hit = strstr(hit + 1, mark_phrases[i])) {
            char before = hit > buf ? hit[-1] : ' ', after = hit[plen];
            if (!isalnum((unsigned char)before) && before != '_' &&
                !isalnum((unsigned char)after) && after != '_')
                return 1;
        }
    }
    return 0;
}

int picture_parse_line(const char *line, size_t len, struct picture_record *rec)
{
    const char *p = line, *end = line + len;

    memset(rec, 0, sizeof *rec);
    rec->ms = -1;
    rec->kind = '?';
    while (p < end && *p == ' ')
        p++;
    if (p == end)
        return -1;
    /* "   12.3 ms  " before the record (older transcripts have none). */
    if (isdigit((unsigned char)*p)) {
        char num[32];
        size_t n = 0;
        while (p + n < end && n < sizeof num - 1 && (isdigit((unsigned char)p[n]) || p[n] == '.'))
            n++;
        memcpy(num, p, n);
        num[n] = '\0';
        if (end - (p + n) >= 3 && strncmp(p + n, " ms", 3) == 0) {
            rec->ms = strtod(num, NULL);
            p += n + 3;
            while (p < end && *p == ' ')
                p++;
        }
    }
    rec->text = p;
    rec->len = (size_t)(end - p);
    if (p < end && (*p == '>' || *p == '<') && end - p > 3 && p[1] == ' ' && p[2] == 'c') {
        char *after;
        long id = strtol(p + 3, &after, 10);
        const char *open = memchr(p, '"', (size_t)(end - p));
        if (id > 0 && id < 1000000 && open != NULL && after <= open) {
            const char *close = end;
            while (close > open + 1 && close[-1] != '"')
                close--;
            rec->kind = *p;
            rec->client = (int)id;
            rec->text = open + 1;
            rec->len = close > open + 1 ? (size_t)(close - 1 - (open + 1)) : 0;
        }
    } else if (p < end && *p == '#') {
        rec->kind = '#';
        p++;
        while (p < end && *p == ' ')
            p++;
        rec->text = p;
        rec->len = (size_t)(end - p);
        if (end - p > 2 && p[0] == 'c' && isdigit((unsigned char)p[1])) {
            char *after;
            long id = strtol(p + 1, &after, 10);
            if (id > 0 && id < 1000000 && (*after == ':' || *after == ' '))
                rec->client = (int)id;
        }
    }
    return 0;
}

/* For HTML and XML alike: a student's bytes need not be UTF-8, so anything outside printable
 * ASCII is shown as \xNN (util_put_xml). */
static void put_escaped(FILE *f, const char *s, size_t n, size_t max, int oneline)
{
    util_put_xml(f, s, n, max, UTIL_XML_ASCII | (oneline ? UTIL_XML_ONELINE : 0));
}

static void put_text(FILE *f, const char *s, size_t max)
{
    put_escaped(f, s, strlen(s), max, 1);
}

/* The lanes: the client numbers seen, in order, at most PICTURE_MAX_LANES. */
struct lanes {
    int ids[PICTURE_MAX_LANES];
    int n;
    int more; /* clients beyond the last lane share it */
};

static int lane_of(const struct lanes *l, int client)
{
    for (int i = 0; i < l->n; i++)
        if (l->ids[i] == client)
            return i;
    return l->n - 1;
}

static void lanes_add(struct lanes *l, int client)
{
    if (client <= 0)
        return;
    for (int i = 0; i < l->n; i++)
        if (l->ids[i] == client)
            return;
    if (l->n == PICTURE_MAX_LANES) {
        l->more = 1;
        return;
    }
    int at = l->n++;
    while (at > 0 && l->ids[at - 1] > client) {
        l->ids[at] = l->ids[at - 1];
        at--;
    }
    l->ids[at] = client;
}

static const char picture_css[] =
    "body{font-family:sans-serif;margin:1.5em;color:#222}"
    "h1{font-size:1.3em}h2{font-size:1.1em;margin-top:2em}"
    ".verdict{background:#fdecea;border-left:4px solid #c62828;padding:.6em;white-space:pre-wrap;"
    "font-family:monospace}"
    ".scroll{overflow:auto;border:1px solid #ddd}"
    "pre{background:#f6f6f6;padding:.8em;overflow:auto}"
    "svg text{font-family:monospace;font-size:12px}"
    "svg .lane{stroke:#999;stroke-dasharray:4 3}"
    "svg .head{fill:#eef3fb;stroke:#5b7db1}"
    "svg .sent{stroke:#1e5aa8;fill:none}svg .got{stroke:#2e7d32;fill:none}"
    "svg .tsent{fill:#1e5aa8}svg .tgot{fill:#2e7d32}"
    "svg .note{fill:#666;font-style:italic}svg .time{fill:#888}"
    "svg .band{fill:#fdecea}svg .mark{fill:#c62828;font-weight:bold}"
    "svg .gap{fill:#888}";

int picture_write(const char *path, const char *exercise, const struct test_result *res, char *err,
                  size_t errsz)
{
    const char *transcript = res->transcript != NULL ? res->transcript : "";
    struct lanes lanes = {.n = 0};
    size_t nrec = 0;

    /* First pass: the lanes and the number of records. */
    const char *cursor = transcript, *line;
    size_t len;
    while (util_next_line(&cursor, &line, &len)) {
        struct picture_record rec;
        if (picture_parse_line(line, len, &rec) != 0)
            continue;
        lanes_add(&lanes, rec.client);
        nrec++;
    }
    if (lanes.n == 0)
        lanes.ids[lanes.n++] = 1; /* an empty lane still shows where a client would be */

    /* With more records than PICTURE_MAX_RECORDS, the first ones (the set-up) and the last
     * ones (where the failure is) are drawn, and one row says how many are skipped. */
    size_t head = nrec, tail = 0;
    if (nrec > PICTURE_MAX_RECORDS) {
        head = PICTURE_MAX_RECORDS * 5 / 8;
        tail = PICTURE_MAX_RECORDS - head;
    }
    size_t rows = head + tail + (tail > 0) + 1; /* + the gap row, + the verdict row */
    int gap = lanes.n > 20 ? 48 : lanes.n > 8 ? 72 : 120;
    int x0 = PICTURE_TIME_PX + 40;
    int xs = x0 + (lanes.n - 1) * gap + PICTURE_SERVER_GAP_PX;
    int width = xs + 260;
    int height = PICTURE_TOP_PX + (int)rows * PICTURE_ROW_PX + 30;

    FILE *f = fopen(path, "w");
    if (f == NULL) {
        snprintf(err, errsz, "cannot write %s", path);
        return -1;
    }
    fputs("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
          "<meta charset=\"utf-8\"/>\n<title>",
          f);
    put_text(f, exercise, 64);
    fputs(" ", f);
    put_text(f, res->name, 128);
    fprintf(f, ": %s</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", verdict_name(res->verdict),
            picture_css);
    put_text(f, exercise, 64);
    fputs(" - ", f);
    put_text(f, res->name, 128);
    fprintf(f, " (%s)</h1>\n<p class=\"verdict\">", verdict_name(res->verdict));
    put_escaped(f, res->message != NULL ? res->message : "",
                strlen(res->message ? res->message : ""), 4096, 0);
    fputs("</p>\n<p>Time runs down the page. Each client the test opened has a lane, the server "
          "has the lane on the right; an arrow is a send (blue, to the server) or a receive "
          "(green, from the server), labelled with the bytes (escaped as in C, cut when long) "
          "and the milliseconds since the test started. Grey text is a note of the test; a red "
          "band marks a blocked event loop or a timeout.</p>\n<div class=\"scroll\">\n",
          f);
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\">\n",
            width, height, width, height);
    fputs("<defs><marker id=\"tip\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
          "markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">"
          "<path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n",
          f);
    int bottom = height - 16;
    for (int i = 0; i < lanes.n; i++) {
        int x = x0 + i * gap;
        fprintf(f, "<line class=\"lane\" x1=\"%d\" y1=\"40\" x2=\"%d\" y2=\"%d\"/>\n", x, x,
                bottom);
        fprintf(f, "<rect class=\"head\" x=\"%d\" y=\"14\" width=\"%d\" height=\"24\" rx=\"4\"/>",
                x - 20, 40);
        fprintf(f, "<text x=\"%d\" y=\"31\" text-anchor=\"middle\">c%d%s</text>\n", x, lanes.ids[i],
                lanes.more && i == lanes.n - 1 ? "+" : "");
    }
    fprintf(f, "<line class=\"lane\" x1=\"%d\" y1=\"40\" x2=\"%d\" y2=\"%d\"/>\n", xs, xs, bottom);
    fprintf(f,
            "<rect class=\"head\" x=\"%d\" y=\"14\" width=\"64\" height=\"24\" rx=\"4\"/>"
            "<text x=\"%d\" y=\"31\" text-anchor=\"middle\">server</text>\n",
            xs - 32, xs);

    size_t index = 0, row = 0;
    double last_ms = 0;
    cursor = transcript;
    while (util_next_line(&cursor, &line, &len)) {
        struct picture_record rec;
        if (picture_parse_line(line, len, &rec) != 0)
            continue;
        size_t i = index++;
        if (rec.ms >= 0)
            last_ms = rec.ms;
        if (i >= head && i < nrec - tail) {
            if (i == head) {
                int y = PICTURE_TOP_PX + (int)row++ * PICTURE_ROW_PX + 16;
                fprintf(f,
                        "<text class=\"gap\" x=\"%d\" y=\"%d\">... %zu records not drawn "
                        "(the transcript below has them all) ...</text>\n",
                        x0, y, nrec - head - tail);
            }
            continue;
        }
        int y = PICTURE_TOP_PX + (int)row++ * PICTURE_ROW_PX + 16;
        if (rec.ms >= 0)
            fprintf(f, "<text class=\"time\" x=\"8\" y=\"%d\">%.1f ms</text>\n", y, rec.ms);
        if (rec.kind == '>' || rec.kind == '<') {
            int x = x0 + lane_of(&lanes, rec.client) * gap;
            int sent = rec.kind == '>';
            fprintf(f,
                    "<line class=\"%s\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                    "marker-end=\"url(#tip)\"/>\n",
                    sent ? "sent" : "got", sent ? x : xs, y + 4, sent ? xs : x, y + 4);
            fprintf(f, "<text class=\"%s\" x=\"%d\" y=\"%d\">c%d %s &quot;",
                    sent ? "tsent" : "tgot", x + 6, y, rec.client, sent ? "sent" : "got");
            put_escaped(f, rec.text, rec.len, PICTURE_LABEL_CHARS, 1);
            fputs("&quot;</text>\n", f);
        } else if (rec.kind == '#' && picture_is_mark(rec.text, rec.len)) {
            fprintf(f,
                    "<rect class=\"band\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>"
                    "<text class=\"mark\" x=\"%d\" y=\"%d\">",
                    PICTURE_TIME_PX - 4, y - 15, width - PICTURE_TIME_PX, PICTURE_ROW_PX - 2, x0,
                    y);
            put_escaped(f, rec.text, rec.len, PICTURE_LABEL_CHARS * 2, 1);
            fputs("</text>\n", f);
        } else {
            int x = rec.client > 0 ? x0 + lane_of(&lanes, rec.client) * gap : x0;
            if (rec.client > 0)
                fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"3\" fill=\"#666\"/>", x, y - 4);
            fprintf(f, "<text class=\"note\" x=\"%d\" y=\"%d\">", x + 6, y);
            put_escaped(f, rec.text, rec.len, PICTURE_LABEL_CHARS * 2, 1);
            fputs("</text>\n", f);
        }
    }
    /* The end of the test: its verdict, after the last record. */
    int y = PICTURE_TOP_PX + (int)row * PICTURE_ROW_PX + 16;
    int stall = res->verdict == VERDICT_TIMEOUT;
    fprintf(f,
            "<rect class=\"band\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>"
            "<text class=\"mark\" x=\"%d\" y=\"%d\">the test ends: %s%s (its last record at "
            "%.1f ms; %.2f s in all)</text>\n",
            PICTURE_TIME_PX - 4, y - 15, width - PICTURE_TIME_PX, PICTURE_ROW_PX - 2, x0, y,
            verdict_name(res->verdict), stall ? ", out of time" : "", last_ms, res->seconds);
    fputs("</svg>\n</div>\n<h2>The transcript</h2>\n<pre>", f);
    size_t tlen = strlen(transcript);
    put_escaped(f, transcript, tlen, PICTURE_TEXT_MAX, 0);
    if (tlen == 0)
        fputs("(the test recorded nothing: it sent and received no bytes)", f);
    fputs("</pre>\n</body>\n</html>\n", f);
    if (fclose(f) != 0) {
        snprintf(err, errsz, "cannot write %s", path);
        return -1;
    }
    return 0;
}
