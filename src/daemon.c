/* daemon.c - a mount's life; see daemon.h. */
#include "daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "cow.h"
#include "flusher.h"
#include "fs.h"
#include "log.h"
#include "node.h"
#include "thread.h"

/* Sent by the signal thread to the loop's thread to end its blocking call:
 * the first real-time signal, which nothing else sends us. */
#define SIG_WAKE SIGRTMIN

/* How long the signal thread waits for the loop to return before it sends
 * SIG_WAKE again (see end_loop). */
#define WAKE_RETRY_MS 100

/* How long a mount still in use when COMMAND has exited is served for
 * the processes that use it (SPEC "Command line"). */
#define COMMAND_GRACE_MS 10000

/* A running mount, and what it needs to reload and to stop. */
struct daemon {
	const struct cli *cli;
	char *config_file;	/* absolute (the daemon leaves its folder); NULL: --map only */
	char *start_dir;	/* where --map paths start */
	struct table *table;
	struct fs *fs;
	struct fuse_session *se;
	struct flusher *flusher;
	dev_t dev;		/* the mount's device number; 0: not found */
	pthread_t loop_thread;	/* runs the loop; the only one with SIG_WAKE open */
	pthread_t signal_thread;
	bool has_signal_thread;
	atomic_bool stopping;	/* the loop has returned */
	sem_t loop_done;	/* posted when it has */
	struct caller_signals caller;	/* what children get back */
	pid_t command;		/* -- COMMAND while it runs; 0: none or reaped */
	int command_status;	/* its exit status once reaped; -1: never ran */
};

/* ---- libfuse's messages ---- */

/*
 * libfuse writes some lines in pieces (fuse_session_new's "unknown
 * option(s)" takes one call per option): each thread gathers its pieces
 * until the newline, so that each line is one message, at the level of its
 * first piece. A line longer than the buffer goes out in parts.
 */
static void log_fuse_piece(enum fuse_log_level level, const char *fmt, va_list ap)
{
	static __thread char line[1024];
	static __thread size_t used;
	static __thread int line_level;
	char *nl;
	int n;

	if (used == 0)
		line_level = (int)level;
	n = vsnprintf(line + used, sizeof(line) - used, fmt, ap);
	if (n > 0)
		used = used + (size_t)n < sizeof(line) ? used + (size_t)n : sizeof(line) - 1;
	while ((nl = memchr(line, '\n', used)) != NULL) {
		size_t taken = (size_t)(nl - line) + 1;

		*nl = '\0';
		log_msg(line_level, "%s", line);	/* fuse_log_level uses syslog's numbers */
		memmove(line, nl + 1, used - taken);
		used -= taken;
		line_level = (int)level;
	}
	if (used == sizeof(line) - 1) {	/* full, and no newline yet */
		line[used] = '\0';
		log_msg(line_level, "%s", line);
		used = 0;
	}
}

void daemon_log_fuse_messages(void)
{
	fuse_set_log_func(log_fuse_piece);
}

/*
 * libfuse 3.14 reports failed reads and writes of /dev/fuse with perror(3),
 * straight to stderr, which fuse_daemonize() points at /dev/null. Defined
 * in the program, this perror takes the place of libc's for libfuse too
 * (the dynamic linker binds the library's call to the program's own
 * definition), so those lines reach the log. A reply that the kernel could
 * not copy out of a mapping (EFAULT: a page past the end of a file cut
 * outside the mount) is logged by the read itself (region_fault): libfuse's
 * line about it goes to debug.
 */
void perror(const char *s)
{
	int err = errno;
	bool said_by_read = err == EFAULT && s && strcmp(s, "fuse: writing device") == 0;

	if (s && *s)
		log_msg(said_by_read ? LOG_DEBUG : LOG_ERR, "%s: %s", s, strerror(err));
	else
		log_msg(LOG_ERR, "%s", strerror(err));
	errno = err;
}

/* ---- signals ---- */

static void on_signal(int sig)
{
	(void)sig;	/* only interrupts: the signal thread acts */
}

/* The signals the signal thread takes. SIGCHLD tells that COMMAND ended
 * (or libfuse's fusermount3, which libfuse reaps itself). */
static void waited_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGCHLD);
}

