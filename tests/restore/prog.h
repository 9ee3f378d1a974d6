/* prog.h - what the restore tests' programs (fds.c, sockpair.c, memfd.c, listen.c, attrs.c)
 * share: the lines they print, the same whether the program was restored or not, and their
 * stretch of work with the file that tells the test script when to checkpoint. */
#ifndef CRS_RESTORE_PROG_H
#define CRS_RESTORE_PROG_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#define CHECK(cond, what) printf("%s %s\n", what, (cond) ? "ok" : "BROKEN")

/* Round i of n rounds of arithmetic; a tenth of the way in, creates progress (if not NULL),
 * the script's cue to checkpoint while work remains. */
static inline void prog_step(long i, long n, const char *progress)
{
    volatile uint64_t x = 1;
    for (int k = 0; k < 1000; k++)
        x = x * 6364136223846793005ull + 1;
    if (progress && i == n / 10) {
        int pf = open(progress, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (pf >= 0)
            close(pf);
    }
}

/* n rounds of prog_step. */
static inline void prog_work(long n, const char *progress)
{
    for (long i = 0; i < n; i++)
        prog_step(i, n, progress);
}

#endif
