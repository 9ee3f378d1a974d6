/* arch/arch.h - picks the architecture folder. Everything that depends on the instruction set
 * (register capture, the final jump, raw system calls, thread creation) lives under arch/NAME/. */
#ifndef CRS_ARCH_H
#define CRS_ARCH_H
#if defined(__x86_64__)
#include "x86_64/arch.h"
#else
#error "crsnap has no port to this architecture yet"
#endif
#endif
