/* image/image.h - the on-disk image format, shared by the writer (snapshot child), the reader
 * (info, verify, restore) and the restart entry. docs/FORMAT.md is the prose version of this
 * file; change both together and bump CRS_IMG_VERSION on any incompatible change.
 *
 * All integers are little-endian, all structs are packed to their natural alignment with explicit
 * padding, so the file is the in-memory struct. Layout:
 *
 *   crs_img_header                      at offset 0
 *   sections, each: crs_img_section + payload, 8-byte aligned, in any order
 *   crs_img_toc_entry[n]                the table of contents
 *   crs_img_trailer                     the last 64 bytes of the file
 *
 * The trailer is written last: an image without a valid trailer is incomplete.
 */
#ifndef CRS_IMAGE_H
#define CRS_IMAGE_H

#include <stdint.h>
#include "arch/arch.h"

#define CRS_IMG_MAGIC "CRSNAPv\n"        /* 8 bytes, no terminator stored */
#define CRS_IMG_TRAILER_MAGIC "CRSEND\r\n" /* 8 bytes */
#define CRS_IMG_VERSION 1u
/* An incremental image (one with a PARENT section) is version 2: a reader that does not know
 * chains must refuse it rather than restore the pages it lacks as zeros. Full images stay 1. */
#define CRS_IMG_VERSION_INCR 2u
#define CRS_IMG_PAGE_SIZE 4096u

/* Names inside an image directory. */
#define CRS_IMG_PREFIX "ckpt-"
#define CRS_IMG_SUFFIX ".crsnap"
#define CRS_IMG_LATEST "latest"

/* Paths the writer and the reader handle (an image's own, a descriptor's target). */
#define CRS_PATH_MAX 4096

struct crs_img_header {
    char magic[8];
    uint32_t version;
    uint32_t header_size;       /* sizeof(struct crs_img_header) */
    uint32_t arch;              /* CRS_ARCH_ID */
    uint32_t page_size;
    uint64_t created_ns;        /* CLOCK_REALTIME when the snapshot was taken */
    uint64_t seq;               /* sequence number in its directory, 0 if none */
    uint32_t pid;               /* pid of the checkpointed process */
    uint32_t flags;             /* CRS_IMG_F_* */
    uint8_t job_id[16];         /* random identity of the job (crs_init; kept across restores),
                                 * so retention deletes only its own images; zero = unknown */
};                              /* 64 bytes */

#define CRS_IMG_JOB_ID_SIZE 16
#define CRS_IMG_F_KILLED 0x1u  /* the process exited after this snapshot (checkpoint --kill) */

/* Section types. Every section is listed once in the table of contents (PAGES once per chunk
 * run is not needed: page chunks are one section whose payload is a sequence of chunks). */
