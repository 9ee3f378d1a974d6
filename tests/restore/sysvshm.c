/* sysvshm.c - for the restore tests: SysV shared memory as a database's buffer pool or a
 * simulation's exchange area uses it: a segment under a key (ftok of DIR), attached read-write
 * and a second time read-only elsewhere, and a private segment removed at once (IPC_RMID) that
 * stays attached and holds a counter the work loop moves together with one in private memory.
 * After its work it checks: the data is whole, a write through one attachment is seen through
 * the other, the key names the segment attached, the removed one is still marked removed, and
 * the two counters agree (the segment's pages are those of the snapshot's instant). It prints
 * the same lines whether it was checkpointed or restored in between or not, then removes the
 * keyed segment.
 *   sysvshm DIR ITERATIONS PROGRESS_FILE
 *   sysvshm squat DIR       (makes another segment under the key, for the test)
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include "prog.h"

#define SIZE (3u * 4096 + 100)          /* not a whole number of pages */

/* The inode /proc/self/maps shows for the mapping at p (a segment's id), or -1. */
static long maps_ino(const void *p)
{
    char line[512], want[32];
    long ino = -1;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return -1;
    snprintf(want, sizeof want, "%lx-", (unsigned long)(uintptr_t)p);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, want, strlen(want))) {
            unsigned long a, b, off;
            char perms[8], dev[16];
            if (sscanf(line, "%lx-%lx %7s %lx %15s %ld", &a, &b, perms, &off, dev, &ino) != 6)
                ino = -1;
            break;
        }
    fclose(f);
    return ino;
}

/* The permissions /proc/sysvipc/shm shows for segment id (SHM_DEST 01000 once removed), or -1. */
static long perms_of(long id)
{
    char line[512];
    long got = -1;
    FILE *f = fopen("/proc/sysvipc/shm", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        long key, sid;
        unsigned long perms;
        if (sscanf(line, "%ld %ld %lo", &key, &sid, &perms) == 3 && sid == id)
            got = (long)perms;
    }
    fclose(f);
    return got;
}

int main(int argc, char **argv)
{
    /* sysvshm squat DIR: another segment takes the key (the test's squatter) */
    if (argc == 3 && !strcmp(argv[1], "squat"))
        return shmget(ftok(argv[2], 'c'), 4096, IPC_CREAT | IPC_EXCL | 0600) < 0;
    if (argc < 4)
        return 2;
    key_t key = ftok(argv[1], 'c');
    int id = shmget(key, SIZE, IPC_CREAT | IPC_EXCL | 0600);
    int pid = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    if (key == -1 || id < 0 || pid < 0) {
        perror("shmget");
        return 1;
    }
    char kf[4096];
    snprintf(kf, sizeof kf, "%s/key", argv[1]);   /* for the test's cleanup, if it fails */
    FILE *k = fopen(kf, "w");
    if (k) {
        fprintf(k, "%#x\n", (unsigned)key);
        fclose(k);
    }
    unsigned char *rw = shmat(id, NULL, 0), *ro = shmat(id, NULL, SHM_RDONLY);
    volatile uint64_t *counter = shmat(pid, NULL, 0);
    if (rw == (void *)-1 || ro == (void *)-1 || counter == (void *)-1 ||
        shmctl(pid, IPC_RMID, NULL) < 0) {
        perror("shmat");
        return 1;
    }
    for (size_t i = 0; i < SIZE; i++)
        rw[i] = (unsigned char)(i * 11 + 5);

    long n = atol(argv[2]);
    volatile uint64_t mine = 0;
    for (long i = 0; i < n; i++) {
        prog_step(i, n, argv[3]);
        mine++;
        (*counter)++;
    }

    int whole = 1;
    for (size_t i = 0; i < SIZE; i++)
        whole &= ro[i] == (unsigned char)(i * 11 + 5);
    CHECK(whole, "segment data whole");
    rw[SIZE - 1] = 0xee;
    CHECK(ro[SIZE - 1] == 0xee, "one segment through both attachments");
    long now = shmget(key, 0, 0);
    CHECK(now >= 0 && now == maps_ino(rw) && now == maps_ino(ro), "the key names the segment");
    long p = perms_of(maps_ino((const void *)counter));
    CHECK(p >= 0 && (p & 01000), "the removed segment is still removed");
    CHECK(*counter == mine, "counters agree");
    if (now >= 0)
        shmctl((int)now, IPC_RMID, NULL);
    return 0;
}
