/* runtime/dontfork.c - regions the program marked MADV_DONTFORK (V8's heap pages in Node.js,
 * for one) are not copied into a forked child, and those marked MADV_WIPEONFORK (a random
 * generator's state, so that a child never repeats it) are zero there: the snapshot child would
 * not see them, and the image would lack them or hold zeros where the program had data. madvise
 * is defined here, ahead of glibc's, to notice that a program uses either; a checkpoint then
 * finds those regions in /proc/self/smaps ("dc", "wf") while the threads are parked, lets the
 * snapshot clone copy them (MADV_DOFORK, MADV_KEEPONFORK), and marks them again afterwards, in
 * the running process and in a restored one.
 *
 * The same read of smaps records the regions the program locked (memlock.c notices that it
 * does), which the snapshot child cannot see in its own smaps: a fork inherits no lock. A read
 * of smaps walks every page table, so only a process that asked for either makes it, and one
 * that only locks makes it before the threads stop (crs_dontfork_preread).
 *
 * crs_dontfork_preread() runs in the coordinator before the quiesce, crs_dontfork_lift() and
 * crs_dontfork_mark() while the other threads are parked: raw system calls and the state's
 * own buffers only, no malloc, no stdio.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#include "runtime.h"

int madvise(void *addr, size_t len, int advice)
{
    long r;

    if (advice == MADV_DONTFORK || advice == MADV_WIPEONFORK)
        atomic_store(&crs_state.saw_dontfork, 1);
    r = crs_sys3(SYS_madvise, (long)addr, (long)len, advice);
    if (r < 0) {
        errno = (int)-r;
        return -1;
    }
    return 0;
}

static int hexval(const char **p, uint64_t *out)
{
    uint64_t v = 0;
    const char *s = *p;

    for (; (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'); s++)
        v = v * 16 + (uint64_t)(*s <= '9' ? *s - '0' : *s - 'a' + 10);
    if (s == *p)
        return -1;
    *p = s;
    *out = v;
    return 0;
}

/* Does a VmFlags line (l, n bytes) hold the two-letter flag f? */
static int has_flag(const char *l, size_t n, const char *f)
{
    for (size_t i = 8; i + 2 < n + 1; i++)
        if (l[i] == ' ' && l[i + 1] == f[0] && l[i + 2] == f[1] &&
            (i + 3 >= n || l[i + 3] == ' ' || l[i + 3] == '\n'))
            return 1;
    return 0;
}

/* One line of smaps: a range line opens a region, its VmFlags line says whether it is "dc"
 * (MADV_DONTFORK), "wf" (MADV_WIPEONFORK), "lo" (locked) or "lf" (locked on fault). Regions
 * next to each other with the same flags make one range (mlockall locks every region). */
static void take_line(const char *l, size_t n, uint64_t *start, uint64_t *end)
{
    const char *p = l;
    uint64_t a, b;

    if (n > 8 && !memcmp(l, "VmFlags:", 8)) {
        unsigned how = (unsigned)has_flag(l, n, "dc") | (unsigned)has_flag(l, n, "wf") << 1;
        if (has_flag(l, n, "lo"))
            how |= CRS_SNAP_RANGE_LOCKED | (has_flag(l, n, "lf") ? CRS_SNAP_RANGE_ONFAULT : 0);
        int k = crs_state.ndontfork;
        if (!how || *end <= *start)
            return;
        if (k && crs_state.dontfork[k - 1][1] == *start && crs_state.dontfork_how[k - 1] == how)
            crs_state.dontfork[k - 1][1] = *end;
        else if (k < CRS_MAX_DONTFORK) {
            crs_state.dontfork[k][0] = *start;
            crs_state.dontfork[k][1] = *end;
            crs_state.dontfork_how[k] = (uint8_t)how;
            crs_state.ndontfork++;
        }
        return;
    }
    if (hexval(&p, &a) == 0 && *p == '-' && (p++, hexval(&p, &b) == 0) && *p == ' ') {
        *start = a;
        *end = b;
    }
}

