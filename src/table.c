/*
 * table.c - the mount's entries and their reloading (table.h).
 *
 * Slots live in a stable array (stable.h): requests find a slot by number
 * without any lock while a reload appends new ones. The name index (live
 * slots sorted by name) is rebuilt by each reload under its own lock,
 * which only lookups and listings take.
 */
#include "table.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stable.h"
#include "thread.h"

struct slot {
	char *name;
	struct region *region;	/* NULL once the entry is removed */
	/* Shared: in use; exclusive: being swapped. The first lock a request
	 * takes (then the region's, then its error mutex). */
	pthread_rwlock_t life;
};

struct table {
	struct stable_array slots;
	_Atomic size_t n_slots;
	pthread_rwlock_t names_lock;
	size_t *by_name;	/* live slot numbers in name order */
	size_t n_live;
};

static struct slot *slot_at(const struct table *t, size_t n)
{
	return stable_peek(&t->slots, n);
}

/* Fills slot N, made beforehand with stable_at(), and publishes it. Takes
 * NAME (an allocated copy); cannot fail. */
static size_t publish_slot(struct table *t, size_t n, char *name, struct region *region)
{
	struct slot *s = slot_at(t, n);

	s->name = name;
	s->region = region;
	rwlock_init_writer_first(&s->life);
	atomic_store(&t->n_slots, n + 1);	/* published last: the slot is ready */
	return n;
}

/* Appends a slot for REGION; returns its number, or -1 when full. */
static long add_slot(struct table *t, const char *name, struct region *region)
{
	size_t n = t->n_slots;
	char *copy;

	if (!stable_at(&t->slots, n) || !(copy = strdup(name)))
		return -1;
	return (long)publish_slot(t, n, copy, region);
}

static int compare_names(const void *a, const void *b, void *arg)
{
	const struct table *t = arg;

	return strcmp(slot_at(t, *(const size_t *)a)->name,
		      slot_at(t, *(const size_t *)b)->name);
}

/* Rebuilds the name index from the live slots into BY_NAME (room for
 * every slot; the table takes it); caller holds names_lock. */
static void index_names_into(struct table *t, size_t *by_name)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_slots; i++)
		if (slot_at(t, i)->region)
			by_name[n++] = i;
	qsort_r(by_name, n, sizeof(*by_name), compare_names, t);
	free(t->by_name);
	t->by_name = by_name;
	t->n_live = n;
}

static int index_names(struct table *t)
{
	size_t *by_name = calloc(t->n_slots + 1, sizeof(*by_name));

	if (!by_name)
		return -1;
	index_names_into(t, by_name);
	return 0;
}

/* Opens E's region; on failure adds "WHERE: [NAME] reason" to ERRS. */
static struct region *open_region(const struct config *cfg,
				  const struct config_entry *e, struct errors *errs)
{
	struct region *r;
	char why[REASON_MAX], where[REASON_MAX];

	if (region_open(&e->entry, &r, why, sizeof(why)) == 0)
		return r;
	config_where(cfg, e, where, sizeof(where));
	errors_add(errs, "%s: [%s] %s", where, e->entry.name, why);
	return NULL;
}

struct table *table_new(const struct config *cfg, struct errors *errs)
{
	struct table *t = calloc(1, sizeof(*t));
	size_t before = errs->count;

	if (!t)
		return NULL;
	stable_init(&t->slots, sizeof(struct slot));
	pthread_rwlock_init(&t->names_lock, NULL);
	for (size_t i = 0; i < cfg->n_entries; i++) {
		struct region *r = open_region(cfg, &cfg->entries[i], errs);

		if (r && add_slot(t, cfg->entries[i].entry.name, r) < 0) {
			errors_add(errs, "too many entries");
			region_close(r);
			break;
		}
	}
	if (errs->count != before || index_names(t) < 0) {
		table_free(t);
		return NULL;
	}
	return t;
}

int table_free(struct table *t)
{
	int err = 0;

	for (size_t i = 0; i < t->n_slots; i++) {
		struct slot *s = slot_at(t, i);
		int e = s->region ? region_close(s->region) : 0;

		err = err ? err : e;
		pthread_rwlock_destroy(&s->life);
		free(s->name);
	}
	stable_free(&t->slots);
	pthread_rwlock_destroy(&t->names_lock);
	free(t->by_name);
	free(t);
	return err;
}

size_t table_slots(const struct table *t)
{
	return atomic_load(&t->n_slots);
}

struct region *table_get(struct table *t, size_t slot)
{
	struct slot *s;

