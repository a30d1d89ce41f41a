/*
 * fs.c - FUSE low-level operations (fs.h).
 *
 * Each operation resolves its inode number (node.h) to a node, holding the
 * node's region, calls the core, releases the region, tells coherence.h
 * what changed, and replies. A node whose entry a reload removed answers
 * ESTALE.
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "coherence.h"
#include "ctl.h"
#include "fault.h"
#include "instance.h"
#include "log.h"
#include "node.h"
#include "region.h"

/* An entry's names (its views, its ctl/ folder and files) and the folders
 * change only at a reload, which tells the kernel itself: it may keep them
 * as long as it likes, and a path walk costs no LOOKUP. A view's
 * attributes get 0: asking again at each stat is what keeps its size
 * exact (close-to-open). An instance's names go at a drop, which tells the
 * kernel nothing: 0 for both. */
#define NAME_TIMEOUT 86400.0
#define DIR_TIMEOUT NAME_TIMEOUT
#define VIEW_TIMEOUT 0.0

/* A control file's text as one open saw it (SPEC: each open of status,
 * changes or resize takes one snapshot; reads at any offset of that
 * descriptor read from it). Found by the descriptor's number under
 * snap_mu, and read under it: a READ the kernel gave up waiting for (its
 * reader killed) may still run when the RELEASE that follows frees it. */
struct snapshot {
	struct snapshot *next;
	uint64_t fh;
	size_t len;
	char text[];
};

struct fs {
	struct table *table;
	struct coherence *coherence;
	pthread_mutex_t snap_mu;
	struct snapshot *snapshots;	/* of the open control files */
	uint64_t next_fh;
	unsigned readahead;	/* bytes; 0: the kernel's */
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
	struct instance *in;	/* a cow instance's node: held too */
};

static struct fs *req_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* ---- nodes ---- */

static void node_put(struct fs *fs, struct node *n);

/* An instance's node N: its instance is held too. A dropped instance's
 * view still serves the descriptors and mappings open on it; its control
 * nodes are stale at once. */
static int hold_instance(struct fs *fs, struct node *n)
{
	n->in = instance_get(region_instances(n->region), node_instance_id(n->ino));
	if (n->in && (n->in->named || n->kind == NODE_COW))
		return 0;
	node_put(fs, n);
	return ESTALE;
}

/* Resolves INO into N, holding its entry's region. Returns 0, ENOENT for a
 * number nothing has, ESTALE for a node whose entry a reload removed. */
static int node_get(struct fs *fs, fuse_ino_t ino, struct node *n)
{
	memset(n, 0, sizeof(*n));
	n->ino = ino;
	if (!node_decode(ino, &n->slot, &n->kind) ||
	    (n->kind != NODE_TOP && n->slot >= table_slots(fs->table)))
		return ENOENT;
	if (n->kind == NODE_TOP)
		return 0;
	n->region = table_get(fs->table, n->slot);
	if (!n->region)
		return ESTALE;
	if (node_is_view(n->kind) && !(region_entry(n->region)->views & node_view(n->kind))) {
		table_put(fs->table, n->slot);	/* a view a reload took away */
		n->region = NULL;
		return ESTALE;
	}
	return node_instance_id(ino) ? hold_instance(fs, n) : 0;
}

static void node_put(struct fs *fs, struct node *n)
{
	if (n->in)
		instance_put(region_instances(n->region), n->in);
	if (n->region)
		table_put(fs->table, n->slot);
	n->in = NULL;
	n->region = NULL;
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

static int view_attr(const struct fs *fs, const struct node *n, struct stat *st)
{
	bool anonymous = region_entry(n->region)->anonymous;
	uint64_t size = n->in ? region_cow_size(n->region, n->in)
			      : region_view_size(n->region, node_view(n->kind));
	struct stat file;
	int err = region_fstat(n->region, &file);

	if (err)
		return err;
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_mode = S_IFREG | node_view_perm(n->kind, anonymous, file.st_mode);
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
	st->st_mode = S_IFREG | ctl_file_mode(node_ctl_file(n->kind));
	st->st_nlink = 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_blksize = 4096;
	st->st_atim = st->st_mtim = st->st_ctim = fs->started;
}

/*
 * A region refreshed to its file's new size, which another process changed:
 * the kernel drops the views' pages, but nothing waits for it. That change
 * was made outside, so a view need only see it at its next open (SPEC
 * "Coherence": close-to-open), which drops its pages anyway; and dropping a
 * view's pages may write back a client's dirty page, which with -s only
 * the thread that would be waiting could serve.
 */

/* Fills ST for node N; returns 0 or an errno. *TIMEOUT is how long the
 * kernel may keep it. A view's region first takes its file's size as it
 * is now (SPEC "Coherence": at every stat), and *REFRESHED says whether
 * that changed a size, so that the caller invalidates the views. */
static int node_attr(const struct fs *fs, const struct node *n, struct stat *st,
		     double *timeout, bool *refreshed)
{
	int err;

	/* An instance's names go at a drop, which tells the kernel nothing. */
	*timeout = node_is_view(n->kind) || n->in ? VIEW_TIMEOUT : DIR_TIMEOUT;
	*refreshed = false;
	if (node_is_dir(n->kind))
		dir_attr(fs, n->ino, st);
	else if (node_is_ctl_file(n->kind))
		ctl_file_attr(fs, n, st);
	else if ((err = region_refresh(n->region, refreshed)) != 0)
		return err;
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
	bool refreshed = false;
	int err = node_get(fs, ino, &n);

	(void)fi;
	if (!err)
		err = node_attr(fs, &n, &st, &timeout, &refreshed);
	node_put(fs, &n);
	if (refreshed)	/* a change made outside: not waited for */
		coherence_changed_later(fs->coherence, n.slot, VIEW_ALL, 0, 0);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, timeout);
}

