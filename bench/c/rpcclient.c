/* Benchmark client: ping round trips over a unix socket with u32-BE length frames.
   usage: rpcclient SOCKET CONNS REQS_PER_CONN [connect]
   Each connection runs in its own thread, sequential request/answer; prints one JSON line. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *sock_path;
static int reqs, handshake;
static double *lat;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static int readn(int fd, char *b, size_t n) {
  size_t off = 0;
  while (off < n) {
    ssize_t r = read(fd, b + off, n - off);
    if (r <= 0) return -1;
    off += r;
  }
  return 0;
}

static void *worker(void *arg) {
  long idx = (long)arg;
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strncpy(a.sun_path, sock_path, sizeof a.sun_path - 1);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { perror("connect"); exit(2); }
  if (handshake) {
    if (write(fd, "CONNECT 52\n", 11) != 11) exit(2);
    char c;
    do { if (read(fd, &c, 1) != 1) exit(2); } while (c != '\n');
  }
  char out[128], in[65536];
  for (int i = 0; i < reqs; i++) {
    int n = snprintf(out + 4, sizeof out - 4, "{\"type\":\"ping\",\"id\":%d}", i);
    out[0] = (n >> 24) & 255; out[1] = (n >> 16) & 255; out[2] = (n >> 8) & 255; out[3] = n & 255;
    double t0 = now();
    if (write(fd, out, n + 4) != n + 4) { perror("write"); exit(2); }
    unsigned char h[4];
    if (readn(fd, (char *)h, 4)) { fprintf(stderr, "closed\n"); exit(2); }
    uint32_t len = (uint32_t)h[0] << 24 | h[1] << 16 | h[2] << 8 | h[3];
    if (len > sizeof in || readn(fd, in, len)) { fprintf(stderr, "bad answer\n"); exit(2); }
    lat[idx * reqs + i] = now() - t0;
  }
  close(fd);
  return NULL;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: rpcclient SOCKET CONNS REQS [connect]\n"); return 2; }
  sock_path = argv[1];
  int conns = atoi(argv[2]);
  reqs = atoi(argv[3]);
  handshake = argc > 4 && strcmp(argv[4], "connect") == 0;
  lat = calloc((size_t)conns * reqs, sizeof *lat);
  pthread_t *th = calloc(conns, sizeof *th);
  double t0 = now();
  for (long i = 0; i < conns; i++) pthread_create(&th[i], NULL, worker, (void *)i);
  for (int i = 0; i < conns; i++) pthread_join(th[i], NULL);
  double wall = now() - t0;
  size_t total = (size_t)conns * reqs;
  qsort(lat, total, sizeof *lat, cmp);
  printf("{\"ops\":%zu,\"secs\":%.6f,\"ops_per_sec\":%.1f,\"p50_us\":%.2f,\"p99_us\":%.2f}\n", total, wall, total / wall,
         lat[total / 2] * 1e6, lat[(size_t)(total * 0.99)] * 1e6);
  return 0;
}
