/* cli.c - the command line; see cli.h. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "size.h"

#ifndef MMAPFS_VERSION
#define MMAPFS_VERSION "unknown"
#endif

/* Sequential reads through FUSE arrive in requests of the mount's
 * readahead: 1 MiB instead of the kernel's 128 KiB makes four times fewer
 * requests and costs the daemon about a tenth less CPU per byte
 * (docs/performance.md). */
#define DEFAULT_READAHEAD (1 << 20)

/* Always on: the kernel checks the views' modes (SPEC "Views"), and the
 * mount shows as fuse.mmapfs in mountinfo and to mount(8). */
#define MOUNT_OPTIONS "-odefault_permissions,fsname=mmapfs,subtype=mmapfs"

/* What parsing needs beyond what it yields. */
struct parsing {
	struct cli *cli;
	const char *positional[3];	/* CONFIG MOUNTPOINT, or MOUNTPOINT; [2]: extra */
	int n_positional;
	bool check;
	bool bad_readahead;
};

enum { KEY_MAP, KEY_CHECK, KEY_READAHEAD, KEY_KERNEL_CACHE };

static const struct fuse_opt cli_opts[] = {
	FUSE_OPT_KEY("--map ", KEY_MAP),
	FUSE_OPT_KEY("--map=", KEY_MAP),
	FUSE_OPT_KEY("--check", KEY_CHECK),
	FUSE_OPT_KEY("readahead=", KEY_READAHEAD),
	FUSE_OPT_KEY("kernel_cache", KEY_KERNEL_CACHE),
	FUSE_OPT_END
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mmapfs CONFIG MOUNTPOINT [--map MAP]... [-f] [-d] [-s] [-o OPT[,OPT...]]\n"
		"              [-- COMMAND [ARG...]]\n"
		"       mmapfs MOUNTPOINT --map MAP [--map MAP]... [options] [-- COMMAND [ARG...]]\n"
		"       mmapfs --check CONFIG [--map MAP]...\n"
		"       mmapfs --help | --version\n"
		"\n"
		"Mounts every entry of the INI file CONFIG as ro/NAME, rw/NAME and\n"
		"cow/NAME views of a memory mapping, with control files in ctl/NAME/.\n"
		"MAP is NAME=PATH[,key=value...] or NAME=anonymous,length=SIZE[,...],\n"
		"with the entry keys of the config. --check validates and lists the\n"
		"entries without mounting. With -- COMMAND, mmapfs runs COMMAND with\n"
		"MMAPFS_MOUNT set to the mount point, unmounts when it exits and exits\n"
		"with its status. See mmapfs(1).\n");
}

static enum cli_action bad_usage(void)
{
	usage(stderr);
	return CLI_BAD;
}

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

static int add_map(struct cli *cli, const char *arg)
{
	char **maps;

	/* libfuse joins "--map" and its value: "--mapX" or "--map=X" */
	arg += strlen("--map");
	arg += *arg == '=';
	maps = realloc(cli->maps, (cli->n_maps + 1) * sizeof(*maps));
	if (!maps)
		return -1;
	cli->maps = maps;
	if (!(maps[cli->n_maps] = strdup(arg)))
		return -1;
	cli->n_maps++;
	return 0;
}

static void set_readahead(struct parsing *p, const char *arg)
{
	struct cli *cli = p->cli;

	cli->readahead_given = true;
	if (size_parse(arg + strlen("readahead="), &cli->readahead) != 0 ||
	    cli->readahead > UINT_MAX) {
		fprintf(stderr, "mmapfs: -o %s: not a size\n", arg);
		p->bad_readahead = true;
	}
}

/* Keeps the positional arguments and our options; the rest is libfuse's. */
static int take_arg(void *data, const char *arg, int key, struct fuse_args *args)
{
	struct parsing *p = data;

	(void)args;
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (p->n_positional < 3)
			p->positional[p->n_positional] = arg;
		p->n_positional++;
		return 0;
	case KEY_MAP:
		return add_map(p->cli, arg);
	case KEY_CHECK:
		p->check = true;
		return 0;
	case KEY_KERNEL_CACHE:
		p->cli->kernel_cache = true;
		return 0;
	case KEY_READAHEAD:
		set_readahead(p, arg);
		return 0;
	case FUSE_OPT_KEY_OPT:
		return is_mount_only_option(arg) ? 0 : 1;
	default:
		return 1;
	}
}

/* The config file and the mount point the positional arguments name;
 * false if they do not fit any form of the usage. */
