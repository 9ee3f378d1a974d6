/* runtime/control_proto.h - the control socket protocol between `crsnap checkpoint PID` and the
 * runtime inside process PID. One request line, one reply line, then the server closes.
 *
 *   socket:  PID.sock in the directory io/control_dir.h chooses and checks: $CRSNAP_SOCKET_DIR,
 *            else $XDG_RUNTIME_DIR/crsnap, else /tmp/crsnap-UID; a directory of the user's,
 *            mode 0700, that no one else owns or can enter; the socket is mode 0600.
 *   server:  checks the peer's uid (SO_PEERCRED) as soon as it accepts, before reading: another
 *            uid (root included) gets "error 13 permission denied" and is closed. The request
 *            must be complete within CRS_CONTROL_DEADLINE_MS of the connection, whatever the
 *            pace of its bytes ("error 110 ..." otherwise); it is read without blocking, so no
 *            client holds the coordinator.
 *   client:  checks the server's credentials (SO_PEERCRED) before it sends anything: pid must
 *            be PID and uid the process's owner; otherwise it refuses, whatever is served.
 *   request: "checkpoint\n"            queue a checkpoint, reply at once
 *            "checkpoint wait\n"       reply when the image is durable
 *            "checkpoint kill\n"       like wait, then the process exits (status 0) without
 *                                      resuming; if the checkpoint fails it carries on
 *            "status\n"                reply with the last result
 *   reply:   "ok SEQ PATH\n"           (PATH may be "-" for a queued request; otherwise an
 *                                      absolute path)
 *            "error ERRNO MESSAGE\n"   ERRNO is positive
 */
#ifndef CRS_CONTROL_PROTO_H
#define CRS_CONTROL_PROTO_H

#define CRS_CONTROL_DIR_ENV "CRSNAP_SOCKET_DIR"
#define CRS_CONTROL_LINE_MAX 8192       /* longest reply line */
#define CRS_CONTROL_REQUEST_MAX 64      /* longest request line, its newline included */
#define CRS_CONTROL_DEADLINE_MS 2000    /* from accept to a complete request */

#endif
