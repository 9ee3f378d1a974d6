/* bench/work_syscall.c - a system-call-heavy workload for the steady-state overhead benchmark:
 * small reads, writes and getppid in a loop, plus some malloc/free. usage: work_syscall [THOUSANDS]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = (argc > 1 ? atol(argv[1]) : 500) * 1000L;
    int in = open("/dev/zero", O_RDONLY), out = open("/dev/null", O_WRONLY);
    if (in < 0 || out < 0)
        return 1;
    char buf[64];
    long sum = 0;
    for (long i = 0; i < n; i++) {
        if (read(in, buf, sizeof buf) != sizeof buf || write(out, buf, sizeof buf) != sizeof buf)
            return 1;
        sum += getppid();
        void *p = malloc(64 + (i & 1023));
        free(p);
    }
    printf("%ld\n", sum);
    return 0;
}
