/*
 * fs.c - FUSE low-level operations (fs.h).
 *
 * Inode numbers are fixed for the life of the mount: the root and the four
 * top folders have 1..5, and entry number S (its place in the config) owns
 * the sixteen numbers from (S + 1) << 4, one per node kind. Nothing is ever
 * created or removed, so lookups need no reference counting and forget is a
 * no-op.
 *
 * Coherence. Each view is its own inode with its own page cache in the
 * kernel. When the daemon changes a region through one view, the other
 * views' cached pages go stale; the daemon then asks the kernel to drop them
 * (fuse_lowlevel_notify_inval_inode). That request must not be written from
 * a thread serving a request: the kernel takes the pages' locks, and a page
 * may be locked by a read that waits for that very thread. So a dedicated
 * notifier thread sends them, and the changing request waits for it before
 * it replies, so that the next read sees the change. The wait is bounded:
 * should the notifier block behind requests that cannot be served (every
 * worker busy, or -s), the reply goes out late rather than never.
 * Views that nobody has open are skipped: their cache is dropped at the
 * next open anyway, as no view is opened with keep_cache.
 */
#include "fs.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"
#include "region.h"

enum {
	INO_RO_DIR = 2,
	INO_RW_DIR,
	INO_COW_DIR,
	INO_CTL_DIR,
	SLOT_SHIFT = 4,
};

/* Kinds of node an entry owns, the low bits of its inode numbers. */
enum node_kind {
	NODE_RO,
	NODE_RW,
	NODE_COW,
	NODE_CTL_DIR,
	NODE_CTL_FILE,	/* NODE_CTL_FILE + enum ctl_file */
	NODE_KINDS = NODE_CTL_FILE + CTL_FILES,
};

/* Folders never change: the kernel may cache them for as long as it likes.
 * Views' names never change either, but asking again on each path walk is
 * what refreshes a view's size at open (close-to-open), so they get 0. */
#define DIR_TIMEOUT 86400.0
#define VIEW_TIMEOUT 0.0
#define INVAL_WAIT_MS 1000

struct inval {
	fuse_ino_t ino;
	off_t off, len;
};

struct notifier {
	struct fuse_session *se;
	pthread_t thread;
	bool running, stopping;
	pthread_mutex_t mu;
	pthread_cond_t wake, done;
	struct inval *queue;
	size_t n, cap;
	uint64_t posted, sent;	/* sequence numbers of invalidations */
};

struct slot {
	struct region *region;
	const char *name;
	_Atomic int opens[3];	/* open handles per view, NODE_RO..NODE_COW */
};

/* Flushes every rw region each flush_interval seconds (0: never starts). */
struct flusher {
	unsigned interval;
	pthread_t thread;
	bool running, stopping;
	pthread_mutex_t mu;
	pthread_cond_t wake;
};

struct fs {
	struct slot *slots;
	size_t n_slots;
	struct slot **by_name;	/* sorted, for lookup and readdir */
	uid_t uid;
	gid_t gid;
	struct timespec started;
	struct notifier notifier;
	struct flusher flusher;
};

static const struct {
	const char *name;
	fuse_ino_t ino;
	unsigned view;
} top_dirs[] = {
	{ "ro", INO_RO_DIR, VIEW_RO },
	{ "rw", INO_RW_DIR, VIEW_RW },
	{ "cow", INO_COW_DIR, VIEW_COW },
	{ "ctl", INO_CTL_DIR, 0 },
};

#define N_TOP_DIRS (sizeof(top_dirs) / sizeof(top_dirs[0]))

/* ---- inode numbers ---- */

static fuse_ino_t node_ino(const struct fs *fs, const struct slot *s,
			   enum node_kind kind)
{
	return ((fuse_ino_t)(s - fs->slots + 1) << SLOT_SHIFT) | kind;
}