/*
 * Runs in the loop's thread before any other thread exists, so that all
 * of them inherit the mask: SIGHUP, SIGINT and SIGTERM are blocked
 * everywhere and taken by the signal thread alone (libfuse's workers block
 * them too). Each gets a handler that does nothing, so that
 * one that whoever started us ignored is still taken: a shell starts
 * `mmapfs ... &` with SIGINT ignored, and POSIX lets the kernel discard an
 * ignored signal even while it is blocked (and an ignored SIGCHLD would
 * reap COMMAND before we could). SIG_WAKE stays open here, and without
 * SA_RESTART its handler makes the loop's blocking call return. What the
 * caller had is kept in CALLER, for the children.
 */
static int take_signals(struct caller_signals *caller)
{
	const int caught[] = { SIGHUP, SIGINT, SIGTERM, SIGCHLD, SIG_WAKE, SIGPIPE };
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	_Static_assert(sizeof(caught) / sizeof(caught[0]) <= CALLER_SIGNALS, "room");
	for (size_t i = 0; i < sizeof(caught) / sizeof(caught[0]); i++) {
		/* a client gone mid-reply is an error return, not SIGPIPE */
		sa.sa_handler = caught[i] == SIGPIPE ? SIG_IGN : on_signal;
		caller->signo[i] = caught[i];
		if (sigaction(caught[i], &sa, &caller->action[i]) < 0)
			return -1;
		caller->count = i + 1;
	}
	waited_signals(&set);
	if (pthread_sigmask(SIG_BLOCK, &set, &caller->mask) != 0)
		return -1;
	sigemptyset(&set);
	sigaddset(&set, SIG_WAKE);
	return pthread_sigmask(SIG_UNBLOCK, &set, NULL) == 0 ? 0 : -1;
}

/*
 * fdatasync(2) of NAME in the mount's folder DIR (fd DIR_FD). The kernel
 * first writes back the file's dirty pages, whoever mapped it, and answers
 * only once the daemon has answered each of those WRITEs. Returns false if
 * the mount no longer answers.
 */
static bool write_back_file(int dir_fd, const char *dir, const char *name)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), err = 0;

	if (fd < 0 && errno == EACCES)	/* a view's mode is its file's */
		fd = openat(dir_fd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fdatasync(fd) != 0) {
		err = errno;
		log_msg(LOG_WARNING, "writing back what clients wrote through their mappings "
			"of %s/%s: %s", dir, name, strerror(err));
	}
	if (fd >= 0)
		close(fd);
	return err != ENOTCONN;
}

/* NAME's file in the mount's folder DIR (rw or cow), if it has one there,
 * as write_back_file. */
