/*
 * peer_socket.c - find the server's socket for a test client, and look at what it holds.
 */
#include "peer_socket.h"

#include "client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#ifdef __linux__
#include <linux/sockios.h>
#endif

int peer_socket_find(uint16_t server_port, const struct client *c)
{
    uint16_t port = client_local_port(c);

    for (int fd = 0; fd < FD_SETSIZE; fd++) {
        struct sockaddr_in local, peer;
        socklen_t llen = sizeof local, plen = sizeof peer;
        if (fd == c->fd || getsockname(fd, (struct sockaddr *)&local, &llen) != 0 ||
            local.sin_family != AF_INET || ntohs(local.sin_port) != server_port ||
            getpeername(fd, (struct sockaddr *)&peer, &plen) != 0 || ntohs(peer.sin_port) != port)
            continue;
        return fd;
    }
    return -1;
}

int peer_socket_unread(int fd)
{
    int n = 0;
    return ioctl(fd, FIONREAD, &n) == 0 ? n : -1;
}

int peer_socket_unsent(int fd)
{
#if defined(__linux__) && defined(SIOCOUTQNSD)
    int n = 0;
    /* Not SIOCOUTQ, which also counts bytes sent but not yet acknowledged: those have reached
     * the peer already. SIOCOUTQNSD counts what has not left at all. */
    return ioctl(fd, SIOCOUTQNSD, &n) == 0 ? n : -1;
#else
    (void)fd;
    return -1;
#endif
}
