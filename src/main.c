/*
 * main.c - mmapfs CONFIG MOUNTPOINT [options]: read the config, map every
 * entry, mount, serve until unmounted, flush.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fault.h"
#include "size.h"
#include "flusher.h"
#include "fs.h"
#include "table.h"
#include "log.h"

#ifndef MMAPFS_VERSION
#define MMAPFS_VERSION "unknown"
#endif

enum { EXIT_USAGE = 1, EXIT_MOUNT = 2 };

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mmapfs CONFIG MOUNTPOINT [--map MAP]... [-f] [-d] [-s] [-o OPT[,OPT...]]\n"
		"       mmapfs MOUNTPOINT --map MAP [--map MAP]... [options]\n"
		"       mmapfs --check CONFIG [--map MAP]...\n"
		"       mmapfs --help | --version\n"
		"\n"
		"Mounts every entry of the INI file CONFIG as ro/NAME, rw/NAME and\n"
		"cow/NAME views of a memory mapping, with control files in ctl/NAME/.\n"
		"MAP is NAME=PATH[,key=value...] or NAME=anonymous,length=SIZE[,...],\n"
		"with the entry keys of the config. --check validates and lists the\n"
		"entries without mounting. See mmapfs(1).\n");
}

/* What the command line says beyond libfuse's options. */
struct cli {
	const char *positional[3];	/* CONFIG MOUNTPOINT, or MOUNTPOINT; [2]: extra */
	int n_positional;
	char **maps;
	size_t n_maps;
	bool check;
	uint64_t readahead;	/* -o readahead=SIZE, bytes */
	bool bad_readahead;
	bool kernel_cache;	/* -o kernel_cache */
};

/* Sequential reads through FUSE arrive in requests of the mount's
 * readahead: 1 MiB instead of the kernel's 128 KiB makes four times fewer
 * requests and costs the daemon about a tenth less CPU per byte
 * (docs/performance.md). */
#define DEFAULT_READAHEAD (1 << 20)

enum { KEY_MAP, KEY_CHECK, KEY_READAHEAD, KEY_KERNEL_CACHE };

static const struct fuse_opt cli_opts[] = {
	FUSE_OPT_KEY("--map ", KEY_MAP),
	FUSE_OPT_KEY("--map=", KEY_MAP),
	FUSE_OPT_KEY("--check", KEY_CHECK),
	FUSE_OPT_KEY("readahead=", KEY_READAHEAD),
	FUSE_OPT_KEY("kernel_cache", KEY_KERNEL_CACHE),
	FUSE_OPT_END
};

/* Options of fstab and mount(8) that mean nothing to a FUSE mount, which
 * mount.fuse3 may pass on: dropped, as other FUSE file systems do. */
static bool is_mount_only_option(const char *opt)
{
	static const char *const words[] = {
		"defaults", "auto", "noauto", "nofail", "_netdev", "user", "nouser",
		"users", "owner", "group",
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(opt, words[i]) == 0)
			return true;
	return strncmp(opt, "x-", 2) == 0 || strncmp(opt, "comment=", 8) == 0;
}

/* Keeps the positional arguments and --map/--check; the rest is libfuse's. */
static int take_arg(void *data, const char *arg, int key, struct fuse_args *args)
{
	struct cli *cli = data;
	char **maps;

	(void)args;
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (cli->n_positional < 3)
			cli->positional[cli->n_positional] = arg;
		cli->n_positional++;
		return 0;
	case KEY_MAP:
		/* libfuse joins "--map" and its value: "--mapX" or "--map=X" */
		arg += strlen("--map");
		arg += *arg == '=';
		maps = realloc(cli->maps, (cli->n_maps + 1) * sizeof(*maps));
		if (!maps || !(maps[cli->n_maps] = strdup(arg)))
			return -1;
		cli->maps = maps;
		cli->n_maps++;
		return 0;
	case KEY_CHECK:
		cli->check = true;
		return 0;
	case KEY_KERNEL_CACHE:
		cli->kernel_cache = true;
		return 0;
	case KEY_READAHEAD:
		if (size_parse(arg + strlen("readahead="), &cli->readahead) != 0 ||
		    cli->readahead > UINT_MAX) {
			fprintf(stderr, "mmapfs: -o %s: not a size\n", arg);
			cli->bad_readahead = true;
		}
		return 0;
	case FUSE_OPT_KEY_OPT:
		return is_mount_only_option(arg) ? 0 : 1;
	default:
		return 1;
	}
}

