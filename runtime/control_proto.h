/* runtime/control_proto.h - the control socket protocol between `crsnap checkpoint PID` and the
 * runtime inside process PID. One request line, one reply line, then the server closes.
 *
 *   socket:  $CRSNAP_SOCKET_DIR/PID.sock, default /tmp/crsnap-UID/PID.sock; the directory is
 *            mode 0700, the socket 0600, and the server checks the peer's uid (SO_PEERCRED).
 *   request: "checkpoint\n"            queue a checkpoint, reply at once
 *            "checkpoint wait\n"       reply when the image is durable
 *            "checkpoint kill\n"       like wait, then the process exits (status 0) without
 *                                      resuming; if the checkpoint fails it carries on
 *            "status\n"                reply with the last result
 *   reply:   "ok SEQ PATH\n"           (PATH may be "-" for a queued request)
 *            "error ERRNO MESSAGE\n"   ERRNO is positive
 */
#ifndef CRS_CONTROL_PROTO_H
#define CRS_CONTROL_PROTO_H

#define CRS_CONTROL_DIR_ENV "CRSNAP_SOCKET_DIR"
#define CRS_CONTROL_DIR_FMT "/tmp/crsnap-%u"   /* uid */
#define CRS_CONTROL_SOCK_FMT "%s/%d.sock"      /* dir, pid */
#define CRS_CONTROL_LINE_MAX 8192

#endif
