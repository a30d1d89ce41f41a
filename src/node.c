/* node.c - inode numbers (node.h). */
#include "node.h"

#include <string.h>

#include "instance.h"
#include "view.h"

/* The kinds must fit below the next slot's numbers, and the top folders
 * below the first slot's. */
_Static_assert(NODE_KINDS <= 1 << NODE_SHIFT, "node kinds overflow a slot's numbers");
_Static_assert(NODE_CTL_DIR_INO < 1 << NODE_SHIFT, "top folders overlap slot 0");
/* An instance's number holds its slot, its id and its kind below the top
 * bit; ids are instance.h's. */
_Static_assert(NODE_INSTANCE_SLOT_BITS + NODE_INSTANCE_ID_BITS + NODE_SHIFT == 63,
	       "instance numbers do not fill 63 bits");
_Static_assert(NODE_INSTANCE_SLOT_BITS >= 24, "too few slots for instances");
_Static_assert(INSTANCE_ID_MAX == (1ULL << NODE_INSTANCE_ID_BITS) - 1,
	       "instance ids do not fit their numbers");

const struct node_top node_tops[NODE_TOPS] = {
	{ "ro", NODE_RO_DIR_INO, VIEW_RO },
	{ "rw", NODE_RW_DIR_INO, VIEW_RW },
	{ "cow", NODE_COW_DIR_INO, VIEW_COW },
	{ "ctl", NODE_CTL_DIR_INO, 0 },
};

const struct node_top *node_top_by_ino(uint64_t ino)
{
	for (size_t i = 0; i < NODE_TOPS; i++)
		if (node_tops[i].ino == ino)
			return &node_tops[i];
	return NULL;
}

const struct node_top *node_top_by_name(const char *name)
{
	for (size_t i = 0; i < NODE_TOPS; i++)
		if (strcmp(node_tops[i].name, name) == 0)
			return &node_tops[i];
	return NULL;
}

uint64_t node_ino(size_t slot, enum node_kind kind)
{
	return ((uint64_t)slot + 1) << NODE_SHIFT | (uint64_t)kind;
}

uint64_t node_instance_ino(size_t slot, uint64_t id, enum node_kind kind)
{
	if ((uint64_t)slot >> NODE_INSTANCE_SLOT_BITS || id == 0 || id > INSTANCE_ID_MAX)
		return 0;
	return NODE_INSTANCE_BIT | (uint64_t)slot << (NODE_INSTANCE_ID_BITS + NODE_SHIFT) |
	       id << NODE_SHIFT | (uint64_t)kind;
}

uint64_t node_instance_id(uint64_t ino)
{
	if (!(ino & NODE_INSTANCE_BIT))
		return 0;
	return ino >> NODE_SHIFT & INSTANCE_ID_MAX;
}

/* An instance's number: its kinds are the cow view and the control ones. */
static bool decode_instance(uint64_t ino, size_t *slot, enum node_kind *kind)
{
	uint64_t low = ino & ((1u << NODE_SHIFT) - 1);

	if (node_instance_id(ino) == 0 || low >= NODE_KINDS || low < NODE_COW)
		return false;
	*slot = (size_t)((ino & ~NODE_INSTANCE_BIT) >> (NODE_INSTANCE_ID_BITS + NODE_SHIFT));
	*kind = (enum node_kind)low;
	return true;
}

bool node_decode(uint64_t ino, size_t *slot, enum node_kind *kind)
{
	uint64_t index = ino >> NODE_SHIFT, low = ino & ((1u << NODE_SHIFT) - 1);

	if (ino & NODE_INSTANCE_BIT)
		return decode_instance(ino, slot, kind);
	if (ino == NODE_ROOT_INO || node_top_by_ino(ino)) {
		*kind = NODE_TOP;
		return true;
	}
	if (index == 0 || low >= NODE_KINDS)
		return false;
	*slot = (size_t)(index - 1);
	*kind = (enum node_kind)low;
	return true;
}

bool node_is_view(enum node_kind kind)
{
	return kind <= NODE_COW;
}

bool node_is_ctl_file(enum node_kind kind)
{
	return kind >= NODE_CTL_FILE && kind < NODE_KINDS;
}

bool node_is_dir(enum node_kind kind)
{
	return kind == NODE_TOP || kind == NODE_CTL_DIR;
}

unsigned node_view(enum node_kind kind)
{
	return kind == NODE_RW ? VIEW_RW : kind == NODE_COW ? VIEW_COW : VIEW_RO;
}

enum node_kind node_of_view(unsigned view)
{
	return view == VIEW_RW ? NODE_RW : view == VIEW_COW ? NODE_COW :
	       view == VIEW_RO ? NODE_RO : NODE_CTL_DIR;
}

enum ctl_file node_ctl_file(enum node_kind kind)
{
	return (enum ctl_file)(kind - NODE_CTL_FILE);
}

enum node_kind node_of_ctl_file(enum ctl_file file)
{
	return (enum node_kind)(NODE_CTL_FILE + file);
}

mode_t node_view_perm(enum node_kind kind, bool anonymous, mode_t file_mode)
{
	mode_t perm = file_mode & 0777;

	if (anonymous)
		return kind == NODE_RO ? 0400 : 0600;
	if (kind == NODE_RO)
		return perm & ~(mode_t)0222;
	return kind == NODE_COW ? perm | 0200 : perm;
}