enum crs_img_section_type {
    CRS_SEC_HOST = 1,    /* struct crs_img_host */
    CRS_SEC_PROCESS = 2, /* struct crs_img_process */
    CRS_SEC_STRINGS = 3, /* NUL-terminated strings, referenced by offset from other sections */
    CRS_SEC_VMAS = 4,    /* struct crs_img_vma[] */
    CRS_SEC_PAGES = 5,   /* sequence of (struct crs_img_chunk + compressed bytes), 8-aligned */
    CRS_SEC_THREADS = 6, /* struct crs_img_thread[] */
    CRS_SEC_SIGNALS = 7, /* struct crs_img_sigaction[CRS_IMG_NSIG] for signals 1..64 */
    CRS_SEC_FDS = 8,     /* struct crs_img_fd[] */
    CRS_SEC_ARGV = 9,    /* argv then envp: NUL-separated, as in /proc/self/cmdline; the TOC
                          * count is argc, the strings after the first argc are the environment */
    CRS_SEC_AUXV = 10,   /* raw auxv pairs (uint64 type, uint64 value), as /proc/self/auxv */
    CRS_SEC_QUEUED = 11, /* optional: bytes queued in pipes and unix sockets, as records
                          * (struct crs_img_queued + bytes, padded to 8); count = records */
    CRS_SEC_DELETED = 12, /* optional: contents of open files deleted from their directory, as
                           * records (struct crs_img_deleted + bytes, padded to 8) */
    CRS_SEC_UNSAVED = 13, /* optional: struct crs_img_unsaved[], what a restore cannot bring
                           * back; absent in images written before it existed */
    CRS_SEC_ATTRS = 14,   /* optional: one struct crs_img_attrs, scheduling and security
                           * attributes; absent in images written before it existed */
    CRS_SEC_MAPHASH = 15, /* optional: struct crs_img_maphash[], the contents of the files
                           * mapped shared, hashed; absent in images before it existed */
    CRS_SEC_TIMERS = 16,  /* optional: struct crs_img_timer[], the POSIX timers
                           * (timer_create); absent when there were none */
    CRS_SEC_PIDNS = 17,   /* optional: one struct crs_img_pidns, the process ran in a pid
                           * namespace a restore made; absent otherwise */
    CRS_SEC_GUARDS = 18,  /* optional: struct crs_img_guard[], the guard pages
                           * (MADV_GUARD_INSTALL); absent when there are none */
    CRS_SEC_SHMOBJ = 19,  /* optional: struct crs_img_shmobj[], the SysV segments and
                           * POSIX shared memory objects the regions map */
    CRS_SEC_PARENT = 20,  /* incremental images only: one struct crs_img_parent, the image
                           * whose pages this one does not repeat */
    CRS_SEC_INHERIT = 21, /* incremental images only: struct crs_img_range[], the pages that
                           * are the parent's */
    CRS_SEC_PAGEIDX = 22, /* optional: struct crs_img_pageidx[], where each chunk of PAGES
                           * starts; absent in images written before it existed */
    /* 23: kept */
    CRS_SEC_TREE = 24,    /* optional: struct crs_img_tree then struct crs_img_tree_member[]:
                           * this image is the root of a job of several processes, whose
                           * images are in the parts directory it names; absent otherwise */
    CRS_SEC__END,         /* one past the last type this version knows: sizes the tables
                           * indexed by type; never on disk (readers skip unknown types) */
};

/* Something the process had at the snapshot that a restore will not bring back: a descriptor
 * the restore leaves closed (a listening or connected socket, a pipe whose other end is in
 * another process...) or a child process. Only a report for people and scripts: the restore
 * decides what it rebuilds from the FDS section alone. */
enum crs_img_unsaved_kind {
    CRS_UNSAVED_FD = 1,         /* fd: a descriptor of the FDS section */
    CRS_UNSAVED_CHILD = 2,      /* pid: a child process (children are not in the image) */
    CRS_UNSAVED_TIMER = 3,      /* a POSIX timer the restore cannot make again (image/timers.h) */
};

struct crs_img_unsaved {
    uint32_t kind;              /* enum crs_img_unsaved_kind; readers show unknown kinds by
                                 * their text alone */
    int32_t fd;                 /* CRS_UNSAVED_FD: the descriptor; else -1 */
    uint32_t pid;               /* CRS_UNSAVED_CHILD: the child's pid; else 0 */
    uint32_t what;              /* string offset: what it is, for a person ("socket listening
                                 * on 127.0.0.1:8000 (TCP)", "child process 1234 (sleep)") */
};

/* An open regular file that had been deleted (or never linked, O_TMPFILE): it cannot be opened
 * again by name, so its contents at the snapshot are in the image. One record per file; every
 * descriptor of the image with this inode (kind file, path ending in " (deleted)") opens it. */
#define CRS_IMG_DELETED_MAX (16u << 20) /* bytes of such files an image holds, at most */
struct crs_img_deleted {
    int32_t fd;                 /* the first descriptor open on it */
    uint32_t mode;              /* st_mode */
    uint64_t ino;
    uint64_t size;              /* bytes that follow; the next record starts 8-aligned */
};

/* Bytes that reads of fd would have returned at the snapshot: those waiting in a pipe (fd is
 * one of its read ends) or in a unix socket's receive queue (fd is that end). One record per
 * pipe or stream socket; one per datagram, in order, for datagram and seqpacket sockets. */