/* ---- names ---- */

/* The number of control file FILE in folder DIR (ctl/NAME/ or
 * ctl/NAME@TAG/), or 0 if it is not there. */
static fuse_ino_t ctl_child_ino(const struct node *dir, enum ctl_file file)
{
	if (dir->in)
		return ctl_file_of_instance(file)
		       ? node_instance_ino(dir->slot, dir->in->id, node_of_ctl_file(file)) : 0;
	return ctl_file_of_entry(file) ? node_ino(dir->slot, node_of_ctl_file(file)) : 0;
}

/* The number of NAME@TAG in cow/ (its view) or ctl/ (its folder), or 0. */
static fuse_ino_t instance_ino(struct fs *fs, const struct node_top *top, const char *name)
{
	const char *at = strchr(name, '@');
	char entry[256];
	struct region *r;
	struct instance *in;
	fuse_ino_t ino = 0;
	long slot;

	if ((size_t)(at - name) >= sizeof(entry))
		return 0;
	snprintf(entry, sizeof(entry), "%.*s", (int)(at - name), name);
	slot = table_find(fs->table, entry);
	r = slot < 0 ? NULL : table_get(fs->table, (size_t)slot);
	if (!r)
		return 0;
	in = instance_find(region_instances(r), at + 1);
	if (in) {
		ino = node_instance_ino((size_t)slot, in->id, top->view ? NODE_COW : NODE_CTL_DIR);
		instance_put(region_instances(r), in);
	}
	table_put(fs->table, (size_t)slot);
	return ino;
}

