/* restore/restore_queued.c - bytes waiting in a pipe or a unix socket at the stop: copied by
 * the runtime while the threads are stopped (runtime/fdqueue.c, asked by the quiesce of
 * fds/pipe.c and fds/socket.c), held by the image (QUEUED section), and written back by the
 * restorer into the rebuilt pipe or socket pair (or a job's shared pipe, restore_tree.c),
 * before the ends are placed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "image/reader.h"
#include "restore.h"

int crs_restore_has_queued(const struct crs_image *img, const struct crs_img_fd *g)
{
    for (uint32_t i = 0; i < img->nqueued; i++)
        if (img->queued[i].fd == g->fd && img->queued[i].ino == g->ino)
            return 1;
    return 0;
}

/* g's records in order (one per datagram on a datagram pair), on descriptors of our own,
 * without ever blocking; what does not go back is reported. */
void crs_restore_refill(struct crs_restore *r, const struct crs_image *img,
                        const struct crs_img_fd *g, int wfd, int is_pipe)
{
    int fl = fcntl(wfd, F_GETFL), whole = 1;
    uint64_t total = 0, put = 0;

    for (uint32_t i = 0; i < img->nqueued; i++)
        if (img->queued[i].fd == g->fd && img->queued[i].ino == g->ino)
            total += img->queued[i].len;
    if (is_pipe && total > 0 && fcntl(wfd, F_GETPIPE_SZ) < (int)total)
        fcntl(wfd, F_SETPIPE_SZ, (int)total);
    fcntl(wfd, F_SETFL, fl | O_NONBLOCK);
    for (uint32_t i = 0; i < img->nqueued && whole; i++) {
        const struct crs_image_queued *q = &img->queued[i];
        uint32_t done = 0;
        if (q->fd != g->fd || q->ino != g->ino)
            continue;
        if (!is_pipe) {                 /* one send, one datagram (or bytes of a stream) */
            ssize_t n = send(wfd, q->data, q->len, MSG_DONTWAIT | MSG_NOSIGNAL);
            done = n > 0 ? (uint32_t)n : 0;
        }
        while (done < q->len) {
            ssize_t n = write(wfd, q->data + done, q->len - done);
            if (n <= 0)
                break;
            done += (uint32_t)n;
        }
        put += done;
        whole = done == q->len;
    }
    fcntl(wfd, F_SETFL, fl);
    if (!whole)
        crs_restore_warn(r, "descriptor %d: %llu of the %llu bytes queued at the checkpoint put "
                         "back", g->fd, (unsigned long long)put, (unsigned long long)total);
}
