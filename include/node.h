/*
 * node.h - inode numbers: what each names, and its kind's mode bits.
 *
 * The root and the four top folders have the numbers 1 to 5. Entry slot S
 * (table.h) owns the NODE_KINDS numbers from (S + 1) << NODE_SHIFT, one per
 * kind of node: its three views, its control folder and the control files
 * in it. Slots are never reused, so a number names one thing for the life
 * of the mount, and the kernel's lookup counts need no bookkeeping.
 *
 * A cow instance's nodes (its view, its control folder and files) have the
 * top bit set, then its entry's slot and its id (instance.h), which is
 * never reused during the mount, then the kind:
 *
 *   1 | slot (NODE_INSTANCE_SLOT_BITS) | id (32 bits) | kind (NODE_SHIFT)
 *
 * Nothing here knows FUSE: numbers are plain 64-bit values.
 */
#ifndef MMAPFS_NODE_H
#define MMAPFS_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ctl.h"

enum {
	NODE_ROOT_INO = 1,	/* FUSE_ROOT_ID */
	NODE_RO_DIR_INO,
	NODE_RW_DIR_INO,
	NODE_COW_DIR_INO,
	NODE_CTL_DIR_INO,
	NODE_SHIFT = 5,		/* room for 32 kinds per slot */
	NODE_INSTANCE_ID_BITS = 32,
	NODE_INSTANCE_SLOT_BITS = 63 - NODE_INSTANCE_ID_BITS - NODE_SHIFT,
};

#define NODE_INSTANCE_BIT (1ULL << 63)

enum node_kind {
	NODE_RO,
	NODE_RW,
	NODE_COW,
	NODE_CTL_DIR,
	NODE_CTL_FILE,		/* NODE_CTL_FILE + enum ctl_file */
	NODE_KINDS = NODE_CTL_FILE + CTL_FILES,
	NODE_TOP = NODE_KINDS,	/* the root and the top folders */
};

/* The top folders: ro/ rw/ cow/ ctl/, with the view they list (0: ctl/). */
struct node_top {
	const char *name;
	uint64_t ino;
	unsigned view;
};

#define NODE_TOPS 4
extern const struct node_top node_tops[NODE_TOPS];

/* The top folder numbered INO, or named NAME; NULL if none. */
const struct node_top *node_top_by_ino(uint64_t ino);
const struct node_top *node_top_by_name(const char *name);

/* SLOT's node of KIND (not NODE_TOP). */
uint64_t node_ino(size_t slot, enum node_kind kind);

/* Instance ID's (1 to 2^32 - 1) node of KIND (NODE_COW, NODE_CTL_DIR or a
 * control file) of SLOT's entry; 0 for a slot or id past what the
 * numbers hold. */
uint64_t node_instance_ino(size_t slot, uint64_t id, enum node_kind kind);

/* What INO names: NODE_TOP for the root and top folders, or an entry's
 * node (or an instance's) with its slot in *SLOT. False for a number
 * nothing has. */
bool node_decode(uint64_t ino, size_t *slot, enum node_kind *kind);

/* The instance id of an instance's node; 0 for any other. */
uint64_t node_instance_id(uint64_t ino);

bool node_is_view(enum node_kind kind);
bool node_is_ctl_file(enum node_kind kind);
bool node_is_dir(enum node_kind kind);

/* The VIEW_* bit of a view kind, and back (view 0: NODE_CTL_DIR). */
unsigned node_view(enum node_kind kind);
enum node_kind node_of_view(unsigned view);

/* The control file of a NODE_CTL_FILE kind, and back. */
enum ctl_file node_ctl_file(enum node_kind kind);
enum node_kind node_of_ctl_file(enum ctl_file file);

/* A view's permission bits (SPEC "Views"): the backing file's FILE_MODE
 * with every write bit masked out for ro and the owner's added for cow;
 * an anonymous entry's ro 0400, rw and cow 0600. */
mode_t node_view_perm(enum node_kind kind, bool anonymous, mode_t file_mode);

#endif
