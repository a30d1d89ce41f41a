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

/* The views of an entry, as a bit set. */
enum {
	VIEW_RO = 1 << 0,
	VIEW_RW = 1 << 1,
	VIEW_COW = 1 << 2,
	VIEW_ALL = VIEW_RO | VIEW_RW | VIEW_COW,
};

/* Line numbers of an entry's keys (0: not given); errors point at them. */
struct entry_lines {
	int header, path, anonymous, offset, length, create, views, resizable,
	    advice;
};

struct config_entry {
	char *name;		/* the section's name: NAME under ro/ rw/ cow/ ctl/ */
	char *path;		/* absolute path of the backing file; NULL if anonymous */
	bool anonymous;
	uint64_t offset;	/* page-aligned start of the window */
	uint64_t length;	/* 0: from offset to the end of the file, following it */
	bool create;
	bool resizable;
	unsigned views;		/* VIEW_* bits */
	int advice;		/* an MADV_* value */
	struct entry_lines line;
	char *map_arg;		/* the --map argument it came from; NULL: the file */
};

struct config {
	char *file;		/* the config path as given, for messages; may be NULL */
	int log_level;		/* a syslog LOG_* priority */
	unsigned flush_interval;	/* seconds; 0 = no automatic flush */
	struct config_entry *entries;
	size_t n_entries;
};

/* A growing list of error lines. */
struct errors {
	char **lines;
	size_t count;
};

/* Appends one formatted line to ERRS. */
void errors_add(struct errors *errs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void errors_free(struct errors *errs);

/*
 * Reads FILE into CFG. Returns 0, or -1 with at least one line in ERRS;
 * CFG is complete only on success but must be freed with config_free()
 * either way.
 */
int config_load(const char *file, struct config *cfg, struct errors *errs);

/*
 * As config_load, with FILE optional (NULL) and N_MAPS more entries from
 * command-line arguments "NAME=PATH[,key=value...]" or
 * "NAME=anonymous,length=SIZE[,...]", which take the entry keys of the
 * file; a relative PATH starts at MAP_DIR (NULL: the current folder).
 * Errors about them begin with "--map 'ARG': ".
 */
int config_load_all(const char *file, char *const *maps, size_t n_maps,
		    const char *map_dir, struct config *cfg, struct errors *errs);

/* Where E comes from, for messages: "FILE:LINE" or "--map 'ARG'". */
void config_where(const struct config *cfg, const struct config_entry *e,
		  char *buf, size_t buflen);
void config_free(struct config *cfg);

/* The word for an MADV_* value as written in the config ("normal", ...). */
const char *config_advice_name(int advice);

/* Whether A and B map the same thing the same way (names aside). */
bool config_entry_same(const struct config_entry *a, const struct config_entry *b);

#endif