struct crs_img_queued {
    int32_t fd;
    uint32_t len;               /* bytes that follow; the next record starts 8-aligned */
    uint64_t ino;               /* the pipe's or socket's inode, as in the fd's crs_img_fd */
};

struct crs_img_section {
    uint32_t type;
    uint32_t flags;
    uint64_t length;            /* payload bytes after this header */
};

struct crs_img_toc_entry {
    uint32_t type;
    uint32_t count;             /* records in the section (chunks for PAGES) */
    uint64_t offset;            /* of the crs_img_section header */
    uint64_t length;            /* payload bytes */
    uint64_t checksum;          /* XXH3-64 of the payload; for PAGES, of the chunk headers */
};

struct crs_img_trailer {
    char magic[8];
    uint64_t toc_offset;
    uint32_t toc_count;
    uint32_t reserved0;
    uint64_t file_size;         /* total bytes including this trailer */
    uint64_t pause_ns;          /* how long the process was stopped for this snapshot */
    uint64_t header_checksum;   /* XXH3-64 of the header (64 bytes at offset 0) */
    uint64_t toc_checksum;      /* XXH3-64 of the toc entries */
    uint64_t checksum;          /* XXH3-64 of this trailer's previous 56 bytes */
};                              /* 64 bytes */

struct crs_img_host {
    char sysname[65];
    char release[65];           /* uname -r */
    char version[65];
    char machine[65];
    char libc_version[32];      /* gnu_get_libc_version() */
    uint8_t pad[4];
    uint64_t xfeatures;         /* XCR0 */
    uint32_t page_size;
    uint32_t reserved;
};

/* Where, in the checkpointed process, the restart entry and its data live. All addresses are
 * in the restored address space. */
struct crs_img_restart {
    uint64_t entry;             /* void crs_restart_entry(struct crs_restart_plan *) */
    uint64_t stack_top;         /* 16-byte aligned top of the restart stack */
    uint64_t plan_addr;         /* where the restorer writes the plan */
    uint64_t plan_size;         /* bytes available there */
    uint64_t state_addr;        /* the runtime's state struct, for tools that want to look */
    int64_t tid_offset;         /* offset of glibc's tid field from the thread pointer */
    int64_t rseq_offset;        /* glibc __rseq_offset (from the thread pointer) */
    uint32_t rseq_size;         /* glibc __rseq_size; 0 = rseq not used */
    uint32_t rseq_sig;          /* 0x53053053 on x86-64 */
};

struct crs_img_rlimit { uint64_t cur, max; };
struct crs_img_timeval { int64_t sec, usec; };
struct crs_img_itimer { struct crs_img_timeval interval, value; };

struct crs_img_timespec { int64_t sec, nsec; };

/* A POSIX timer (timer_create), as /proc/PID/timers and timer_gettime report it while the
 * threads are stopped. A restore makes it again under the same id (the program's timer_t),
 * targeting the same thread by its new tid, and arms it with the time that was left. */
struct crs_img_timer {
    int32_t id;                 /* the kernel's timer id, 0..INT_MAX */
    int32_t clockid;            /* as timer_create was given it (CPU clocks: negative) */
    uint32_t notify;            /* sigev_notify: SIGEV_SIGNAL 0, SIGEV_NONE 1, SIGEV_THREAD 2,
                                 * | SIGEV_THREAD_ID 4 (with SIGEV_SIGNAL) */
    int32_t signo;              /* sigev_signo */
    uint64_t value;             /* sigev_value */
    int32_t tid;                /* SIGEV_THREAD_ID: the thread it signals, a tid of THREADS */
    uint32_t flags;             /* none yet: zero */
    struct crs_img_timespec interval; /* timer_gettime: it_interval */
    struct crs_img_timespec value_left; /* it_value, the time left (zero: disarmed) */
};                              /* 64 bytes */
#define CRS_IMG_MAX_TIMERS 256u /* timers an image holds, at most (the rest are reported) */

/* Resource limits 0..CRS_IMG_NRLIMITS-1 (RLIMIT_CPU...RLIMIT_RTTIME), as prlimit64 numbers them. */
#define CRS_IMG_NRLIMITS 16

