/* bench/work_compute.c - a compute-bound workload for the steady-state overhead benchmark:
 * integer mixing in registers, no system calls after start-up. usage: work_compute [MILLIONS]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    long n = (argc > 1 ? atol(argv[1]) : 300) * 1000000L;
    uint64_t x = 88172645463325252ull, acc = 0;
    for (long i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        acc += x * 0x9e3779b97f4a7c15ull >> 7;
    }
    printf("%llu\n", (unsigned long long)acc);
    return 0;
}
