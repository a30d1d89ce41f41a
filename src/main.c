/*
 * main.c - mmapfs CONFIG MOUNTPOINT [options]: read the config, map every
 * entry, mount, serve until unmounted, flush.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "fault.h"
#include "fs.h"
#include "log.h"

#ifndef MMAPFS_VERSION
#define MMAPFS_VERSION "unknown"
#endif

enum { EXIT_USAGE = 1, EXIT_MOUNT = 2 };

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mmapfs CONFIG MOUNTPOINT [-f] [-d] [-s] [-o OPT[,OPT...]]\n"
		"       mmapfs --help | --version\n"
		"\n"
		"Mounts every entry of the INI file CONFIG as ro/NAME, rw/NAME and\n"
		"cow/NAME views of a memory mapping, with control files in ctl/NAME/.\n"
		"See mmapfs(1).\n");
}

/* Takes the first non-option argument as the config; the rest is libfuse's. */
static int take_config(void *data, const char *arg, int key, struct fuse_args *args)
{
	const char **config = data;

	(void)args;
	if (key == FUSE_OPT_KEY_NONOPT && !*config) {
		*config = arg;
		return 0;
	}
	return 1;
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

static struct fuse_session *serving;

static void on_exit_signal(int sig)
{
	(void)sig;
	fuse_session_exit(serving);	/* sets a flag; the loop's threads wake on EINTR */
}

/*
 * SIGINT, SIGTERM and SIGHUP unmount. Unlike fuse_set_signal_handlers(),
 * this does not skip a signal that was ignored at start: a shell starts
 * "mmapfs ... &" with SIGINT ignored, and SIGINT must still unmount.
 * No SA_RESTART, so that blocked reads return EINTR and see the flag.
 */
static int set_signal_handlers(struct fuse_session *se)
{
	static const int exits[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;

	serving = se;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_exit_signal;
	for (size_t i = 0; i < sizeof(exits) / sizeof(exits[0]); i++)
		if (sigaction(exits[i], &sa, NULL) < 0)
			return -1;
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, NULL);
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

/* Mounts FS and serves it; returns the process's exit status. */
static int mount_and_serve(struct fs *fs, struct fuse_args *args,
			   const struct fuse_cmdline_opts *opts, int log_level)
{
	struct fuse_session *se;
	int rc = EXIT_MOUNT, err;

	se = fuse_session_new(args, &fs_ops, sizeof(fs_ops), fs);
	if (!se)
		return EXIT_USAGE;
	if (set_signal_handlers(se) == 0 && fuse_session_mount(se, opts->mountpoint) == 0) {
		fuse_daemonize(opts->foreground);
		log_setup(!opts->foreground, log_level);
		if (fs_start(fs, se) == 0) {
			log_msg(LOG_INFO, "mounted on %s", opts->mountpoint);
			rc = serve(se, opts) == 0 ? EXIT_SUCCESS : EXIT_MOUNT;
		}
		fuse_session_unmount(se);
	}
	err = fs_destroy(fs);
	fuse_session_destroy(se);
	if (err && rc == EXIT_SUCCESS)
		rc = EXIT_MOUNT;
	return rc;
}

static int load_config(const char *file, struct config *cfg)
{
	struct errors errs = { 0 };
	int rc = config_load(file, cfg, &errs);

	for (size_t i = 0; i < errs.count; i++)
		fprintf(stderr, "%s\n", errs.lines[i]);
	errors_free(&errs);
	return rc;
}

static struct fs *map_entries(const struct config *cfg)
{
	struct errors errs = { 0 };
	struct fs *fs = fs_new(cfg, &errs);

	for (size_t i = 0; i < errs.count; i++)
		fprintf(stderr, "%s\n", errs.lines[i]);
	errors_free(&errs);
	return fs;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts = { 0 };
	struct config cfg = { 0 };
	const char *config_file = NULL;
	struct fs *fs;
	int rc = EXIT_USAGE;

	fuse_set_log_func(fuse_log_to_ours);
	if (fuse_opt_parse(&args, &config_file, NULL, take_config) != 0 ||
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
	if (!config_file || !opts.mountpoint) {
		usage(stderr);
		goto out;
	}
	if (load_config(config_file, &cfg) != 0)
		goto out;
	log_setup(false, cfg.log_level);
	if (check_mountpoint(opts.mountpoint) != 0) {
		rc = EXIT_MOUNT;
		goto out;
	}
	fs = map_entries(&cfg);
	if (fs && fault_setup() != 0) {
		fprintf(stderr, "mmapfs: cannot install the SIGBUS handler: %s\n", strerror(errno));
		fs_destroy(fs);
		fs = NULL;
	}
	if (fs) {
		fuse_opt_add_arg(&args, "-odefault_permissions,fsname=mmapfs,subtype=mmapfs");
		rc = mount_and_serve(fs, &args, &opts, cfg.log_level);
	}
out:
	config_free(&cfg);
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return rc;
}
