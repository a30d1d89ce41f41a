/*
 * fs.c - FUSE low-level operations (fs.h).
 *
 * Inode numbers: the root and the four top folders have 1..5; entry slot S
 * of the table owns the sixteen numbers from (S + 1) << 4, one per node
 * kind. Slots are never reused, so a number always names the same thing;
 * the kernel's lookup counts need no bookkeeping and forget is a no-op.
 * A node whose entry a reload removed answers ESTALE.
 *
 * Coherence. Each view is its own inode with its own page cache in the
 * kernel. When the daemon changes a region through one view or a control
 * file, the other views' cached pages go stale, and it asks the kernel to
 * drop them through the notifier (notify.h), waiting until they are gone
 * before it replies. Views nobody has open are skipped; instead the change
 * is noted (table_view_changed), and their next open is without keep_cache,
 * so the kernel drops their pages then. An open keeps the cache only when
 * nothing changed the view since its previous open: the daemon's notes
 * tell for anonymous entries, which nobody else can write. A file can also
 * be changed by other processes, and a write through their own mapping
 * changes no file time after its first one to a page, so a file entry's
 * cache is dropped at every open (close-to-open, SPEC "Coherence") unless
 * the mount says otherwise (-o kernel_cache: no one else writes them).
 */
#include "fs.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"
#include "notify.h"
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
	NODE_TOP = NODE_KINDS,	/* the root and the top folders */
};

/* Folders never change but at a reload, which tells the kernel itself:
 * it may cache them for as long as it likes. Views get 0: asking again on
 * each path walk is what keeps a view's size exact (close-to-open). */
#define DIR_TIMEOUT 86400.0
#define VIEW_TIMEOUT 0.0

struct fs {
	struct table *table;
	struct notifier *notifier;
	unsigned readahead;	/* bytes; 0: the kernel's */
	bool kernel_cache;	/* trust file entries' cached pages across opens */
	uid_t uid;
	gid_t gid;
	struct timespec started;
};

/* What an inode number names; for an entry's node, its region is held
 * (node_get .. node_put). */