static bool split_positional(const struct parsing *p)
{
	struct cli *cli = p->cli;
	int n = p->n_positional;

	if (n > 2) {
		fprintf(stderr, "mmapfs: extra argument '%s'\n", p->positional[2]);
		return false;
	}
	if (p->check) {
		cli->config_file = n == 1 ? p->positional[0] : NULL;
		return n == 1 || (n == 0 && cli->n_maps);
	}
	if (n == 2) {
		cli->config_file = p->positional[0];
		cli->mountpoint = p->positional[1];
	} else if (n == 1 && cli->n_maps) {
		cli->mountpoint = p->positional[0];
	}
	return cli->mountpoint != NULL;
}

/* -f -d -s, -h, -V and the mount point, parsed by libfuse. It refuses a
 * mount point it cannot resolve: a missing one is not given to it here but
 * reported by cli_check_mountpoint(), after the config. */
static int parse_fuse_cmdline(struct cli *cli)
{
	const char *mnt = cli->mountpoint;

	if (mnt && access(mnt, F_OK) == 0 && fuse_opt_add_arg(&cli->args, mnt) != 0)
		return -1;
	return fuse_parse_cmdline(&cli->args, &cli->opts);
}

/* libfuse checks the rest of its options (-o allow_other, max_read=, ...)
 * only when it makes a session: one made from a copy of the arguments and
 * dropped at once reports a bad option before any file is touched. */
static bool fuse_options_valid(struct cli *cli)
{
	static const struct fuse_lowlevel_ops no_ops;
	struct fuse_args copy = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se = NULL;
	bool ok = fuse_opt_add_arg(&cli->args, MOUNT_OPTIONS) == 0;

	for (int i = 0; ok && i < cli->args.argc; i++)
		ok = fuse_opt_add_arg(&copy, cli->args.argv[i]) == 0;
	if (ok)
		se = fuse_session_new(&copy, &no_ops, sizeof(no_ops), NULL);
	ok = se != NULL;
	if (se)
		fuse_session_destroy(se);
	fuse_opt_free_args(&copy);
	return ok;
}

/* Where `-- COMMAND` begins in ARGV: the index of the first "--" that is
 * no option's value (-o and --map take theirs as the next argument), or
 * ARGC if there is none. */
static int command_index(int argc, char *argv[])
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return i;
		if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--map") == 0)
			i++;
	}
	return argc;
}

/* Whether the command, if any, fits the action: it needs a mount. */
static bool command_fits(const struct cli *cli, bool check)
{
	if (!cli->command)
		return true;
	if (!cli->command[0])
		fprintf(stderr, "mmapfs: -- needs a COMMAND\n");
	else if (check)
		fprintf(stderr, "mmapfs: --check mounts nothing to run a COMMAND on\n");
	return cli->command[0] && !check;
}

enum cli_action cli_parse(struct cli *cli, int argc, char *argv[])
{
	struct parsing p = { .cli = cli };
	int ours = command_index(argc, argv);
	bool positional_ok;

	memset(cli, 0, sizeof(*cli));
	cli->command = ours < argc ? argv + ours + 1 : NULL;
	cli->args = (struct fuse_args)FUSE_ARGS_INIT(ours, argv);
	cli->readahead = DEFAULT_READAHEAD;
	if (fuse_opt_parse(&cli->args, &p, cli_opts, take_arg) != 0 || p.bad_readahead)
		return bad_usage();
	positional_ok = split_positional(&p);
	if (parse_fuse_cmdline(cli) != 0)
		return bad_usage();
	if (cli->opts.show_help)
		return CLI_HELP;
	if (cli->opts.show_version)
		return CLI_VERSION;
	if (!positional_ok || !command_fits(cli, p.check))
		return bad_usage();
	if (p.check)
		return CLI_CHECK;
	if (cli->command)
		cli->opts.foreground = 1;	/* the caller waits for COMMAND */
	return fuse_options_valid(cli) ? CLI_MOUNT : CLI_BAD;
}

void cli_print_help(void)
{
	usage(stdout);
	printf("\nFUSE options:\n");
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

void cli_print_version(void)
{
	printf("mmapfs %s\n", MMAPFS_VERSION);
	fuse_lowlevel_version();
}

int cli_check_mountpoint(const struct cli *cli)
{
	const char *mnt = cli->mountpoint;
	struct stat st;

	if (stat(mnt, &st) < 0) {
		fprintf(stderr, "mmapfs: mount point %s: %s\n", mnt, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "mmapfs: mount point %s is not a folder\n", mnt);
		return -1;
	}
	if (!cli->opts.mountpoint) {
		/* it was missing when the command line was read */
		fprintf(stderr, "mmapfs: mount point %s appeared while starting; try again\n",
			mnt);
		return -1;
	}
	return 0;
}

void cli_free(struct cli *cli)
{
	for (size_t i = 0; i < cli->n_maps; i++)
		free(cli->maps[i]);
	free(cli->maps);
	free(cli->opts.mountpoint);
	fuse_opt_free_args(&cli->args);
}