static void write_back_in(int root, const char *dir, const char *name)
{
	int fd = openat(root, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return;
	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		write_back_file(fd, dir, name);
	close(fd);
}

/* Every file of the mount's folder DIR (rw or cow), as write_back_file. */
static void write_back_folder(int root, const char *dir)
{
	int fd = openat(root, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *folder = fd >= 0 ? fdopendir(fd) : NULL;
	const struct dirent *de;
	bool answers = true;

	if (!folder) {
		log_msg(LOG_WARNING, "writing back: cannot open %s/: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	while (answers && (de = readdir(folder)) != NULL)
		if (de->d_type == DT_REG)
			answers = write_back_file(dirfd(folder), dir, de->d_name);
	closedir(folder);
}

/*
 * Makes the kernel write back every page that clients dirtied through
 * their own mappings of the views, while the loop still serves the WRITE
 * requests this causes and this thread, which serves none, waits. Left to
 * the unmount, they would be dropped: libfuse closes /dev/fuse first.
 * syncfs(2) on the mount is not enough: FUSE ends a page's writeback when
 * it queues the WRITE, not when the daemon answers, so syncfs returns
 * while the WRITEs still wait in /dev/fuse, and with -s ending the loop
 * then drops them; fdatasync of each file waits for its answers.
 * The mount's root is opened only now, as a descriptor held open would
 * make every plain unmount (fusermount3 -u) fail with EBUSY; its device
 * number tells it from a file system mounted over the mount point since.
 */
/* The mount's root, opened now, or -1 (logged); see write_back(). */
static int open_mount_root(const struct daemon *d)
{
	const char *mnt = d->cli->opts.mountpoint;
	int root = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;

	if (root < 0 || fstat(root, &st) != 0) {
		log_msg(LOG_WARNING, "cannot write back what clients wrote through their "
			"mappings: %s: %s", mnt, strerror(errno));
	} else if (st.st_dev != d->dev) {
		log_msg(LOG_WARNING, "cannot write back what clients wrote through their "
			"mappings: %s is not this mount%s", mnt,
			d->dev ? " any more" : " (it was not in mountinfo)");
	} else {
		return root;
	}
	if (root >= 0)
		close(root);
	return -1;
}

static void write_back(const struct daemon *d)
{
	int root = open_mount_root(d);

	if (root < 0)
		return;
	write_back_folder(root, view_name(VIEW_RW));
	write_back_folder(root, view_name(VIEW_COW));
	close(root);
}

/*
 * Before a reload to CFG takes regions away (entries removed, or remapped
 * to other bytes: SPEC "Lifecycle") or views (no longer listed), what
 * clients wrote through their mappings of those entries' views goes into
 * the old regions, as write_back() does for all at an unmount; the reload
 * then flushes and closes them. A view that cannot be written back is logged, and the
 * reload goes on.
 */
static void write_back_leaving(const struct daemon *d, const struct config *cfg)
{
	int root = -1;

	for (size_t slot = 0; slot < table_slots(d->table); slot++) {
		if (!table_reload_takes_away(d->table, slot, cfg))
			continue;
		if (root < 0 && (root = open_mount_root(d)) < 0)
			return;
		write_back_in(root, view_name(VIEW_RW), table_name(d->table, slot));
		write_back_in(root, view_name(VIEW_COW), table_name(d->table, slot));
	}
	if (root >= 0)
		close(root);
}

/* table_reload(), once the regions it takes away hold what clients wrote
 * through their mappings. */
static int table_reload_after_write_back(struct daemon *d, const struct config *cfg,
					 struct table_changes *changes, struct errors *errs)
{
	write_back_leaving(d, cfg);
	return table_reload(d->table, cfg, changes, errs);
}

/* SIGHUP: the config and the --map arguments are read anew; a broken
 * config changes nothing. */
static void reload(struct daemon *d)
{
	struct errors errs = { 0 };
	struct table_changes changes;
	struct config cfg;
	const struct cli *cli = d->cli;

	log_msg(LOG_INFO, "SIGHUP: reloading %s", d->config_file ? d->config_file : "--map entries");
	if (config_load_all(d->config_file, cli->maps, cli->n_maps, d->start_dir,
			    &(struct config_mount){ cli->opts.mountpoint, true }, &cfg,
			    &errs) == 0 &&
	    table_reload_after_write_back(d, &cfg, &changes, &errs) == 0) {
		fs_reloaded(d->fs, &changes);
		log_set_level(cfg.log_level);
		flusher_set_interval(d->flusher, cfg.flush_interval);
		cow_set_limit(cfg.cow_limit);
		log_msg(LOG_INFO, "reloaded: %zu added, %zu removed, %zu changed",
			changes.added, changes.removed, changes.changed);
		table_changes_free(&changes);
	} else {
		for (size_t i = 0; i < errs.count; i++)
			log_msg(LOG_ERR, "%s", errs.lines[i]);
		log_msg(LOG_ERR, "reload failed: the mount stays as it was");
	}
	errors_free(&errs);
	config_free(&cfg);
}

/* Whether the loop returned within MS milliseconds. */
static bool loop_returned_within(struct daemon *d, long ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	return sem_clockwait(&d->loop_done, CLOCK_MONOTONIC, &until) == 0;
}

/*
 * Ends the loop: the exit flag, then SIG_WAKE to the loop's thread, whose
 * blocking call (the read of /dev/fuse with -s, sem_wait in the
 * multi-threaded loop) returns EINTR and sees the flag. A wake-up that
 * lands between the loop's look at the flag and that call is lost, so it
 * is sent again until the loop has returned.
 */
static void end_loop(struct daemon *d)
{
	fuse_session_exit(d->se);
	do
		pthread_kill(d->loop_thread, SIG_WAKE);
	while (!loop_returned_within(d, WAKE_RETRY_MS));
}

/* SIGINT or SIGTERM: what clients wrote through their mappings first,
 * then the unmount, as at any other unmount (SPEC "Lifecycle"). Pages they
 * dirty once the write-back has begun may be lost (docs/design.md). */
static void stop(struct daemon *d, int sig)
{
	log_msg(LOG_INFO, "%s: writing back and unmounting", sig == SIGINT ? "SIGINT" : "SIGTERM");
	write_back(d);
	end_loop(d);
}

/* ---- -- COMMAND ---- */

/* Starts COMMAND on the mount; false (status 127) if it cannot be run. */
static bool start_command(struct daemon *d)
{
	int err = child_start(d->cli->command, d->cli->opts.mountpoint, &d->caller,
			      &d->command);

	if (err) {
		log_msg(LOG_ERR, "cannot run %s: %s", d->cli->command[0], strerror(err));
		d->command = 0;
		d->command_status = 127;
	} else {
		log_msg(LOG_DEBUG, "started %s, pid %ld", d->cli->command[0], (long)d->command);
	}
	return !err;
}

/* Whether COMMAND has ended (and is reaped, its status kept). */
static bool command_reaped(struct daemon *d)
{
	int wstatus;
	pid_t got = waitpid(d->command, &wstatus, WNOHANG);

	if (got == 0 || (got < 0 && errno == EINTR))
		return false;
	d->command_status = got == d->command ? child_exit_status(wstatus) : 127;
	d->command = 0;
	log_msg(LOG_INFO, "%s exited with status %d", d->cli->command[0], d->command_status);
	return true;
}

/* Detaches the mount lazily, as fusermount3 -u -z does: no new opens, and
 * the kernel ends it, and with it the loop, once its last user is gone. */
static void detach(const struct daemon *d)
{
	char *mnt = d->cli->opts.mountpoint;
	char *argv[] = { "fusermount3", "-u", "-q", "-z", "--", mnt, NULL };
	int wstatus = 0, err;
	pid_t pid;

	if (umount2(mnt, MNT_DETACH) == 0)
		return;
	err = child_start(argv, NULL, &d->caller, &pid);
	while (!err && waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	if (err || !WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
		log_msg(LOG_WARNING, "cannot detach %s: %s", mnt,
			err ? strerror(err) : "fusermount3 -u -z failed");
}

/*
 * What clients still hold dirty in their mappings of a detached mount,
 * which no path reaches any more: dropping a view's pages makes the
 * kernel write the dirty ones back first (FUSE WRITE requests, which the
 * loop serves while this thread, which serves none, waits).
 */
static void launder_views(struct daemon *d)
{
	long slot;

	for (size_t i = 0; (slot = table_nth(d->table, i)) >= 0; i++) {
		struct region *r = table_get(d->table, (size_t)slot);
		unsigned views = r ? region_entry(r)->views : 0;

		if (r)
			table_put(d->table, (size_t)slot);
		for (int v = 0; v < VIEW_COUNT; v++)
			if (view_at(v) != VIEW_RO && (views & view_at(v)))
				fuse_lowlevel_notify_inval_inode(
					d->se, node_ino((size_t)slot, node_of_view(view_at(v))), 0, 0);
	}
}

/* COMMAND has exited: unmount as at any unmount. A mount that processes
 * it left behind still use is detached and served for them a while. */
static void command_ended(struct daemon *d)
{
	log_msg(LOG_INFO, "writing back and unmounting");
	write_back(d);
	detach(d);
	if (loop_returned_within(d, COMMAND_GRACE_MS))
		return;
	log_msg(LOG_WARNING, "%s is still in use %d s after %s exited: writing back and "
		"ending it", d->cli->opts.mountpoint, COMMAND_GRACE_MS / 1000,
		d->cli->command[0]);
	launder_views(d);
	end_loop(d);
}

/* A signal while COMMAND runs: SIGINT and SIGTERM sent to mmapfs are
 * passed on (one from the terminal reached COMMAND's process group
 * itself); false once COMMAND is reaped and nothing is left to wait for. */
static bool command_signal(struct daemon *d, const siginfo_t *info)
{
	bool stopping = atomic_load(&d->stopping);

	switch (info->si_signo) {
	case SIGCHLD:
		if (!command_reaped(d))
			return true;
		if (!stopping)
			command_ended(d);
		return false;
	case SIGHUP:
		if (!stopping && info->si_code != SI_TKILL)
			reload(d);
		return true;
	default:
		if (info->si_code != SI_KERNEL)
			kill(d->command, info->si_signo);
		return true;
	}
}

/* ---- the signal thread ---- */

/* What one signal does; false when the thread is done. */
static bool take_signal(struct daemon *d, const siginfo_t *info)
{
	if (d->command)
		return command_signal(d, info);
	if (atomic_load(&d->stopping))
		return false;
	switch (info->si_signo) {
	case SIGHUP:
		reload(d);
		return true;
	case SIGCHLD:
		return true;	/* libfuse's fusermount3 */
	default:
		stop(d, info->si_signo);
		return false;
	}
}

static void *signal_main(void *arg)
{
	struct daemon *d = arg;
	siginfo_t info;
	sigset_t set;

	waited_signals(&set);
	for (;;) {
		if (sigwaitinfo(&set, &info) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (!take_signal(d, &info))
			break;
	}
	return NULL;
}

/* The signal thread, with every signal blocked: it only waits for them. */
static int start_signal_thread(struct daemon *d)
{
	d->has_signal_thread = thread_start(&d->signal_thread, signal_main, d) == 0;
	return d->has_signal_thread ? 0 : -1;
}

/* Once the loop has returned; with COMMAND still running (the mount was
 * unmounted from elsewhere) this waits for it, passing signals on. */
static void stop_signal_thread(struct daemon *d)
{
	if (!d->has_signal_thread)
		return;
	pthread_kill(d->signal_thread, SIGHUP);	/* wakes sigwait; it sees stopping */
	pthread_join(d->signal_thread, NULL);
}

/* ---- mounting and serving ---- */

/* mountinfo writes a space, tab, newline or backslash in a path as \ooo. */
static void unescape_mountinfo(char *s)
{
	char *out = s;

	for (; *s; s++, out++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out = *s;
		}
	}
	*out = '\0';
}

/* The device number of the FUSE mount on MOUNTPOINT, from mountinfo (a
 * stat of the mount point would wait for the loop, which is not running
 * yet); 0 if not found. */
static dev_t mount_device(const char *mountpoint)
{
	char line[8192], point[4096];
	unsigned maj, min;
	dev_t dev = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %*s %u:%u %*s %4095s", &maj, &min, point) != 3)
			continue;
		unescape_mountinfo(point);
		if (strcmp(point, mountpoint) == 0 && strstr(line, " - fuse.mmapfs "))
			dev = makedev(maj, min);	/* the last one is ours: mounts stack */
	}
	if (f)
		fclose(f);
	return dev;
}

/* Why the readahead was not set, at a level that fits: a warning where the
 * user asked for it, a note where it is only the default that an
 * unprivileged mount cannot set. */
static void readahead_not_set(const struct daemon *d, const char *file, int err)
{
	unsigned long long kib = (unsigned long long)(d->cli->readahead / 1024);

	if (err != EACCES && err != EPERM)
		log_msg(LOG_WARNING, "readahead: cannot write %s: %s", file, strerror(err));
	else if (d->cli->readahead_given)
		log_msg(LOG_WARNING, "readahead stays at the kernel's default: only root can "
			"set %llu KiB (%s)", kib, file);
	else
		log_msg(LOG_INFO, "readahead stays at the kernel's default: only root can set "
			"%llu KiB (%s); -o readahead=0 keeps the default without this note",
			kib, file);
}

/* -o readahead=SIZE: the mount's readahead, set in its bdi's sysfs file. */
static void set_readahead(const struct daemon *d)
{
	unsigned long long kib = (unsigned long long)(d->cli->readahead / 1024);
	char file[128];
	FILE *f;
	bool ok;

	if (d->cli->readahead == 0)
		return;	/* the kernel's default */
	if (d->dev == 0) {
		log_msg(LOG_WARNING, "readahead: %s not found in mountinfo", d->cli->opts.mountpoint);
		return;
	}
	snprintf(file, sizeof(file), "/sys/class/bdi/%u:%u/read_ahead_kb", major(d->dev),
		 minor(d->dev));
	f = fopen(file, "we");
	ok = f && fprintf(f, "%llu\n", kib) > 0;
	if (f)
		ok = fclose(f) == 0 && ok;
	if (!ok) {
		readahead_not_set(d, file, errno);
		return;
	}
	log_msg(LOG_DEBUG, "readahead of %s set to %llu KiB", d->cli->opts.mountpoint, kib);
}

static int serve(struct fuse_session *se, const struct fuse_cmdline_opts *opts)
{
	struct fuse_loop_config *loop;
	int rc;

	if (opts->singlethread)
		return fuse_session_loop(se);
	loop = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(loop, (unsigned)opts->clone_fd);
	fuse_loop_cfg_set_max_threads(loop, opts->max_threads);
	if (opts->max_idle_threads != UINT_MAX)	/* UINT_MAX: not given */
		fuse_loop_cfg_set_idle_threads(loop, opts->max_idle_threads);
	rc = fuse_session_loop_mt(se, loop);
	fuse_loop_cfg_destroy(loop);
	return rc;
}

/* "mounted on /mnt: 3 entries, 1.0 MiB": what a user looks for first. */
static void log_mounted(struct table *t, const char *mountpoint)
{
	uint64_t bytes;
	size_t entries;

	table_totals(t, &entries, &bytes);
	log_msg(LOG_INFO, "mounted on %s: %zu entr%s, %.1f MiB", mountpoint, entries,
		entries == 1 ? "y" : "ies", (double)bytes / (1 << 20));
}

/*
 * Once the loop has returned: the unmount comes before the other threads
 * are stopped, so that nothing they do can wait for a loop that no longer
 * serves (the signal thread may be opening the mount's root). libfuse
 * clears its exit flag when the loop returns; set again, it keeps libfuse
 * from complaining about notifications that come late.
 */
static void after_loop(struct daemon *d)
{
	fuse_session_exit(d->se);
	atomic_store(&d->stopping, true);
	sem_post(&d->loop_done);
	fuse_session_unmount(d->se);
	stop_signal_thread(d);
	if (d->flusher)
		flusher_stop(d->flusher);
}

/* The threads of a mounted daemon: notifier, flusher, signals; then the
 * loop until unmounted. Returns the exit status. */
static int run_mounted(struct daemon *d, unsigned flush_interval)
{
	int rc = EXIT_MOUNT;

	if (fs_start(d->fs, d->se, d->cli->opts.mountpoint, d->dev) == 0) {
		d->flusher = flusher_start(d->table, flush_interval);
		/* COMMAND before the signal thread, which then knows it from
		 * the first SIGCHLD on (held pending until then) */
		if (d->flusher && (!d->cli->command || start_command(d)) &&
		    start_signal_thread(d) == 0) {
			log_mounted(d->table, d->cli->opts.mountpoint);
			rc = serve(d->se, &d->cli->opts) == 0 ? EXIT_SUCCESS : EXIT_MOUNT;
		}
	}
	after_loop(d);
	return rc;
}

/* Mounts the table and serves it; returns the exit status. */
static int mount_and_serve(struct daemon *d, struct fuse_args *args, const struct config *cfg)
{
	const struct fuse_cmdline_opts *opts = &d->cli->opts;
	int rc = EXIT_MOUNT;

	d->fs = fs_new(d->table, (unsigned)d->cli->readahead, d->cli->kernel_cache);
	if (!d->fs)
		return rc;
	d->se = fuse_session_new(args, &fs_ops, sizeof(fs_ops), d->fs);
	if (!d->se) {
		fs_destroy(d->fs);
		return EXIT_USAGE;
	}
	if (take_signals(&d->caller) == 0 && fuse_session_mount(d->se, opts->mountpoint) == 0) {
		d->dev = mount_device(opts->mountpoint);
		set_readahead(d);
		if (!d->cli->command)	/* it changes to / even in the foreground */
			fuse_daemonize(opts->foreground);
		/* -d shows libfuse's trace of every request, at debug level. */
		log_setup(!opts->foreground, opts->debug ? LOG_DEBUG : cfg->log_level);
		rc = run_mounted(d, cfg->flush_interval);
	}
	fs_destroy(d->fs);
	fuse_session_destroy(d->se);
	return rc;
}

int daemon_run(struct table *t, struct cli *cli, const struct config *cfg)
{
	struct daemon d = { .cli = cli, .table = t, .loop_thread = pthread_self(),
			    .command_status = -1 };
	int rc = EXIT_USAGE;

	/* absolute now: fuse_daemonize() changes to / */
	d.config_file = cli->config_file ? realpath(cli->config_file, NULL) : NULL;
	d.start_dir = realpath(".", NULL);
	if (cli->config_file && !d.config_file)
		fprintf(stderr, "mmapfs: %s: %s\n", cli->config_file, strerror(errno));
	else if (sem_init(&d.loop_done, 0, 0) == 0) {
		rc = mount_and_serve(&d, &cli->args, cfg);
		sem_destroy(&d.loop_done);
	}
	if (d.command_status >= 0)
		rc = d.command_status;	/* it ran, or could not be run (127) */
	free(d.config_file);
	free(d.start_dir);
	return rc;
}