/* The slot an inode number belongs to, or NULL for the fixed folders. */
static struct slot *ino_slot(struct fs *fs, fuse_ino_t ino, enum node_kind *kind)
{
	size_t index = (size_t)(ino >> SLOT_SHIFT);

	if (index == 0 || index > fs->n_slots || (ino & 15) >= NODE_KINDS)
		return NULL;
	*kind = (enum node_kind)(ino & 15);
	return &fs->slots[index - 1];
}

static unsigned kind_view(enum node_kind kind)
{
	return kind == NODE_RW ? VIEW_RW : kind == NODE_COW ? VIEW_COW : VIEW_RO;
}

static bool is_view(enum node_kind kind)
{
	return kind <= NODE_COW;
}

static bool is_ctl_file(enum node_kind kind)
{
	return kind >= NODE_CTL_FILE;
}

static enum ctl_file kind_ctl_file(enum node_kind kind)
{
	return (enum ctl_file)(kind - NODE_CTL_FILE);
}

static struct fs *req_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* ---- the invalidation notifier ---- */

static void *notifier_main(void *arg)
{
	struct notifier *n = arg;
	struct inval *batch = NULL;

	pthread_mutex_lock(&n->mu);
	for (;;) {
		size_t count;
		uint64_t last;

		while (n->n == 0 && !n->stopping)
			pthread_cond_wait(&n->wake, &n->mu);
		if (n->n == 0)
			break;
		batch = n->queue;
		count = n->n;
		last = n->posted;
		n->queue = NULL;
		n->n = n->cap = 0;
		pthread_mutex_unlock(&n->mu);

		for (size_t i = 0; i < count; i++) {
			int err = fuse_lowlevel_notify_inval_inode(n->se, batch[i].ino,
								   batch[i].off,
								   batch[i].len);
			if (err && err != -ENOENT)
				log_msg(LOG_DEBUG, "invalidating inode %lu: %s",
					(unsigned long)batch[i].ino, strerror(-err));
		}
		free(batch);

		pthread_mutex_lock(&n->mu);
		n->sent = last;
		pthread_cond_broadcast(&n->done);
	}
	pthread_mutex_unlock(&n->mu);
	return NULL;
}

/* Queues an invalidation of [OFF, OFF + LEN) of INO (LEN 0: to the end);
 * returns its sequence number, 0 if nothing was queued. */
static uint64_t notifier_post(struct notifier *n, fuse_ino_t ino, off_t off, off_t len)
{
	uint64_t seq = 0;

	pthread_mutex_lock(&n->mu);
	if (n->running && n->n == n->cap) {
		size_t cap = n->cap ? 2 * n->cap : 16;
		struct inval *q = realloc(n->queue, cap * sizeof(*q));

		if (q) {
			n->queue = q;
			n->cap = cap;
		}
	}
	if (n->running && n->n < n->cap) {
		n->queue[n->n++] = (struct inval){ ino, off, len };
		seq = ++n->posted;
		pthread_cond_signal(&n->wake);
	}
	pthread_mutex_unlock(&n->mu);
	return seq;
}

/* Waits, at most INVAL_WAIT_MS, until invalidation SEQ has been sent. */
static void notifier_wait(struct notifier *n, uint64_t seq)
{
	struct timespec deadline;
	int err = 0;

	if (seq == 0)
		return;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_nsec += (INVAL_WAIT_MS % 1000) * 1000000L;
	deadline.tv_sec += INVAL_WAIT_MS / 1000 + deadline.tv_nsec / 1000000000L;
	deadline.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&n->mu);
	while (n->sent < seq && err == 0)
		err = pthread_cond_timedwait(&n->done, &n->mu, &deadline);
	pthread_mutex_unlock(&n->mu);
	if (err)
		log_msg(LOG_WARNING, "replying before the kernel dropped stale pages "
			"(invalidation still pending after %d ms): a reader may see old "
			"bytes until it does", INVAL_WAIT_MS);
}