/* crs_img_attrs.flags: which of its fields were read. */
#define CRS_ATTR_F_AFFINITY 0x1u
#define CRS_ATTR_F_NICE     0x2u
#define CRS_ATTR_F_SCHED    0x4u
#define CRS_ATTR_F_STATUS   0x8u     /* no_new_privs and seccomp, from /proc/PID/status */
#define CRS_ATTR_CPUS 1024           /* CPUs the affinity mask covers */

/* Attributes of the process (of its main thread, which the others are assumed to share). */
struct crs_img_attrs {
    uint32_t flags;             /* CRS_ATTR_F_* */
    int32_t nice;               /* getpriority */
    uint32_t policy;            /* sched_getscheduler, SCHED_RESET_ON_FORK included */
    uint32_t priority;          /* sched_param.sched_priority */
    uint32_t no_new_privs;      /* 1: set (PR_SET_NO_NEW_PRIVS) */
    uint32_t seccomp;           /* 0 none, 1 strict, 2 filters: not restored, said */
    uint64_t cpus[CRS_ATTR_CPUS / 64]; /* sched_getaffinity */
};

/* The pid namespace a restore made for the process (its pid is the one it had before): the
 * pid by which the world outside knew it when this image was taken. */
struct crs_img_pidns {
    uint32_t outer_pid;
    uint32_t pad;
};

struct crs_img_process {
    uint32_t pid, ppid, uid, gid, euid, egid;
    uint32_t umask;
    uint32_t personality;
    uint32_t exe;               /* string offset: readlink /proc/self/exe */
    uint32_t cwd;               /* string offset */
    uint32_t comm;              /* string offset: /proc/self/comm */
    uint32_t nthreads;
    uint64_t start_brk, brk;
    uint64_t start_code, end_code, start_data, end_data, start_stack;
    uint64_t arg_start, arg_end, env_start, env_end;
    uint64_t memory_covered;    /* sum of the saved regions' sizes */
    uint64_t memory_saved;      /* bytes of page data stored, before compression */
    uint64_t pages_zero;        /* populated pages elided because all zero */
    struct crs_img_rlimit rlimits[CRS_IMG_NRLIMITS];
    struct crs_img_itimer itimers[3]; /* ITIMER_REAL, _VIRTUAL, _PROF */
    struct crs_img_restart restart;
};

enum crs_img_vma_kind {
    CRS_VMA_ANON = 1,           /* private anonymous */
    CRS_VMA_ANON_SHARED = 2,    /* shared anonymous (also /dev/zero, memfd is FILE_SHARED) */
    CRS_VMA_FILE_PRIVATE = 3,   /* private file mapping: file pages plus saved dirty pages */
    CRS_VMA_FILE_SHARED = 4,    /* shared file mapping: remapped, contents live in the file */
    CRS_VMA_HEAP = 5,           /* [heap] */
    CRS_VMA_STACK = 6,          /* [stack] */
    CRS_VMA_VDSO = 7,           /* [vdso]: not saved, the host's is moved here */
    CRS_VMA_VVAR = 8,           /* [vvar], [vvar_vclock]: likewise */
    CRS_VMA_VSYSCALL = 9,       /* [vsyscall]: fixed by the kernel, skipped */
    CRS_VMA__END,               /* one past the last kind: sizes tables; never on disk */
};

#define CRS_VMA_F_SHARED 0x1u   /* MAP_SHARED */
#define CRS_VMA_F_SAVED 0x2u    /* some of its pages are in the PAGES section */
#define CRS_VMA_F_GROWSDOWN 0x4u
#define CRS_VMA_F_DELETED 0x8u  /* the backing file was deleted: its pages are all saved */
#define CRS_VMA_F_NORESERVE 0x10u /* mapped with MAP_NORESERVE (smaps VmFlags "nr"): no commit */
#define CRS_VMA_F_HUGEPAGE 0x20u   /* MADV_HUGEPAGE ("hg") */
#define CRS_VMA_F_NOHUGEPAGE 0x40u /* MADV_NOHUGEPAGE ("nh") */
#define CRS_VMA_F_DONTDUMP 0x80u   /* MADV_DONTDUMP ("dd") */
#define CRS_VMA_F_MERGEABLE 0x100u /* MADV_MERGEABLE, KSM ("mg") */
#define CRS_VMA_F_LOCKED 0x200u    /* mlock ("lo" in the process's smaps, read by the runtime) */
#define CRS_VMA_F_LOCKONFAULT 0x400u /* with LOCKED: locked as it faults in (MLOCK_ONFAULT) */
#define CRS_VMA_F_GUARDS 0x800u    /* some of its pages are guard pages: see GUARDS */
#define CRS_VMA_F_SHMOBJ 0x1000u   /* maps a SysV segment or a /dev/shm object of SHMOBJ (by
                                    * dev, ino): its resident pages are in PAGES */

