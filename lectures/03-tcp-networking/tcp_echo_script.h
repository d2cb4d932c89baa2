/*
 * tcp_echo_script.h - the scripted clients that `tcp-echo --demo` runs against its own server.
 *
 * The script runs on a second thread with ordinary blocking sockets, so each scene reads top to
 * bottom like a person typing into nc. It never calls libevent: the server's loop stays on the
 * main thread. It ends every run by sending the process SIGTERM, which is how the server's
 * graceful shutdown gets exercised.
 */
#ifndef TCP_ECHO_SCRIPT_H
#define TCP_ECHO_SCRIPT_H

struct tcp_echo;

struct echo_script {
    const char *host;
    const struct tcp_echo *server; /* logs every event; its counters pace the script */
    const struct tcp_echo *crowd;  /* a silent second server for the many-connections scene */
    int idle_ms;                   /* the servers' idle timeout */
    int failures;                  /* scenes that did not go as described (read after join) */
};

/* Thread entry point: arg is a struct echo_script. Returns NULL. */
void *echo_script_run(void *arg);

#endif