/* Each region found: dc_advice where it was "dc", wf_advice where it was "wf". */
static void advise_all(int dc_advice, int wf_advice)
{
    for (int i = 0; i < crs_state.ndontfork; i++) {
        long start = (long)crs_state.dontfork[i][0];
        long len = (long)(crs_state.dontfork[i][1] - crs_state.dontfork[i][0]);
        if (crs_state.dontfork_how[i] & 1)
            crs_sys3(SYS_madvise, start, len, dc_advice);
        if (crs_state.dontfork_how[i] & 2)
            crs_sys3(SYS_madvise, start, len, wf_advice);
    }
}

/* The regions of smaps with one of the flags above, into the state's ranges. */
static void read_smaps(void)
{
    char *buf = crs_state.smaps_buf;
    size_t have = 0;
    uint64_t start = 0, end = 0;
    long fd, got;

    crs_state.ndontfork = 0;
    fd = crs_sys3(SYS_open, (long)"/proc/self/smaps", O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return;
    while ((got = crs_sys3(SYS_read, fd, (long)(buf + have), (long)(sizeof crs_state.smaps_buf - have))) > 0) {
        have += (size_t)got;
        size_t off = 0;
        for (;;) {
            char *nl = memchr(buf + off, '\n', have - off);
            if (!nl)
                break;
            take_line(buf + off, (size_t)(nl - (buf + off)), &start, &end);
            off = (size_t)(nl - buf) + 1;
        }
        if (off == 0 && have == sizeof crs_state.smaps_buf)
            have = 0;                   /* a line longer than the buffer: no range or flags */
        memmove(buf, buf + off, have - off);
        have -= off;
    }
    crs_sys1(SYS_close, fd);
}

/* KiB of the ranges read that are locked. */
static uint64_t locked_kib(void)
{
    uint64_t sum = 0;
    for (int i = 0; i < crs_state.ndontfork; i++)
        if (crs_state.dontfork_how[i] & CRS_SNAP_RANGE_LOCKED)
            sum += crs_state.dontfork[i][1] - crs_state.dontfork[i][0];
    return sum >> 10;
}

/* VmLck of /proc/self/status (the kernel's count of locked memory), or -1. */
static int64_t vmlck_kib(void)
{
    char *buf = crs_state.smaps_buf;
    long fd = crs_sys3(SYS_open, (long)"/proc/self/status", O_RDONLY | O_CLOEXEC, 0), n;
    int64_t kib = -1;

    if (fd < 0)
        return -1;
    n = crs_sys3(SYS_read, fd, (long)buf, (long)sizeof crs_state.smaps_buf - 1);
    crs_sys1(SYS_close, fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    for (char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, "VmLck:", 6))
            continue;
        p += 6;
        while (*p == ' ' || *p == '\t')
            p++;
        for (kib = 0; *p >= '0' && *p <= '9'; p++)
            kib = kib * 10 + (*p - '0');
        break;
    }
    return kib;
}

/* smaps costs a walk of every page table (about 2 ms for 200 MiB resident), too much for the
 * pause. A program that only locks memory has it read before the threads stop; once they are
 * stopped, the kernel's count of locked memory (VmLck, cheap) says whether the locks are still
 * those read, and only if not is smaps read again. MADV_DONTFORK regions must be found while
 * the threads are stopped (they are lifted then): with those, the one read is made there. */
void crs_dontfork_preread(void)
{
    crs_state.lock_pre_kib = -1;
    if (!atomic_load(&crs_state.saw_mlock) || atomic_load(&crs_state.saw_dontfork))
        return;
    read_smaps();
    crs_state.lock_pre_kib = (int64_t)locked_kib();
}

void crs_dontfork_lift(void)
{
    if (!atomic_load(&crs_state.saw_dontfork) && !atomic_load(&crs_state.saw_mlock)) {
        crs_state.ndontfork = 0;
        return;
    }
    if (!atomic_load(&crs_state.saw_dontfork) && crs_state.lock_pre_kib >= 0 &&
        vmlck_kib() == crs_state.lock_pre_kib)
        return;                         /* the ranges read before the stop hold */
    read_smaps();
    advise_all(MADV_DOFORK, MADV_KEEPONFORK);
}

void crs_dontfork_mark(void)
{
    advise_all(MADV_DONTFORK, MADV_WIPEONFORK);
}