struct crs_img_vma {
    uint64_t start, end;
    uint64_t file_offset;
    uint64_t dev, ino;          /* identity of the backing file (from the maps line) */
    uint64_t file_size;         /* stat at checkpoint, 0 for anonymous */
    int64_t file_mtime_ns;
    uint32_t prot;              /* PROT_* */
    uint32_t flags;             /* CRS_VMA_F_* */
    uint32_t kind;              /* enum crs_img_vma_kind */
    uint32_t path;              /* string offset of the maps name, 0 = none */
};

/* A file mapped shared lives in the file, not in the image: a restore maps it again, and must
 * know it is the same contents, which size and mtime do not tell (a write through a shared
 * mapping need not change either). So its mapped range is hashed at the checkpoint. */
struct crs_img_maphash {
    uint64_t start;             /* the region's start (a FILE_SHARED region of VMAS) */
    uint64_t len;               /* bytes of the file hashed, from the region's file_offset */
    uint64_t hash;              /* XXH3-64 of them */
};
#define CRS_IMG_MAPHASH_MAX (256ull << 20) /* bytes hashed per checkpoint, at most: the files
                                            * past it are checked by size and mtime only */
#define CRS_IMG_MAPHASH_RECORDS 1024u      /* regions hashed, at most */

/* Where a chunk of the PAGES section is: one record per chunk, in the chunks' order, so that
 * a lazy restore finds the chunk of a page without reading every chunk header. */
struct crs_img_pageidx {
    uint64_t addr;              /* the chunk's first page (its header's addr) */
    uint64_t offset;            /* file offset of the chunk's header */
    uint32_t npages;            /* its header's npages */
    uint32_t reserved;          /* zero */
};

/* Guard pages (MADV_GUARD_INSTALL, Linux 6.13): pages that fault when touched and hold
 * nothing. A run of them inside one region flagged CRS_VMA_F_GUARDS; ascending, disjoint. */
struct crs_img_guard {
    uint64_t start, end;        /* page-aligned, end exclusive */
};

/* PARENT: the image an incremental one was written on. Its name is relative to the directory
 * of the image that names it (a directory of images may move), and its identity is checked:
 * the parent's table-of-contents checksum and creation time, which a renumbering at
 * publication does not change. */
struct crs_img_parent {
    uint64_t toc_checksum;      /* the parent trailer's toc_checksum */
    uint64_t created_ns;        /* the parent header's created_ns */
    uint64_t seq;               /* the parent's sequence number */
    uint32_t name;              /* string offset: its file name, no slash */
    uint32_t depth;             /* images before this one in its chain: 1 = the parent is full */
};                              /* 32 bytes */
#define CRS_IMG_MAX_CHAIN 64u   /* depth at most: a reader refuses a longer chain */

/* INHERIT: a run of pages whose contents are the parent's (populated at the snapshot and not
 * written since the parent was taken). */
struct crs_img_range {
    uint64_t start, end;        /* page-aligned, end exclusive */
};
#define CRS_IMG_GUARD_RECORDS 65536u /* runs an image holds, at most: a process with more
                                      * fails its checkpoint rather than lose some */

/* Shared memory that lives only in memory and has a name other processes find it by: a SysV
 * segment (shmget, attached with shmat) or a POSIX object (shm_open, a file of /dev/shm). Its
 * regions (CRS_VMA_F_SHMOBJ, same dev and ino) hold its pages; this says how to make it again. */
