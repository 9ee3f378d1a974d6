/* api_static.c - a program linked with libcrsnap.a that checkpoints itself through the API and
 * then dies as if it had crashed; restored, crs_checkpoint() returns CRS_RESTART, its handlers
 * see RESTART, the two sockets it held are reported as not restored, and it finishes its work.
 *   api_static IMAGE ITERATIONS       checkpoint half way, then _exit(3)
 *   api_static - ITERATIONS           the same work without crsnap, for the expected output
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crsnap.h"

static int phases[8], nphases;

static int on_checkpoint(crs_phase phase, void *arg)
{
    (void)arg;
    if (nphases < 8)
        phases[nphases++] = (int)phase;
    return 0;
}

static uint64_t work(uint64_t h, long n)
{
    for (long i = 0; i < n; i++)
        h = (h ^ (uint64_t)i) * 1099511628211ull;
    return h;
}

int main(int argc, char **argv)
{
    struct crs_config cfg;
    int sv[2], list[8], r = CRS_RESTART;

    if (argc < 3)
        return 2;
    long n = atol(argv[2]);
    int plain = !strcmp(argv[1], "-");
    uint64_t h = work(1469598103934665603ull, n / 2);
    if (!plain) {
        memset(&cfg, 0, sizeof cfg);
        cfg.signal = -1;
        cfg.control_socket = -1;
        if (crs_init(&cfg) || crs_register(on_checkpoint, NULL, CRS_ASYNC) < 0) {
            fprintf(stderr, "crs_init failed\n");
            return 1;
        }
        /* sockets restore cannot rebuild (it rebuilds only in-process socketpairs) */
        sv[0] = socket(AF_UNIX, SOCK_STREAM, 0);
        sv[1] = socket(AF_INET, SOCK_DGRAM, 0);
        r = crs_checkpoint(argv[1]);
        if (r == CRS_CONTINUE)
            _exit(3);               /* "crash": only the image can finish the work */
        if (r != CRS_RESTART) {
            fprintf(stderr, "crs_checkpoint: %d\n", r);
            return 1;
        }
        int nl = crs_unrestored_fds(list, 8), sockets = 0;
        for (int i = 0; i < nl && i < 8; i++)
            sockets += list[i] == sv[0] || list[i] == sv[1];
        printf("phases %d %d, restarts %d, sockets not restored %d\n", phases[0], phases[1],
               crs_restart_count(), sockets);
    } else {
        printf("phases %d %d, restarts %d, sockets not restored %d\n", CRS_PREPARE, CRS_RESTART,
               1, 2);
    }
    h = work(h, n - n / 2);
    printf("%016llx\n", (unsigned long long)h);
    return 0;
}