	if (slot >= table_slots(t))
		return NULL;
	s = slot_at(t, slot);
	pthread_rwlock_rdlock(&s->life);
	if (!s->region)
		pthread_rwlock_unlock(&s->life);
	return s->region;
}

void table_put(struct table *t, size_t slot)
{
	pthread_rwlock_unlock(&slot_at(t, slot)->life);
}

const char *table_name(const struct table *t, size_t slot)
{
	return slot_at(t, slot)->name;
}

long table_find(struct table *t, const char *name)
{
	size_t lo = 0, hi;
	long slot = -1;

	pthread_rwlock_rdlock(&t->names_lock);
	for (hi = t->n_live; lo < hi && slot < 0;) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, slot_at(t, t->by_name[mid])->name);

		if (c == 0)
			slot = (long)t->by_name[mid];
		else if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	pthread_rwlock_unlock(&t->names_lock);
	return slot;
}

long table_nth(struct table *t, size_t index)
{
	long slot;

	pthread_rwlock_rdlock(&t->names_lock);
	slot = index < t->n_live ? (long)t->by_name[index] : -1;
	pthread_rwlock_unlock(&t->names_lock);
	return slot;
}

void table_each(struct table *t, void (*fn)(size_t slot, struct region *r, void *arg),
		void *arg)
{
	for (size_t slot = 0; slot < table_slots(t); slot++) {
		struct region *r = table_get(t, slot);

		if (r) {
			fn(slot, r, arg);
			table_put(t, slot);
		}
	}
}

struct totals {
	size_t entries;
	uint64_t bytes;
};

static void add_to_totals(size_t slot, struct region *r, void *arg)
{
	struct totals *t = arg;

	(void)slot;
	t->entries++;
	t->bytes += region_view_size(r, VIEW_RW);
}

void table_totals(struct table *t, size_t *entries, uint64_t *bytes)
{
	struct totals sum = { 0 };

	table_each(t, add_to_totals, &sum);
	*entries = sum.entries;
	*bytes = sum.bytes;
}

/* ---- reloading ---- */

/* What a reload does for an entry of the new config: for a new slot, its
 * region, number and name, made beforehand; for a slot it keeps, the
 * settings and views it takes in place. */
struct plan {
	long slot;		/* -1: a new slot */
	long replaces;		/* the slot a remapped entry leaves, or -1 */
	bool retune;		/* same bytes, other keys: changed in place */
	/* What other views need (region_views_prepare), or NULL; while
	 * set, the reload holds the slot exclusive. */
	struct region_views *views;
	struct region *region;	/* the new slot's, where slot is -1 */
	size_t new_slot;	/* where slot is -1 */
	char *name;		/* the new slot's name, where slot is -1 */
};

/* Records a change in C's list, made beforehand with room for every
 * change a reload can make: cannot fail. */
static void note_change(struct table_changes *c, size_t slot, unsigned before,
			unsigned after)
{
	c->list[c->count++] = (struct table_change){ slot, before, after };
	if (!before)
		c->added++;
	else if (!after)
		c->removed++;
	else
		c->changed++;
}

/* The config entry named NAME, or NULL. */
static const struct config_entry *config_entry_named(const struct config *cfg,
						     const char *name)
{
	for (size_t i = 0; i < cfg->n_entries; i++)
		if (strcmp(cfg->entries[i].entry.name, name) == 0)
			return &cfg->entries[i];
	return NULL;
}

/* Whether a region now mapping OLD maps what E says: the same bytes of the
 * same file (a file replaced under the same path is another). */
static bool maps_the_same(const struct region *old, const struct entry *e)
{
	return entry_same_mapping(region_entry(old), e) && region_file_is_current(old);
}

bool table_reload_takes_away(struct table *t, size_t slot, const struct config *cfg)
{
	struct region *r = table_get(t, slot);
	const struct config_entry *e;
	bool remaps;

	if (!r)
		return false;
	e = config_entry_named(cfg, table_name(t, slot));
	remaps = !e || !maps_the_same(r, &e->entry) ||
		 (region_entry(r)->views & ~e->entry.views);
	table_put(t, slot);
	return remaps;
}

/* Undoes PLAN's preparations of views, letting their slots go. */
static void cancel_views(struct table *t, const struct config *cfg, struct plan *plan)
{
	for (size_t i = 0; i < cfg->n_entries; i++)
		if (plan[i].views) {
			region_views_cancel(plan[i].views);
			plan[i].views = NULL;
			pthread_rwlock_unlock(&slot_at(t, (size_t)plan[i].slot)->life);
		}
}

