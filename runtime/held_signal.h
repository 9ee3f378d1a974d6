/* runtime/held_signal.h - how `crsnap run` tells the preloaded library that it blocked the
 * trigger signal before exec (the mask is inherited across execve), so that a trigger sent
 * between the exec and the library's handler neither kills the program nor is lost. The
 * library removes the variable at init and unblocks that signal once its handler is in place.
 */
#ifndef CRS_HELD_SIGNAL_H
#define CRS_HELD_SIGNAL_H

#define CRS_HELD_SIGNAL_ENV "CRSNAP_HELD_SIGNAL"   /* the signal number, decimal */

#endif
