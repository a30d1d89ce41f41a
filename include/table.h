/*
 * table.h - the mount's entries: one slot per entry ever mounted, each with
 * a name, a region and a number that stays its own for the life of the
 * mount (inode numbers are made from it), and reloading from a new config.
 *
 * A request uses a slot's region between table_get() and table_put(),
 * which hold the slot's lifetime lock shared; a reload swaps or removes a
 * region with it held exclusive, so no request ever sees a region closed
 * under it. Slots are never moved or freed before table_free(), so their
 * numbers and names stay valid while the table lives.
 */
#ifndef MMAPFS_TABLE_H
#define MMAPFS_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "region.h"

struct table;

/* What a reload did to one slot. VIEWS_BEFORE/AFTER are VIEW_* bits; 0
 * for a slot that was added or removed. */
struct table_change {
	size_t slot;
	unsigned views_before, views_after;
};

struct table_changes {
	struct table_change *list;
	size_t count;
	size_t added, removed, changed;
};

/* Maps every entry of CFG. NULL with "WHERE: [NAME] reason" lines in ERRS
 * if any entry cannot be mapped. */
struct table *table_new(const struct config *cfg, struct errors *errs);

/* Closes every region (flushing rw ones) and frees the table. Returns 0,
 * or the errno of the first failed flush. */
int table_free(struct table *t);

/* Slots ever made: slot numbers are below it. */
size_t table_slots(const struct table *t);

/* The region of SLOT, held until table_put(); NULL (nothing held) if the
 * slot does not exist or its entry was removed. */
struct region *table_get(struct table *t, size_t slot);
void table_put(struct table *t, size_t slot);

/* SLOT's name (valid until table_free). */
const char *table_name(const struct table *t, size_t slot);

/* The live slot named NAME, or -1. */
long table_find(struct table *t, const char *name);

/* The live slot at place INDEX in name order, or -1 past the last. */
long table_nth(struct table *t, size_t index);

/* Calls FN for every live slot, with its region held. */
void table_each(struct table *t, void (*fn)(size_t slot, struct region *r, void *arg),
		void *arg);

/* The live entries, and the bytes of their regions (ro and rw size). */
void table_totals(struct table *t, size_t *entries, uint64_t *bytes);

/* Whether a reload to CFG would take SLOT's region away (its entry is
 * removed, or maps something else now: see table_reload) or one of its
 * views (no longer listed): what clients wrote through their mappings of
 * it must be written back first. */
bool table_reload_takes_away(struct table *t, size_t slot, const struct config *cfg);

/*
 * Makes the table match CFG: new entries get new slots, removed ones lose
 * their region (flushed and closed). An entry that maps something else now
 * (its path, offset, length or anonymous changed, or its path names
 * another file) is removed and added again in a new slot: new inode
 * numbers, so that nothing opened before reaches the new file. An entry
 * whose other keys changed keeps its slot and region and takes them in
 * place (region_retune, region_views_apply): cow/NAME keeps its written
 * pages while cow stays listed; other views drop the instances.
 * All or nothing: everything that can fail (the new regions, what new
 * views need, the new slots and their names, the name index) is made
 * first, the slots whose views change held exclusive from then until
 * their change (table_get waits meanwhile); if one cannot be,
 * nothing changes and ERRS says why, one line per reason (returns -1).
 * After the first change nothing can fail. On success
 * (0), CHANGES lists every slot touched; free it with table_changes_free().
 * Reloads must not run concurrently with each other (one thread does them);
 * requests may.
 */
int table_reload(struct table *t, const struct config *cfg,
		 struct table_changes *changes, struct errors *errs);
void table_changes_free(struct table_changes *changes);

#endif