struct node {
	fuse_ino_t ino;
	enum node_kind kind;
	size_t slot;
	struct region *region;
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

static struct fs *req_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* ---- nodes ---- */

static fuse_ino_t node_ino(size_t slot, enum node_kind kind)
{
	return ((fuse_ino_t)(slot + 1) << SLOT_SHIFT) | kind;
}

static unsigned kind_view(enum node_kind kind)
{
	return kind == NODE_RW ? VIEW_RW : kind == NODE_COW ? VIEW_COW : VIEW_RO;
}

static enum node_kind view_kind(unsigned view)
{
	return view == VIEW_RW ? NODE_RW : view == VIEW_COW ? NODE_COW :
	       view == VIEW_RO ? NODE_RO : NODE_CTL_DIR;
}

static bool is_view(enum node_kind kind)
{
	return kind <= NODE_COW;
}

static bool is_ctl_file(enum node_kind kind)
{
	return kind >= NODE_CTL_FILE && kind < NODE_KINDS;
}

static bool is_dir(enum node_kind kind)
{
	return kind == NODE_TOP || kind == NODE_CTL_DIR;
}

static enum ctl_file kind_ctl_file(enum node_kind kind)
{
	return (enum ctl_file)(kind - NODE_CTL_FILE);
}

/* Resolves INO into N, holding its entry's region. Returns 0, ENOENT for a
 * number nothing has, ESTALE for a node whose entry a reload removed. */
static int node_get(struct fs *fs, fuse_ino_t ino, struct node *n)
{
	size_t index = (size_t)(ino >> SLOT_SHIFT);

	memset(n, 0, sizeof(*n));
	n->ino = ino;
	if (ino == FUSE_ROOT_ID || (ino >= INO_RO_DIR && ino <= INO_CTL_DIR)) {
		n->kind = NODE_TOP;
		return 0;
	}
	if (index == 0 || index > table_slots(fs->table) || (ino & 15) >= NODE_KINDS)
		return ENOENT;
	n->slot = index - 1;
	n->kind = (enum node_kind)(ino & 15);
	n->region = table_get(fs->table, n->slot);
	if (!n->region)
		return ESTALE;
	if (is_view(n->kind) && !(region_entry(n->region)->views & kind_view(n->kind))) {
		table_put(fs->table, n->slot);	/* a view a reload took away */
		n->region = NULL;
		return ESTALE;
	}
	return 0;
}

static void node_put(struct fs *fs, struct node *n)
{
	if (n->region)
		table_put(fs->table, n->slot);
	n->region = NULL;
}

/*
 * Drops the kernel's cached pages of SLOT's views in VIEWS (VIEW_* bits)
 * over [OFF, OFF + LEN) (LEN 0: to the end), and their cached attributes,
 * and waits for it. Call it holding no region: the kernel may need a
 * request served (one that writes back a dirty page) to finish it.
 */
static void invalidate_views(struct fs *fs, size_t slot, unsigned views,
			     uint64_t off, uint64_t len)
{
	struct inval_batch *batch = NULL;	/* made only if a view is open */

	for (enum node_kind k = NODE_RO; k <= NODE_COW; k++) {
		if (!(views & kind_view(k)))
			continue;
		/* Noted before the open count is read; an open counts itself
		 * before it reads the note: one of the two sees the other. */
		table_view_changed(fs->table, slot, kind_view(k));
		if (table_opens(fs->table, slot, kind_view(k), 0) == 0)
			continue;
		if (!batch)
			batch = notifier_batch(fs->notifier);
		notifier_inval_inode(fs->notifier, batch, node_ino(slot, k), (off_t)off,
				     (off_t)len);
	}
	notifier_wait(fs->notifier, batch);
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

static int view_attr(const struct fs *fs, const struct node *n, struct stat *st)
{
	bool anonymous = region_entry(n->region)->anonymous;
	uint64_t size = region_view_size(n->region, kind_view(n->kind));
	struct stat file;
	int err = region_fstat(n->region, &file);

	if (err)
		return err;
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_mode = view_mode(n->region, n->kind, file.st_mode);
	st->st_nlink = 1;
	st->st_uid = anonymous ? fs->uid : file.st_uid;
	st->st_gid = anonymous ? fs->gid : file.st_gid;
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
static void ctl_file_attr(const struct fs *fs, const struct node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_mode = S_IFREG | ctl_file_mode(kind_ctl_file(n->kind));
	st->st_nlink = 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_blksize = 4096;
	st->st_atim = st->st_mtim = st->st_ctim = fs->started;
}

/* Fills ST for node N; returns 0 or an errno. *TIMEOUT is how long the
 * kernel may keep it. */
static int node_attr(const struct fs *fs, const struct node *n, struct stat *st,
		     double *timeout)
{
	*timeout = is_view(n->kind) ? VIEW_TIMEOUT : DIR_TIMEOUT;
	if (is_dir(n->kind))
		dir_attr(fs, n->ino, st);
	else if (is_ctl_file(n->kind))
		ctl_file_attr(fs, n, st);
	else
		return view_attr(fs, n, st);
	return 0;
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct node n;
	struct stat st;
	double timeout;
	int err = node_get(fs, ino, &n);

	(void)fi;
	if (!err)
		err = node_attr(fs, &n, &st, &timeout);
	node_put(fs, &n);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, timeout);
}

/* ---- names ---- */

static unsigned dir_view(fuse_ino_t dir)
{
	for (size_t i = 0; i < N_TOP_DIRS; i++)
		if (top_dirs[i].ino == dir)
			return top_dirs[i].view;
	return 0;
}

/* Whether VIEWS hold VIEW; 0 stands for ctl/, which every entry has. */
static bool has_view_bits(unsigned views, unsigned view)
{
	return view == 0 || (views & view);
}

/* The inode number of NAME in folder PARENT, or 0. */
static fuse_ino_t child_ino(struct fs *fs, fuse_ino_t parent, const char *name)
{
	struct node dir, child;
	fuse_ino_t ino = 0;

	if (parent == FUSE_ROOT_ID) {
		for (size_t i = 0; i < N_TOP_DIRS; i++)
			if (strcmp(name, top_dirs[i].name) == 0)
				return top_dirs[i].ino;
		return 0;
	}
	if (parent >= INO_RO_DIR && parent <= INO_CTL_DIR) {
		long slot = table_find(fs->table, name);

		if (slot < 0)
			return 0;
		ino = node_ino((size_t)slot, view_kind(dir_view(parent)));
		if (node_get(fs, ino, &child))
			ino = 0;
		node_put(fs, &child);
		return ino;
	}
	if (node_get(fs, parent, &dir) == 0 && dir.kind == NODE_CTL_DIR) {
		int file = ctl_file_by_name(name);

		ino = file < 0 ? 0 : node_ino(dir.slot, NODE_CTL_FILE + file);
	}
	node_put(fs, &dir);
	return ino;
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = req_fs(req);
	struct fuse_entry_param e = { 0 };
	struct node n;
	double timeout = 0;
	int err;

	e.ino = child_ino(fs, parent, name);
	if (!e.ino) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	err = node_get(fs, e.ino, &n);
	if (!err)
		err = node_attr(fs, &n, &e.attr, &timeout);
	node_put(fs, &n);
	if (err) {
		fuse_reply_err(req, err == ESTALE ? ENOENT : err);
		return;
	}
	e.attr_timeout = e.entry_timeout = timeout;
	fuse_reply_entry(req, &e);
}

/* ---- folders ---- */

/* A readdir reply being filled. */
struct dir_buf {
	fuse_req_t req;
	char *buf;
	size_t size, used;
};

/* Adds one name; false when the buffer is full. */
static bool add_dirent(struct dir_buf *d, const char *name, fuse_ino_t ino,
		       mode_t mode, off_t next)
{
	struct stat st = { .st_ino = ino, .st_mode = mode };
	size_t need = fuse_add_direntry(d->req, NULL, 0, name, NULL, 0);

	if (d->used + need > d->size)
		return false;
	fuse_add_direntry(d->req, d->buf + d->used, d->size - d->used, name, &st, next);
	d->used += need;
	return true;
}

/* Readdir offsets are positions + 1: 0 is ".", 1 is "..", then children. */
static bool add_dots(struct dir_buf *d, fuse_ino_t self, fuse_ino_t parent, off_t *pos)
{
	for (; *pos < 2; (*pos)++)
		if (!add_dirent(d, *pos ? ".." : ".", *pos ? parent : self, S_IFDIR, *pos + 1))
			return false;
	return true;
}

static void fill_root(struct dir_buf *d, off_t pos)
{
	if (!add_dots(d, FUSE_ROOT_ID, FUSE_ROOT_ID, &pos))
		return;
	for (; (size_t)pos - 2 < N_TOP_DIRS; pos++)
		if (!add_dirent(d, top_dirs[pos - 2].name, top_dirs[pos - 2].ino, S_IFDIR, pos + 1))
			return;
}

/* ro/ rw/ cow/ ctl/: the live entries in name order, those with the view. */
static void fill_top_dir(struct fs *fs, struct dir_buf *d, fuse_ino_t ino, off_t pos)
{
	unsigned view = dir_view(ino);
	long slot;

	if (!add_dots(d, ino, FUSE_ROOT_ID, &pos))
		return;
	for (; (slot = table_nth(fs->table, (size_t)pos - 2)) >= 0; pos++) {
		fuse_ino_t child = node_ino((size_t)slot, view_kind(view));
		struct node n;
		bool shown = node_get(fs, child, &n) == 0;

		node_put(fs, &n);
		if (shown && !add_dirent(d, table_name(fs->table, (size_t)slot), child,
					 view ? S_IFREG : S_IFDIR, pos + 1))
			return;
	}
}

/* ctl/NAME/: the control files in enum ctl_file order. */
static void fill_ctl_dir(struct dir_buf *d, const struct node *dir, off_t pos)
{
	if (!add_dots(d, dir->ino, INO_CTL_DIR, &pos))
		return;
	for (; pos < 2 + CTL_FILES; pos++) {
		enum ctl_file file = (enum ctl_file)(pos - 2);

		if (!add_dirent(d, ctl_file_name(file), node_ino(dir->slot, NODE_CTL_FILE + file),
				S_IFREG, pos + 1))
			return;
	}
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct dir_buf d = { .req = req, .size = size };
	struct node n;
	int err = node_get(fs, ino, &n);

	(void)fi;
	if (!err && !is_dir(n.kind))
		err = ENOTDIR;
	if (!err && !(d.buf = malloc(size)))
		err = ENOMEM;
	if (!err && ino == FUSE_ROOT_ID)
		fill_root(&d, off);
	else if (!err && n.kind == NODE_TOP)
		fill_top_dir(fs, &d, ino, off);
	else if (!err)
		fill_ctl_dir(&d, &n, off);
	node_put(fs, &n);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, d.buf, d.used);
	free(d.buf);
}

/* ---- opening ---- */

/* Opens view node N; may resize the region (O_TRUNC) or refresh its size.
 * Returns 0 or an errno, and in *CHANGED the views to invalidate. */
static int open_view(const struct node *n, int flags, unsigned *changed)
{
	bool writing = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
	int refreshed;

	*changed = 0;
	if (n->kind == NODE_RO && writing)
		return EACCES;	/* root too: the view is read-only by nature */
	if (n->kind == NODE_COW && (flags & O_TRUNC))
		return EPERM;	/* the cow view's size is fixed */
	refreshed = region_refresh(n->region);
	if (refreshed < 0)
		return -refreshed;
	if (refreshed)
		*changed = VIEW_ALL;
	if (n->kind == NODE_RW && (flags & O_TRUNC)) {
		int err = region_resize(n->region, 0, NULL, 0);

		if (err)
			return err;
		*changed |= VIEW_RO | VIEW_COW;
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

/* File times tick coarsely (the kernel's clock tick): a change less than
 * this old may have a twin with the same times. */
#define STAMP_TRUST_NS 100000000LL

static long long ns_since(const struct timespec *then, const struct timespec *now)
{
	return (now->tv_sec - then->tv_sec) * 1000000000LL + (now->tv_nsec - then->tv_nsec);
}

/* What the backing file looks like now, folded into 64 bits; a value never
 * seen before when its last change is too recent to be told apart. */
static uint64_t file_stamp(const struct region *r)
{
	static _Atomic uint64_t unique = 1ULL << 63;
	struct timespec now;
	struct stat st;
	uint64_t h = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	if (region_fstat(r, &st) != 0 || ns_since(&st.st_mtim, &now) < STAMP_TRUST_NS ||
	    ns_since(&st.st_ctim, &now) < STAMP_TRUST_NS)
		return atomic_fetch_add(&unique, 1);
	uint64_t parts[] = { st.st_ino, (uint64_t)st.st_size,
			     (uint64_t)st.st_mtim.tv_sec, (uint64_t)st.st_mtim.tv_nsec,
			     (uint64_t)st.st_ctim.tv_sec, (uint64_t)st.st_ctim.tv_nsec };
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		h = (h ^ parts[i]) * 0x100000001B3ULL;	/* FNV-1a, by words */
	return h;
}

/* Opens view N: counts the handle (before anything can change the view,
 * see invalidate_views) and decides whether the kernel's cached pages are
 * still right. */
static int open_counted_view(struct fs *fs, const struct node *n,
			     struct fuse_file_info *fi, unsigned *changed)
{
	unsigned view = kind_view(n->kind);
	int err;

	table_opens(fs->table, n->slot, view, +1);
	err = open_view(n, fi->flags, changed);
	if (err) {
		table_opens(fs->table, n->slot, view, -1);
		return err;
	}
	/* The stamp (an fstat) only where the cache may be kept at all; when
	 * it is skipped, the next open cannot match the last one it saw. */
	fi->keep_cache = (region_entry(n->region)->anonymous || fs->kernel_cache) &&
			 !*changed &&
			 table_view_unchanged(fs->table, n->slot, view, file_stamp(n->region));
	return 0;
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	unsigned changed = 0;
	struct node n;
	int err = node_get(fs, ino, &n);

	if (!err && is_dir(n.kind))
		err = EISDIR;
	else if (!err && is_ctl_file(n.kind))
		err = open_ctl_file(kind_ctl_file(n.kind), fi);
	else if (!err)
		err = open_counted_view(fs, &n, fi, &changed);
	node_put(fs, &n);
	if (changed)
		invalidate_views(fs, n.slot, changed, 0, 0);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	if (fuse_reply_open(req, fi) == -ENOENT && is_view(n.kind))
		table_opens(fs->table, n.slot, kind_view(n.kind), -1);	/* opener gone */
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	size_t index = (size_t)(ino >> SLOT_SHIFT);

	(void)fi;
	/* Counted by slot, whether or not the entry is still there. */
	if (index > 0 && index <= table_slots(fs->table) && is_view(ino & 15))
		table_opens(fs->table, index - 1, kind_view(ino & 15), -1);
	fuse_reply_err(req, 0);
}

/* ---- reading and writing ---- */

/* The text is made afresh for each read: it is small enough that a reader
 * always takes it whole at offset 0. */
static void read_ctl_file(fuse_req_t req, const struct node *n, size_t size, off_t off)
{
	char text[CTL_READ_MAX];
	size_t len = ctl_read(n->region, kind_ctl_file(n->kind), text, sizeof(text));

	if ((size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, text + off, len - (size_t)off < size ? len - (size_t)off : size);
}

static void read_view(fuse_req_t req, const struct node *n, size_t size, off_t off)
{
	const void *data = NULL;
	size_t len;
	int err;

	/* The reply is written to the kernel straight from the mapping. */
	len = region_read_begin(n->region, kind_view(n->kind), (uint64_t)off, size, &data);
	err = fuse_reply_buf(req, data, len);
	region_read_end(n->region);
	/* A page past the end of a file cut outside the mount: the kernel's
	 * copy failed (EFAULT, where the daemon would have had SIGBUS) and it
	 * failed the read with EIO. */
	if (err == -EFAULT)
		region_fault(n->region, "a read");
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct node n;
	int err = node_get(fs, ino, &n);

	(void)fi;
	if (!err && is_ctl_file(n.kind))
		read_ctl_file(req, &n, size, off);
	else if (!err && is_view(n.kind))
		read_view(req, &n, size, off);
	else
		fuse_reply_err(req, err ? err : EISDIR);
	node_put(fs, &n);
}

/* Writes to a view; returns the bytes written or -errno, and what to
 * invalidate: an rw write shows through ro and unwritten cow pages; a cow
 * write changes only the cow view, whose pages the kernel updated itself.
 * The bytes are copied once, from libfuse's buffer into the mapping. */
static ssize_t write_view(const struct node *n, const char *buf, size_t size,
			  off_t off, struct ctl_effect *effect)
{
	ssize_t written;

	if (n->kind == NODE_RO)
		return -EBADF;	/* never opened for writing */
	written = region_write(n->region, kind_view(n->kind), buf, size, (uint64_t)off);
	if (written > 0 && n->kind == NODE_RW)
		*effect = (struct ctl_effect){ VIEW_RO | VIEW_COW, (uint64_t)off,
					       (uint64_t)written };
	return written;
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		     off_t off, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct ctl_effect effect = { 0 };
	struct node n;
	ssize_t result = -node_get(fs, ino, &n);

	(void)fi;
	if (result == 0 && is_ctl_file(n.kind)) {
		result = -ctl_write(n.region, kind_ctl_file(n.kind), buf, size, (uint64_t)off,
				    &effect);
		if (result == 0)
			result = (ssize_t)size;	/* a command takes its whole write */
	} else if (result == 0 && is_view(n.kind)) {
		result = write_view(&n, buf, size, off, &effect);
	} else if (result == 0) {
		result = -EISDIR;
	}
	node_put(fs, &n);
	if (effect.views)
		invalidate_views(fs, n.slot, effect.views, effect.off, effect.len);
	if (result < 0)
		fuse_reply_err(req, (int)-result);
	else
		fuse_reply_write(req, (size_t)result);
}

/* ---- attributes set ---- */

static int truncate_node(const struct node *n, uint64_t size)
{
	if (is_ctl_file(n->kind))
		return 0;	/* the shell's ">" truncates: a no-op */
	if (!is_view(n->kind))
		return EISDIR;
	if (n->kind == NODE_RO)
		return EACCES;
	if (n->kind == NODE_COW)
		return EPERM;
	return region_resize(n->region, size, NULL, 0);
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct node n;
	int err = node_get(fs, ino, &n);
	bool resized = false;

	(void)fi;
	if (!err && (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		err = EPERM;
	else if (!err && (to_set & FUSE_SET_ATTR_SIZE)) {
		err = truncate_node(&n, (uint64_t)attr->st_size);
		resized = !err && n.kind == NODE_RW;
	}
	/* Times are accepted and left alone: they are the backing file's. */
	node_put(fs, &n);
	if (resized)
		invalidate_views(fs, n.slot, VIEW_RO | VIEW_COW, 0, 0);
	if (err)
		fuse_reply_err(req, err);
	else
		fs_getattr(req, ino, NULL);
}

static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct node n;
	int err = node_get(fs, ino, &n);

	(void)datasync;
	(void)fi;
	/* rw: msync + fsync; ro and cow have nothing to write. */
	if (!err && n.kind == NODE_RW)
		err = region_sync(n.region, 0, REGION_TO_END, NULL, 0);
	node_put(fs, &n);
	fuse_reply_err(req, err);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = req_fs(req);
	struct statvfs sv = { 0 };
	uint64_t bytes = 0;
	size_t live = 0;

	(void)ino;
	for (size_t slot = 0; slot < table_slots(fs->table); slot++) {
		struct region *r = table_get(fs->table, slot);

		if (r) {
			bytes += region_view_size(r, VIEW_RW);
			live++;
			table_put(fs->table, slot);
		}
	}
	sv.f_bsize = sv.f_frsize = 4096;
	sv.f_blocks = (fsblkcnt_t)((bytes + 4095) / 4096);
	sv.f_files = 5 + NODE_KINDS * live;
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
	const struct fs *fs = userdata;

	/* The daemon invalidates what it changes itself; letting the kernel
	 * also compare mtimes would cost a GETATTR before every read. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	/* Visible at once (SPEC "Views"): every write reaches the mapping
	 * before write(2) returns, so no writeback cache. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* The kernel keeps the smaller of this and the mount's readahead,
	 * which main.c raised (-o readahead) before this reply. */
	if (fs->readahead)
		conn->max_readahead = fs->readahead;
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

struct fs *fs_new(struct table *t, unsigned readahead, bool kernel_cache)
{
	struct fs *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return NULL;
	fs->notifier = notifier_new();
	if (!fs->notifier) {
		free(fs);
		return NULL;
	}
	fs->table = t;
	fs->readahead = readahead;
	fs->kernel_cache = kernel_cache;
	fs->uid = getuid();
	fs->gid = getgid();
	clock_gettime(CLOCK_REALTIME, &fs->started);
	return fs;
}

int fs_start(struct fs *fs, struct fuse_session *se)
{
	return notifier_start(fs->notifier, se);
}

void fs_reloaded(struct fs *fs, const struct table_changes *changes)
{
	struct inval_batch *batch = notifier_batch(fs->notifier);

	for (size_t i = 0; i < changes->count; i++) {
		const struct table_change *c = &changes->list[i];
		const char *name = table_name(fs->table, c->slot);

		for (size_t d = 0; d < N_TOP_DIRS; d++) {
			unsigned view = top_dirs[d].view;
			fuse_ino_t ino = node_ino(c->slot, view_kind(view));
			bool was = c->views_before && has_view_bits(c->views_before, view);
			bool is = c->views_after && has_view_bits(c->views_after, view);

			if (view)
				table_view_changed(fs->table, c->slot, view);
			/* A name that went: the kernel forgets it, and the
			 * pages of the inode it named. */
			if (was && !is)
				notifier_inval_entry(fs->notifier, batch, top_dirs[d].ino, name);
			if (was && view)
				notifier_inval_inode(fs->notifier, batch, ino, 0, 0);
		}
	}
	notifier_wait(fs->notifier, batch);
}

void fs_destroy(struct fs *fs)
{
	notifier_free(fs->notifier);
	free(fs);
}