enum crs_img_shmobj_kind {
    CRS_SHMOBJ_SYSV = 1,
    CRS_SHMOBJ_POSIX = 2,
};
#define CRS_SHMOBJ_F_INSTANT 0x1u  /* its pages are those of the snapshot's instant (copied while
                                    * the threads were stopped), not read afterwards */
struct crs_img_shmobj {
    uint32_t kind;              /* enum crs_img_shmobj_kind */
    uint32_t mode;              /* SysV: shm_perm.mode, SHM_DEST (01000) once removed (IPC_RMID);
                                 * POSIX: st_mode */
    uint64_t dev, ino;          /* as its regions show them; SysV: ino is the segment's id */
    uint64_t size;              /* bytes */
    int32_t key;                /* SysV: its key (0: IPC_PRIVATE, or removed) */
    uint32_t path;              /* POSIX: string offset of its path (/dev/shm/NAME) */
    uint32_t uid, gid;          /* its owner */
    uint32_t flags;             /* CRS_SHMOBJ_F_* */
    uint32_t pad;
};
#define CRS_IMG_SHMOBJ_RECORDS 256u /* objects an image describes, at most */

/* A job of several processes (TREE): the root's image names the directory that holds the
 * other members' images, one per living member, named PID.crsnap, each with the root's job
 * id in its header. Members are listed parents first; the first one is the root itself. */
#define CRS_TREE_F_ROOT 0x1u        /* the process this image holds */
#define CRS_TREE_F_ZOMBIE 0x2u      /* had ended, not yet reaped: no image, wait_status says how */
struct crs_img_tree {
    char parts[64];             /* the parts directory, beside the image (NUL-terminated, one
                                 * component: no '/') */
    uint32_t nmembers;          /* as the section's count */
    uint32_t flags;             /* none yet: zero */
};
struct crs_img_tree_member {
    uint32_t pid, ppid;         /* ppid: its parent's pid (the root's own is outside the job) */
    uint32_t pgid, sid;         /* its process group and session */
    uint32_t flags;             /* CRS_TREE_F_* */
    int32_t wait_status;        /* CRS_TREE_F_ZOMBIE: what wait() reports for it; else 0 */
    char comm[16];              /* its name (NUL-terminated) */
    uint64_t pad;
};                              /* 48 bytes */
#define CRS_IMG_TREE_MAX 256u   /* processes in a job, at most */
#define CRS_IMG_PID_MAX 4194304u /* the kernel's largest pid (PID_MAX_LIMIT) */

/* Pages in one chunk (1 MiB): the writer fills chunks up to it, readers refuse more. */
#define CRS_IMG_CHUNK_MAX_PAGES 256u

/* A run of pages stored in the PAGES section. Pages not in any chunk are zero (anonymous) or
 * come from the file (file mappings). uncompressed size = npages * page_size. */
struct crs_img_chunk {
    uint32_t magic;             /* CRS_IMG_CHUNK_MAGIC */
    uint32_t npages;
    uint64_t addr;              /* address of the first page */
    uint32_t clen;              /* compressed bytes that follow (zstd frame) */
    uint32_t flags;             /* CRS_CHUNK_F_* */
    uint64_t checksum;          /* XXH3-64 of the compressed bytes */
};
#define CRS_IMG_CHUNK_MAGIC 0x4b4e4843u /* "CHNK" */
#define CRS_CHUNK_F_RAW 0x1u            /* stored uncompressed (clen = npages * page_size) */

#define CRS_THREAD_F_MAIN 0x1u          /* the thread group leader */
#define CRS_THREAD_F_COORDINATOR 0x2u   /* crsnap's coordinator thread (took the snapshot) */

/* One thread, as it was recorded when it parked. Also the runtime's in-memory record. */
struct crs_img_thread {
    int32_t tid;
    uint32_t flags;             /* CRS_THREAD_F_* */
    uint64_t fs_base;           /* thread pointer = glibc's struct pthread */
    uint64_t tid_addr;          /* glibc's tid field: CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID */
    uint64_t robust_head, robust_len;
    uint64_t rseq_addr;         /* 0 = not registered */
    uint32_t rseq_len, rseq_sig;
    uint64_t ss_sp, ss_size;    /* sigaltstack */
    int32_t ss_flags;
    uint32_t pad;
    uint64_t sigmask;           /* the thread's mask before the quiesce signal */
    char name[16];
    struct crs_arch_ctx ctx;    /* where it parked */
};