/* The config file and the mount point the positional arguments name. */
static bool split_positional(const struct cli *cli, const char **config,
			     const char **mountpoint)
{
	int n = cli->n_positional;

	*config = *mountpoint = NULL;
	if (cli->check) {
		*config = n == 1 ? cli->positional[0] : NULL;
		return n == 1 || (n == 0 && cli->n_maps);
	}
	if (n == 2) {
		*config = cli->positional[0];
		*mountpoint = cli->positional[1];
	} else if (n == 1 && cli->n_maps) {
		*mountpoint = cli->positional[0];
	}
	return *mountpoint != NULL;
}

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

static int check_mountpoint(const char *mountpoint)
{
	struct stat st;

	if (stat(mountpoint, &st) < 0) {
		fprintf(stderr, "mmapfs: mount point %s: %s\n", mountpoint, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "mmapfs: mount point %s is not a folder\n", mountpoint);
		return -1;
	}
	return 0;
}

/* A running mount, and what it needs to reload. */
struct daemon {
	const char *config_file;	/* absolute: the daemon leaves its folder */
	char *start_dir;		/* where --map paths start */
	const struct cli *cli;
	const char *mountpoint;		/* absolute and resolved (libfuse's) */
	struct table *table;
	struct fs *fs;
	struct flusher *flusher;
	pthread_t reloader;
	bool reloading;
	atomic_bool stopping;
};

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

static int load_config(const char *file, const struct cli *cli, const char *map_dir,
		       const struct config_mount *mount, struct config *cfg, struct errors *errs)
{
	return config_load_all(file, cli->maps, cli->n_maps, map_dir, mount, cfg, errs);
}

/* SIGHUP: the config and the --map arguments are read anew; a broken
 * config changes nothing. */
static void reload(struct daemon *d)
{
	struct errors errs = { 0 };
	struct table_changes changes;
	struct config cfg;

	log_msg(LOG_INFO, "SIGHUP: reloading %s", d->config_file ? d->config_file : "--map entries");
	if (load_config(d->config_file, d->cli, d->start_dir,
			&(struct config_mount){ d->mountpoint, true }, &cfg, &errs) == 0 &&
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
	uint64_t bytes;
	size_t entries;

	table_totals(t, &entries, &bytes);
	log_msg(LOG_INFO, "mounted on %s: %zu entr%s, %.1f MiB", mountpoint, entries,
		entries == 1 ? "y" : "ies", (double)bytes / (1 << 20));
}

/* The threads of a mounted daemon: notifier, flusher, reloader; then the
 * loop until unmounted. Returns the exit status. */
static int run_mounted(struct daemon *d, struct fuse_session *se,
		       const struct fuse_cmdline_opts *opts, unsigned flush_interval)
{
	int rc = EXIT_MOUNT;

	if (fs_start(d->fs, se) != 0)
		return rc;
	d->flusher = flusher_start(d->table, flush_interval);
	if (d->flusher && start_reloader(d) == 0) {
		log_mounted(d->table, opts->mountpoint);
		rc = serve(se, opts) == 0 ? EXIT_SUCCESS : EXIT_MOUNT;
	}
	stop_reloader(d);
	if (d->flusher)
		flusher_stop(d->flusher);
	return rc;
}

/* Mounts the table and serves it; returns the process's exit status. */
static int mount_and_serve(struct daemon *d, struct fuse_args *args,
			   const struct fuse_cmdline_opts *opts, const struct config *cfg)
{
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
		rc = run_mounted(d, se, opts, cfg->flush_interval);
		fuse_session_unmount(se);
	}
	fs_destroy(d->fs);
	fuse_session_destroy(se);
	return rc;
}

static void print_errors(struct errors *errs)
{
	for (size_t i = 0; i < errs->count; i++)
		fprintf(stderr, "%s\n", errs->lines[i]);
	errors_free(errs);
}

/* Every entry holds a descriptor: a config of thousands needs more than
 * the usual soft limit of 1024, and the hard limit is the caller's word. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Reads the config (exit 1 if bad), checks the mount point (exit 2),
 * maps every entry (exit 1 if one cannot be), mounts and serves. */
