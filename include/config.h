/*
 * config.h - the INI config: global settings and one entry per section.
 *
 * config_load() parses with inih, applies every rule of SPEC "Config" and
 * checks the backing files, collecting all errors as "FILE:LINE: message"
 * lines so that a user fixes them in one go. Nothing here mounts or maps.
 */
#ifndef MMAPFS_CONFIG_H
#define MMAPFS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "entry.h"
#include "errors.h"

/* Line numbers of an entry's keys (0: not given); errors point at them. */
struct entry_lines {
	int header, path, anonymous, offset, length, create, views, resizable,
	    advice;
};

/* An entry as the config wrote it: what to map, and where it was said. */
struct config_entry {
	struct entry entry;
	struct entry_lines line;
	char *map_arg;		/* the --map argument it came from; NULL: the file */
};

struct config {
	char *file;		/* the config path as given, for messages; may be NULL */
	int log_level;		/* a syslog LOG_* priority */
	unsigned flush_interval;	/* seconds; 0 = no automatic flush */
	uint64_t cow_limit;	/* bytes all cow views may hold privately; 0 = no limit */
	struct config_entry *entries;
	size_t n_entries;
};

/*
 * Reads FILE into CFG. Returns 0, or -1 with at least one line in ERRS;
 * CFG is complete only on success but must be freed with config_free()
 * either way.
 */
int config_load(const char *file, struct config *cfg, struct errors *errs);

/*
 * The mount a config is loaded for: no backing file may be on it, since
 * the mount would serve itself. Before it is mounted, a path under POINT
 * (once resolved) is refused; while it serves, a file on its device (the
 * one /proc/self/mountinfo gives for POINT: the mount point itself is
 * never looked at, since the mount would have to answer).
 */
struct config_mount {
	const char *point;	/* the mount point; while serving, absolute and resolved */
	bool serving;		/* mounted now (a reload), or not yet (the start) */
};

/*
 * As config_load, with FILE optional (NULL) and N_MAPS more entries from
 * command-line arguments "NAME=PATH[,key=value...]" or
 * "NAME=anonymous,length=SIZE[,...]", which take the entry keys of the
 * file; a relative PATH starts at MAP_DIR (NULL: the current folder).
 * Errors about them begin with "--map 'ARG': ". MOUNT (NULL: none) is the
 * mount whose own files are refused.
 */
int config_load_all(const char *file, char *const *maps, size_t n_maps,
		    const char *map_dir, const struct config_mount *mount,
		    struct config *cfg, struct errors *errs);

/* Where E comes from, for messages: "FILE:LINE" or "--map 'ARG'". */
void config_where(const struct config *cfg, const struct config_entry *e,
		  char *buf, size_t buflen);
void config_free(struct config *cfg);

#endif