/* Makes what the entries changed in place need for their new views, each
 * with its slot held exclusive from now until the swap: the mappings are
 * made at the region's size, which no request may change meanwhile.
 * False (all undone) if one cannot be made. */
static bool prepare_views(struct table *t, const struct config *cfg, struct plan *plan,
			  struct errors *errs)
{
	size_t before = errs->count;

	for (size_t i = 0; i < cfg->n_entries; i++) {
		const struct config_entry *e = &cfg->entries[i];
		struct slot *s = plan[i].retune ? slot_at(t, (size_t)plan[i].slot) : NULL;
		char why[REASON_MAX], where[REASON_MAX];

		if (!s || region_entry(s->region)->views == e->entry.views)
			continue;
		pthread_rwlock_wrlock(&s->life);
		if (region_views_prepare(s->region, e->entry.views, &plan[i].views, why,
					 sizeof(why)) == 0)
			continue;
		pthread_rwlock_unlock(&s->life);
		config_where(cfg, e, where, sizeof(where));
		errors_add(errs, "%s: [%s] views not changed: %s", where, e->entry.name, why);
	}
	if (errs->count == before)
		return true;
	cancel_views(t, cfg, plan);
	return false;
}

/* Opens the regions the new config needs, then prepares the new views of
 * the entries changed in place; false (all undone) if one cannot be. An
 * entry that maps something else now (path, offset, length, anonymous, or
 * the file under its path) gets a new slot, and so new inode numbers:
 * what was opened before must never reach the new file. One that maps
 * the same bytes keeps its slot and region (SPEC: its inode numbers, and
 * cow/NAME's written pages while cow stays listed). */
static bool prepare(struct table *t, const struct config *cfg, struct plan *plan,
		    struct errors *errs)
{
	size_t before = errs->count;

	for (size_t i = 0; i < cfg->n_entries; i++) {
		const struct config_entry *e = &cfg->entries[i];
		long slot = table_find(t, e->entry.name);
		struct slot *s = slot >= 0 ? slot_at(t, (size_t)slot) : NULL;

		plan[i].slot = slot;
		plan[i].replaces = -1;
		if (s && !maps_the_same(s->region, &e->entry)) {
			plan[i].slot = -1;
			plan[i].replaces = slot;
		}
		if (plan[i].slot < 0)
			plan[i].region = open_region(cfg, e, errs);
		else
			plan[i].retune = !entry_same(region_entry(s->region), &e->entry);
	}
	/* Views last: their slots are held from then on. */
	if (errs->count == before && prepare_views(t, cfg, plan, errs))
		return true;
	for (size_t i = 0; i < cfg->n_entries; i++)
		if (plan[i].region)
			region_close(plan[i].region);
	return false;
}

/* Makes the slots and name copies of the new entries, before anything
 * changes; false (with the reasons in ERRS) if one cannot be made. The
 * slots made stay unpublished (and zeroed) until used. */
static bool reserve_slots(struct table *t, const struct config *cfg, struct plan *plan,
			  struct errors *errs)
{
	size_t before = errs->count, next = t->n_slots;

	for (size_t i = 0; i < cfg->n_entries; i++) {
		const struct config_entry *e = &cfg->entries[i];
		const char *why = NULL;

		if (plan[i].slot >= 0)
			continue;
		if (next / STABLE_CHUNK_ELEMS >= STABLE_CHUNKS)
			why = "too many entries";
		else if (!stable_at(&t->slots, next) || !(plan[i].name = strdup(e->entry.name)))
			why = "out of memory";
		if (why) {
			char where[REASON_MAX];

			config_where(cfg, e, where, sizeof(where));
			errors_add(errs, "%s: [%s] not added: %s", where, e->entry.name, why);
		}
		plan[i].new_slot = next++;
	}
	return errs->count == before;
}

/* A remapped entry was noted as removed from one slot and added in
 * another: to the user it is one entry that changed. */
static void count_remaps_as_changes(const struct config *cfg, const struct plan *plan,
				    struct table_changes *changes)
{
	for (size_t i = 0; i < cfg->n_entries; i++)
		if (plan[i].replaces >= 0) {
			changes->added--;
			changes->removed--;
			changes->changed++;
		}
}

/* Takes SLOT's region away (into CLOSING), once no request uses it. */
static void take_away(struct table *t, size_t slot, struct table_changes *changes,
		      struct region **closing, size_t *n_closing)
{
	struct slot *s = slot_at(t, slot);