/* The inode number of NAME in folder PARENT, or 0. */
static fuse_ino_t child_ino(struct fs *fs, fuse_ino_t parent, const char *name)
{
	const struct node_top *top = node_top_by_ino(parent);
	struct node dir, child;
	fuse_ino_t ino = 0;

	if (parent == FUSE_ROOT_ID) {
		top = node_top_by_name(name);
		return top ? top->ino : 0;
	}
	if (top && strchr(name, '@'))
		return top->view == VIEW_COW || top->view == 0 ? instance_ino(fs, top, name) : 0;
	if (top) {
		long slot = table_find(fs->table, name);

		if (slot < 0)
			return 0;
		ino = node_ino((size_t)slot, node_of_view(top->view));
		if (node_get(fs, ino, &child))
			ino = 0;
		node_put(fs, &child);
		return ino;
	}
	if (node_get(fs, parent, &dir) == 0 && dir.kind == NODE_CTL_DIR) {
		int file = ctl_file_by_name(name);

		ino = file < 0 ? 0 : ctl_child_ino(&dir, (enum ctl_file)file);
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
	bool refreshed = false;
	int err;

	e.ino = child_ino(fs, parent, name);
	if (!e.ino) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	err = node_get(fs, e.ino, &n);
	if (!err)
		err = node_attr(fs, &n, &e.attr, &timeout, &refreshed);
	node_put(fs, &n);
	if (refreshed)	/* a change made outside: not waited for */
		coherence_changed_later(fs->coherence, n.slot, VIEW_ALL, 0, 0);
	if (err) {
		fuse_reply_err(req, err == ESTALE ? ENOENT : err);
		return;
	}
	e.attr_timeout = timeout;
	e.entry_timeout = node_instance_id(e.ino) ? VIEW_TIMEOUT : NAME_TIMEOUT;
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
	for (; (size_t)pos - 2 < NODE_TOPS; pos++)
		if (!add_dirent(d, node_tops[pos - 2].name, node_tops[pos - 2].ino, S_IFDIR, pos + 1))
			return;
}

/* A child of a top folder: its number and name. */
struct child {
	fuse_ino_t ino;
	char name[INSTANCE_NAME_MAX + 2];
};

/* Of entry N's instances in cow/ or ctl/ (VIEW 0), the one at place
 * *INDEX into *C; else *INDEX goes past them all. */
static bool nth_instance(const struct node *n, unsigned view, size_t *index, struct child *c)
{
	struct instance_table *t = region_instances(n->region);
	size_t count = instance_count(t);
	char tag[INSTANCE_TAG_MAX + 1];
	uint64_t id;

	if (*index >= count || !instance_nth(t, *index, &id, tag, sizeof(tag))) {
		*index -= *index >= count ? count : *index;
		return false;
	}
	c->ino = node_instance_ino(n->slot, id, view ? NODE_COW : NODE_CTL_DIR);
	snprintf(c->name, sizeof(c->name), "%s@%s", region_entry(n->region)->name, tag);
	return true;
}

/* The child at place INDEX of the top folder of VIEW (0: ctl/): the live
 * entries with the view in name order, each followed in cow/ and ctl/ by
 * its instances in the order they were made. */
static bool nth_child(struct fs *fs, unsigned view, size_t index, struct child *c)
{
	long slot;

	for (size_t i = 0; (slot = table_nth(fs->table, i)) >= 0; i++) {
		struct node n;
		bool shown, found = false;

		c->ino = node_ino((size_t)slot, node_of_view(view));
		shown = node_get(fs, c->ino, &n) == 0;
		if (shown && index-- == 0) {
			snprintf(c->name, sizeof(c->name), "%s", table_name(fs->table, (size_t)slot));
			found = true;
		} else if (shown && view != VIEW_RO && view != VIEW_RW) {
			found = nth_instance(&n, view, &index, c);
		}
		node_put(fs, &n);
		if (found)
			return true;
	}
	return false;
}

/* ro/ rw/ cow/ ctl/: their children (nth_child). */
static void fill_top_dir(struct fs *fs, struct dir_buf *d, fuse_ino_t ino, off_t pos)
{
	unsigned view = node_top_by_ino(ino)->view;
	struct child c;

	if (!add_dots(d, ino, FUSE_ROOT_ID, &pos))
		return;
	for (; nth_child(fs, view, (size_t)pos - 2, &c); pos++)
		if (!add_dirent(d, c.name, c.ino, view ? S_IFREG : S_IFDIR, pos + 1))
			return;
}

/* ctl/NAME/ and ctl/NAME@TAG/: their control files in enum ctl_file order. */
static void fill_ctl_dir(struct dir_buf *d, const struct node *dir, off_t pos)
{
	if (!add_dots(d, dir->ino, NODE_CTL_DIR_INO, &pos))
		return;
	for (; pos < 2 + CTL_FILES; pos++) {
		enum ctl_file file = (enum ctl_file)(pos - 2);
		fuse_ino_t ino = ctl_child_ino(dir, file);

		if (ino && !add_dirent(d, ctl_file_name(file), ino, S_IFREG, pos + 1))
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
	if (!err && !node_is_dir(n.kind))
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

/* The most open instance views whose pages a change of the file drops. */
#define OPEN_INSTANCES_MAX 4096

/* The numbers of R's (SLOT's) instance views that are open, into INOS. */
static size_t open_instances(struct region *r, size_t slot, uint64_t *inos)
{
	size_t n = instance_open_ids(region_instances(r), inos, OPEN_INSTANCES_MAX);

	for (size_t i = 0; i < n; i++)
		inos[i] = node_instance_ino(slot, inos[i], NODE_COW);
	return n;
}

/* The open instance views of a slot whose file a request changed through
 * rw/: their unwritten pages show the change. */
struct open_views {
	uint64_t *inos;
	size_t n;
};

/* Taken while N is held: after node_put, a request takes no slot again
 * (a reload waiting for it exclusive would make it wait behind others). */
static struct open_views open_instance_views(const struct node *n)
{
	struct open_views v = { NULL, 0 };

	if (!n->region || !instance_any_open(region_instances(n->region)))
		return v;
	v.inos = malloc(OPEN_INSTANCES_MAX * sizeof(*v.inos));
	if (v.inos)
		v.n = open_instances(n->region, n->slot, v.inos);
	return v;
}

/* The kernel drops what it cached of V over [OFF, OFF + LEN), without
 * waiting: coherence does not count instance views. */
static void drop_instance_pages(struct fs *fs, struct open_views *v, uint64_t off,
				uint64_t len)
{
	for (size_t i = 0; i < v->n; i++)
		coherence_inode_changed_later(fs->coherence, v->inos[i], off, len);
	free(v->inos);
}

/* What a truncate of view KIND made stale in the other views: an rw one
 * resized the region, which ro shows and which cuts the cow view's base; a
 * cow one changed the cow view alone, whose pages the kernel cut itself. */
static unsigned truncated_views(enum node_kind kind)
{
	return kind == NODE_RW ? VIEW_RO | VIEW_COW : 0;
}

/* Opens view N; may resize the region (O_TRUNC, the views to invalidate
 * in *CHANGED) or refresh its size (*REFRESHED). Returns 0 or an errno. */
static int open_view(const struct node *n, int flags, unsigned *changed, bool *refreshed)
{
	bool writing = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
	int err;

	*changed = 0;
	if (n->kind == NODE_RO && writing)
		return EACCES;	/* root too: the view is read-only by nature */
	err = region_refresh(n->region, refreshed);
	if (err || !(flags & O_TRUNC))
		return err;
	err = region_truncate(n->region, node_view(n->kind), 0);
	if (!err)
		*changed = truncated_views(n->kind);
	return err;
}

/* The text of control file N into a buffer of its own, in *LEN: changes
 * whole, however long (it may have grown between the two tries: a third
 * cuts it). */
static char *snapshot_text(const struct node *n, size_t *len)
{
	enum ctl_file file = node_ctl_file(n->kind);
	size_t size = CTL_READ_MAX;
	char *text = NULL;

	for (int tries = 0; tries < 3; tries++) {
		free(text);
		text = malloc(size);
		if (!text || file != CTL_CHANGES)
			break;
		*len = region_cow_changes(n->region, n->in, text, size);
		if (*len < size)
			return text;
		size = *len + 4096;
	}
	*len = text ? ctl_read_in(n->region, n->in, file, text, size) : 0;
	return text;
}

/* A snapshot of the LEN bytes of TEXT, numbered and listed; its number in
 * *FH. */
static int keep_snapshot(struct fs *fs, const char *text, size_t len, uint64_t *fh)
{
	struct snapshot *snap = malloc(sizeof(*snap) + len);

	if (!snap)
		return ENOMEM;
	memcpy(snap->text, text, len);
	snap->len = len;
	pthread_mutex_lock(&fs->snap_mu);
	snap->fh = *fh = ++fs->next_fh;
	snap->next = fs->snapshots;
	fs->snapshots = snap;
	pthread_mutex_unlock(&fs->snap_mu);
	return 0;
}

/* Takes N's text for a descriptor: its number goes into *FH. Most texts
 * are short: made on the stack first, the heap holds only what is kept. */
static int take_snapshot(struct fs *fs, const struct node *n, uint64_t *fh)
{
	size_t len = 0;
	char *text;
	int err;

	if (node_ctl_file(n->kind) != CTL_CHANGES) {
		char small[4096];

		len = ctl_read_in(n->region, n->in, node_ctl_file(n->kind), small, sizeof(small));
		if (len < sizeof(small) - 1)
			return keep_snapshot(fs, small, len, fh);
	}
	text = snapshot_text(n, &len);
	err = text ? keep_snapshot(fs, text, len, fh) : ENOMEM;
	free(text);
	return err;
}

static void drop_snapshot(struct fs *fs, uint64_t fh)
{
	struct snapshot **p, *gone = NULL;

	if (!fh)
		return;

	pthread_mutex_lock(&fs->snap_mu);
	for (p = &fs->snapshots; *p && (*p)->fh != fh; p = &(*p)->next)
		;
	if (*p) {
		gone = *p;
		*p = gone->next;
	}
	pthread_mutex_unlock(&fs->snap_mu);
	free(gone);
}

/* Control files are opened only the ways their modes allow, for root too;
 * direct_io: no size is known in advance and every write must arrive. An
 * open for reading takes the text it will read. */
static int open_ctl_file(struct fs *fs, const struct node *n, struct fuse_file_info *fi)
{
	int acc = fi->flags & O_ACCMODE;
	unsigned mode = ctl_file_mode(node_ctl_file(n->kind));

	if ((acc != O_WRONLY && !(mode & 0400)) || (acc != O_RDONLY && !(mode & 0200)))
		return EACCES;
	fi->direct_io = 1;
	fi->fh = 0;
	return acc != O_WRONLY ? take_snapshot(fs, n, &fi->fh) : 0;
}

static bool is_writing(int open_flags)
{
	return (open_flags & O_ACCMODE) != O_RDONLY;
}

/* Opens view N: counts the handle and decides whether the kernel's
 * cached pages are still right. OWN: coherence's own open, which writes
 * back (writeback.h) and must not drop more than the changes it noted. */
static int open_counted_view(struct fs *fs, const struct node *n, struct fuse_file_info *fi,
			     bool own, unsigned *changed, bool *refreshed)
{
	unsigned view = node_view(n->kind);
	int err;

	coherence_open(fs->coherence, n->slot, view, is_writing(fi->flags));
	err = open_view(n, fi->flags, changed, refreshed);
	if (err) {
		coherence_release(fs->coherence, n->slot, view, is_writing(fi->flags));
		return err;
	}
	fi->keep_cache = !*changed && !*refreshed &&
			 (own || coherence_keep_cache(fs->coherence, n->slot, view, n->region));
	return 0;
}

/*
 * A reply held until the kernel has dropped what its request made stale
 * in the views (coherence_changed_then), so that no reader sees old bytes
 * after it, while this thread goes on serving: with -s the kernel may need
 * it to take a client's dirty page of a view being dropped.
 */
struct held_reply {
	enum { HELD_WRITE, HELD_ATTR, HELD_OPEN } kind;
	struct fs *fs;
	fuse_req_t req;
	fuse_ino_t ino;			/* HELD_ATTR */
	size_t written;			/* HELD_WRITE, and what it made stale */
	struct ctl_effect self;		/* in the view it wrote */
	struct fuse_file_info fi;	/* HELD_OPEN, of VIEW */
	unsigned view;
	size_t slot;
};

static void send_reply(const struct held_reply *h)
{
	switch (h->kind) {
	case HELD_WRITE:
		fuse_reply_write(h->req, h->written);
		/* Only now: until the reply the kernel keeps the written
		 * pages locked, and a notifier thread would wait for them. */
		if (h->self.views)
			coherence_changed_later(h->fs->coherence, h->slot, h->self.views,
						h->self.off, h->self.len);
		break;
	case HELD_ATTR:
		fs_getattr(h->req, h->ino, NULL);
		break;
	case HELD_OPEN:
		if (fuse_reply_open(h->req, &h->fi) == -ENOENT)	/* opener gone */
			coherence_release(h->fs->coherence, h->slot, h->view,
					  is_writing(h->fi.flags));
		break;
	}
}

static void send_held_reply(void *arg)
{
	send_reply(arg);
	free(arg);
}

/* Sends H once the N STALE changes of H's slot are gone from the kernel's
 * caches (at once where nothing is stale). */
static void reply_after(const struct held_reply *h, const struct ctl_effect *stale, size_t n)
{
	struct held_reply *copy;
	unsigned views = 0;

	for (size_t i = 0; i < n; i++)
		views |= stale[i].views;
	if (!views) {
		send_reply(h);
		return;
	}
	copy = malloc(sizeof(*copy));
	if (!copy) {	/* out of memory: the old way, waiting here */
		for (size_t i = 0; i < n; i++)
			coherence_changed(h->fs->coherence, h->slot, stale[i].views,
					  stale[i].off, stale[i].len);
		send_reply(h);
		return;
	}
	*copy = *h;
	coherence_changed_then(h->fs->coherence, h->slot, stale, n, send_held_reply, copy);
}

static void release_instance_view(struct instance_table *t, struct instance *in)
{
	instance_released(t, in);
	instance_put(t, in);
}

/* Opens instance view N and replies: the descriptor holds the instance
 * until its release, so that it outlives a drop. Not counted by
 * coherence: its cache is dropped at every open but coherence's own. */
static void open_instance_view(fuse_req_t req, const struct node *n,
			       struct fuse_file_info *fi, bool own)
{
	struct instance_table *t = region_instances(n->region);
	int err = (fi->flags & O_TRUNC) ? region_cow_truncate(n->region, n->in, 0) : 0;

	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	fi->keep_cache = own;
	instance_get_again(t, n->in);
	instance_opened(t, n->in);
	if (fuse_reply_open(req, fi) == -ENOENT)	/* opener gone */
		release_instance_view(t, n->in);
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct open_views instances = { NULL, 0 };
	bool own = coherence_is_changer(fs->coherence, fuse_req_ctx(req)->pid);
	unsigned changed = 0;
	bool refreshed = false;
	struct node n;
	int err = node_get(fs, ino, &n);

	if (!err && n.in && n.kind == NODE_COW) {
		open_instance_view(req, &n, fi, own);
		node_put(fs, &n);
		return;
	}
	if (!err && node_is_dir(n.kind))
		err = EISDIR;
	else if (!err && node_is_ctl_file(n.kind))
		err = open_ctl_file(fs, &n, fi);
	else if (!err)
		err = open_counted_view(fs, &n, fi, own, &changed, &refreshed);
	if (changed & VIEW_COW)
		instances = open_instance_views(&n);
	node_put(fs, &n);
	if (refreshed)	/* a change made outside: not waited for */
		coherence_changed_later(fs->coherence, n.slot, VIEW_ALL, 0, 0);
	drop_instance_pages(fs, &instances, 0, 0);
	if (err)
		fuse_reply_err(req, err);
	else if (!node_is_view(n.kind) && fuse_reply_open(req, fi) == -ENOENT && fi->fh)
		drop_snapshot(fs, fi->fh);	/* the opener is gone */
	else if (node_is_view(n.kind))
		reply_after(&(struct held_reply){ .kind = HELD_OPEN, .fs = fs, .req = req,
						  .fi = *fi, .view = node_view(n.kind),
						  .slot = n.slot },
			    &(struct ctl_effect){ changed, 0, 0 }, 1);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	enum node_kind kind;
	struct node n;
	size_t slot;
	bool known = node_decode(ino, &slot, &kind);

	if (known && node_is_ctl_file(kind)) {
		drop_snapshot(fs, fi->fh);	/* 0: none taken */
	/* An instance's view: the descriptor's hold goes (it was the
	 * region's, which a reload may have freed since with it). */
	} else if (node_instance_id(ino)) {
		if (node_get(fs, ino, &n) == 0 && n.kind == NODE_COW)
			release_instance_view(region_instances(n.region), n.in);
		node_put(fs, &n);
	/* Counted by slot, whether or not the entry is still there. */
	} else if (known && node_is_view(kind)) {
		coherence_release(fs->coherence, slot, node_view(kind), is_writing(fi->flags));
	}
	fuse_reply_err(req, 0);
}

/* ---- reading and writing ---- */

/* The text is made afresh for each read (a descriptor keeps nothing: a
 * READ of a client killed meanwhile may still be served after its
 * RELEASE); a reader takes it whole at offset 0. */
static void read_ctl_file(struct fs *fs, fuse_req_t req, uint64_t fh, size_t size, off_t off)
{
	const struct snapshot *snap;

	pthread_mutex_lock(&fs->snap_mu);
	for (snap = fs->snapshots; snap && snap->fh != fh; snap = snap->next)
		;
	if (!snap)
		fuse_reply_err(req, EBADF);	/* opened for writing only */
	else if ((size_t)off >= snap->len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, snap->text + off,
			       snap->len - (size_t)off < size ? snap->len - (size_t)off : size);
	pthread_mutex_unlock(&fs->snap_mu);
}

/* Replies with LEN bytes of VIEW at OFF from DATA, its mapping, but for
 * bytes that read as zeros though the mapping holds the file's there. */
static int reply_mapped(fuse_req_t req, const struct node *n, unsigned view,
			uint64_t off, const char *data, size_t len)
{
	static const char zeros[65536] = { 0 };	/* a page, whatever the page */
	size_t gap, head = n->in ? region_cow_read_mapped(n->region, n->in, off, len, &gap)
				 : region_read_mapped(n->region, view, off, len, &gap);
	struct iovec iov[3] = {
		{ (void *)data, head },
		{ (void *)zeros, gap },
		{ (void *)(data + head + gap), len - head - gap },
	};

	if (!gap)
		return fuse_reply_buf(req, data, len);
	return fuse_reply_iov(req, iov, 3);
}

static void read_view(fuse_req_t req, const struct node *n, size_t size, off_t off)
{
	unsigned view = node_view(n->kind);
	const void *data = NULL;
	void *copy = NULL;
	size_t len;
	int err;

	/* The reply is written to the kernel straight from the mapping, once
	 * every page of it is known to be there (fault_probe, 4096: a stride
	 * that reaches every page whatever the page size). Where one faults,
	 * a hole that a full tmpfs cannot give a page to map is read with
	 * pread(2) instead; a page past the end of a file cut outside the
	 * mount is EIO. */
	len = n->in ? region_cow_read_begin(n->region, n->in, (uint64_t)off, size, &data)
		    : region_read_begin(n->region, view, (uint64_t)off, size, &data);
	if (fault_probe(data, len, 4096) == 0) {
		err = reply_mapped(req, n, view, (uint64_t)off, data, len);
	} else {
		copy = malloc(len);
		err = copy ? region_read_fallback(n->region, view, (uint64_t)off, len, copy)
			   : ENOMEM;
		if (err)
			fuse_reply_err(req, err);
		else
			err = fuse_reply_buf(req, copy, len);
		free(copy);
	}
	region_read_end(n->region);
	/* The kernel's copy failed all the same (EFAULT, where the daemon
	 * would have had SIGBUS: the file was cut since the probe) and it
	 * failed the read with EIO; or the probe found such a page. */
	if (err == -EFAULT || err == EIO)
		region_fault(n->region, "a read");
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct node n;
	int err = node_get(fs, ino, &n);

	if (!err && node_is_ctl_file(n.kind))
		read_ctl_file(fs, req, fi->fh, size, off);
	else if (!err && node_is_view(n.kind))
		read_view(req, &n, size, off);
	else
		fuse_reply_err(req, err ? err : EISDIR);
	node_put(fs, &n);
}

/* What a write to a view made stale in the kernel's caches. */
struct write_effect {
	/* Gone before the reply: the other views, and the written view's
	 * pages between its old end and the write, which the write does not
	 * hold locked. */
	struct ctl_effect before[2];
	struct ctl_effect self;		/* the written view: sent after the reply */
};

/* An rw write shows through ro and unwritten cow pages; a cow write changes
 * only the cow view, whose written pages the kernel updated itself. Where
 * the region grew, the kernel's last page of each view was cut at the old
 * size (zeros past it), though the region now shows bytes there, so every
 * view drops its pages from there on; so too when the write went elsewhere
 * than the kernel thought (an append to an end that moved). */
static struct write_effect write_effect(unsigned view, uint64_t kernel_off, uint64_t at,
					size_t written, uint64_t size_before, bool refreshed)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t from = size_before & ~(page - 1), at_page = at & ~(page - 1);
	struct write_effect e = { { { 0 }, { 0 } }, { 0 } };

	if (view == VIEW_COW && !refreshed) {
		/* The cow view is its own file: a write changes no other view. */
		if (at == kernel_off && at + written > size_before && at_page > from)
			e.before[1] = (struct ctl_effect){ view, from, at_page - from };
		if (at != kernel_off || at + written > size_before)
			e.self = (struct ctl_effect){ view, at != kernel_off ? 0 : from, 0 };
	} else if (refreshed || at != kernel_off) {
		e.before[0] = (struct ctl_effect){ VIEW_ALL & ~view, 0, 0 };
		e.self = (struct ctl_effect){ view, 0, 0 };
	} else if (at + written > size_before) {
		e.before[0] = (struct ctl_effect){ VIEW_ALL & ~view, at < from ? at : from, 0 };
		if (at_page > from)
			e.before[1] = (struct ctl_effect){ view, from, at_page - from };
		e.self = (struct ctl_effect){ view, from, 0 };
	} else if (view == VIEW_RW) {
		e.before[0] = (struct ctl_effect){ VIEW_RO | VIEW_COW, at, written };
	}
	return e;
}

/* Writes to a view; returns 0 or an errno, the bytes written in *WRITTEN
 * and what the write made stale. The bytes are copied once, from libfuse's
 * buffer into the mapping. */
static int write_view(const struct node *n, const char *buf, size_t size, off_t off,
		      const struct fuse_file_info *fi, size_t *written,
		      struct write_effect *effect)
{
	/* A page written back from a mapping has no O_APPEND: it has a place. */
	unsigned flags = fi->writepage ? REGION_WRITE_IN_PLACE :
			 (fi->flags & O_APPEND) ? REGION_WRITE_APPEND : 0;
	unsigned view = node_view(n->kind);
	uint64_t at = (uint64_t)off, size_before;
	bool refreshed = false;
	int err;

	if (n->kind == NODE_RO)
		return EBADF;	/* never opened for writing */
	/* An append lands at the end as it is now, the file's for a
	 * following entry (SPEC "rw/NAME"). */
	if ((flags & REGION_WRITE_APPEND) &&
	    (err = region_refresh(n->region, &refreshed)) != 0)
		return err;
	size_before = region_view_size(n->region, view);
	err = region_write(n->region, view, buf, size, &at, flags, written);
	if (!err && *written)
		*effect = write_effect(view, (uint64_t)off, at, *written, size_before, refreshed);
	else if (refreshed)
		*effect = write_effect(view, (uint64_t)off, at, 0, size_before, true);
	return err;
}

/* A write to instance view N, replied here: it changes no other view;
 * one that grew it drops its own pages from the old end's on, after the
 * reply (until then the kernel keeps the written pages locked). */
static void write_instance(struct fs *fs, fuse_req_t req, struct node *n, const char *buf,
			   size_t size, off_t off, const struct fuse_file_info *fi)
{
	unsigned flags = fi->writepage ? REGION_WRITE_IN_PLACE :
			 (fi->flags & O_APPEND) ? REGION_WRITE_APPEND : 0;
	uint64_t at = (uint64_t)off, page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t before = region_cow_size(n->region, n->in);
	size_t written = 0;
	int err = region_cow_write(n->region, n->in, buf, size, &at, flags, &written);
	bool moved = at != (uint64_t)off || at + written > before;

	node_put(fs, n);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	fuse_reply_write(req, written);
	if (written && moved)
		coherence_inode_changed_later(fs->coherence, n->ino, before & ~(page - 1), 0);
}

/* A control command, run by coherence's changer thread once the clients'
 * dirty pages it must not undo have landed (coherence_defer). */
struct ctl_job {
	struct coherence_job job;
	struct fs *fs;
	enum ctl_file file;
	uint64_t id;				/* an instance's folder; 0: the entry's */
	char instance[INSTANCE_NAME_MAX + 2];	/* its NAME@TAG */
	uint64_t off;
	size_t len;
	char text[];
};

/* The instance views that EFFECT, a command's on instance IN (NULL: the
 * entry's), made stale, into *INOS (malloc'd); returns how many. A change
 * of the file (a commit, resize, move) shows in the open instances' pages
 * that they have not written; an instance's own command (reset) changes
 * its view alone, which is not the slot's cow view (EFFECT loses that
 * bit). */
static size_t stale_instances(const struct node *n, struct ctl_effect *effect,
			      uint64_t **inos)
{
	size_t count = 0;

	*inos = malloc((OPEN_INSTANCES_MAX + 1) * sizeof(**inos));
	if (!*inos)
		return 0;
	if (effect->views & VIEW_RO)
		count = open_instances(n->region, n->slot, *inos);
	if (n->in && (effect->views & VIEW_COW) && !(effect->views & VIEW_RO)) {
		(*inos)[count++] = node_instance_ino(n->slot, n->in->id, NODE_COW);
		effect->views &= ~(unsigned)VIEW_COW;
	}
	return count;
}

static int run_ctl_job(struct coherence_job *job, struct ctl_effect *changed, size_t *reply)
{
	struct ctl_job *cj = (struct ctl_job *)job;
	uint64_t ino = cj->id ? node_instance_ino(job->slot, cj->id, NODE_CTL_DIR)
			      : node_ino(job->slot, NODE_CTL_DIR);
	struct node n;
	int err = node_get(cj->fs, ino, &n);

	if (!err)
		err = ctl_write_in(n.region, n.in, cj->file, cj->text, cj->len, cj->off, changed);
	if (!err)
		job->n_stale = stale_instances(&n, changed, &job->stale);
	node_put(cj->fs, &n);
	*reply = cj->len;	/* a command takes its whole write */
	return err;	/* ESTALE: a reload removed the entry meanwhile, or a drop */
}

static void defer_ctl_write(struct fs *fs, fuse_req_t req, const struct node *n,
			    const char *buf, size_t size, off_t off)
{
	struct ctl_job *cj = malloc(sizeof(*cj) + size);

	if (!cj) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	cj->job = (struct coherence_job){ .req = req, .slot = n->slot,
					  .name = table_name(fs->table, n->slot),
					  .run = run_ctl_job };
	cj->fs = fs;
	cj->file = node_ctl_file(n->kind);
	cj->id = n->in ? n->in->id : 0;
	if (n->in) {
		snprintf(cj->instance, sizeof(cj->instance), "%s@%s",
			 table_name(fs->table, n->slot), n->in->tag);
		cj->job.instance = cj->instance;
	}
	cj->off = (uint64_t)off;
	cj->len = size;
	memcpy(cj->text, buf, size);
	cj->job.write_back = ctl_write_back_views(cj->file, buf, size);
	coherence_defer(fs->coherence, &cj->job);
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		     off_t off, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct write_effect effect = { { { 0 }, { 0 } }, { 0 } };
	struct open_views instances = { NULL, 0 };
	size_t written = 0;
	struct node n;
	int err = node_get(fs, ino, &n);

	if (!err && node_is_ctl_file(n.kind)) {
		defer_ctl_write(fs, req, &n, buf, size, off);
		node_put(fs, &n);
		return;
	} else if (!err && n.in) {
		write_instance(fs, req, &n, buf, size, off, fi);
		return;
	} else if (!err && node_is_view(n.kind)) {
		err = write_view(&n, buf, size, off, fi, &written, &effect);
		if (!err && n.kind == NODE_RW)
			instances = open_instance_views(&n);
	} else if (!err) {
		err = EISDIR;
	}
	node_put(fs, &n);
	if (err) {	/* nothing written; a refresh may have changed sizes */
		coherence_changed_later(fs->coherence, n.slot,
					effect.self.views | effect.before[0].views, 0, 0);
		fuse_reply_err(req, err);
		return;
	}
	drop_instance_pages(fs, &instances, effect.before[0].off, effect.before[0].len);
	reply_after(&(struct held_reply){ .kind = HELD_WRITE, .fs = fs, .req = req,
					  .written = written, .self = effect.self, .slot = n.slot },
		    effect.before, 2);
}

/* ---- attributes set ---- */

static int truncate_node(const struct node *n, uint64_t size)
{
	if (node_is_ctl_file(n->kind))
		return 0;	/* the shell's ">" truncates: a no-op */
	if (!node_is_view(n->kind))
		return EISDIR;
	if (n->kind == NODE_RO)
		return EACCES;
	if (n->in)
		return region_cow_truncate(n->region, n->in, size);
	return region_truncate(n->region, node_view(n->kind), size);
}

/* One time of utimensat(2): now, the one given, or left as it is. */
static struct timespec time_to_set(int to_set, int given, int now, struct timespec t)
{
	if (to_set & now)
		return (struct timespec){ 0, UTIME_NOW };
	return (to_set & given) ? t : (struct timespec){ 0, UTIME_OMIT };
}

/* Times set on rw/ are the backing file's, which every view shows; ro/ is
 * read-only as a file system is, and cow/ has no times of its own. */
static int set_times(const struct node *n, const struct stat *attr, int to_set)
{
	struct timespec times[2];

	if (n->kind == NODE_RO)
		return EROFS;
	if (n->kind != NODE_RW)
		return EPERM;
	times[0] = time_to_set(to_set, FUSE_SET_ATTR_ATIME, FUSE_SET_ATTR_ATIME_NOW,
			       attr->st_atim);
	times[1] = time_to_set(to_set, FUSE_SET_ATTR_MTIME, FUSE_SET_ATTR_MTIME_NOW,
			       attr->st_mtim);
	return region_set_times(n->region, times);
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct open_views instances = { NULL, 0 };
	struct node n;
	int err = node_get(fs, ino, &n);
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), from = 0;
	unsigned stale = 0;

	(void)fi;
	if (!err && (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		err = EPERM;
	else if (!err && (to_set & FUSE_SET_ATTR_SIZE)) {
		/* No view changes below the smaller size (ctl.c's effect_of says
		 * why only from there on). The times that come with a truncate
		 * are the kernel's own. */
		from = region_view_size(n.region, VIEW_RW);
		from = (from < (uint64_t)attr->st_size ? from : (uint64_t)attr->st_size) & ~(page - 1);
		err = truncate_node(&n, (uint64_t)attr->st_size);
		stale = err ? 0 : truncated_views(n.kind);
	} else if (!err && (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME))) {
		err = set_times(&n, attr, to_set);
		/* Views' attributes are never cached (VIEW_TIMEOUT). */
	}
	if (stale & VIEW_COW)
		instances = open_instance_views(&n);
	node_put(fs, &n);
	drop_instance_pages(fs, &instances, from, 0);
	if (err)
		fuse_reply_err(req, err);
	else
		reply_after(&(struct held_reply){ .kind = HELD_ATTR, .fs = fs, .req = req,
						  .ino = ino, .slot = n.slot },
			    &(struct ctl_effect){ stale, from, 0 }, 1);
}

static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct node n;
	int err = node_get(fs, ino, &n);

	(void)fi;
	/* rw: msync where the mapping holds dirty pages, then fsync or, for
	 * fdatasync, fdatasync; ro and cow have nothing to write. */
	if (!err && n.kind == NODE_RW)
		err = region_fsync(n.region, datasync != 0);
	node_put(fs, &n);
	fuse_reply_err(req, err);
}

/* fallocate(2) of a view. An rw one zeroes or grows the region, which ro
 * and unwritten cow pages show (the kernel drops the rw view's own pages of
 * the range itself); a cow one changes the cow view alone. */
static void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
			 off_t len, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct open_views instances = { NULL, 0 };
	struct node n;
	int err = node_get(fs, ino, &n);

	(void)fi;
	if (!err && !node_is_view(n.kind))
		err = node_is_dir(n.kind) ? EISDIR : EOPNOTSUPP;
	else if (!err && n.kind == NODE_RO)
		err = EBADF;	/* never opened for writing */
	else if (!err && n.in)
		err = region_cow_fallocate(n.region, n.in, mode, (uint64_t)off, (uint64_t)len);
	else if (!err)
		err = region_fallocate(n.region, node_view(n.kind), mode, (uint64_t)off,
				       (uint64_t)len);
	if (!err && n.kind == NODE_RW)
		instances = open_instance_views(&n);
	node_put(fs, &n);
	if (!err && n.in) {
		if (mode & FALLOC_FL_ZERO_RANGE)
			coherence_inode_changed_later(fs->coherence, ino, (uint64_t)off,
						      (uint64_t)len);
		fuse_reply_err(req, 0);
		return;
	}
	/* The kernel drops its own pages of a punched hole; for a zeroed
	 * range not every version does: the view's own pages go too, without
	 * waiting, as for a write. */
	if (!err && (mode & FALLOC_FL_ZERO_RANGE))
		coherence_changed_later(fs->coherence, n.slot, node_view(n.kind),
					(uint64_t)off, (uint64_t)len);
	if (!err && n.kind == NODE_RW) {
		coherence_changed(fs->coherence, n.slot, VIEW_RO | VIEW_COW, 0, 0);
		drop_instance_pages(fs, &instances, 0, 0);
	}
	fuse_reply_err(req, err);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = req_fs(req);
	struct statvfs sv = { 0 };
	uint64_t bytes;
	size_t live;

	(void)ino;
	table_totals(fs->table, &live, &bytes);
	sv.f_bsize = sv.f_frsize = 4096;
	sv.f_blocks = (fsblkcnt_t)((bytes + 4095) / 4096);
	sv.f_files = 1 + NODE_TOPS + NODE_KINDS * live;
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

/* ---- what the tree does not allow ---- */

/* A namespace change in folder DIR: ro/ is read-only as a file system is,
 * so that tools fall back to reading (LMDB's lock file); the other folders
 * are fixed by the config. */
static int refused_in(fuse_ino_t dir)
{
	return dir == NODE_RO_DIR_INO ? EROFS : EPERM;
}

static void deny_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, dev_t rdev)
{
	(void)name, (void)mode, (void)rdev;
	fuse_reply_err(req, refused_in(parent));
}

