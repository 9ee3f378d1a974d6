/* runtime/exit_on.h - the exit statuses of `crsnap run --exit-on`, shared by the library that
 * ends the program and the command that documents and checks them (crsnap(1), EXIT STATUS).
 */
#ifndef CRS_RUNTIME_EXIT_ON_H
#define CRS_RUNTIME_EXIT_ON_H

#define CRS_EXIT_ON_ENV "CRSNAP_EXIT_ON"
/* A signal named by --exit-on arrived; the checkpoint it took is durable; the program ended. */
#define CRS_EXIT_CHECKPOINTED 85
/* A signal named by --exit-on arrived but its checkpoint failed: the program ended without a
 * new image (DIR keeps the older ones). A batch script must not requeue on this status. */
#define CRS_EXIT_CHECKPOINT_FAILED 86

#endif
