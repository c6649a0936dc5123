/*
 * faults.h — failing the N-th allocation or the N-th I/O operation, for
 * the fault-injection loops (test_faults.c), as SQLite tests itself.
 *
 * Allocations counted: SQLite's (its allocator is replaced through
 * sqlite3_config(SQLITE_CONFIG_MALLOC) before it initialises), jansson's
 * (json_set_alloc_funcs), and the library's own malloc, calloc, realloc,
 * strdup and mmap: test_faults is linked with -Wl,--wrap=... so that the
 * library's objects linked into it call the wrappers here. GMP allocates
 * through libgmp's own reference to malloc, which is not wrapped: GMP
 * aborts when it runs out of memory, the one documented exception, and is
 * never failed.
 *
 * I/O operations counted: a VFS registered as the default wraps the real
 * one and counts xOpen, xDelete, xRead, xWrite, xTruncate, xSync,
 * xFileSize and xShmMap. Memory-mapped reads are turned off (xFetch gives
 * nothing), so that every read of the store is an xRead that can fail.
 *
 * Nothing is counted or failed until fault_arm(); the test's own code runs
 * disarmed.
 */
#ifndef REFERRAL_TEST_FAULTS_H
#define REFERRAL_TEST_FAULTS_H

enum fault_kind { FAULT_NONE, FAULT_ALLOC, FAULT_IO, FAULT_BUSY, FAULT_FULL };

/* Installs the counting allocators and the VFS; call before anything uses
 * SQLite (a constructor does it). */
void fault_install(void);
/* From now on counts operations of `kind`, and fails the n-th (1-based)
 * once. FAULT_BUSY fails every lock from the n-th on with SQLITE_BUSY: a
 * lock of the file, or the write lock of its write-ahead log. FAULT_FULL
 * fails every write from the n-th on with SQLITE_FULL: a disk that is full. */
void fault_arm(enum fault_kind kind, long n);
/* Stops counting; returns whether the armed failure happened. */
int fault_disarm(void);
/* Between these, nothing is counted: for the test's own code called back
 * by the library (an export's writer). */
void fault_pause(void);
void fault_resume(void);
/* Operations of the armed kind counted since fault_arm(). */
long fault_count(void);

#endif