/*
 * Drops the kernel's cached pages of slot S's views in VIEWS (VIEW_* bits)
 * over [OFF, OFF + LEN) (LEN 0: to the end), and their cached attributes,
 * then waits for it. Views nobody has open are skipped (see the top).
 */
static void invalidate_views(struct fs *fs, struct slot *s, unsigned views,
			     uint64_t off, uint64_t len)
{
	uint64_t seq = 0, last = 0;

	for (enum node_kind k = NODE_RO; k <= NODE_COW; k++) {
		if (!(views & kind_view(k)) || atomic_load(&s->opens[k]) == 0)
			continue;
		seq = notifier_post(&fs->notifier, node_ino(fs, s, k), (off_t)off,
				    (off_t)len);
		if (seq)
			last = seq;
	}
	notifier_wait(&fs->notifier, last);
}

/* ---- the automatic flusher ---- */

static void flush_all(struct fs *fs)
{
	for (size_t i = 0; i < fs->n_slots; i++) {
		struct region *r = fs->slots[i].region;
		char why[512];

		if (!(region_entry(r)->views & VIEW_RW))
			continue;
		if (region_sync(r, 0, region_view_size(r, VIEW_RW), why, sizeof(why)))
			log_msg(LOG_ERR, "[%s] automatic flush: %s", region_entry(r)->name, why);
	}
}

