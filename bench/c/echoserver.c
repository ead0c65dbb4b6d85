/* The machine's floor: a minimal epoll server on a unix socket that answers each u32-BE length frame
#define _GNU_SOURCE
   with the same frame (no JSON work). usage: echoserver SOCKET */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct { int fd; size_t len; char buf[65536 + 4]; } conn;

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  unlink(argv[1]);
  int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strncpy(a.sun_path, argv[1], sizeof a.sun_path - 1);
  if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 512)) { perror("listen"); return 1; }
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  printf("ready\n");
  fflush(stdout);
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      conn *c = evs[i].data.ptr;
      if (!c) {
        int fd;
        while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          conn *nc = calloc(1, sizeof *nc);
          nc->fd = fd;
          struct epoll_event e = {.events = EPOLLIN, .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
        }
        continue;
      }
      for (;;) {
        ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
        if (r == 0 || (r < 0 && errno != EAGAIN)) { close(c->fd); free(c); break; }
        if (r < 0) break;
        c->len += r;
        size_t off = 0;
        while (c->len - off >= 4) {
          unsigned char *h = (unsigned char *)c->buf + off;
          uint32_t l = (uint32_t)h[0] << 24 | h[1] << 16 | h[2] << 8 | h[3];
          if (c->len - off < 4 + l) break;
          if (write(c->fd, c->buf + off, 4 + l) < 0) {}
          off += 4 + l;
        }
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
      }
    }
  }
}
