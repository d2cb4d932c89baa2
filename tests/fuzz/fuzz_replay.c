/*
 * fuzz_replay.c - runs a fuzz harness on files, without libFuzzer: the main() of the harnesses
 * in an ordinary build. `fuzz-chat-lines-replay tests/fuzz/corpus/chat-lines` runs every seed
 * (a directory means each file in it) and exits 0 when none made the harness abort. This is
 * how the seed corpora and every saved crash input stay regression tests under gcc.
 */
#include "fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPLAY_INPUT_MAX (1024 * 1024) /* bytes of one input; larger files are refused */

/* Runs the harness on one file. Returns 0, or -1 if it cannot be read. */
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = malloc(REPLAY_INPUT_MAX);
    size_t n = 0;
    int rc = -1;

    if (f != NULL && buf != NULL) {
        n = fread(buf, 1, REPLAY_INPUT_MAX, f);
        if (!ferror(f) && n < REPLAY_INPUT_MAX) {
            LLVMFuzzerTestOneInput(buf, n);
            rc = 0;
        }
    }
    if (rc != 0)
        fprintf(stderr, "fuzz-replay: cannot read %s (or it is over %d bytes)\n", path,
                REPLAY_INPUT_MAX);
    if (f != NULL)
        fclose(f);
    free(buf);
    return rc;
}

int main(int argc, char **argv)
{
    int inputs = 0, bad = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
                char path[4096];
                if (e->d_name[0] == '.')
                    continue;
                snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
                bad += replay_file(path) != 0;
                inputs++;
            }
            if (d != NULL)
                closedir(d);
        } else {
            bad += replay_file(argv[i]) != 0;
            inputs++;
        }
    }
    printf("replayed %d inputs, %d unreadable\n", inputs, bad);
    return bad == 0 && inputs > 0 ? 0 : 1;
}