static void *flusher_main(void *arg)
{
	struct fs *fs = arg;
	struct flusher *f = &fs->flusher;
	struct timespec next;

	clock_gettime(CLOCK_MONOTONIC, &next);
	pthread_mutex_lock(&f->mu);
	while (!f->stopping) {
		next.tv_sec += f->interval;
		while (!f->stopping &&
		       pthread_cond_timedwait(&f->wake, &f->mu, &next) != ETIMEDOUT)
			;
		if (f->stopping)
			break;
		pthread_mutex_unlock(&f->mu);
		flush_all(fs);
		pthread_mutex_lock(&f->mu);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

/* Starts a helper thread with every signal blocked: the signals that end
 * the mount must reach libfuse's threads, which wake up on them. */
static int start_thread(pthread_t *thread, void *(*run)(void *), void *arg)
{
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(thread, NULL, run, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

static void flusher_init(struct flusher *f, unsigned interval)
{
	pthread_condattr_t attr;

	f->interval = interval;
	pthread_mutex_init(&f->mu, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&f->wake, &attr);
	pthread_condattr_destroy(&attr);
}

static int flusher_start(struct fs *fs)
{
	struct flusher *f = &fs->flusher;
	int err;

	if (f->interval == 0)
		return 0;
	err = start_thread(&f->thread, flusher_main, fs);
	f->running = err == 0;
	return err;
}

static void flusher_stop(struct flusher *f)
{
	pthread_mutex_lock(&f->mu);
	f->stopping = true;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->mu);
	if (f->running)
		pthread_join(f->thread, NULL);
	f->running = false;
}

/* ---- attributes ---- */

static void dir_attr(const struct fs *fs, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_atim = st->st_mtim = st->st_ctim = fs->started;
}

/* Owner and mode of a view, from the backing file (SPEC "Views"). */
static mode_t view_mode(const struct region *r, enum node_kind kind, mode_t file_mode)
{
	mode_t perm = file_mode & 0777;

	if (region_entry(r)->anonymous)
		perm = kind == NODE_RO ? 0400 : 0600;
	else if (kind == NODE_RO)
		perm &= ~(mode_t)0222;
	else if (kind == NODE_COW)
		perm |= 0200;
	return S_IFREG | perm;
}

static int view_attr(struct fs *fs, struct slot *s, enum node_kind kind,
		     struct stat *st)
{
	struct stat file;
	uint64_t size = region_view_size(s->region, kind_view(kind));
	int err = region_fstat(s->region, &file);

	if (err)
		return err;
	memset(st, 0, sizeof(*st));
	st->st_ino = node_ino(fs, s, kind);
	st->st_mode = view_mode(s->region, kind, file.st_mode);
	st->st_nlink = 1;
	st->st_uid = region_entry(s->region)->anonymous ? fs->uid : file.st_uid;
	st->st_gid = region_entry(s->region)->anonymous ? fs->gid : file.st_gid;
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	st->st_blksize = 4096;
	st->st_atim = file.st_atim;
	st->st_mtim = file.st_mtim;
	st->st_ctim = file.st_ctim;
	return 0;
}

/* Control files: owned by the mounting user, empty as far as st_size
 * tells; they are served with direct_io, so reads are not cut at it. */
static void ctl_file_attr(const struct fs *fs, fuse_ino_t ino, enum ctl_file file,
			  struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFREG | ctl_file_mode(file);
	st->st_nlink = 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_blksize = 4096;
	st->st_atim = st->st_mtim = st->st_ctim = fs->started;
}

/* Fills ST for INO; returns 0 or an errno. *TIMEOUT is how long the kernel
 * may keep it. */
static int node_attr(struct fs *fs, fuse_ino_t ino, struct stat *st, double *timeout)
{
	enum node_kind kind;
	struct slot *s;

	*timeout = DIR_TIMEOUT;
	if (ino == FUSE_ROOT_ID || (ino >= INO_RO_DIR && ino <= INO_CTL_DIR)) {
		dir_attr(fs, ino, st);
		return 0;
	}
	s = ino_slot(fs, ino, &kind);
	if (!s)
		return ENOENT;
	if (kind == NODE_CTL_DIR) {
		dir_attr(fs, ino, st);
		return 0;
	}
	if (is_ctl_file(kind)) {
		ctl_file_attr(fs, ino, kind_ctl_file(kind), st);
		return 0;
	}
	*timeout = VIEW_TIMEOUT;
	return view_attr(fs, s, kind, st);
}

/* ---- names ---- */

static int compare_slot_name(const void *key, const void *elem)
{
	return strcmp(key, (*(struct slot *const *)elem)->name);
}

static struct slot *slot_by_name(struct fs *fs, const char *name)
{
	struct slot **found = bsearch(name, fs->by_name, fs->n_slots,
				      sizeof(*fs->by_name), compare_slot_name);

	return found ? *found : NULL;
}

static bool slot_has_view(const struct slot *s, unsigned view)
{
	return view == 0 || (region_entry(s->region)->views & view);
}

static unsigned dir_view(fuse_ino_t dir)
{
	for (size_t i = 0; i < N_TOP_DIRS; i++)
		if (top_dirs[i].ino == dir)
			return top_dirs[i].view;
	return 0;
}

static enum node_kind view_kind(unsigned view)
{
	return view == VIEW_RW ? NODE_RW : view == VIEW_COW ? NODE_COW :
	       view == VIEW_RO ? NODE_RO : NODE_CTL_DIR;
}

/* The child NAME of folder PARENT: its inode number, or 0. */
static fuse_ino_t child_ino(struct fs *fs, fuse_ino_t parent, const char *name)
{
	enum node_kind kind;
	struct slot *s = ino_slot(fs, parent, &kind);

	if (s) {
		int file = kind == NODE_CTL_DIR ? ctl_file_by_name(name) : -1;
		return file < 0 ? 0 : node_ino(fs, s, NODE_CTL_FILE + file);
	}
	if (parent == FUSE_ROOT_ID) {
		for (size_t i = 0; i < N_TOP_DIRS; i++)
			if (strcmp(name, top_dirs[i].name) == 0)
				return top_dirs[i].ino;
		return 0;
	}
	if (parent < INO_RO_DIR || parent > INO_CTL_DIR)
		return 0;
	s = slot_by_name(fs, name);
	if (!s || !slot_has_view(s, dir_view(parent)))
		return 0;
	return node_ino(fs, s, view_kind(dir_view(parent)));
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = req_fs(req);
	struct fuse_entry_param e = { 0 };
	double timeout;
	int err;

	e.ino = child_ino(fs, parent, name);
	if (!e.ino) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	err = node_attr(fs, e.ino, &e.attr, &timeout);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	e.attr_timeout = e.entry_timeout = timeout;
	fuse_reply_entry(req, &e);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	double timeout;
	int err = node_attr(req_fs(req), ino, &st, &timeout);

	(void)fi;
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, timeout);
}

/* ---- folders ---- */

/* Adds one name to a readdir reply; false when the buffer is full. */
static bool add_dirent(fuse_req_t req, char *buf, size_t size, size_t *used,
		       const char *name, fuse_ino_t ino, mode_t mode, off_t next)
{
	struct stat st = { .st_ino = ino, .st_mode = mode };
	size_t need = fuse_add_direntry(req, NULL, 0, name, NULL, 0);

	if (*used + need > size)
		return false;
	fuse_add_direntry(req, buf + *used, size - *used, name, &st, next);
	*used += need;
	return true;
}

/*
 * The children of a folder by position: 0 is ".", 1 is "..", then the top
 * folders (root) or the entries in name order (ro/ rw/ cow/ ctl/), skipping
 * entries without the folder's view; readdir offsets are positions + 1.
 */
static void fill_dir(struct fs *fs, fuse_req_t req, fuse_ino_t ino, char *buf,
		     size_t size, size_t *used, off_t pos)
{
	unsigned view = dir_view(ino);
	size_t n = ino == FUSE_ROOT_ID ? N_TOP_DIRS : fs->n_slots;

	for (; pos < 2; pos++)
		if (!add_dirent(req, buf, size, used, pos ? ".." : ".",
				pos ? FUSE_ROOT_ID : ino, S_IFDIR, pos + 1))
			return;
	for (size_t i = (size_t)pos - 2; i < n; i++) {
		const char *name;
		fuse_ino_t child;
		mode_t mode = S_IFDIR;

		if (ino == FUSE_ROOT_ID) {
			name = top_dirs[i].name;
			child = top_dirs[i].ino;
		} else {
			struct slot *s = fs->by_name[i];

			if (!slot_has_view(s, view))
				continue;
			name = s->name;
			child = node_ino(fs, s, view_kind(view));
			if (view)
				mode = S_IFREG;
		}
		if (!add_dirent(req, buf, size, used, name, child, mode, (off_t)i + 3))
			return;
	}
}

/* ctl/NAME/: ".", "..", then the control files in enum ctl_file order. */
static void fill_ctl_dir(struct fs *fs, fuse_req_t req, fuse_ino_t ino, char *buf,
			 size_t size, size_t *used, off_t pos)
{
	enum node_kind kind;
	struct slot *s = ino_slot(fs, ino, &kind);

	for (; pos < 2; pos++)
		if (!add_dirent(req, buf, size, used, pos ? ".." : ".",
				pos ? INO_CTL_DIR : ino, S_IFDIR, pos + 1))
			return;
	for (; pos < 2 + CTL_FILES; pos++) {
		enum ctl_file file = (enum ctl_file)(pos - 2);

		if (!add_dirent(req, buf, size, used, ctl_file_name(file),
				node_ino(fs, s, NODE_CTL_FILE + file), S_IFREG, pos + 1))
			return;
	}
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	enum node_kind kind;
	size_t used = 0;
	char *buf;

	(void)fi;
	if (ino != FUSE_ROOT_ID && (ino < INO_RO_DIR || ino > INO_CTL_DIR) &&
	    !(ino_slot(fs, ino, &kind) && kind == NODE_CTL_DIR)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (ino_slot(fs, ino, &kind))
		fill_ctl_dir(fs, req, ino, buf, size, &used, off);
	else
		fill_dir(fs, req, ino, buf, size, &used, off);
	fuse_reply_buf(req, buf, used);
	free(buf);
}

/* ---- views ---- */

static int open_view(struct fs *fs, struct slot *s, enum node_kind kind, int flags)
{
	bool writing = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
	int changed;

	if (kind == NODE_RO && writing)
		return EACCES;	/* root too: the view is read-only by nature */
	if (kind == NODE_COW && (flags & O_TRUNC))
		return EPERM;	/* the cow view's size is fixed */
	changed = region_refresh(s->region);
	if (changed < 0)
		return -changed;
	if (changed)
		invalidate_views(fs, s, VIEW_ALL, 0, 0);
	if (kind == NODE_RW && (flags & O_TRUNC)) {
		int err = region_resize(s->region, 0, NULL, 0);

		if (err)
			return err;
		invalidate_views(fs, s, VIEW_RO | VIEW_COW, 0, 0);
	}
	return 0;
}

/* Control files are opened only the ways their modes allow, for root too;
 * direct_io: no size is known in advance and every write must arrive. */
static int open_ctl_file(enum ctl_file file, struct fuse_file_info *fi)
{
	int acc = fi->flags & O_ACCMODE;
	unsigned mode = ctl_file_mode(file);

	if ((acc != O_WRONLY && !(mode & 0400)) || (acc != O_RDONLY && !(mode & 0200)))
		return EACCES;
	fi->direct_io = 1;
	return 0;
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	enum node_kind kind;
	struct slot *s = ino_slot(fs, ino, &kind);
	int err;

	if (!s || kind == NODE_CTL_DIR) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (is_ctl_file(kind)) {
		err = open_ctl_file(kind_ctl_file(kind), fi);
		if (err)
			fuse_reply_err(req, err);
		else
			fuse_reply_open(req, fi);
		return;
	}
	err = open_view(fs, s, kind, fi->flags);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	atomic_fetch_add(&s->opens[kind], 1);
	fi->keep_cache = 0;
	if (fuse_reply_open(req, fi) == -ENOENT)
		atomic_fetch_sub(&s->opens[kind], 1);	/* the opener is gone */
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	enum node_kind kind;
	struct slot *s = ino_slot(req_fs(req), ino, &kind);

	(void)fi;
	if (s && is_view(kind))
		atomic_fetch_sub(&s->opens[kind], 1);
	fuse_reply_err(req, 0);
}

/* The text is made afresh for each read: it is small enough that a reader
 * always takes it whole at offset 0. */
static void read_ctl_file(fuse_req_t req, struct slot *s, enum ctl_file file,
			  size_t size, off_t off)
{
	char text[CTL_READ_MAX];
	size_t len = ctl_read(s->region, file, text, sizeof(text));

	if ((size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, text + off, len - (size_t)off < size ? len - (size_t)off : size);
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	enum node_kind kind;
	struct slot *s = ino_slot(req_fs(req), ino, &kind);
	const void *data = NULL;
	size_t n;
	int err;

	(void)fi;
	if (s && is_ctl_file(kind)) {
		read_ctl_file(req, s, kind_ctl_file(kind), size, off);
		return;
	}
	if (!s || !is_view(kind)) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	/* The reply is written to the kernel straight from the mapping. */
	n = region_read_begin(s->region, kind_view(kind), (uint64_t)off, size, &data);
	err = fuse_reply_buf(req, data, n);
	region_read_end(s->region);
	/* A page past the end of a file cut outside the mount: the kernel's
	 * copy failed (EFAULT, where the daemon would have had SIGBUS) and it
	 * failed the read with EIO. */
	if (err == -EFAULT)
		region_fault(s->region, "a read");
}

static void write_ctl_file(fuse_req_t req, struct fs *fs, struct slot *s,
			   enum ctl_file file, const char *buf, size_t size, off_t off)
{
	struct ctl_effect effect;
	int err = ctl_write(s->region, file, buf, size, (uint64_t)off, &effect);

	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	if (effect.views)
		invalidate_views(fs, s, effect.views, effect.off, effect.len);
	fuse_reply_write(req, size);
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		     off_t off, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	enum node_kind kind;
	struct slot *s = ino_slot(fs, ino, &kind);
	ssize_t n;

	(void)fi;
	if (s && is_ctl_file(kind)) {
		write_ctl_file(req, fs, s, kind_ctl_file(kind), buf, size, off);
		return;
	}
	if (!s || (kind != NODE_RW && kind != NODE_COW)) {
		fuse_reply_err(req, s && kind == NODE_RO ? EBADF : EISDIR);
		return;
	}
	n = region_write(s->region, kind_view(kind), buf, size, (uint64_t)off);
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	/* A cow write changes only the cow view, whose pages the kernel just
	 * updated itself; an rw write shows through ro and unwritten cow. */
	if (kind == NODE_RW && n > 0)
		invalidate_views(fs, s, VIEW_RO | VIEW_COW, (uint64_t)off, (uint64_t)n);
	fuse_reply_write(req, (size_t)n);
}

static int truncate_view(struct fs *fs, struct slot *s, enum node_kind kind,
			 uint64_t size)
{
	int err;

	if (kind == NODE_RO)
		return EACCES;
	if (kind == NODE_COW)
		return EPERM;
	err = region_resize(s->region, size, NULL, 0);
	if (!err)
		invalidate_views(fs, s, VIEW_RO | VIEW_COW, 0, 0);
	return err;
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	enum node_kind kind;
	struct slot *s = ino_slot(fs, ino, &kind);
	int err = 0;

	(void)fi;
	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
		err = EPERM;
	else if ((to_set & FUSE_SET_ATTR_SIZE) && s && is_view(kind))
		err = truncate_view(fs, s, kind, (uint64_t)attr->st_size);
	else if ((to_set & FUSE_SET_ATTR_SIZE) && !(s && is_ctl_file(kind)))
		err = EISDIR;
	/* Times are accepted and left alone: they are the backing file's.
	 * Truncating a control file is what the shell's ">" does: a no-op. */
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	fs_getattr(req, ino, NULL);
}

static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	enum node_kind kind;
	struct slot *s = ino_slot(req_fs(req), ino, &kind);
	int err = 0;

	(void)datasync;
	(void)fi;
	if (s && kind == NODE_RW)
		err = region_sync(s->region, 0, region_view_size(s->region, VIEW_RW), NULL, 0);
	fuse_reply_err(req, err);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = req_fs(req);
	struct statvfs sv = { 0 };
	uint64_t bytes = 0;

	(void)ino;
	for (size_t i = 0; i < fs->n_slots; i++)
		bytes += region_view_size(fs->slots[i].region, VIEW_RW);
	sv.f_bsize = sv.f_frsize = 4096;
	sv.f_blocks = (fsblkcnt_t)((bytes + 4095) / 4096);
	sv.f_files = 5 + NODE_KINDS * fs->n_slots;
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

/* ---- what the tree does not allow ---- */

static void deny_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, dev_t rdev)
{
	(void)parent, (void)name, (void)mode, (void)rdev;
	fuse_reply_err(req, EPERM);
}

static void deny_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)parent, (void)name, (void)mode;
	fuse_reply_err(req, EPERM);
}

static void deny_remove(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent, (void)name;
	fuse_reply_err(req, EPERM);
}

static void deny_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			 const char *name)
{
	(void)link, (void)parent, (void)name;
	fuse_reply_err(req, EPERM);
}

