/*
 * cli.h - the command line (SPEC "Command line"): mmapfs's own options
 * (--map, --check, -o readahead=, -o kernel_cache), the positional
 * arguments, and libfuse's options.
 *
 * Everything after the first `--` is COMMAND and its arguments, which
 * mmapfs runs on the mount, in the foreground (daemon.h).
 *
 * cli_parse() checks the whole command line, libfuse's options included,
 * before anything reads the config or touches a file: a typo in -o must not
 * leave a `create = yes` file behind. What it cannot know yet, whether the
 * mount point is a folder, is left to cli_check_mountpoint(), which runs
 * after the config, so that a bad config is reported first (status 1) and
 * a bad mount point with its own status (2).
 */
#ifndef MMAPFS_CLI_H
#define MMAPFS_CLI_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit statuses besides EXIT_SUCCESS. */
enum { EXIT_USAGE = 1, EXIT_MOUNT = 2 };

/* What the command line asks for. */
enum cli_action { CLI_BAD, CLI_HELP, CLI_VERSION, CLI_CHECK, CLI_MOUNT };

struct cli {
	const char *config_file;	/* as given; NULL: --map entries only */
	const char *mountpoint;		/* as given; NULL for --check */
	char **maps;			/* the --map arguments, in order */
	size_t n_maps;
	uint64_t readahead;		/* bytes: -o readahead=SIZE, or the default */
	bool readahead_given;		/* -o readahead= was on the command line */
	bool kernel_cache;		/* -o kernel_cache */
	char **command;			/* -- COMMAND [ARG...], NULL-terminated; NULL if none */
	/* libfuse's share: what fuse_session_new() gets, and -f -d -s ...;
	 * opts.mountpoint is the mount point's realpath (NULL if missing) */
	struct fuse_args args;
	struct fuse_cmdline_opts opts;
};

/*
 * Parses ARGV into CLI. For CLI_BAD the reason and the usage are already
 * on stderr. Free CLI with cli_free() whatever it returns.
 */
enum cli_action cli_parse(struct cli *cli, int argc, char *argv[]);

/* --help: the usage and libfuse's options, on stdout. */
void cli_print_help(void);

/* --version, on stdout. */
void cli_print_version(void);

/* 0 if the mount point exists and is a folder; -1 with the reason on
 * stderr. */
int cli_check_mountpoint(const struct cli *cli);

void cli_free(struct cli *cli);

#endif
