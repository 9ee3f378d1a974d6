/* io/control_dir.h - where the control sockets of a user's processes live, chosen and checked
 * by one piece of code for both sides: the runtime that serves them and `crsnap checkpoint`
 * that connects to them. The protocol spoken on them is in runtime/control_proto.h.
 */
#ifndef CRS_IO_CONTROL_DIR_H
#define CRS_IO_CONTROL_DIR_H

#include <stddef.h>

#define CRS_CTLDIR_XDG_ENV "XDG_RUNTIME_DIR"
#define CRS_CTLDIR_XDG_SUB "crsnap"            /* $XDG_RUNTIME_DIR/crsnap */
#define CRS_CTLDIR_TMP_FMT "/tmp/crsnap-%u"    /* uid */
#define CRS_CTLDIR_SOCK_FMT "%s/%d.sock"       /* dir, pid */
#define CRS_CTLDIR_TMP_SUFFIX ".tmp"           /* a socket bound, not yet listening */
#define CRS_CTLDIR_WHY_MAX 640                 /* room for a reason that names a path */

/* The directory of uid's control sockets, for a process whose environment has override
 * ($CRSNAP_SOCKET_DIR) and xdg ($XDG_RUNTIME_DIR), either NULL or empty when unset:
 *   override                         when set;
 *   xdg/crsnap                       when xdg is an absolute path to a real directory that uid
 *                                    owns, mode 0700 (and, without create, when xdg/crsnap
 *                                    exists);
 *   /tmp/crsnap-UID                  otherwise.
 * The one chosen must be a real directory (not a symbolic link) owned by uid that nobody else
 * may enter. With create, it is made (mode 0700) when missing and the access of others is
 * taken away when uid owns it; without create, nothing is changed.
 * Returns 0; or -errno with why set to a sentence naming the path, what is wrong and what to
 * do ("/tmp/crsnap-1000 is owned by uid 1001, not you: remove it or set XDG_RUNTIME_DIR").
 * dir holds the path chosen either way. */
int crs_ctldir_pick(const char *override, const char *xdg, unsigned uid, int create,
                    char *dir, size_t size, char *why, size_t whysize);

/* dir/PID.sock into out; -ENAMETOOLONG when it does not fit (out is a sun_path). */
int crs_ctldir_sock(const char *dir, int pid, char *out, size_t size);

/* Removes dir/name, a control socket left behind, when it is provably stale: a socket of
 * uid's on which nobody listens any more (a connection is refused), or the temporary name of
 * one whose process pid is gone. A socket someone listens on is left, whoever it is. Returns 1
 * when it was removed, 0 when it was left. */
int crs_ctldir_reap(const char *dir, const char *name, int pid, unsigned uid);

#endif
