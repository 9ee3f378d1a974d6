/* mapfile.c - for the restore tests: maps a data file privately (and dirties a page of it),
 * keeps it open as a descriptor with its offset, and hashes both for a while. What the image
 * needs from that file is what the validation tests take away or change.
 *   mapfile FILE ITERATIONS [PROGRESS_FILE]
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct stat st;
    char head[16], tail[16];
    uint64_t h = 1469598103934665603ull;

    if (argc < 3)
        return 2;
    long n = atol(argv[2]);
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 64) {
        perror(argv[1]);
        return 1;
    }
    unsigned char *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED || read(fd, head, sizeof head) != sizeof head)
        return 1;
    p[0] ^= 0x5a;                       /* a dirty private page: saved in the image */
    for (long i = 0; i < n; i++) {
        for (off_t k = 0; k < st.st_size; k += 61)
            h = (h ^ p[k]) * 1099511628211ull;
        if (argc > 3 && i == n / 10) {
            int pf = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (pf >= 0)
                close(pf);
        }
    }
    if (read(fd, tail, sizeof tail) != sizeof tail)     /* continues from offset 16 */
        return 1;
    for (size_t k = 0; k < sizeof tail; k++)
        h = (h ^ (unsigned char)tail[k] ^ (unsigned char)head[k]) * 1099511628211ull;
    printf("%016llx\n", (unsigned long long)h);
    return 0;
}
