/*
 * stack_trace.c - see stack_trace.h.
 *
 * Sampling: a real-time signal is sent to the thread; its handler calls backtrace() into a
 * buffer allocated beforehand and raises a flag the caller polls. backtrace() is safe in a
 * signal handler once it has run before (its first call loads the unwinder, which allocates):
 * stack_trace_init() makes that first call.
 *
 * Naming: addresses in shared libraries (libc, libevent, the sanitizers' wrappers) get their
 * exported name from dladdr1(), only when the address lies inside that symbol (a static function
 * of a library has no exported name, and the nearest one would be wrong). Addresses in the test
 * program itself, where the student's code and the harness live, go to one `addr2line` run.
 *
 * Linux (glibc) only: elsewhere the functions below say they know nothing, and the watchdog's
 * message says less.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr1 */
#endif
#include "stack_trace.h"

#include <string.h>

#if defined(__linux__) && defined(__GLIBC__)

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STACK_TRACE_SIGNAL (SIGRTMIN + 4) /* SIGRTMIN itself is often taken by libraries */
#define SKIP_MAX 4                        /* frames of the signal handler and its trampoline */
#define HANDLER_CODE_MAX 4096             /* see stack_trace_sample() */
#define ADDR2LINE_MS 3000                 /* how long addr2line may take */
#define ADDR2LINE_OUT_MAX (64 * 1024)     /* its output is read up to this size */

extern char **environ;

static void *sample_buf[STACK_TRACE_MAX_FRAMES + SKIP_MAX];
static atomic_int sample_len = -1; /* frames recorded by the handler; -1 while waiting */
static atomic_int sample_wanted;   /* the handler records only when asked */
static pthread_mutex_t sample_lock = PTHREAD_MUTEX_INITIALIZER;

static void sample_handler_cb(int sig)
{
    int saved = errno;
    (void)sig;
    if (atomic_exchange(&sample_wanted, 0)) {
        atomic_store(&sample_len, backtrace(sample_buf, STACK_TRACE_MAX_FRAMES + SKIP_MAX));
        /* Held here, the thread changes nothing while its stack is reported. */
        struct timespec tick = {0, 1000000};
        for (int held = 0; held < STACK_TRACE_HOLD_MS; held++)
            nanosleep(&tick, NULL);
    }
    errno = saved;
}

static int init_status = -1;

static void init_once(void)
{
    void *warm[4];
    struct sigaction sa;

    backtrace(warm, 4); /* loads the unwinder now, outside any signal handler */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sample_handler_cb;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    init_status = sigaction(STACK_TRACE_SIGNAL, &sa, NULL);
}

int stack_trace_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_once);
    return init_status;
}

/* Copies src into dst, cut to fit; always terminated. */
static void copy_text(char *dst, size_t dstsz, const char *src)
{
    size_t n = strlen(src);
    if (n >= dstsz)
        n = dstsz - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* A name from a shared library without its decorations: "__libc_read" and the sanitizers'
 * "__interceptor_read" are read(). */
static void clean_name(const char *name, char *out, size_t outsz)
{
    static const char *const prefixes[] = {"__interceptor_", "___interceptor_", "__GI_", "__libc_",
                                           NULL};
    for (int again = 1; again;) {
        again = 0;
        for (size_t i = 0; prefixes[i] != NULL; i++)
            if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0) {
                name += strlen(prefixes[i]);
                again = 1;
            }
    }
    name += strspn(name, "_");
    copy_text(out, outsz, name);
}

int stack_trace_sample(pthread_t t, void **frames, int max)
{
    int n = 0;

    if (stack_trace_init() != 0)
        return 0;
    pthread_mutex_lock(&sample_lock);
    atomic_store(&sample_len, -1);
    atomic_store(&sample_wanted, 1);
    if (pthread_kill(t, STACK_TRACE_SIGNAL) == 0) {
        struct timespec tick = {0, 1000000};
        for (int waited = 0; waited < STACK_TRACE_SAMPLE_MS && atomic_load(&sample_len) < 0;
             waited++)
            nanosleep(&tick, NULL);
    }
    atomic_store(&sample_wanted, 0);
    int len = atomic_load(&sample_len);
    if (len > 0) {
        /* Leave out the handler's frame, the sanitizers' wrapper of backtrace() above it, and
         * the return trampoline the kernel put below it: the interrupted frame comes next. The
         * handler's frame is the one whose address lies just after the handler's start (its
         * size is not known, hence a bound: the code after it in this file never runs on the
         * sampled thread, so no other early frame can fall there). */
        uintptr_t handler = (uintptr_t)sample_handler_cb;
        int skip = 1;
        for (int i = 0; i < len && i < SKIP_MAX; i++)
            if ((uintptr_t)sample_buf[i] > handler &&
                (uintptr_t)sample_buf[i] < handler + HANDLER_CODE_MAX)
                skip = i + 2;
        for (int i = skip; i < len && n < max; i++)
            frames[n++] = sample_buf[i];
    }
    pthread_mutex_unlock(&sample_lock);
    return n;
}

