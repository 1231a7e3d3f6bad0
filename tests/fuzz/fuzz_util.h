/* fuzz_util.h — what the fuzz targets share: the fuzz input as a file path without touching the
 * disk (one memfd per process, rewritten for every input, opened as /proc/self/fd/N) and an
 * allocation cap the targets set around library calls (fuzz_alloc.c, linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc so that cnncore's allocations go through it).
 * Include this header first: memfd_create needs _GNU_SOURCE before any system header. */
#ifndef CNN_FUZZ_UTIL_H
#define CNN_FUZZ_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* The libFuzzer entry point every target defines (replay_main.c calls it too). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Largest single malloc/calloc/realloc that succeeds; bigger requests return NULL as if memory
 * had run out. SIZE_MAX (no cap) unless a target sets it. */
extern size_t fuzz_alloc_limit;

/* Aborts with a message: a broken harness or a violated property, never bad input. */
#define FUZZ_CHECK(cond, ...)                                                                  \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "fuzz check failed at %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fputc('\n', stderr);                                                               \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

/* Replaces the contents of this process's scratch memfd (slot 0..3) with data and writes its
 * path ("/proc/self/fd/N") into path. The file stays open for the life of the process. */
static inline const char *fuzz_memfd(int slot, const uint8_t *data, size_t size, char path[64])
{
    static int fds[4] = {-1, -1, -1, -1};
    FUZZ_CHECK(slot >= 0 && slot < 4, "slot %d", slot);
    if (fds[slot] < 0) {
        fds[slot] = memfd_create("cnn-fuzz", MFD_CLOEXEC);
        FUZZ_CHECK(fds[slot] >= 0, "memfd_create failed");
    }
    int fd = fds[slot];
    FUZZ_CHECK(ftruncate(fd, 0) == 0, "ftruncate failed");
    for (size_t done = 0; done < size;) {
        ssize_t w = pwrite(fd, data + done, size - done, (off_t)done);
        FUZZ_CHECK(w > 0, "pwrite failed");
        done += (size_t)w;
    }
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    return path;
}

#endif