/* Signals 1..CRS_IMG_NSIG: the SIGNALS section holds one record for each. */
#define CRS_IMG_NSIG 64

/* The kernel's struct sigaction layout for rt_sigaction (x86-64). */
struct crs_img_sigaction {
    uint64_t handler;
    uint64_t flags;
    uint64_t restorer;
    uint64_t mask;
};
_Static_assert(CRS_IMG_NSIG == CRS_ARCH_SIGSET_SIZE * 8 &&
                   sizeof(((struct crs_img_sigaction *)0)->mask) == CRS_ARCH_SIGSET_SIZE,
               "a record for each of the kernel's signals, each in the kernel's layout");

enum crs_img_fd_kind {
    CRS_FD_FILE = 1,            /* regular file or directory */
    CRS_FD_TTY = 2,             /* a terminal */
    CRS_FD_CHR = 3,             /* another character device (/dev/null, /dev/urandom...) */
    CRS_FD_PIPE = 4,            /* pipe or FIFO: path "pipe:[ino]" */
    CRS_FD_EVENTFD = 5,
    CRS_FD_EPOLL = 6,
    CRS_FD_TIMERFD = 7,
    CRS_FD_SIGNALFD = 8,
    CRS_FD_SOCKET = 9,          /* restored only as an in-process pair: CRS_SOCK_F_PAIR */
    CRS_FD_OTHER = 10,          /* not restored */
    CRS_FD_INTERNAL = 11,       /* crsnap's own (control socket...): not restored, not reported */
    CRS_FD_MEMFD = 12,          /* memfd_create: contents in DELETED, name in path, seals */
    CRS_FD__END,                /* one past the last kind: sizes tables; never on disk */
};

struct crs_img_epoll_tfd { int32_t fd; uint32_t events; uint64_t data; };
#define CRS_EPOLL_MAX 48 /* more registrations: recorded as CRS_FD_OTHER */

/* crs_img_fd.u.socket.flags. Images written before these existed hold zero there. */
#define CRS_SOCK_F_DIAG  0x1u   /* the kernel's sock_diag answered: peer_ino and NAMED valid */
#define CRS_SOCK_F_NAMED 0x2u   /* bound to a path or an abstract name */
#define CRS_SOCK_F_PAIR  0x4u   /* AF_UNIX, unnamed, and so is its peer, open in the process */
#define CRS_SOCK_F_LISTEN 0x8u  /* SO_ACCEPTCONN: listening */
#define CRS_SOCK_F_BOUND 0x10u  /* bound to addr (an inet port, a unix path or abstract name) */
#define CRS_SOCK_F_PEER  0x20u  /* connected: it has a peer (getpeername) */

/* crs_img_fd.u.socket.opts: the boolean options a restore sets again. */
#define CRS_SOCK_O_REUSEADDR 0x1u
#define CRS_SOCK_O_REUSEPORT 0x2u
#define CRS_SOCK_O_V6ONLY    0x4u
#define CRS_SOCK_O_KEEPALIVE 0x8u
#define CRS_SOCK_O_NODELAY   0x10u   /* TCP_NODELAY */
#define CRS_SOCK_O_BROADCAST 0x20u

/* crs_img_sockopts.have: the valued options a checkpoint read (getsockopt answered). Images
 * written before these existed hold zero: nothing is set but the booleans above. */