static int mount_config(const char *config_file, const char *mountpoint,
			const struct cli *cli, struct fuse_args *args,
			const struct fuse_cmdline_opts *opts)
{
	struct daemon d = { .cli = cli, .mountpoint = opts->mountpoint };
	struct errors errs = { 0 };
	struct config cfg;
	int rc = EXIT_USAGE;

	if (load_config(config_file, cli, NULL, &(struct config_mount){ mountpoint, false },
			&cfg, &errs) != 0) {
		print_errors(&errs);
		config_free(&cfg);
		return EXIT_USAGE;
	}
	log_setup(false, opts->debug ? LOG_DEBUG : cfg.log_level);
	d.config_file = config_file ? realpath(config_file, NULL) : NULL;
	d.start_dir = realpath(".", NULL);
	if (check_mountpoint(mountpoint) != 0 || !opts->mountpoint) {
		rc = EXIT_MOUNT;
	} else if (fault_setup() != 0) {
		fprintf(stderr, "mmapfs: cannot install the SIGBUS handler: %s\n", strerror(errno));
	} else if (raise_fd_limit(), (d.table = table_new(&cfg, &errs)) != NULL) {
		fuse_opt_add_arg(args, "-odefault_permissions,fsname=mmapfs,subtype=mmapfs");
		rc = mount_and_serve(&d, args, opts, &cfg);
		if (table_free(d.table) != 0 && rc == EXIT_SUCCESS)
			rc = EXIT_MOUNT;	/* a flush at unmount failed: logged */
	}
	print_errors(&errs);
	config_free(&cfg);
	free((char *)d.config_file);
	free(d.start_dir);
	return rc;
}

/* --check: one line per entry, or the errors. */
static int check_config(const char *file, const struct cli *cli)
{
	struct errors errs = { 0 };
	struct config cfg;
	int rc = load_config(file, cli, NULL, NULL, &cfg, &errs);

	print_errors(&errs);
	for (size_t i = 0; rc == 0 && i < cfg.n_entries; i++) {
		const struct entry *e = &cfg.entries[i].entry;
		char length[32] = "end", views[16];

		if (e->length || e->anonymous)
			snprintf(length, sizeof(length), "%llu", (unsigned long long)e->length);
		view_list(e->views, ',', views, sizeof(views));
		printf("%s: path=%s offset=%llu length=%s views=%s resizable=%s "
		       "create=%s advice=%s\n", e->name, e->anonymous ? "anonymous" : e->path,
		       (unsigned long long)e->offset, length, views,
		       e->resizable ? "yes" : "no", e->create ? "yes" : "no",
		       entry_advice_name(e->advice));
	}
	config_free(&cfg);
	return rc == 0 ? EXIT_SUCCESS : EXIT_USAGE;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts = { 0 };
	struct cli cli = { .readahead = DEFAULT_READAHEAD };
	const char *config_file = NULL, *mountpoint = NULL;
	bool positional_ok;
	int rc = EXIT_USAGE;

	fuse_set_log_func(fuse_log_to_ours);
	if (fuse_opt_parse(&args, &cli, cli_opts, take_arg) != 0 || cli.bad_readahead) {
		usage(stderr);
		goto out;
	}
	if (cli.n_positional > 2)
		fprintf(stderr, "mmapfs: extra argument '%s'\n", cli.positional[2]);
	positional_ok = cli.n_positional <= 2 &&
			split_positional(&cli, &config_file, &mountpoint);
	/* libfuse refuses a mount point it cannot resolve; ours is checked
	 * after the config, so that a bad config is reported first (exit 1)
	 * and a bad mount point with its own status (exit 2). */
	if ((mountpoint && access(mountpoint, F_OK) == 0 &&
	     fuse_opt_add_arg(&args, mountpoint) != 0) ||
	    fuse_parse_cmdline(&args, &opts) != 0) {
		usage(stderr);
		goto out;
	}
	if (opts.show_help) {
		usage(stdout);
		printf("\nFUSE options:\n");
		fuse_cmdline_help();
		fuse_lowlevel_help();
		rc = EXIT_SUCCESS;
		goto out;
	}
	if (opts.show_version) {
		printf("mmapfs %s\n", MMAPFS_VERSION);
		fuse_lowlevel_version();
		rc = EXIT_SUCCESS;
		goto out;
	}
	if (!positional_ok) {
		usage(stderr);
		goto out;
	}
	if (cli.check) {
		rc = check_config(config_file, &cli);
		goto out;
	}
	rc = mount_config(config_file, mountpoint, &cli, &args, &opts);
out:
	for (size_t i = 0; i < cli.n_maps; i++)
		free(cli.maps[i]);
	free(cli.maps);
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return rc;
}
