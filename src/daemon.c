/* daemon.c - a mount's life; see daemon.h. */
#include "daemon.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flusher.h"
#include "fs.h"
#include "log.h"

/* A running mount, and what it needs to reload. */
struct daemon {
	const struct cli *cli;
	char *config_file;	/* absolute (the daemon leaves its folder); NULL: --map only */
	char *start_dir;	/* where --map paths start */
	struct table *table;
	struct fs *fs;
	struct flusher *flusher;
	pthread_t reloader;
	bool reloading;
	atomic_bool stopping;
};

/* ---- libfuse's messages ---- */

static void fuse_log_to_ours(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';
	log_msg((int)level, "%s", line);	/* fuse_log_level uses syslog's numbers */
}

void daemon_log_fuse_messages(void)
{
	fuse_set_log_func(fuse_log_to_ours);
}

/* ---- signals ---- */

static struct fuse_session *serving;

static void on_exit_signal(int sig)
{
	(void)sig;
	fuse_session_exit(serving);	/* sets a flag; the loop's threads wake on EINTR */
}

/*
 * SIGINT and SIGTERM unmount. Unlike fuse_set_signal_handlers(), this does
 * not skip a signal that was ignored at start: a shell starts "mmapfs ... &"
 * with SIGINT ignored, and SIGINT must still unmount. No SA_RESTART, so that
 * blocked reads return EINTR and see the flag. SIGHUP is blocked in every
 * thread: the reloader takes it with sigwait().
 */