#define CRS_SOCK_V_RCVBUF    0x1u
#define CRS_SOCK_V_SNDBUF    0x2u
#define CRS_SOCK_V_RCVLOWAT  0x4u
#define CRS_SOCK_V_PRIORITY  0x8u
#define CRS_SOCK_V_MARK      0x10u
#define CRS_SOCK_V_LINGER    0x20u
#define CRS_SOCK_V_RCVTIMEO  0x40u
#define CRS_SOCK_V_SNDTIMEO  0x80u
#define CRS_SOCK_V_KEEPIDLE  0x100u
#define CRS_SOCK_V_KEEPINTVL 0x200u
#define CRS_SOCK_V_KEEPCNT   0x400u
#define CRS_SOCK_V_USER_TIMEOUT 0x800u
#define CRS_SOCK_V_DEFER_ACCEPT 0x1000u
#define CRS_SOCK_V_FASTOPEN  0x2000u
#define CRS_SOCK_V_TOS       0x4000u    /* IP_TOS; IPv6: IPV6_TCLASS */
#define CRS_SOCK_V_TTL       0x8000u    /* IP_TTL; IPv6: IPV6_UNICAST_HOPS */

/* A socket's valued options, as getsockopt reports them at the checkpoint. */
struct crs_img_sockopts {
    uint32_t have;              /* CRS_SOCK_V_* */
    int32_t rcvbuf, sndbuf;     /* SO_RCVBUF, SO_SNDBUF: what the kernel keeps (twice what was
                                 * asked), so a restore asks for half */
    int32_t rcvlowat, priority, mark;   /* SO_RCVLOWAT, SO_PRIORITY, SO_MARK */
    int32_t linger_onoff, linger;       /* SO_LINGER */
    struct crs_img_timeval rcvtimeo, sndtimeo; /* SO_RCVTIMEO, SO_SNDTIMEO */
    int32_t keepidle, keepintvl, keepcnt;      /* TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT */
    int32_t user_timeout, defer_accept, fastopen; /* TCP_USER_TIMEOUT, _DEFER_ACCEPT, _FASTOPEN */
    int32_t tos, ttl;           /* IP_TOS and IP_TTL, or IPV6_TCLASS and IPV6_UNICAST_HOPS */
};                              /* 96 bytes */

/* Descriptor records an image may hold: the snapshot child records at most this many (a
 * process with more fails its checkpoint), readers and the restorer accept as many. */
#define CRS_IMG_MAX_FDS 65536u

struct crs_img_fd {
    int32_t fd;
    uint32_t kind;              /* enum crs_img_fd_kind */
    uint32_t flags;             /* F_GETFL */
    uint32_t fdflags;           /* F_GETFD (FD_CLOEXEC) */
    uint64_t pos;               /* fdinfo pos */
    uint32_t mode;              /* st_mode */
    uint32_t path;              /* string offset: readlink /proc/self/fd/N */
    uint64_t dev, ino, rdev;
    uint64_t size;
    int64_t mtime_ns;
    union {
        struct { uint64_t count; uint32_t semaphore; uint32_t pad; } eventfd;
        struct { int32_t clockid; uint32_t settime_flags; uint64_t ticks;
                 struct crs_img_timeval interval, value; } timerfd; /* it_value is relative */
        struct { uint64_t mask; } signalfd;
        struct { uint32_t seals; uint32_t pad; } memfd; /* F_GET_SEALS */
        struct { uint32_t family; uint32_t type; uint64_t peer_ino; uint32_t flags;
                 uint32_t pad;    /* SO_DOMAIN, SO_TYPE, the peer's inode, CRS_SOCK_F_* */
                 uint32_t protocol; /* SO_PROTOCOL */
                 uint32_t backlog;  /* a listening socket's, from sock_diag; 0 unknown */
                 uint32_t opts;     /* CRS_SOCK_O_* set on it */
                 uint32_t addrlen;  /* of addr: getsockname, with CRS_SOCK_F_BOUND */
                 uint8_t addr[128];
                 uint32_t peerlen;  /* of peer: getpeername, with CRS_SOCK_F_PEER */
                 uint32_t pad2;
                 uint8_t peer[128];
                 struct crs_img_sockopts opt; } socket;
        struct { uint32_t n; uint32_t pad; struct crs_img_epoll_tfd tfd[CRS_EPOLL_MAX]; } epoll;
        uint8_t raw[784];
    } u;
};
_Static_assert(sizeof(struct crs_img_fd) == 856, "the descriptor record keeps its size: fields "
               "are added in the union's room, which older images hold as zeros");

#endif
