/* restart_selftest.c - the restart entry on its own, inside one process: a thread records its
 * context and vanishes with a raw exit (its stack and glibc descriptor stay); the main thread
 * records its own, writes a plan and enters crs_restart_entry() on the restart stack. The entry
 * must recreate the thread with its TLS, name and glibc tid field (so that pthread_join works),
 * and both must carry on from where they recorded themselves.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "restart/restart.h"

static __thread int tls_value;
static struct crs_img_restart desc;
static struct crs_img_thread recs[2];
static atomic_int parked;

static void record(struct crs_img_thread *t, uint32_t flags)
{
    long head = 0, len = 0;
    memset(t, 0, sizeof *t);
    t->tid = (int)syscall(SYS_gettid);
    t->flags = flags;
    t->fs_base = crs_arch_thread_pointer();
    t->tid_addr = t->fs_base + (uint64_t)desc.tid_offset;
    syscall(SYS_get_robust_list, 0, &head, &len);
    t->robust_head = (uint64_t)head;
    t->robust_len = (uint64_t)len;
    prctl(PR_GET_NAME, t->name);
}

static void *worker(void *arg)
{
    volatile int step = 0;
    (void)arg;
    tls_value = 42;
    prctl(PR_SET_NAME, "selftest-w");
    record(&recs[1], 0);
    if (crs_arch_save_context(&recs[1].ctx) == 0) {
        atomic_store(&parked, 1);
        syscall(SYS_exit, 0);       /* vanish without glibc noticing: the entry brings us back */
    }
    step = 1;
    char name[16] = "";
    prctl(PR_GET_NAME, name);
    int ok = tls_value == 42 && step == 1 && !strcmp(name, "selftest-w") &&
             *(int *)(uintptr_t)recs[1].tid_addr == (int)syscall(SYS_gettid);
    return (void *)(intptr_t)(ok ? 7 : 1);
}

int main(void)
{
    pthread_t th;
    void *ret = NULL;

    crs_restart_describe(&desc);
    if (!desc.entry || !desc.stack_top || !desc.plan_addr || desc.tid_offset <= 0 ||
        desc.plan_size < sizeof(struct crs_restart_plan)) {
        fprintf(stderr, "describe: incomplete (tid offset %lld)\n", (long long)desc.tid_offset);
        return 1;
    }
    if (crs_restart_plan_get()) {
        fprintf(stderr, "plan present in an original process\n");
        return 1;
    }
    tls_value = 1;
    pthread_create(&th, NULL, worker, NULL);
    while (!atomic_load(&parked) || *(volatile int *)(uintptr_t)recs[1].tid_addr != 0)
        usleep(1000);
    record(&recs[0], CRS_THREAD_F_MAIN);
    if (crs_arch_save_context(&recs[0].ctx) == 0) {
        struct crs_restart_plan *plan = (struct crs_restart_plan *)(uintptr_t)desc.plan_addr;
        memset(plan, 0, sizeof *plan);
        plan->magic = CRS_PLAN_MAGIC;
        plan->version = CRS_IMG_VERSION;
        plan->nthreads = 2;
        plan->main_index = 0;
        plan->threads[0] = recs[0];
        plan->threads[1] = recs[1];
        plan->exe_fd = -1;
        plan->nunrestored = 1;
        plan->unrestored[0] = 99;
        crs_arch_run_on_stack((void *)(uintptr_t)desc.stack_top,
                              (void (*)(void *))(uintptr_t)desc.entry, plan);
    }
    if (tls_value != 1) {
        fprintf(stderr, "main TLS lost\n");
        return 1;
    }
    if (pthread_join(th, &ret) || ret != (void *)7) {
        fprintf(stderr, "worker came back wrong (%p)\n", ret);
        return 1;
    }
    const struct crs_restart_plan *p = crs_restart_plan_get();
    if (!p || p->nunrestored != 1 || p->unrestored[0] != 99) {
        fprintf(stderr, "plan not visible after the restart\n");
        return 1;
    }
    printf("restart entry ok\n");
    return 0;
}
