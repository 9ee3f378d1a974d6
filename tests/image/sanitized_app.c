/* sanitized_app.c - a program built with AddressSanitizer that links the ordinary library and
 * checkpoints itself. The library cannot tell at compile time that the process is sanitized,
 * yet its snapshot child runs among the sanitizer's shadow memory and interceptors (zstd's
 * memcpy is the sanitizer's): the image must be written and sound all the same.
 * usage: sanitized_app IMAGE          exit 0 = written and verified by $CRSNAP_BIN verify
 */
#include <crsnap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
    struct crs_result res;
    const char *bin = getenv("CRSNAP_BIN");
    size_t n = 8u << 20;
    char *heap;
    int r, st;

    if (argc != 2 || !bin) {
        fprintf(stderr, "usage: sanitized_app IMAGE (with CRSNAP_BIN set)\n");
        return 2;
    }
    unlink(argv[1]);
    if ((r = crs_init(NULL)) != 0) {
        fprintf(stderr, "sanitized_app: crs_init: %s\n", strerror(-r));
        return 1;
    }
    /* memory worth releasing, in the sanitizer's allocator */
    heap = malloc(n);
    if (!heap)
        return 1;
    memset(heap, 0x5a, n);
    r = crs_checkpoint(argv[1]);
    memset(&res, 0, sizeof res);
    crs_last_checkpoint(&res);
    if (r != CRS_CONTINUE) {
        fprintf(stderr, "sanitized_app: checkpoint returned %d: %s\n", r, res.message);
        return 1;
    }
    for (size_t i = 0; i < n; i += 4096)
        if (heap[i] != 0x5a) {
            fprintf(stderr, "sanitized_app: heap changed at %zu\n", i);
            return 1;
        }
    free(heap);
    pid_t pid = fork();
    if (pid == 0) {
        execl(bin, bin, "verify", argv[1], (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "sanitized_app: crsnap verify %s failed\n", argv[1]);
        return 1;
    }
    printf("sanitized_app: ok\n");
    return 0;
}
