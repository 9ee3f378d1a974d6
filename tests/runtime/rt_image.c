/* tests/runtime/rt_image.c - what the runtime hands the snapshot child, checked in the image:
 *   fdpos     a file's offset is the one it had when the threads stopped, though the program
 *             moves it right after (an async handler's CONTINUE, while the child still works)
 *   dontfork  a region the program marked MADV_DONTFORK is in the image with its contents,
 *             and is marked again afterwards
 * Links the static library (for the image reader). Configuration from CRSNAP_DIR. Exit 0 = pass.
 */
#define _GNU_SOURCE
#include <crsnap.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/reader.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "rt_image: %s:%d: %s\n", __FILE__, \
                                          __LINE__, #c); exit(1); } } while (0)

static int file_fd = -1;

static int move_on(crs_phase ph, void *arg)
{
    (void)arg;
    if (ph == CRS_CONTINUE)
        lseek(file_fd, 5000, SEEK_SET);
    return 0;
}

static struct crs_image *take(const char *dir, const char *name)
{
    char path[4096], err[256];
    struct crs_image *img;

    snprintf(path, sizeof path, "%s/%s.crsnap", dir, name);
    unlink(path);
    CHECK(crs_checkpoint(path) == CRS_CONTINUE);
    if (crs_image_open(path, &img, err, sizeof err) != 0) {
        fprintf(stderr, "rt_image: %s: %s\n", path, err);
        exit(1);
    }
    return img;
}

static void mode_fdpos(const char *dir)
{
    char path[4096], buf[100];
    struct crs_image *img;
    int found = 0;

    snprintf(path, sizeof path, "%s/data", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    memset(buf, 'x', sizeof buf);
    for (int i = 0; i < 100; i++)
        CHECK(write(fd, buf, sizeof buf) == sizeof buf);
    CHECK(lseek(fd, 100, SEEK_SET) == 100);
    file_fd = fd;
    CHECK(crs_register(move_on, NULL, CRS_ASYNC) > 0);
    img = take(dir, "fdpos");
    for (uint32_t i = 0; i < img->nfds; i++)
        if (img->fds[i].fd == fd) {
            if (img->fds[i].pos != 100)
                fprintf(stderr, "rt_image: offset %llu in the image\n",
                        (unsigned long long)img->fds[i].pos);
            CHECK(img->fds[i].pos == 100);
            found = 1;
        }
    CHECK(found);
    /* the program's own description went on where the handler put it */
    CHECK(lseek(fd, 0, SEEK_CUR) == 5000);
    crs_image_close(img);
}

static void mode_dontfork(const char *dir)
{
    size_t len = 64 * 4096;
    unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct crs_image *img;
    const struct crs_img_vma *v;
    char line[256];
    int dc = 0, in = 0;

    CHECK(p != MAP_FAILED);
    memset(p, 0x5a, len);
    CHECK(madvise(p, len, MADV_DONTFORK) == 0);
    img = take(dir, "dontfork");
    v = crs_image_find_vma(img, (uint64_t)(uintptr_t)p + 4096);
    CHECK(v != NULL);
    crs_image_close(img);
    /* marked again in the running process */
    FILE *f = fopen("/proc/self/smaps", "r");
    CHECK(f);
    while (fgets(line, sizeof line, f)) {
        unsigned long a, b;
        if (sscanf(line, "%lx-%lx ", &a, &b) == 2)
            in = a <= (unsigned long)(uintptr_t)p && (unsigned long)(uintptr_t)p < b;
        if (in && !strncmp(line, "VmFlags:", 8) && strstr(line, " dc"))
            dc = 1;
    }
    fclose(f);
    CHECK(dc);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    const char *dir = getenv("CRSNAP_DIR");
    int r;

    CHECK(dir && *dir);
    mkdir(dir, 0755);
    if ((r = crs_init(NULL)) != 0) {
        fprintf(stderr, "rt_image: crs_init: %s\n", strerror(-r));
        return 1;
    }
    if (!strcmp(mode, "fdpos"))
        mode_fdpos(dir);
    else if (!strcmp(mode, "dontfork"))
        mode_dontfork(dir);
    else {
        fprintf(stderr, "usage: rt_image fdpos|dontfork\n");
        return 2;
    }
    printf("rt_image %s: ok\n", mode);
    return 0;
}