static void deny_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	(void)parent, (void)name, (void)newparent, (void)newname, (void)flags;
	fuse_reply_err(req, EPERM);
}

static void deny_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		      const char *newname)
{
	(void)ino, (void)newparent, (void)newname;
	fuse_reply_err(req, EPERM);
}

static void deny_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode, struct fuse_file_info *fi)
{
	(void)parent, (void)name, (void)mode, (void)fi;
	fuse_reply_err(req, EPERM);
}

/* ---- set-up ---- */

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* The daemon invalidates what it changes itself; letting the kernel
	 * also compare mtimes would cost a GETATTR before every read. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	/* Visible at once (SPEC "Views"): every write reaches the mapping
	 * before write(2) returns, so no writeback cache. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
}

const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.lookup = fs_lookup,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.readdir = fs_readdir,
	.open = fs_open,
	.release = fs_release,
	.read = fs_read,
	.write = fs_write,
	.fsync = fs_fsync,
	.statfs = fs_statfs,
	.mknod = deny_mknod,
	.mkdir = deny_mkdir,
	.unlink = deny_remove,
	.rmdir = deny_remove,
	.symlink = deny_symlink,
	.rename = deny_rename,
	.link = deny_link,
	.create = deny_create,
};

static int compare_slots(const void *a, const void *b)
{
	return strcmp((*(struct slot *const *)a)->name, (*(struct slot *const *)b)->name);
}

struct fs *fs_new(const struct config *cfg, struct errors *errs)
{
	struct fs *fs = calloc(1, sizeof(*fs));
	size_t before = errs->count;

	if (!fs || !(fs->slots = calloc(cfg->n_entries + 1, sizeof(*fs->slots))) ||
	    !(fs->by_name = calloc(cfg->n_entries + 1, sizeof(*fs->by_name))))
		abort();
	flusher_init(&fs->flusher, cfg->flush_interval);
	fs->uid = getuid();
	fs->gid = getgid();
	clock_gettime(CLOCK_REALTIME, &fs->started);
	pthread_mutex_init(&fs->notifier.mu, NULL);
	pthread_cond_init(&fs->notifier.wake, NULL);
	pthread_cond_init(&fs->notifier.done, NULL);
	for (size_t i = 0; i < cfg->n_entries; i++) {
		const struct config_entry *e = &cfg->entries[i];
		struct slot *s = &fs->slots[fs->n_slots];
		char why[512];

		if (region_open(e, &s->region, why, sizeof(why))) {
			char where[300];

			config_where(cfg, e, where, sizeof(where));
			errors_add(errs, "%s: [%s] %s", where, e->name, why);
			continue;
		}
		s->name = region_entry(s->region)->name;
		fs->by_name[fs->n_slots++] = s;
	}
	qsort(fs->by_name, fs->n_slots, sizeof(*fs->by_name), compare_slots);
	if (errs->count != before) {
		fs_destroy(fs);
		return NULL;
	}
	return fs;
}

int fs_start(struct fs *fs, struct fuse_session *se)
{
	struct notifier *n = &fs->notifier;
	int err;

	n->se = se;
	n->running = true;
	err = start_thread(&n->thread, notifier_main, n);
	if (err) {
		n->running = false;
		return err;
	}
	return flusher_start(fs);
}

static void notifier_stop(struct notifier *n)
{
	pthread_mutex_lock(&n->mu);
	n->stopping = true;
	pthread_cond_signal(&n->wake);
	pthread_mutex_unlock(&n->mu);
	if (n->running)
		pthread_join(n->thread, NULL);
	n->running = false;
	free(n->queue);
}

int fs_destroy(struct fs *fs)
{
	int err = 0;

	flusher_stop(&fs->flusher);
	notifier_stop(&fs->notifier);
	for (size_t i = 0; i < fs->n_slots; i++) {
		int e = region_close(fs->slots[i].region);

		if (e && !err)
			err = e;
	}
	pthread_mutex_destroy(&fs->flusher.mu);
	pthread_cond_destroy(&fs->flusher.wake);
	pthread_mutex_destroy(&fs->notifier.mu);
	pthread_cond_destroy(&fs->notifier.wake);
	pthread_cond_destroy(&fs->notifier.done);
	free(fs->by_name);
	free(fs->slots);
	free(fs);
	return err;
}
