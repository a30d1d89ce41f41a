/*
 * ctl.h - the control files of ctl/NAME/: their command language and the
 * status text (SPEC "Control files").
 *
 * A command is one write of at most CTL_MAX_COMMAND bytes of ASCII text at
 * offset 0: fields separated by spaces or tabs, white space around them
 * ignored, numbers in size.h's syntax. Parsing is separate from running,
 * so that the language can be tested and fuzzed without a region.
 */
#ifndef MMAPFS_CTL_H
#define MMAPFS_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "region.h"

#define CTL_MAX_COMMAND 4096
#define CTL_TAG_MAX 64		/* instance.h's INSTANCE_TAG_MAX */

enum ctl_file {
	CTL_FLUSH,
	CTL_RESIZE,
	CTL_MOVE,
	CTL_RESET,
	CTL_FORK,
	CTL_DROP,		/* instances only */
	CTL_CHANGES,
	CTL_COMMIT,
	CTL_ADVISE,
	CTL_STATUS,
	CTL_FILES,
};

struct ctl_command {
	enum ctl_file file;
	bool whole;		/* flush, advise: no range, the whole region */
	bool async;		/* flush async: start the writeback, no wait */
	int advice;		/* advise: an MADV_* value */
	unsigned view;		/* move: VIEW_RW, or VIEW_COW for "move cow" */
	uint64_t arg[3];	/* flush, advise OFFSET SIZE; resize SIZE; move DEST SRC COUNT */
	char tag[CTL_TAG_MAX + 1];	/* fork: TAG */
};

/* What a successful command changed, for the caller's cache invalidation:
 * VIEWS (VIEW_* bits) over [OFF, OFF + LEN), LEN 0 meaning to the end. */
struct ctl_effect {
	unsigned views;
	uint64_t off, len;
};

/* "flush", "resize", ...; and back (-1 if NAME is none of them). */
const char *ctl_file_name(enum ctl_file file);
int ctl_file_by_name(const char *name);

/* Permission bits of each file: flush, move, reset, fork, drop, commit,
 * advise 0200; resize 0600; status, changes 0400. */
unsigned ctl_file_mode(enum ctl_file file);

/* Whether FILE is in ctl/NAME/ (all but drop), and in an instance's
 * ctl/NAME@TAG/ (reset, fork, drop, changes, commit, status). */
bool ctl_file_of_entry(enum ctl_file file);
bool ctl_file_of_instance(enum ctl_file file);

/* Parses LEN bytes of TEXT written to FILE. Returns 0 or EINVAL with the
 * reason in WHY. */
int ctl_parse(enum ctl_file file, const char *text, size_t len,
	      struct ctl_command *cmd, char *why, size_t whylen);

/*
 * Runs a write of LEN bytes of TEXT at OFFSET to FILE of region R: checks
 * the view the command needs (EROFS) and resizable (EPERM) before parsing,
 * then parses and runs it. Returns 0 with *EFFECT filled, or an errno
 * with *EFFECT empty (a failed command changed nothing);
 * a failure is recorded in R (errors, last_error) and logged.
 */
int ctl_write(struct region *r, enum ctl_file file, const char *text,
	      size_t len, uint64_t offset, struct ctl_effect *effect);

/* As ctl_write, for the control folder of cow view IN (instance.h; NULL:
 * the entry's own), whose commands work on IN's view and are counted in
 * IN's counters. */
struct instance;
int ctl_write_in(struct region *r, struct instance *in, enum ctl_file file,
		 const char *text, size_t len, uint64_t offset, struct ctl_effect *effect);

/* The views whose clients' dirty pages must reach the region before the
 * command in TEXT runs: those it reads or changes (rw for every command,
 * as a cow view shows the file where it has not written; rw and cow for
 * fork and commit, which read the cow view; none for advise, drop and the
 * read-only files, nor for flush async, which starts the writeback of what
 * the region holds now). For an instance's folder, cow is the instance's
 * view (coherence_job's INSTANCE). */
unsigned ctl_write_back_views(enum ctl_file file, const char *text, size_t len);

/* The text a read of FILE shows (status's key: value lines, changes'
 * OFFSET LENGTH lines, resize's size and a newline; empty for the
 * write-only files). Returns its length; the text is cut to fit BUFLEN.
 * CTL_READ_MAX holds any status whole (1,000 tags of 64 bytes) and about
 * 3,000 runs of changes. */
#define CTL_READ_MAX (128 * 1024)

size_t ctl_read(struct region *r, enum ctl_file file, char *buf, size_t buflen);
size_t ctl_read_in(struct region *r, struct instance *in, enum ctl_file file,
		   char *buf, size_t buflen);

#endif