	note_change(changes, slot, region_entry(s->region)->views, 0);
	pthread_rwlock_wrlock(&s->life);
	closing[(*n_closing)++] = s->region;
	s->region = NULL;
	pthread_rwlock_unlock(&s->life);
}

/* Puts PLAN's new views and settings into the regions the slots keep;
 * the slots whose views change are held exclusive since prepare_views(),
 * and let go here. */
static void change_in_place(struct table *t, const struct config *cfg, struct plan *plan,
			    struct table_changes *changes)
{
	for (size_t i = 0; i < cfg->n_entries; i++) {
		struct slot *s = plan[i].retune ? slot_at(t, (size_t)plan[i].slot) : NULL;
		unsigned before;

		if (!s)
			continue;
		before = region_entry(s->region)->views;
		if (plan[i].views) {
			region_views_apply(s->region, plan[i].views);
			plan[i].views = NULL;
			pthread_rwlock_unlock(&s->life);
		}
		region_retune(s->region, &cfg->entries[i].entry);
		note_change(changes, (size_t)plan[i].slot, before, cfg->entries[i].entry.views);
	}
}

/* Under names_lock: remapped entries leave their old slots and every new
 * slot is published, then the index is rebuilt, all at once for lookups:
 * a remapped name never goes missing in between. */
static void publish_new_slots(struct table *t, const struct config *cfg,
			      const struct plan *plan, struct table_changes *changes,
			      struct region **closing, size_t *n_closing, size_t *by_name)
{
	for (size_t i = 0; i < cfg->n_entries; i++)
		if (plan[i].replaces >= 0)
			take_away(t, (size_t)plan[i].replaces, changes, closing, n_closing);
	for (size_t i = 0; i < cfg->n_entries; i++) {
		if (plan[i].slot >= 0)
			continue;
		publish_slot(t, plan[i].new_slot, plan[i].name, plan[i].region);
		note_change(changes, plan[i].new_slot, 0, cfg->entries[i].entry.views);
	}
	index_names_into(t, by_name);
}

/* Undoes what a refused reload made: PLAN's regions, views and names. */
static void drop_plan(struct table *t, const struct config *cfg, struct plan *plan)
{
	cancel_views(t, cfg, plan);
	for (size_t i = 0; i < cfg->n_entries; i++) {
		if (plan[i].region)
			region_close(plan[i].region);
		free(plan[i].name);
	}
}

/*
 * All or nothing: everything that can fail (the new regions, what new
 * views need, the new slots and their names, the name index, the lists)
 * is made before the first swap, and after it nothing can fail.
 */
int table_reload(struct table *t, const struct config *cfg,
		 struct table_changes *changes, struct errors *errs)
{
	size_t n_old = t->n_slots, most = n_old + cfg->n_entries + 1;
	struct plan *plan = calloc(cfg->n_entries + 1, sizeof(*plan));
	struct region **closing = calloc(n_old + 1, sizeof(*closing));
	size_t *by_name = calloc(most, sizeof(*by_name)), n_closing = 0;

	memset(changes, 0, sizeof(*changes));
	changes->list = calloc(most, sizeof(*changes->list));
	if (!plan || !closing || !by_name || !changes->list) {
		errors_add(errs, "out of memory");
		goto refuse;
	}
	if (!prepare(t, cfg, plan, errs))
		goto refuse;
	if (!reserve_slots(t, cfg, plan, errs)) {
		drop_plan(t, cfg, plan);
		goto refuse;
	}
	/* Removals and changes in place first: each waits for the requests
	 * using its slot, and no lookup should wait with them. A removed
	 * name stays indexed until the index is rebuilt below; meanwhile its
	 * slot answers ESTALE. */
	for (size_t i = 0; i < n_old; i++)
		if (slot_at(t, i)->region && !config_entry_named(cfg, slot_at(t, i)->name))
			take_away(t, i, changes, closing, &n_closing);
	change_in_place(t, cfg, plan, changes);
	pthread_rwlock_wrlock(&t->names_lock);
	publish_new_slots(t, cfg, plan, changes, closing, &n_closing, by_name);
	pthread_rwlock_unlock(&t->names_lock);
	count_remaps_as_changes(cfg, plan, changes);
	if (!changes->count)
		table_changes_free(changes);	/* no list where nothing changed */
	for (size_t i = 0; i < n_closing; i++)
		region_close(closing[i]);
	free(closing);
	free(plan);
	return 0;
refuse:
	free(plan);
	free(closing);
	free(by_name);
	table_changes_free(changes);
	return -1;
}

void table_changes_free(struct table_changes *changes)
{
	free(changes->list);
	memset(changes, 0, sizeof(*changes));
}
