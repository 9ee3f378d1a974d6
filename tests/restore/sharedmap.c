/* sharedmap.c - for the restore tests: keeps a statistics file mapped shared and writable, the
 * way the JVM keeps its hsperfdata file, and bumps a counter in it as it works; its result comes
 * from private memory only. After a checkpoint the file goes on changing, which must not stop a
 * restore.
 *   sharedmap FILE ITERATIONS PROGRESS_FILE
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    long n = atol(argv[2]);
    int fd = open(argv[1], O_RDWR | O_CREAT, 0644);
    if (fd < 0 || ftruncate(fd, 4096) < 0) {
        perror(argv[1]);
        return 1;
    }
    volatile uint64_t *stats = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (stats == MAP_FAILED)
        return 1;
    uint64_t h = 1469598103934665603ull;
    for (long i = 0; i < n; i++) {
        for (int k = 0; k < 1000; k++)
            h = (h ^ (uint64_t)(i + k)) * 1099511628211ull;
        stats[0]++;
        if (i == n / 10) {
            int pf = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (pf >= 0)
                close(pf);
        }
        if (i % 100000 == 0)
            msync((void *)stats, 4096, MS_ASYNC);
    }
    printf("%016llx\n", (unsigned long long)h);
    return 0;
}
