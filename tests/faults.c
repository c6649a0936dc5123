/* faults.c — see faults.h. */
#define _GNU_SOURCE
#include "faults.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static _Atomic int armed;
static enum fault_kind armed_kind;
static _Atomic long counted, fail_at;
static _Atomic int failed;
static _Atomic int paused;

void fault_pause(void) { paused = 1; }
void fault_resume(void) { paused = 0; }

void fault_arm(enum fault_kind kind, long n)
{
	armed_kind = kind;
	counted = 0;
	fail_at = n;
	failed = 0;
	armed = 1;
}

int fault_disarm(void)
{
	armed = 0;
	return failed;
}

long fault_count(void) { return counted; }

/* Counts one operation of `kind`: 1 when it is to fail. */
static int fail_now(enum fault_kind kind)
{
	if (!armed || paused || armed_kind != kind)
		return 0;
	long n = ++counted;
	if (kind == FAULT_BUSY || kind == FAULT_FULL ? n >= fail_at : n == fail_at) {
		failed = 1;
		return 1;
	}
	return 0;
}

/* ---- the library's own allocations (-Wl,--wrap=...) ----------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

void *__wrap_malloc(size_t n) { return fail_now(FAULT_ALLOC) ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t k, size_t n) { return fail_now(FAULT_ALLOC) ? NULL : __real_calloc(k, n); }
void *__wrap_realloc(void *p, size_t n) { return fail_now(FAULT_ALLOC) ? NULL : __real_realloc(p, n); }
char *__wrap_strdup(const char *s) { return fail_now(FAULT_ALLOC) ? NULL : __real_strdup(s); }

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if ((flags & MAP_ANONYMOUS) && fail_now(FAULT_ALLOC))
		return MAP_FAILED;
	return __real_mmap(addr, len, prot, flags, fd, off);
}

/* ---- jansson's ---------------------------------------------------------------- */

static void *json_alloc(size_t n) { return fail_now(FAULT_ALLOC) ? NULL : __real_malloc(n); }

/* ---- SQLite's ------------------------------------------------------------------ */

static sqlite3_mem_methods sqlite_mem;

static void *sq_malloc(int n) { return fail_now(FAULT_ALLOC) ? NULL : sqlite_mem.xMalloc(n); }

static void *sq_realloc(void *p, int n)
{
	return fail_now(FAULT_ALLOC) ? NULL : sqlite_mem.xRealloc(p, n);
}

/* ---- the VFS --------------------------------------------------------------------- */

static sqlite3_vfs *real_vfs;
static sqlite3_vfs fault_vfs;

struct fault_file {
	sqlite3_file base;
	sqlite3_file *real; /* follows this struct */
};

static sqlite3_io_methods fault_io;

#define REAL(f) (((struct fault_file *)(f))->real)

/* A write that fails: every third is a full disk, the others an I/O error. */
static int write_error(void) { return counted % 3 == 0 ? SQLITE_FULL : SQLITE_IOERR_WRITE; }

static int f_close(sqlite3_file *f)
{
	int rc = REAL(f)->pMethods ? REAL(f)->pMethods->xClose(REAL(f)) : SQLITE_OK;
	return rc;
}

static int f_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	if (fail_now(FAULT_IO))
		return SQLITE_IOERR_READ;
	return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}

static int f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	if (fail_now(FAULT_IO))
		return write_error();
	if (fail_now(FAULT_FULL))
		return SQLITE_FULL;
	return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	if (fail_now(FAULT_IO))
		return SQLITE_IOERR_TRUNCATE;
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int f_sync(sqlite3_file *f, int flags)
{
	if (fail_now(FAULT_IO))
		return SQLITE_IOERR_FSYNC;
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int f_size(sqlite3_file *f, sqlite3_int64 *size)
{
	if (fail_now(FAULT_IO))
		return SQLITE_IOERR_FSTAT;
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int f_lock(sqlite3_file *f, int level)
{
	if (fail_now(FAULT_BUSY))
		return SQLITE_BUSY;
	return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int f_unlock(sqlite3_file *f, int level) { return REAL(f)->pMethods->xUnlock(REAL(f), level); }

static int f_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int f_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int f_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }

static int f_device(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }

static int f_shm_map(sqlite3_file *f, int page, int size, int extend, void volatile **out)
{
	if (fail_now(FAULT_IO))
		return SQLITE_IOERR_SHMMAP;
	return REAL(f)->pMethods->xShmMap(REAL(f), page, size, extend, out);
}

/* Only the write lock of the write-ahead log (offset 0) is refused as
 * busy: another process writing holds it; the read marks are SQLite's own
 * business, which it retries. */
static int f_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	if (off == 0 && (flags & SQLITE_SHM_LOCK) && (flags & SQLITE_SHM_EXCLUSIVE) &&
	    fail_now(FAULT_BUSY))
		return SQLITE_BUSY;
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}

static void f_shm_barrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }

static int f_shm_unmap(sqlite3_file *f, int del) { return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }

/* No memory-mapped reads: every read is an xRead, which can fail. */
static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **out)
{
	(void)f;
	(void)off;
	(void)n;
	*out = NULL;
	return SQLITE_OK;
}

static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	(void)f;
	(void)off;
	(void)p;
	return SQLITE_OK;
}

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
	struct fault_file *ff = (struct fault_file *)file;
	ff->real = (sqlite3_file *)(ff + 1);
	ff->base.pMethods = NULL;
	if (fail_now(FAULT_IO))
		return SQLITE_CANTOPEN;
	int rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out_flags);
	if (ff->real->pMethods)
		ff->base.pMethods = &fault_io;
	return rc;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync)
{
	if (fail_now(FAULT_IO))
		return SQLITE_IOERR_DELETE;
	return real_vfs->xDelete(real_vfs, name, sync);
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int v_full(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static void *v_dlopen(sqlite3_vfs *vfs, const char *name) { return real_vfs->xDlOpen(real_vfs, name); }
static void v_dlerror(sqlite3_vfs *vfs, int n, char *out) { real_vfs->xDlError(real_vfs, n, out); }
static void (*v_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	return real_vfs->xDlSym(real_vfs, h, sym);
}
static void v_dlclose(sqlite3_vfs *vfs, void *h) { real_vfs->xDlClose(real_vfs, h); }
static int v_random(sqlite3_vfs *vfs, int n, char *out) { return real_vfs->xRandomness(real_vfs, n, out); }
static int v_sleep(sqlite3_vfs *vfs, int us) { return real_vfs->xSleep(real_vfs, us); }
static int v_time(sqlite3_vfs *vfs, double *out) { return real_vfs->xCurrentTime(real_vfs, out); }
static int v_last_error(sqlite3_vfs *vfs, int n, char *out)
{
	return real_vfs->xGetLastError(real_vfs, n, out);
}
static int v_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

void fault_install(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_mem);
	static sqlite3_mem_methods mine;
	mine = sqlite_mem;
	mine.xMalloc = sq_malloc;
	mine.xRealloc = sq_realloc;
	sqlite3_config(SQLITE_CONFIG_MALLOC, &mine);
	json_set_alloc_funcs(json_alloc, free);

	real_vfs = sqlite3_vfs_find(NULL);
	fault_io = (sqlite3_io_methods){
		.iVersion = 3,
		.xClose = f_close,
		.xRead = f_read,
		.xWrite = f_write,
		.xTruncate = f_truncate,
		.xSync = f_sync,
		.xFileSize = f_size,
		.xLock = f_lock,
		.xUnlock = f_unlock,
		.xCheckReservedLock = f_reserved,
		.xFileControl = f_control,
		.xSectorSize = f_sector,
		.xDeviceCharacteristics = f_device,
		.xShmMap = f_shm_map,
		.xShmLock = f_shm_lock,
		.xShmBarrier = f_shm_barrier,
		.xShmUnmap = f_shm_unmap,
		.xFetch = f_fetch,
		.xUnfetch = f_unfetch,
	};
	fault_vfs = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = (int)sizeof(struct fault_file) + real_vfs->szOsFile,
		.mxPathname = real_vfs->mxPathname,
		.zName = "fault",
		.xOpen = v_open,
		.xDelete = v_delete,
		.xAccess = v_access,
		.xFullPathname = v_full,
		.xDlOpen = v_dlopen,
		.xDlError = v_dlerror,
		.xDlSym = v_dlsym,
		.xDlClose = v_dlclose,
		.xRandomness = v_random,
		.xSleep = v_sleep,
		.xCurrentTime = v_time,
		.xGetLastError = v_last_error,
		.xCurrentTimeInt64 = v_time64,
	};
	sqlite3_vfs_register(&fault_vfs, 1);
}

__attribute__((constructor)) static void install_early(void) { fault_install(); }
