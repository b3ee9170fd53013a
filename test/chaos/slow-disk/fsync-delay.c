/*
 * A slow disk for one process, injected with LD_PRELOAD: every fsync, fdatasync, msync and
 * sync_file_range first sleeps for the number of milliseconds written in the file named by
 * SIGIL_CHAOS_FSYNC_DELAY_FILE (absent, empty or 0 means no delay), then does the real call.
 *
 * Why only the sync calls: on a real slow disk, writes land in the page cache and the cost shows
 * up when the process waits for durability. The delay is a sleep in the calling thread, so the
 * process's clock, timers and event loop keep running: only work that waits on the disk slows.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static long delay_ms(void) {
  const char *path = getenv("SIGIL_CHAOS_FSYNC_DELAY_FILE");
  if (path == NULL) return 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[16] = {0};
  ssize_t got = read(fd, text, sizeof text - 1);
  close(fd);
  if (got <= 0) return 0;
  long ms = strtol(text, NULL, 10);
  return ms > 0 && ms < 60000 ? ms : 0;
}

static void slow_down(void) {
  long ms = delay_ms();
  if (ms == 0) return;
  struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&pause, &pause) != 0) {
  }
}

int fsync(int fd) {
  static int (*real)(int);
  if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  slow_down();
  return real(fd);
}

int fdatasync(int fd) {
  static int (*real)(int);
  if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  slow_down();
  return real(fd);
}

int msync(void *address, size_t length, int flags) {
  static int (*real)(void *, size_t, int);
  if (real == NULL) real = (int (*)(void *, size_t, int))dlsym(RTLD_NEXT, "msync");
  if (flags & MS_SYNC) slow_down();
  return real(address, length, flags);
}

int sync_file_range(int fd, off64_t offset, off64_t bytes, unsigned int flags) {
  static int (*real)(int, off64_t, off64_t, unsigned int);
  if (real == NULL) {
    real = (int (*)(int, off64_t, off64_t, unsigned int))dlsym(RTLD_NEXT, "sync_file_range");
  }
  slow_down();
  return real(fd, offset, bytes, flags);
}
