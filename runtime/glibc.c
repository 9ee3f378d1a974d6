/* runtime/glibc.c - facts about glibc that a restore needs and that glibc does not export in a
 * usable way: where struct pthread keeps the tid (found by scanning the thread descriptor for
 * gettid()'s value and confirmed on a second thread), and the rseq area (__rseq_offset and
 * __rseq_size, weak: they exist from glibc 2.35 on).
 */
#include <errno.h>
#include <stddef.h>

#include "runtime.h"

#define TID_SCAN_BYTES 2048         /* struct pthread is about 2.3 KiB; the tid is well inside */
#define RSEQ_SIG 0x53053053u
#define RSEQ_ABI_LEN 32u            /* the length glibc registers with the kernel */

extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

/* The offsets, from the thread pointer tp, of 32-bit words holding tid. Starts past the TCB
 * header (self pointers, dtv) so a pointer's low half cannot match by chance. */
int crs_glibc_tid_candidates(uint64_t tp, int tid, int64_t *out, int max)
{
    const volatile int32_t *p = (const volatile int32_t *)(uintptr_t)tp;
    int n = 0;

    for (int i = 16 / 4; i < TID_SCAN_BYTES / 4 && n < max; i++)
        if (p[i] == tid)
            out[n++] = (int64_t)i * 4;
    return n;
}

/* First pass, in the thread that calls crs_init(): every offset that holds its tid. */
void crs_glibc_discover(void)
{
    crs_state.ntid_cand = crs_glibc_tid_candidates(crs_arch_thread_pointer(), crs_gettid(),
                                                   crs_state.tid_cand, 8);
    crs_state.tid_offset = crs_state.ntid_cand > 0 ? crs_state.tid_cand[0] : 0;
    crs_state.rseq_offset = &__rseq_offset ? (int64_t)__rseq_offset : 0;
    crs_state.rseq_size = &__rseq_size ? __rseq_size : 0;
    if (crs_state.rseq_size && crs_state.rseq_size < RSEQ_ABI_LEN)
        crs_state.rseq_size = RSEQ_ABI_LEN;
    crs_state.rseq_sig = RSEQ_SIG;
}

/* Second pass, in the coordinator (another thread, another tid): the offset both agree on.
 * Returns 0, or -ENOENT when there is none (restores will then fail; checkpoints still work). */
int crs_glibc_verify_tid_offset(void)
{
    int64_t cand[8];
    int n = crs_glibc_tid_candidates(crs_arch_thread_pointer(), crs_gettid(), cand, 8);

    for (int i = 0; i < crs_state.ntid_cand; i++)
        for (int j = 0; j < n; j++)
            if (crs_state.tid_cand[i] == cand[j]) {
                crs_state.tid_offset = cand[j];
                return 0;
            }
    crs_state.tid_offset = 0;
    return -ENOENT;
}
