/* runtime/shmcopy.c - shared memory that lives only in memory and that other processes find by
 * a name: SysV segments (shmat) and POSIX objects of /dev/shm (shm_open) mapped MAP_SHARED. A
 * fork does not copy shared pages: the snapshot child would read them while the program writes
 * on, and the image would mix the snapshot's instant with later writes. So before the threads
 * are stopped the coordinator lists such regions from /proc/self/maps (no pause), and while
 * they are stopped it copies their resident pages into a memfd of its own, at most
 * CRS_SNAP_SHM_MAX bytes in all: written from the mapping, so a region unmapped in between
 * makes the write fail (EFAULT) rather than fault. The child saves a region from its copy when
 * the region it sees is the one copied, and from the live mapping otherwise. In a job, the
 * same goes for the memory its processes share without a name (tree.c).
 *
 * crs_shmcopy_scan() runs in the coordinator before the quiesce; crs_shmcopy_take() while the
 * other threads are parked: raw system calls and the state's own buffers only, no malloc, no
 * stdio, no locks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#include "runtime.h"
#include "common/proc_util.h"

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}

/* One maps line: "start-end perms offset dev inode   name". */
static int scan_line(char *line, size_t len, void *arg)
{
    const char *s = line, *name;
    uint64_t start, end, off, ino;
    (void)arg;

    line[len] = '\0';
    if (crs_parse_hex(&s, &start) || *s++ != '-' || crs_parse_hex(&s, &end) || *s++ != ' ')
        return 0;
    /* readable (the copy is written from the mapping) and shared */
    if (s[0] != 'r' || s[3] != 's')
        return 0;
    s += 4;
    crs_skip_space(&s);
    if (crs_parse_hex(&s, &off))
        return 0;
    crs_skip_space(&s);
    while (*s && *s != ' ')
        s++;                            /* the device */
    crs_skip_space(&s);
    if (crs_parse_dec(&s, &ino))
        return 0;
    crs_skip_space(&s);
    name = s;
    size_t n = (size_t)(line + len - name);
    int sysv = crs_strncmp_prefix(name, "/SYSV") && ends_with(name, n, " (deleted)");
    int posix = crs_strncmp_prefix(name, "/dev/shm/") && !ends_with(name, n, " (deleted)");
    /* In a job, memory without a name that processes share since a fork (anonymous shared
     * memory, a memfd, an unlinked file) must be of the same instant in every image too. */
    int job = (crs_state.tree.active || crs_state.cur.member) && ino &&
              (ends_with(name, n, " (deleted)") || crs_strncmp_prefix(name, "/memfd:") ||
               crs_strncmp_prefix(name, "[anon_shmem"));
    if (!sysv && !posix && !job)
        return 0;
    if (crs_state.nshmcopy == CRS_SNAP_SHM_REGIONS) {
        crs_state.shm_missed++;
        return 0;
    }
    crs_state.shmcopy[crs_state.nshmcopy++] = (struct crs_snap_shmcopy){
        .start = start, .end = end, .ino = ino };
    return 0;
}

void crs_shmcopy_scan(void)
{
    crs_state.nshmcopy = 0;
    crs_state.shm_missed = 0;
    crs_state.shm_bytes = 0;
    crs_state.shm_memfd = -1;
    crs_read_lines("/proc/self/maps", crs_state.smaps_buf, sizeof crs_state.smaps_buf,
                   scan_line, NULL);
}

/* Copies the resident pages of c to where its copy starts; 0, or -errno (nothing is left half
 * done that the child would take: c->copied stays 0). */
static int copy_region(struct crs_snap_shmcopy *c)
{
    const uint64_t page = 4096, stretch = sizeof crs_state.shm_vec * page;
    int fd = crs_state.shm_memfd;

    for (uint64_t at = c->start; at < c->end; at += stretch) {
        uint64_t len = c->end - at < stretch ? c->end - at : stretch;
        long r = crs_sys3(SYS_mincore, (long)at, (long)len, (long)crs_state.shm_vec);
        if (r < 0)
            return (int)r;
        for (uint64_t i = 0; i < len / page;) {
            uint64_t j = i;
            while (j < len / page && (crs_state.shm_vec[j] & 1))
                j++;
            if (j > i) {
                uint64_t from = at + i * page, n = (j - i) * page;
                if (crs_state.shm_bytes + n > CRS_SNAP_SHM_MAX)
                    return -E2BIG;
                for (uint64_t done = 0; done < n;) {
                    r = crs_sys4(SYS_pwrite64, fd, (long)(from + done), (long)(n - done),
                                 (long)(c->offset + (from - c->start) + done));
                    if (r <= 0)
                        return r < 0 ? (int)r : -EIO;
                    done += (uint64_t)r;
                }
                crs_state.shm_bytes += n;
            }
            i = j + 1;
        }
    }
    return 0;
}

void crs_shmcopy_take(void)
{
    uint64_t next = 0;

    if (!crs_state.nshmcopy)
        return;
    long m = crs_sys2(SYS_memfd_create, (long)"crsnap-shm", MFD_CLOEXEC);
    if (m < 0) {
        crs_state.shm_missed += crs_state.nshmcopy;
        crs_state.nshmcopy = 0;
        return;
    }
    crs_state.shm_memfd = (int)m;
    for (uint32_t i = 0; i < crs_state.nshmcopy; i++) {
        struct crs_snap_shmcopy *c = &crs_state.shmcopy[i];
        c->offset = next;
        next += c->end - c->start;
        c->copied = copy_region(c) == 0;
        if (!c->copied) {
            crs_state.shm_missed++;
            /* nobody reads what it wrote: give the memory back at once */
            crs_sys4(SYS_fallocate, crs_state.shm_memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                     (long)c->offset, (long)(c->end - c->start));
        }
    }
}

void crs_shmcopy_end(void)
{
    if (crs_state.shm_memfd >= 0)
        crs_sys1(SYS_close, crs_state.shm_memfd);
    crs_state.shm_memfd = -1;
}
