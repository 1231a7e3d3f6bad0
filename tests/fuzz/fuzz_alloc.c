/* fuzz_alloc.c — an allocation cap for the fuzz targets. Linked with -Wl,--wrap=malloc,
 * --wrap=calloc,--wrap=realloc, every call the target and cnncore make goes through here (the
 * C library's own calls, e.g. inside strdup, do not). A request over fuzz_alloc_limit fails as if
 * memory had run out: networks whose plan is legal but too large for a fast fuzzer (the library
 * allows up to CNN_NET_MAX_BYTES = 8 GiB) stop early, and the out-of-memory paths get fuzzed. */
#include "fuzz_util.h"

size_t fuzz_alloc_limit = SIZE_MAX;

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);

void *__wrap_malloc(size_t n) { return n > fuzz_alloc_limit ? NULL : __real_malloc(n); }

void *__wrap_calloc(size_t k, size_t n)
{
    if (n && k > fuzz_alloc_limit / n) return NULL;
    return __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n) { return n > fuzz_alloc_limit ? NULL : __real_realloc(p, n); }
