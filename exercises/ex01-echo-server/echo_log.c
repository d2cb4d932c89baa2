/*
 * echo_log.c - see echo_log.h. Lines are formatted into a buffer first and written with one
 * call, so that a line never reaches the log in pieces.
 */
#include "echo_log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>

void echo_log(FILE *log, const char *fmt, ...)
{
    char line[ECHO_LOG_LINE_MAX];
    va_list ap;

    if (log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(log, "%s\n", line);
    fflush(log);
}

char *echo_format_addr(const struct sockaddr *sa, char *out, size_t outsz)
{
    char host[INET6_ADDRSTRLEN];

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(out, outsz, "%s:%u", host, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(out, outsz, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else {
        snprintf(out, outsz, "unknown-address");
    }
    return out;
}
