/*
 * main.c - mmapfs CONFIG MOUNTPOINT [options]: read the command line and
 * the config, map every entry, mount and serve until unmounted, flush.
 * The command line is cli.c's, the mounted daemon's life daemon.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "config.h"
#include "cow.h"
#include "daemon.h"
#include "fault.h"
#include "log.h"
#include "table.h"

/* MOUNT (NULL for --check): the mount point, whose files the config may
 * not name (they would be served by the mount itself). */
static int load_config(const struct cli *cli, const struct config_mount *mount,
		       struct config *cfg, struct errors *errs)
{
	return config_load_all(cli->config_file, cli->maps, cli->n_maps, NULL, mount, cfg,
			       errs);
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

/* Maps every entry of CFG (exit 1 if one cannot be), mounts and serves,
 * then flushes and closes the regions (exit 2 if a flush failed). */
static int map_and_run(struct cli *cli, const struct config *cfg, struct errors *errs)
{
	struct table *t;
	int rc;

	if (fault_setup() != 0) {
		fprintf(stderr, "mmapfs: cannot install the SIGBUS handler: %s\n", strerror(errno));
		return EXIT_USAGE;
	}
	raise_fd_limit();
	t = table_new(cfg, errs);
	if (!t)
		return EXIT_USAGE;
	cow_set_limit(cfg->cow_limit);
	rc = daemon_run(t, cli, cfg);
	if (table_free(t) != 0 && rc == EXIT_SUCCESS)
		rc = EXIT_MOUNT;	/* a flush at unmount failed: logged */
	return rc;
}

/* Reads the config (exit 1 if bad), checks the mount point (exit 2), then
 * maps, mounts and serves. */
static int mount_config(struct cli *cli)
{
	struct errors errs = { 0 };
	struct config cfg;
	int rc;

	if (load_config(cli, &(struct config_mount){ cli->mountpoint, false }, &cfg,
			&errs) != 0) {
		rc = EXIT_USAGE;
	} else {
		log_setup(false, cli->opts.debug ? LOG_DEBUG : cfg.log_level);
		rc = cli_check_mountpoint(cli) == 0 ? map_and_run(cli, &cfg, &errs) : EXIT_MOUNT;
	}
	print_errors(&errs);
	config_free(&cfg);
	return rc;
}

/* --check: one line per entry, or the errors. */
static int check_config(const struct cli *cli)
{
	struct errors errs = { 0 };
	struct config cfg;
	int rc = load_config(cli, NULL, &cfg, &errs);

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
	struct cli cli;
	int rc = EXIT_USAGE;

	daemon_log_fuse_messages();
	switch (cli_parse(&cli, argc, argv)) {
	case CLI_HELP:
		cli_print_help();
		rc = EXIT_SUCCESS;
		break;
	case CLI_VERSION:
		cli_print_version();
		rc = EXIT_SUCCESS;
		break;
	case CLI_CHECK:
		rc = check_config(&cli);
		break;
	case CLI_MOUNT:
		rc = mount_config(&cli);
		break;
	case CLI_BAD:
		break;
	}
	cli_free(&cli);
	return rc;
}
