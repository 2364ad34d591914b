/*
 * A malloc-counting LD_PRELOAD shim for the benchmarks: counts the calls
 * and the bytes requested through malloc, calloc, realloc (the new size),
 * memalign, posix_memalign and aligned_alloc, then hands the call to
 * glibc's own allocator.  free() is not wrapped.
 *
 * With MALLOC_COUNT_FILE set, the two counters live in that file (a
 * shared mapping), so a script can read them while nginx runs: two
 * little-endian uint64 at offset 0 (calls) and 8 (bytes).  A program can
 * read them with malloc_count_read(), found with dlsym().
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>


extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);


typedef struct {
    volatile uint64_t  calls;
    volatile uint64_t  bytes;
} malloc_count_t;


static malloc_count_t   malloc_count_local;
static malloc_count_t  *malloc_count = &malloc_count_local;


__attribute__((constructor)) static void
malloc_count_init(void)
{
    int          fd;
    void        *p;
    const char  *file;

    file = getenv("MALLOC_COUNT_FILE");
    if (file == NULL) {
        return;
    }

    fd = open(file, O_RDWR | O_CREAT, 0644);
    if (fd == -1) {
        return;
    }

    if (ftruncate(fd, sizeof(malloc_count_t)) == 0) {
        p = mmap(NULL, sizeof(malloc_count_t), PROT_READ | PROT_WRITE,
                 MAP_SHARED, fd, 0);
        if (p != MAP_FAILED) {
            memset(p, 0, sizeof(malloc_count_t));
            malloc_count = p;
        }
    }

    close(fd);
}


static inline void
count(size_t size)
{
    malloc_count->calls++;
    malloc_count->bytes += size;
}


void
malloc_count_read(uint64_t *calls, uint64_t *bytes)
{
    *calls = malloc_count->calls;
    *bytes = malloc_count->bytes;
}


void *
malloc(size_t size)
{
    count(size);
    return __libc_malloc(size);
}


void *
calloc(size_t n, size_t size)
{
    count(n * size);
    return __libc_calloc(n, size);
}


void *
realloc(void *p, size_t size)
{
    count(size);
    return __libc_realloc(p, size);
}


void *
memalign(size_t alignment, size_t size)
{
    count(size);
    return __libc_memalign(alignment, size);
}


void *
aligned_alloc(size_t alignment, size_t size)
{
    count(size);
    return __libc_memalign(alignment, size);
}


int
posix_memalign(void **out, size_t alignment, size_t size)
{
    void  *p;

    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) {
        return EINVAL;
    }

    count(size);

    p = __libc_memalign(alignment, size);
    if (p == NULL) {
        return ENOMEM;
    }

    *out = p;
    return 0;
}
