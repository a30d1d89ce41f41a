/* writeback.c - writing back clients' dirty pages of a view (writeback.h). */
#include "writeback.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

/* More views than this with writers at once are written back by path. */
#define KEPT_MAX 64

struct kept {
	uint64_t ino;
	int fd;
};

struct writeback {
	char *mountpoint;
	dev_t dev;
	int tree;		/* the clone's root, or -1 */
	bool no_clone;		/* open_tree failed for good: by path only */
	struct kept kept[KEPT_MAX];
	size_t n;
	_Atomic int count;	/* n, raised before a descriptor is kept */
};

struct writeback *writeback_new(const char *mountpoint, dev_t dev)
{
	struct writeback *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->mountpoint = strdup(mountpoint);
	if (!w->mountpoint) {
		free(w);
		return NULL;
	}
	w->dev = dev;
	w->tree = -1;
	w->no_clone = dev == 0;
	return w;
}

static void close_kept(struct writeback *w, size_t i)
{
	close(w->kept[i].fd);
	w->kept[i] = w->kept[--w->n];
	atomic_fetch_sub(&w->count, 1);
}

static void close_tree_if_unused(struct writeback *w)
{
	if (w->n == 0 && w->tree >= 0) {
		close(w->tree);
		w->tree = -1;
	}
}

void writeback_free(struct writeback *w)
{
	while (w->n)
		close_kept(w, 0);
	close_tree_if_unused(w);
	free(w->mountpoint);
	free(w);
}

int writeback_kept(const struct writeback *w)
{
	return atomic_load(&w->count);
}

/* Opens PATH read-only below DIR, or write-only where its mode allows only
 * that (a view's mode is its file's). */
static int open_view(int dir, const char *path)
{
	int fd = openat(dir, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == EACCES)
		fd = openat(dir, path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

/* The clone's root, made on first use; -1 where none can be made. Its
 * device number tells the mount from a file system mounted over it. */
static int tree(struct writeback *w)
{
	struct stat st;

	if (w->tree >= 0 || w->no_clone)
		return w->tree;
	w->tree = (int)syscall(SYS_open_tree, AT_FDCWD, w->mountpoint,
			       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (w->tree < 0) {
		log_msg(LOG_DEBUG, "writing back by path: open_tree %s: %s", w->mountpoint,
			strerror(errno));
		w->no_clone = errno == EPERM || errno == ENOSYS || errno == EINVAL;
	} else if (fstat(w->tree, &st) != 0 || st.st_dev != w->dev) {
		close(w->tree);
		w->tree = -1;
	}
	return w->tree;
}

/* The kept descriptor of INO, opening it if there is room; -1 if none. */
static int kept_fd(struct writeback *w, uint64_t ino, const char *path)
{
	int fd;

	for (size_t i = 0; i < w->n; i++)
		if (w->kept[i].ino == ino)
			return w->kept[i].fd;
	if (w->n == KEPT_MAX)
		return -1;
	atomic_fetch_add(&w->count, 1);
	fd = tree(w) >= 0 ? open_view(w->tree, path) : -1;
	if (fd < 0) {
		atomic_fetch_sub(&w->count, 1);
		close_tree_if_unused(w);
		return -1;
	}
	w->kept[w->n++] = (struct kept){ ino, fd };
	return fd;
}

/* A close is what writes back and waits (FUSE's flush); the kept
 * descriptor itself stays open. What close returns is a write-back error
 * of some page, which the pages' writer hears of too: it was written back
 * all the same. */
static bool close_duplicate(int fd)
{
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (dup_fd < 0)
		return false;
	close(dup_fd);
	return true;
}

static bool by_path(const struct writeback *w, const char *path)
{
	char full[PATH_MAX];
	int fd = -1;

	if (snprintf(full, sizeof(full), "%s/%s", w->mountpoint, path) < (int)sizeof(full))
		fd = open_view(AT_FDCWD, full);
	if (fd < 0) {
		log_msg(LOG_DEBUG, "writing back %s/%s: %s", w->mountpoint, path, strerror(errno));
		return false;
	}
	close(fd);
	return true;
}

bool writeback_view(struct writeback *w, uint64_t ino, const char *path, bool keep)
{
	int fd = keep ? kept_fd(w, ino, path) : -1;

	if (fd >= 0 && close_duplicate(fd))
		return true;
	return by_path(w, path);
}

void writeback_sweep(struct writeback *w, bool (*needed)(void *arg, uint64_t ino), void *arg)
{
	for (size_t i = w->n; i-- > 0;)
		if (!needed(arg, w->kept[i].ino))
			close_kept(w, i);
	close_tree_if_unused(w);
}
