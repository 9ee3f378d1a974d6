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
 * does), which the snapshot child cannot see in its own smaps: a fork inherits no lock. It
 * costs a walk of the page tables while the threads are parked, so only a process that asked
 * for either pays it.
 *
 * crs_dontfork_lift() and crs_dontfork_mark() run in the coordinator while the other threads
 * are parked: raw system calls and the state's own buffers only, no malloc, no stdio.
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

void crs_dontfork_lift(void)
{
    char *buf = crs_state.smaps_buf;
    size_t have = 0;
    uint64_t start = 0, end = 0;
    long fd, got;

    crs_state.ndontfork = 0;
    if (!atomic_load(&crs_state.saw_dontfork) && !atomic_load(&crs_state.saw_mlock))
        return;
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
    advise_all(MADV_DOFORK, MADV_KEEPONFORK);
}

void crs_dontfork_mark(void)
{
    advise_all(MADV_DONTFORK, MADV_WIPEONFORK);
}
