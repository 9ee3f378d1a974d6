/* deleted.c - for the restore tests: files without a name. One is created and unlinked at once
 * (as sqlite and many others do with temporary files), then written all along the work, with a
 * second descriptor reading it at its own offset; one is only ever written (O_WRONLY, O_APPEND);
 * another is made with O_TMPFILE. At the end it
 * checks their contents and offsets, and prints the same lines whether it was restored in
 * between or not. A restore that loses them, or brings back contents of another instant than
 * its memory's, breaks a check.
 *   deleted DIR ITERATIONS PROGRESS_FILE
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK(cond, what) printf("%s %s\n", what, (cond) ? "ok" : "BROKEN")
#define STEPS 100

int main(int argc, char **argv)
{
    char path[4096], buf[256], link[64];

    if (argc < 4)
        return 2;
    long n = atol(argv[2]);
    snprintf(path, sizeof path, "%s/scratch.tmp", argv[1]);
    int a = open(path, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600); /* as sqlite does */
    if (a < 0 || unlink(path) < 0 || write(a, "header of a file with no name\n", 30) != 30)
        return 1;
    snprintf(link, sizeof link, "/proc/self/fd/%d", a);
    int b = open(link, O_RDONLY);
    if (b < 0 || read(b, buf, 7) != 7)
        return 1;
    /* one the program only writes to */
    snprintf(path, sizeof path, "%s/write-only.tmp", argv[1]);
    int w = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    if (w < 0 || unlink(path) < 0 || write(w, "log line 1\n", 11) != 11)
        return 1;
    int t = open(argv[1], O_TMPFILE | O_RDWR, 0640);
    static char big[100000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 23);
    if (t >= 0 && (write(t, big, sizeof big) != sizeof big || lseek(t, 1000, SEEK_SET) != 1000))
        return 1;

    volatile unsigned long x = 1;
    int step = 0;
    for (long i = 0; i < n; i++) {
        for (int k = 0; k < 1000; k++)
            x = x * 6364136223846793005ul + 1;
        if (i == n / 10) {
            int pf = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (pf >= 0)
                close(pf);
        }
        if (i % (n / STEPS) == 0 && step < STEPS) {
            int len = snprintf(buf, sizeof buf, "step %03d\n", step++);
            if (write(a, buf, (size_t)len) != len)
                return 1;
        }
    }

    struct stat st;
    CHECK(fstat(a, &st) == 0 && st.st_nlink == 0 && S_ISREG(st.st_mode), "still nameless");
    CHECK(lseek(a, 0, SEEK_CUR) == 30 + STEPS * 9, "writer offset");
    int whole = 1;
    for (int s = 0; s < STEPS; s++) {
        char want[16];
        snprintf(want, sizeof want, "step %03d\n", s);
        whole &= pread(a, buf, 9, 30 + s * 9) == 9 && !memcmp(buf, want, 9);
    }
    CHECK(pread(a, buf, 30, 0) == 30 && !memcmp(buf, "header of a file with no name\n", 30) &&
          whole && pread(a, buf, 1, 30 + STEPS * 9) == 0, "contents");
    CHECK(read(b, buf, 9) == 9 && !memcmp(buf, "of a file", 9), "reader offset");
    CHECK((fcntl(b, F_GETFL) & O_ACCMODE) == O_RDONLY && write(b, "x", 1) < 0, "reader mode");
    CHECK(write(w, "log line 2\n", 11) == 11 && (fcntl(w, F_GETFL) & O_ACCMODE) == O_WRONLY &&
          (fcntl(w, F_GETFL) & O_APPEND), "write-only flags");
    snprintf(link, sizeof link, "/proc/self/fd/%d", w);
    int wr = open(link, O_RDONLY);
    CHECK(wr >= 0 && read(wr, buf, sizeof buf) == 22 && !memcmp(buf, "log line 1\nlog line 2\n", 22),
          "write-only contents");
    if (t >= 0) {
        static char back[100000];
        CHECK(lseek(t, 0, SEEK_CUR) == 1000 && pread(t, back, sizeof back, 0) == sizeof back &&
              !memcmp(back, big, sizeof big), "O_TMPFILE");
    }
    printf("x %lu\n", x & 0xff);
    return 0;
}