static void deny_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)name, (void)mode;
	fuse_reply_err(req, refused_in(parent));
}

static void deny_remove(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)name;
	fuse_reply_err(req, refused_in(parent));
}

/* rm cow/NAME@TAG drops the instance: its names go at once, what is open
 * on its view keeps working until released. Nothing else is removed. */
static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = req_fs(req);
	fuse_ino_t ino;
	struct node n;
	int err;

	if (parent != NODE_COW_DIR_INO || !strchr(name, '@')) {
		deny_remove(req, parent, name);
		return;
	}
	ino = instance_ino(fs, node_top_by_ino(parent), name);
	err = ino ? node_get(fs, ino, &n) : ENOENT;
	if (!err && !instance_drop(region_instances(n.region), n.in))
		err = ENOENT;	/* dropped meanwhile */
	if (ino)
		node_put(fs, &n);
	fuse_reply_err(req, err == ESTALE ? ENOENT : err);
}

static void deny_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			 const char *name)
{
	(void)link, (void)name;
	fuse_reply_err(req, refused_in(parent));
}

static void deny_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	(void)name, (void)newname, (void)flags;
	fuse_reply_err(req, refused_in(parent) == EROFS ? EROFS : refused_in(newparent));
}

static void deny_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		      const char *newname)
{
	enum node_kind kind;
	size_t slot;

	(void)newname;
	if (node_decode(ino, &slot, &kind) && kind == NODE_RO)
		fuse_reply_err(req, EROFS);	/* a link to a file of ro/ */
	else
		fuse_reply_err(req, refused_in(newparent));
}