/* Is `path` (as the debug information spells it) the code under test: the student's, a grader
 * fixture's, a lecture's? Everything but the tests themselves and their harness (tests/). */
static int is_student_path(const char *path)
{
    return path[0] != '\0' && strncmp(path, "tests/", 6) != 0 && strstr(path, "/tests/") == NULL;
}

/* Reads a child's stdout until it closes, the buffer is full or the deadline passes. */
static size_t read_all(int fd, char *buf, size_t cap, int timeout_ms)
{
    struct timespec start;
    size_t len = 0;

    clock_gettime(CLOCK_MONOTONIC, &start);
    while (len + 1 < cap) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (spent >= timeout_ms || poll(&p, 1, (int)(timeout_ms - spent)) <= 0)
            break;
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    return len;
}

/* Fills the line "file:line" (maybe followed by " (discriminator N)") into a place. */
static void set_location(struct stack_place *p, const char *loc)
{
    const char *colon = strrchr(loc, ':');
    size_t pathlen = colon != NULL ? (size_t)(colon - loc) : strlen(loc);
    char path[512];

    snprintf(path, sizeof path, "%.*s", (int)pathlen, loc);
    if (strcmp(path, "??") == 0)
        return;
    const char *slash = strrchr(path, '/');
    copy_text(p->file, sizeof p->file, slash != NULL ? slash + 1 : path);
    p->line = colon != NULL ? atoi(colon + 1) : 0;
    p->student = is_student_path(path);
}

/* Names the addresses of the test program itself: `offsets` are file addresses for addr2line,
 * `which[i]` the index in `out` each belongs to. Returns how many were named. */
static int name_in_program(const uintptr_t *offsets, const int *which, int n,
                           struct stack_place *out)
{
    char exe[1024], args[STACK_TRACE_MAX_FRAMES][24];
    char *argv[STACK_TRACE_MAX_FRAMES + 8];
    int pipefd[2], named = 0, argc = 0;
    posix_spawn_file_actions_t fa;
    pid_t pid;

    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0 || n <= 0 || pipe(pipefd) != 0)
        return 0;
    fcntl(pipefd[0], F_SETFD, FD_CLOEXEC); /* the loop thread's code may fork meanwhile */
    fcntl(pipefd[1], F_SETFD, FD_CLOEXEC);
    exe[len] = '\0';
    argv[argc++] = "addr2line";
    argv[argc++] = "-a"; /* each address first, then its function and line pairs */
    argv[argc++] = "-f";
    argv[argc++] = "-i"; /* inlined functions too: the innermost pair comes first */
    argv[argc++] = "-e";
    argv[argc++] = exe;
    for (int i = 0; i < n && i < STACK_TRACE_MAX_FRAMES; i++) {
        snprintf(args[i], sizeof args[i], "0x%jx", (uintmax_t)offsets[i]);
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    int rc = posix_spawnp(&pid, "addr2line", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        return 0;
    }
    char *text = malloc(ADDR2LINE_OUT_MAX);
    if (text != NULL)
        read_all(pipefd[0], text, ADDR2LINE_OUT_MAX, ADDR2LINE_MS);
    close(pipefd[0]);
    kill(pid, SIGKILL); /* it has finished, or took too long */
    waitpid(pid, NULL, 0);
    if (text == NULL)
        return 0;

    /* Per address: "0x...", then "function" and "file:line" pairs, the innermost (inlined)
     * function first and the functions it was inlined into after it. */
    int k = -1, pair_line = 0, first_pair = 0;
    char func[sizeof out->func] = "";
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (strncmp(line, "0x", 2) == 0) {
            k++;
            pair_line = 0;
            first_pair = 1;
            continue;
        }
        if (k < 0 || k >= n)
            break;
        if (pair_line == 0) {
            copy_text(func, sizeof func, strcmp(line, "??") != 0 ? line : "");
        } else {
            /* The first pair names the address; an outer one replaces it when the inlined code
             * is not the student's but the function it was inlined into is. */
            struct stack_place *p = &out[which[k]], place = {0};
            copy_text(place.func, sizeof place.func, func);
            set_location(&place, line);
            if (first_pair || (!p->student && place.student)) {
                named += first_pair && place.func[0] != '\0';
                *p = place;
            }
            first_pair = 0;
        }
        pair_line ^= 1;
    }
    free(text);
    return named;
}