static int set_signal_handlers(struct fuse_session *se)
{
	static const int exits[] = { SIGINT, SIGTERM };
	struct sigaction sa;
	sigset_t hup;

	serving = se;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_exit_signal;
	for (size_t i = 0; i < sizeof(exits) / sizeof(exits[0]); i++)
		if (sigaction(exits[i], &sa, NULL) < 0)
			return -1;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		return -1;
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	return pthread_sigmask(SIG_BLOCK, &hup, NULL) == 0 ? 0 : -1;
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
	if (config_load_all(d->config_file, cli->maps, cli->n_maps, d->start_dir, &cfg,
			    &errs) == 0 &&
	    table_reload(d->table, &cfg, &changes, &errs) == 0) {
		fs_reloaded(d->fs, &changes);
		log_set_level(cfg.log_level);
		flusher_set_interval(d->flusher, cfg.flush_interval);
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

static void *reloader_main(void *arg)
{
	struct daemon *d = arg;
	sigset_t hup;
	int sig;

	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	while (sigwait(&hup, &sig) == 0 && !atomic_load(&d->stopping))
		reload(d);
	return NULL;
}

static int start_reloader(struct daemon *d)
{
	d->reloading = pthread_create(&d->reloader, NULL, reloader_main, d) == 0;
	return d->reloading ? 0 : -1;
}

static void stop_reloader(struct daemon *d)
{
	if (!d->reloading)
		return;
	atomic_store(&d->stopping, true);
	pthread_kill(d->reloader, SIGHUP);
	pthread_join(d->reloader, NULL);
}

/* ---- mounting and serving ---- */

/* The "MAJOR:MINOR" of the FUSE mount on MOUNTPOINT, from mountinfo (a
 * stat of the mount point would wait for the loop that is not running). */
static bool mount_device(const char *mountpoint, char *dev, size_t devlen)
{
	char *path = realpath(mountpoint, NULL), line[8192], point[4096], id[64];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	bool found = false;

	while (path && f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %63s %*s %4095s", id, point) == 2 &&
		    strcmp(point, path) == 0 && strstr(line, " - fuse.mmapfs ")) {
			snprintf(dev, devlen, "%s", id);
			found = true;	/* the last one is ours: mounts stack */
		}
	if (f)
		fclose(f);
	free(path);
	return found;
}

/* -o readahead=SIZE: the mount's readahead, set in its bdi's sysfs file. */
static void set_readahead(const char *mountpoint, uint64_t bytes)
{
	char dev[64], file[128];
	FILE *f;

	if (bytes == 0)
		return;	/* the kernel's default */
	if (!mount_device(mountpoint, dev, sizeof(dev))) {
		log_msg(LOG_WARNING, "readahead: %s not found in mountinfo", mountpoint);
		return;
	}
	snprintf(file, sizeof(file), "/sys/class/bdi/%s/read_ahead_kb", dev);
	f = fopen(file, "we");
	if (!f || fprintf(f, "%llu\n", (unsigned long long)(bytes / 1024)) < 0 ||
	    fclose(f) != 0) {
		log_msg(LOG_WARNING, "readahead: cannot write %s: %s (root only)", file,
			strerror(errno));
		return;
	}
	log_msg(LOG_DEBUG, "readahead of %s set to %llu KiB", mountpoint,
		(unsigned long long)(bytes / 1024));
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
	uint64_t bytes = 0;
	size_t entries = 0;

	for (size_t slot = 0; slot < table_slots(t); slot++) {
		struct region *r = table_get(t, slot);

		if (r) {
			bytes += region_view_size(r, VIEW_RO);
			entries++;
			table_put(t, slot);
		}
	}
	log_msg(LOG_INFO, "mounted on %s: %zu entr%s, %.1f MiB", mountpoint, entries,
		entries == 1 ? "y" : "ies", (double)bytes / (1 << 20));
}

/* The threads of a mounted daemon: notifier, flusher, reloader; then the
 * loop until unmounted. Returns the exit status. */
static int run_mounted(struct daemon *d, struct fuse_session *se, unsigned flush_interval)
{
	int rc = EXIT_MOUNT;

	if (fs_start(d->fs, se) != 0)
		return rc;
	d->flusher = flusher_start(d->table, flush_interval);
	if (d->flusher && start_reloader(d) == 0) {
		log_mounted(d->table, d->cli->opts.mountpoint);
		rc = serve(se, &d->cli->opts) == 0 ? EXIT_SUCCESS : EXIT_MOUNT;
	}
	stop_reloader(d);
	if (d->flusher)
		flusher_stop(d->flusher);
	return rc;
}

/* Mounts the table and serves it; returns the exit status. */
static int mount_and_serve(struct daemon *d, struct fuse_args *args, const struct config *cfg)
{
	const struct fuse_cmdline_opts *opts = &d->cli->opts;
	struct fuse_session *se;
	int rc = EXIT_MOUNT;

	d->fs = fs_new(d->table, (unsigned)d->cli->readahead, d->cli->kernel_cache);
	if (!d->fs)
		return rc;
	se = fuse_session_new(args, &fs_ops, sizeof(fs_ops), d->fs);
	if (!se) {
		fs_destroy(d->fs);
		return EXIT_USAGE;
	}
	if (set_signal_handlers(se) == 0 && fuse_session_mount(se, opts->mountpoint) == 0) {
		set_readahead(opts->mountpoint, d->cli->readahead);
		fuse_daemonize(opts->foreground);
		/* -d shows libfuse's trace of every request, at debug level. */
		log_setup(!opts->foreground, opts->debug ? LOG_DEBUG : cfg->log_level);
		rc = run_mounted(d, se, cfg->flush_interval);
		fuse_session_unmount(se);
	}
	fs_destroy(d->fs);
	fuse_session_destroy(se);
	return rc;
}

int daemon_run(struct table *t, struct cli *cli, const struct config *cfg)
{
	struct daemon d = { .cli = cli, .table = t };
	int rc = EXIT_USAGE;

	/* absolute now: fuse_daemonize() changes to / */
	d.config_file = cli->config_file ? realpath(cli->config_file, NULL) : NULL;
	d.start_dir = realpath(".", NULL);
	if (cli->config_file && !d.config_file)
		fprintf(stderr, "mmapfs: %s: %s\n", cli->config_file, strerror(errno));
	else
		rc = mount_and_serve(&d, &cli->args, cfg);
	free(d.config_file);
	free(d.start_dir);
	return rc;
}