static void deny_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode, struct fuse_file_info *fi)
{
	(void)name, (void)mode, (void)fi;
	fuse_reply_err(req, refused_in(parent));
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
	.fallocate = fs_fallocate,
	.statfs = fs_statfs,
	.mknod = deny_mknod,
	.mkdir = deny_mkdir,
	.unlink = fs_unlink,
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
	pthread_mutex_init(&fs->snap_mu, NULL);
	fs->coherence = coherence_new(kernel_cache);
	if (!fs->coherence) {
		free(fs);
		return NULL;
	}
	fs->table = t;
	fs->readahead = readahead;
	fs->uid = getuid();
	fs->gid = getgid();
	clock_gettime(CLOCK_REALTIME, &fs->started);
	return fs;
}

int fs_start(struct fs *fs, struct fuse_session *se, const char *mountpoint, dev_t dev)
{
	return coherence_start(fs->coherence, se, mountpoint, dev);
}

void fs_reloaded(struct fs *fs, const struct table_changes *changes)
{
	coherence_reloaded(fs->coherence, fs->table, changes);
}

void fs_destroy(struct fs *fs)
{
	coherence_free(fs->coherence);
	while (fs->snapshots) {
		struct snapshot *next = fs->snapshots->next;

		free(fs->snapshots);
		fs->snapshots = next;
	}
	pthread_mutex_destroy(&fs->snap_mu);
	free(fs);
}