int stack_trace_name(void *const *addrs, int n, int return_addresses, struct stack_place *out)
{
    Dl_info self;
    uintptr_t offsets[STACK_TRACE_MAX_FRAMES];
    int which[STACK_TRACE_MAX_FRAMES], nprog = 0, named = 0;

    if (n > STACK_TRACE_MAX_FRAMES)
        n = STACK_TRACE_MAX_FRAMES;
    memset(out, 0, (size_t)n * sizeof *out);
    if (dladdr((void *)stack_trace_init, &self) == 0)
        return -1;
    /* A position-independent program's addresses are offsets from where it was loaded. */
    const ElfW(Ehdr) *hdr = self.dli_fbase;
    uintptr_t prog_base = hdr->e_type == ET_DYN ? (uintptr_t)self.dli_fbase : 0;

    for (int i = 0; i < n; i++) {
        uintptr_t pc = (uintptr_t)addrs[i] - (return_addresses ? 1 : 0);
        Dl_info info;
        const ElfW(Sym) *sym = NULL;
        if (dladdr1((void *)pc, &info, (void **)&sym, RTLD_DL_SYMENT) == 0)
            continue;
        if (info.dli_fbase == self.dli_fbase) {
            offsets[nprog] = pc - prog_base;
            which[nprog++] = i;
            continue;
        }
        const char *slash = info.dli_fname != NULL ? strrchr(info.dli_fname, '/') : NULL;
        copy_text(out[i].file, sizeof out[i].file, slash != NULL ? slash + 1 : "");
        if (info.dli_sname != NULL && sym != NULL &&
            pc < (uintptr_t)info.dli_saddr + (sym->st_size > 0 ? sym->st_size : 1)) {
            clean_name(info.dli_sname, out[i].func, sizeof out[i].func);
            named++;
        }
    }
    named += name_in_program(offsets, which, nprog, out);
    return named > 0 ? 0 : -1;
}

int stack_trace_summarise(void *const *frames, int n, struct stack_summary *sum)
{
    struct stack_place places[STACK_TRACE_MAX_FRAMES];
    void *pcs[STACK_TRACE_MAX_FRAMES];
    Dl_info self;

    memset(sum, 0, sizeof *sum);
    if (n <= 0 || dladdr((void *)stack_trace_init, &self) == 0)
        return -1;
    if (n > STACK_TRACE_MAX_FRAMES)
        n = STACK_TRACE_MAX_FRAMES;
    /* The interrupted frame's address is exact; the others are return addresses, which are
     * looked up one byte back, inside the call instruction. */
    pcs[0] = frames[0];
    for (int i = 1; i < n; i++)
        pcs[i] = (char *)frames[i] - 1;
    stack_trace_name(pcs, n, 0, places);

    /* The frames before the first one in the program are a library's: the outermost of them is
     * the call the program made. */
    int i = 0;
    for (; i < n; i++) {
        Dl_info info;
        if (dladdr(pcs[i], &info) == 0 || info.dli_fbase == self.dli_fbase)
            break;
        if (places[i].func[0] != '\0')
            copy_text(sum->call, sizeof sum->call, places[i].func);
    }
    sum->innermost_is_mine = i == 0 && places[0].student;
    for (int k = 0; k < n; k++)
        if (places[k].student) {
            sum->mine = places[k];
            break;
        }
    return sum->call[0] != '\0' || sum->mine.file[0] != '\0' ? 0 : -1;
}

#else /* no backtrace of another thread: callers say less */

int stack_trace_init(void)
{
    return -1;
}

int stack_trace_sample(pthread_t t, void **frames, int max)
{
    (void)t;
    (void)frames;
    (void)max;
    return 0;
}

int stack_trace_name(void *const *addrs, int n, int return_addresses, struct stack_place *out)
{
    (void)addrs;
    (void)return_addresses;
    for (int i = 0; i < n; i++)
        memset(&out[i], 0, sizeof out[i]);
    return -1;
}

int stack_trace_summarise(void *const *frames, int n, struct stack_summary *sum)
{
    (void)frames;
    (void)n;
    memset(sum, 0, sizeof *sum);
    return -1;
}

#endif
