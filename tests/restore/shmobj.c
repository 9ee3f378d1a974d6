/* shmobj.c - for the restore tests: a POSIX shared memory object (shm_open, a file of /dev/shm
 * that lives in memory only), mapped shared read-write whole and read-only in part, its
 * descriptor closed, as a process pool's exchange area is. The work loop moves a counter in it
 * together with one in private memory. After its work it checks: the data is whole, a write
 * through one mapping is seen through the other, the name still leads to the object mapped,
 * and the two counters agree (its pages are those of the snapshot's instant). It prints the
 * same lines whether it was checkpointed or restored in between or not, then unlinks it. Its
 * name is written to DIR/shmname, for the test.
 *   shmobj DIR ITERATIONS PROGRESS_FILE
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "prog.h"

#define SIZE (3u * 4096 + 100)

int main(int argc, char **argv)
{
    struct stat dir, now;
    char name[64], path[128];

    if (argc < 4 || stat(argv[1], &dir) < 0)
        return 2;
    snprintf(name, sizeof name, "/crsnap-test-%lu", (unsigned long)dir.st_ino);
    snprintf(path, sizeof path, "/dev/shm%s", name);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0640);
    if (fd < 0 || ftruncate(fd, SIZE) < 0) {
        perror("shm_open");
        return 1;
    }
    char nf[4096];
    snprintf(nf, sizeof nf, "%s/shmname", argv[1]);
    FILE *f = fopen(nf, "w");
    if (f) {
        fprintf(f, "%s\n", path);
        fclose(f);
    }
    unsigned char *rw = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const unsigned char *ro = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 4096);
    if (rw == MAP_FAILED || ro == MAP_FAILED)
        return 1;
    close(fd);
    for (size_t i = 0; i < 2 * 4096; i++)
        rw[i] = (unsigned char)(i * 3 + 1);
    volatile uint64_t *counter = (volatile uint64_t *)(rw + 2 * 4096);

    long n = atol(argv[2]);
    volatile uint64_t mine = 0;
    for (long i = 0; i < n; i++) {
        prog_step(i, n, argv[3]);
        mine++;
        (*counter)++;
    }

    int whole = 1;
    for (size_t i = 0; i < 2 * 4096; i++)
        whole &= rw[i] == (unsigned char)(i * 3 + 1);
    CHECK(whole, "object data whole");
    rw[4096 + 10] = 0xee;
    CHECK(ro[10] == 0xee, "one object through both mappings");
    unsigned char b = 0;
    int nfd = open(path, O_RDONLY);
    CHECK(nfd >= 0 && fstat(nfd, &now) == 0 && (now.st_mode & 07777) == 0640 &&
              now.st_size == SIZE && pread(nfd, &b, 1, 4096 + 10) == 1 && b == 0xee,
          "the name leads to the object mapped, of its mode and size");
    if (nfd >= 0)
        close(nfd);
    CHECK(*counter == mine, "counters agree");
    shm_unlink(name);
    return 0;
}
