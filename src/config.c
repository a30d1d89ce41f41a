/*
 * config.c - INI config loading and checking (SPEC "Config").
 *
 * inih parses the key = value lines. Two things inih does not give us are
 * done by our own line reader, which inih calls once per line: line numbers
 * (Debian builds inih without INI_HANDLER_LINENO) and section headers (inih
 * truncates section names to 49 bytes and reports no empty sections). The
 * reader therefore opens a new entry at each header and the handler files
 * keys into the entry that the reader opened last.
 */
#include "config.h"
#include "size.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <syslog.h>
#include <unistd.h>

#define NAME_MAX_BYTES 255
#define LINE_MAX_BYTES 65536

struct parser {
	struct config *cfg;
	struct errors *errs;
	FILE *fp;
	char *dir;		/* the folder relative paths start at, absolute */
	const char *map_arg;	/* the --map argument being read, or NULL */
	int lineno;		/* for a --map argument, the item's place in it */
	bool at_line_start;
	int log_level_line, flush_interval_line, cow_limit_line;
	/* The mount the config is for (struct config_mount): */
	const char *mount_point;	/* as given, for messages; NULL: no check */
	char *mount_real;	/* not yet mounted: the point resolved, or NULL */
	bool mount_dev_known;	/* serving: the mount's device, from mountinfo */
	dev_t mount_dev;
};

static const struct {
	const char *word;
	int level;
} log_level_words[] = {
	{ "error", LOG_ERR },
	{ "warn", LOG_WARNING },
	{ "info", LOG_INFO },
	{ "debug", LOG_DEBUG },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* "FILE:LINE: [NAME] message" for an entry, "FILE:LINE: message" if E is NULL. */
static void __attribute__((format(printf, 4, 5)))
report(struct parser *p, const struct config_entry *e, int line,
       const char *fmt, ...)
{
	char *msg;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (e && e->map_arg)
		errors_add(p->errs, "--map '%s': [%s] %s", e->map_arg, e->entry.name, msg);
	else if (e)
		errors_add(p->errs, "%s:%d: [%s] %s", p->cfg->file, line, e->entry.name, msg);
	else if (p->map_arg)
		errors_add(p->errs, "--map '%s': %s", p->map_arg, msg);
	else
		errors_add(p->errs, "%s:%d: %s", p->cfg->file, line, msg);
	free(msg);
}

static int max_line(int a, int b)
{
	return a > b ? a : b;
}

static char *xstrdup(const char *s)
{
	char *copy = strdup(s);

	if (!copy)
		abort();
	return copy;
}

/* ---- section headers, seen by the line reader ---- */

static void open_entry(struct parser *p, const char *name, size_t len)
{
	struct config *cfg = p->cfg;
	struct config_entry *e;

	e = realloc(cfg->entries, (cfg->n_entries + 1) * sizeof(*e));
	if (!e)
		abort();
	cfg->entries = e;
	e = &cfg->entries[cfg->n_entries++];
	memset(e, 0, sizeof(*e));
	e->entry.name = strndup(name, len);
	if (!e->entry.name)
		abort();
	e->entry.resizable = true;
	e->entry.views = VIEW_ALL;
	e->entry.advice = MADV_NORMAL;
	e->line.header = p->lineno;
	e->map_arg = p->map_arg ? xstrdup(p->map_arg) : NULL;
}

static struct config_entry *current_entry(struct parser *p)
{
	size_t n = p->cfg->n_entries;

	return n ? &p->cfg->entries[n - 1] : NULL;
}

/* Mirrors inih's line classes, so that every bad line is reported, not just
 * the first one inih's return value names. */
static void inspect_line(struct parser *p, char *line)
{
	char *s = line;

	if (p->lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0' || *s == ';' || *s == '#')
		return;
	if (*s == '[') {
		const char *end = strchr(s + 1, ']'), *rest;

		if (!end) {
			report(p, NULL, p->lineno, "section header has no closing ']'");
			return;
		}
		open_entry(p, s + 1, (size_t)(end - s - 1));
		for (rest = end + 1; isspace((unsigned char)*rest); rest++)
			;
		if (*rest && *rest != ';' && *rest != '#')
			report(p, current_entry(p), p->lineno,
			       "text after the section header's ']': '%.*s'",
			       (int)strcspn(rest, "\r\n"), rest);
		return;
	}
	if (!strpbrk(s, "=:"))
		report(p, NULL, p->lineno, "expected 'key = value', a [section] or a comment");
}

/* An fgets for inih that counts lines and spots section headers. inih's
 * buffer starts as large as a line may be, so each call sees a whole line. */
static char *read_line(char *buf, int size, void *stream)
{
	struct parser *p = stream;
	size_t n;

	if (!fgets(buf, size, p->fp))
		return NULL;
	n = strlen(buf);
	if (p->at_line_start) {
		p->lineno++;
		if (n == (size_t)size - 1 && buf[n - 1] != '\n')
			report(p, NULL, p->lineno, "line is longer than %d bytes", size - 2);
		else
			inspect_line(p, buf);
	}
	p->at_line_start = n > 0 && buf[n - 1] == '\n';
	return buf;
}

/* ---- values ---- */

static bool parse_yes_no(const char *value, bool *out)
{
	if (strcasecmp(value, "yes") == 0)
		*out = true;
	else if (strcasecmp(value, "no") == 0)
		*out = false;
	else
		return false;
	return true;
}

static bool parse_views(const char *value, unsigned *out)
{
	char *copy = xstrdup(value), *save = NULL, *tok;
	unsigned views = 0;
	bool ok = true;

	for (tok = strtok_r(copy, ", \t", &save); tok && ok;
	     tok = strtok_r(NULL, ", \t", &save)) {
		unsigned view = view_by_name(tok, strlen(tok));

		views |= view;
		ok = view != 0;
	}
	free(copy);
	*out = views;
	return ok && views != 0;
}

static bool parse_seconds(const char *value, unsigned *out)
{
	unsigned long v = 0;

	if (!*value)
		return false;
	for (const char *c = value; *c; c++) {
		if (!isdigit((unsigned char)*c))
			return false;
		v = v * 10 + (unsigned long)(*c - '0');
		if (v > UINT_MAX)
			return false;
	}
	*out = (unsigned)v;
	return true;
}

/* Records that KEY was given on this line; false if it was given before. */
static bool first_time(struct parser *p, const struct config_entry *e,
		       const char *key, int *line)
{
	if (*line && p->map_arg) {
		report(p, e, p->lineno, "key '%s' given twice", key);
		return false;
	}
	if (*line) {
		report(p, e, p->lineno, "key '%s' given twice (first on line %d)",
		       key, *line);
		return false;
	}
	*line = p->lineno;
	return true;
}

static void set_size(struct parser *p, struct config_entry *e, const char *key,
		     const char *value, uint64_t *out);

static void set_global(struct parser *p, const char *key, const char *value)
{
	struct config *cfg = p->cfg;

	if (strcasecmp(key, "log_level") == 0) {
		if (!first_time(p, NULL, "log_level", &p->log_level_line))
			return;
		for (size_t i = 0; i < COUNT(log_level_words); i++)
			if (strcasecmp(value, log_level_words[i].word) == 0) {
				cfg->log_level = log_level_words[i].level;
				return;
			}
		report(p, NULL, p->lineno,
		       "log_level '%s' is not one of error, warn, info, debug", value);
	} else if (strcasecmp(key, "flush_interval") == 0) {
		if (!first_time(p, NULL, "flush_interval", &p->flush_interval_line))
			return;
		if (!parse_seconds(value, &cfg->flush_interval))
			report(p, NULL, p->lineno,
			       "flush_interval '%s' is not a whole number of seconds", value);
	} else if (strcasecmp(key, "cow_limit") == 0) {
		if (first_time(p, NULL, "cow_limit", &p->cow_limit_line))
			set_size(p, NULL, "cow_limit", value, &cfg->cow_limit);
	} else {
		report(p, NULL, p->lineno, "unknown global key '%s' (global keys are "
		       "log_level, flush_interval, cow_limit)", key);
	}
}

static void set_size(struct parser *p, struct config_entry *e, const char *key,
		     const char *value, uint64_t *out)
{
	int err = size_parse(value, out);

	if (err == ERANGE)
		report(p, e, p->lineno, "%s '%s' is too large", key, value);
	else if (err)
		report(p, e, p->lineno,
		       "%s '%s' is not a size (decimal, 0x hex, optional K/M/G/T suffix)",
		       key, value);
}

static void set_bool(struct parser *p, struct config_entry *e, const char *key,
		     const char *value, bool *out)
{
	if (!parse_yes_no(value, out))
		report(p, e, p->lineno, "%s '%s' is not yes or no", key, value);
}

static void set_path(struct parser *p, struct config_entry *e, const char *value)
{
	if (!*value) {
		report(p, e, p->lineno, "path is empty");
		return;
	}
	if (value[0] == '/') {
		e->entry.path = xstrdup(value);
	} else if (asprintf(&e->entry.path, "%s/%s", p->dir, value) < 0) {
		abort();
	}
}

static void set_advice(struct parser *p, struct config_entry *e, const char *value)
{
	int advice = entry_advice_by_name(value);

	if (advice >= 0) {
		e->entry.advice = advice;
		return;
	}
	report(p, e, p->lineno,
	       "advice '%s' is not one of normal, sequential, random, willneed, hugepage",
	       value);
}

static void set_entry_key(struct parser *p, struct config_entry *e,
			  const char *key, const char *value)
{
	struct entry_lines *l = &e->line;

	if (strcasecmp(key, "path") == 0) {
		if (first_time(p, e, "path", &l->path))
			set_path(p, e, value);
	} else if (strcasecmp(key, "anonymous") == 0) {
		if (first_time(p, e, "anonymous", &l->anonymous))
			set_bool(p, e, "anonymous", value, &e->entry.anonymous);
	} else if (strcasecmp(key, "offset") == 0) {
		if (first_time(p, e, "offset", &l->offset))
			set_size(p, e, "offset", value, &e->entry.offset);
	} else if (strcasecmp(key, "length") == 0) {
		if (first_time(p, e, "length", &l->length))
			set_size(p, e, "length", value, &e->entry.length);
	} else if (strcasecmp(key, "create") == 0) {
		if (first_time(p, e, "create", &l->create))
			set_bool(p, e, "create", value, &e->entry.create);
	} else if (strcasecmp(key, "resizable") == 0) {
		if (first_time(p, e, "resizable", &l->resizable))
			set_bool(p, e, "resizable", value, &e->entry.resizable);
	} else if (strcasecmp(key, "views") == 0) {
		if (first_time(p, e, "views", &l->views) &&
		    !parse_views(value, &e->entry.views))
			report(p, e, p->lineno,
			       "views '%s' must list one or more of ro, rw, cow", value);
	} else if (strcasecmp(key, "advice") == 0) {
		if (first_time(p, e, "advice", &l->advice))
			set_advice(p, e, value);
	} else {
		report(p, e, p->lineno,
		       "unknown key '%s' (entry keys are path, anonymous, offset, length, "
		       "create, views, resizable, advice)", key);
	}
}

static int on_key(void *user, const char *section, const char *key,
		  const char *value)
{
	struct parser *p = user;
	struct config_entry *e = current_entry(p);

	(void)section;	/* inih's copy is truncated; the reader tracks ours */
	if (e)
		set_entry_key(p, e, key, value);
	else
		set_global(p, key, value);
	return 1;
}

/* ---- rules between keys, and the backing file ---- */

static bool check_name(struct parser *p, const struct config_entry *e)
{
	const char *why = NULL;

	if (e->entry.name[0] == '\0')
		why = "section name is empty";
	else if (strcmp(e->entry.name, ".") == 0 || strcmp(e->entry.name, "..") == 0)
		why = "section name cannot be '.' or '..'";
	else if (strchr(e->entry.name, '/'))
		why = "section name cannot hold '/'";
	else if (strchr(e->entry.name, '@'))
		why = "section name cannot hold '@', which names cow instances";
	else if (strlen(e->entry.name) > NAME_MAX_BYTES)
		why = "section name is over 255 bytes";
	if (why)
		report(p, e, e->line.header, "%s", why);
	return why == NULL;
}

/* Rules that need no file; false if the entry cannot be checked further. */
static bool check_keys(struct parser *p, struct config_entry *e)
{
	const struct entry_lines *l = &e->line;
	long page = sysconf(_SC_PAGESIZE);
	size_t before = p->errs->count;

	if (e->entry.anonymous && e->entry.path)
		report(p, e, max_line(l->path, l->anonymous),
		       "path cannot go with 'anonymous = yes'");
	if (!e->entry.anonymous && !e->entry.path && !l->path)
		report(p, e, l->header, "no path (give 'path = FILE' or 'anonymous = yes')");
	if (e->entry.anonymous && !l->length)
		report(p, e, l->header, "an anonymous entry needs a length");
	if (e->entry.anonymous && e->entry.offset)
		report(p, e, max_line(l->offset, l->anonymous),
		       "an anonymous entry has no file to take an offset in");
	if (e->entry.anonymous && e->entry.create)
		report(p, e, max_line(l->create, l->anonymous),
		       "an anonymous entry has no file to create");
	if (e->entry.create && !l->length)
		report(p, e, l->header, "'create = yes' needs a length");
	if (e->entry.offset % (uint64_t)page)
		report(p, e, l->offset,
		       "offset %llu is not a multiple of the page size (%ld)",
		       (unsigned long long)e->entry.offset, page);
	if (e->entry.offset + e->entry.length < e->entry.offset || e->entry.offset + e->entry.length > INT64_MAX)
		report(p, e, max_line(l->offset, l->length),
		       "offset + length is past the largest file size");
	return p->errs->count == before;
}

/* ---- the mount's own files ---- */

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape_mountinfo(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* The device of the mount on POINT, from /proc/self/mountinfo: the last
 * one listed there, on top of any below it, which is what paths under
 * POINT reach (while we serve, ours); false if nothing is mounted there. */
static bool mount_device(const char *point, dev_t *dev)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	bool found = false;

	while (f && getline(&line, &cap, f) > 0) {
		unsigned major, minor;
		int at = 0;
		char *where;

		if (sscanf(line, "%*s %*s %u:%u %*s %n", &major, &minor, &at) != 2 || !at)
			continue;
		where = line + at;
		where[strcspn(where, " ")] = '\0';
		unescape_mountinfo(where);
		if (strcmp(where, point) == 0) {
			*dev = makedev(major, minor);
			found = true;
		}
	}
	free(line);
	if (f)
		fclose(f);
	return found;
}

/* Sets up the checks against MOUNT (see struct config_mount). */
static void mount_setup(struct parser *p, const struct config_mount *mount)
{
	if (!mount || !mount->point)
		return;
	p->mount_point = mount->point;
	if (mount->serving)
		p->mount_dev_known = mount_device(mount->point, &p->mount_dev);
	else
		p->mount_real = realpath(mount->point, NULL);	/* NULL: reported later */
}

/* Whether PATH (whose stat is ST) is on the mount the config is for. */
static bool on_the_mount(const struct parser *p, const char *path, const struct stat *st)
{
	size_t len;
	char *real;
	bool under;

	if (p->mount_dev_known)
		return st->st_dev == p->mount_dev;
	if (!p->mount_real || !(real = realpath(path, NULL)))
		return false;
	len = strlen(p->mount_real);
	under = strncmp(real, p->mount_real, len) == 0 &&
		(real[len] == '/' || real[len] == '\0' || p->mount_real[len - 1] == '/');
	free(real);
	return under;
}

static void report_on_the_mount(struct parser *p, const struct config_entry *e,
				const char *path)
{
	report(p, e, e->line.path,
	       "%s is on the mount itself (%s), which would serve itself: "
	       "keep backing files outside the mount point", path, p->mount_point);
}

static void check_access(struct parser *p, const struct config_entry *e)
{
	int fd = open(e->entry.path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		report(p, e, e->line.path, "cannot read %s: %s", e->entry.path, strerror(errno));
		return;
	}
	close(fd);
	if (!(e->entry.views & VIEW_RW))
		return;
	fd = open(e->entry.path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		report(p, e, e->line.header,
		       "the rw view needs %s writable: %s (list only 'views = ro, cow')",
		       e->entry.path, strerror(errno));
		return;
	}
	close(fd);
}

/* A file to create needs a folder it can be created in. */
static void check_creatable(struct parser *p, const struct config_entry *e)
{
	char *dir = xstrdup(e->entry.path), *slash = strrchr(dir, '/');
	struct stat st;

	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	if (stat(dir, &st) == 0 && on_the_mount(p, dir, &st))
		report_on_the_mount(p, e, e->entry.path);
	else if (access(dir, W_OK | X_OK) < 0)
		report(p, e, e->line.header, "cannot create %s: %s", e->entry.path, strerror(errno));
	free(dir);
}

static void check_file(struct parser *p, struct config_entry *e)
{
	const struct entry_lines *l = &e->line;
	struct stat st;
	uint64_t end = e->entry.offset + e->entry.length;

	if (stat(e->entry.path, &st) < 0) {
		if (errno == ENOENT && e->entry.create) {
			check_creatable(p, e);	/* created when mounted */
			return;
		}
		report(p, e, l->path, "%s: %s%s", e->entry.path, strerror(errno),
		       errno == ENOENT ? " (add 'create = yes' to create it)" : "");
		return;
	}
	if (on_the_mount(p, e->entry.path, &st)) {
		report_on_the_mount(p, e, e->entry.path);
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		report(p, e, l->path, "%s is not a regular file", e->entry.path);
		return;
	}
	if (e->entry.offset > (uint64_t)st.st_size)
		report(p, e, l->offset, "offset %llu is past the end of %s (%lld bytes)",
		       (unsigned long long)e->entry.offset, e->entry.path, (long long)st.st_size);
	else if (end > (uint64_t)st.st_size)
		report(p, e, max_line(l->offset, l->length),
		       "offset + length (%llu) is past the end of %s (%lld bytes)",
		       (unsigned long long)end, e->entry.path, (long long)st.st_size);
	else
		check_access(p, e);
}

static int compare_entry_names(const void *a, const void *b)
{
	const struct config_entry *x = *(const struct config_entry *const *)a;
	const struct config_entry *y = *(const struct config_entry *const *)b;
	int c = strcmp(x->entry.name, y->entry.name);

	return c ? c : (x > y) - (x < y);	/* ties: in the order given */
}

/* Sections named twice: sort by name, then neighbours tell. */
static void check_unique_names(struct parser *p)
{
	struct config *cfg = p->cfg;
	struct config_entry **sorted;

	if (cfg->n_entries < 2)
		return;
	sorted = calloc(cfg->n_entries, sizeof(*sorted));
	if (!sorted)
		abort();
	for (size_t i = 0; i < cfg->n_entries; i++)
		sorted[i] = &cfg->entries[i];
	qsort(sorted, cfg->n_entries, sizeof(*sorted), compare_entry_names);
	for (size_t i = 1; i < cfg->n_entries; i++) {
		size_t first = i - 1;

		while (first > 0 && strcmp(sorted[first - 1]->entry.name, sorted[i]->entry.name) == 0)
			first--;
		if (strcmp(sorted[first]->entry.name, sorted[i]->entry.name) != 0)
			continue;
		if (!sorted[first]->map_arg && !sorted[i]->map_arg) {
			report(p, sorted[i], sorted[i]->line.header,
			       "section named twice (first on line %d)",
			       sorted[first]->line.header);
		} else {
			char where[REASON_MAX];

			config_where(p->cfg, sorted[first], where, sizeof(where));
			report(p, sorted[i], sorted[i]->line.header,
			       "name given twice (first at %s)", where);
		}
	}
	free(sorted);
}

/* The config file's folder, absolute, for relative paths. */
static char *config_dir(const char *file)
{
	char *copy = xstrdup(file), *slash = strrchr(copy, '/'), *dir;

	if (slash == copy)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	dir = realpath(slash ? copy : ".", NULL);
	free(copy);
	return dir;
}

static int parse_file(struct parser *p, const char *file)
{
	int rc;

	p->fp = fopen(file, "re");
	if (!p->fp) {
		errors_add(p->errs, "%s: cannot read the config: %s", file, strerror(errno));
		return -1;
	}
	p->dir = config_dir(file);
	if (!p->dir) {
		errors_add(p->errs, "%s: cannot resolve its folder: %s", file, strerror(errno));
		fclose(p->fp);
		return -1;
	}
	ini_use_stack = false;
	ini_allow_realloc = false;
	ini_initial_alloc = ini_max_line = LINE_MAX_BYTES;
	ini_allow_multiline = false;
	rc = ini_parse_stream(read_line, p, on_key, p);
	fclose(p->fp);
	free(p->dir);
	p->dir = NULL;
	if (rc < 0) {
		errors_add(p->errs, "%s: out of memory while parsing", file);
		return -1;
	}
	return 0;
}

/* The items after *I that name views join the list of "views=FIRST":
 * "--map d=f.bin,views=ro,cow" lists two views, as a view list inside
 * --map has no other reading. Returns the list, joined by commas, and
 * moves *I to its last item. */
static char *map_view_list(const char *first, char *const *items, size_t n, size_t *i)
{
	char *list = xstrdup(first), *longer;
	unsigned views;

	while (*i + 1 < n && !strchr(items[*i + 1], '=') && parse_views(items[*i + 1], &views)) {
		if (asprintf(&longer, "%s,%s", list, items[++*i]) < 0)
			abort();
		free(list);
		list = longer;
	}
	return list;
}

/* The keys of a --map argument after NAME=PATH, as if from a file: one
 * "line" per item. */
static void set_map_keys(struct parser *p, char *const *items, size_t n)
{
	bool after_views = false;

	for (size_t i = 0; i < n; i++) {
		char *value = strchr(items[i], '='), *views;

		p->lineno++;
		if (!value) {
			report(p, current_entry(p), 0, "'%s' is not key=value%s", items[i],
			       after_views ? " nor a view (ro, rw, cow)" : "");
			after_views = false;
			continue;
		}
		*value++ = '\0';
		after_views = strcasecmp(items[i], "views") == 0;
		if (!after_views) {
			set_entry_key(p, current_entry(p), items[i], value);
			continue;
		}
		views = map_view_list(value, items, n, &i);
		set_entry_key(p, current_entry(p), "views", views);
		free(views);
	}
}

/* "NAME=PATH[,key=value...]": the entry, then its keys, as if from a file. */
static void parse_map(struct parser *p, const char *arg)
{
	char *copy = xstrdup(arg), *save = NULL, *item, *eq = strchr(copy, '=');
	char **items = NULL;
	size_t n = 0;

	p->map_arg = arg;
	p->lineno = 1;
	if (!eq || eq == copy) {
		report(p, NULL, 0, "expected NAME=PATH[,key=value...] or NAME=anonymous,length=SIZE");
		free(copy);
		p->map_arg = NULL;
		return;
	}
	open_entry(p, copy, (size_t)(eq - copy));
	item = strtok_r(eq + 1, ",", &save);
	if (item && strcmp(item, "anonymous") == 0)
		set_entry_key(p, current_entry(p), "anonymous", "yes");
	else if (item)
		set_entry_key(p, current_entry(p), "path", item);
	while ((item = strtok_r(NULL, ",", &save))) {
		char **more = realloc(items, (n + 1) * sizeof(*items));

		if (!more)
			abort();
		items = more;
		items[n++] = item;
	}
	set_map_keys(p, items, n);
	free(items);
	free(copy);
	p->map_arg = NULL;
}

/* cow_limit's default: half the machine's physical memory. */
static uint64_t half_the_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

	return pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page / 2 : 0;
}

int config_load(const char *file, struct config *cfg, struct errors *errs)
{
	return config_load_all(file, NULL, 0, NULL, NULL, cfg, errs);
}

int config_load_all(const char *file, char *const *maps, size_t n_maps,
		    const char *map_dir, const struct config_mount *mount,
		    struct config *cfg, struct errors *errs)
{
	struct parser p = { .cfg = cfg, .errs = errs, .at_line_start = true };
	size_t before = errs->count;

	memset(cfg, 0, sizeof(*cfg));
	cfg->file = file ? xstrdup(file) : NULL;
	cfg->log_level = LOG_INFO;
	cfg->cow_limit = half_the_memory();
	if (file && parse_file(&p, file) < 0)
		return -1;
	p.dir = n_maps ? realpath(map_dir ? map_dir : ".", NULL) : NULL;
	if (n_maps && !p.dir) {
		errors_add(errs, "cannot resolve the folder of --map paths: %s", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < n_maps; i++)
		parse_map(&p, maps[i]);
	free(p.dir);
	check_unique_names(&p);
	mount_setup(&p, mount);
	for (size_t i = 0; i < cfg->n_entries; i++) {
		struct config_entry *e = &cfg->entries[i];

		if (check_name(&p, e) && check_keys(&p, e) && e->entry.path)
			check_file(&p, e);
	}
	free(p.mount_real);
	return errs->count == before ? 0 : -1;
}

void config_where(const struct config *cfg, const struct config_entry *e,
		  char *buf, size_t buflen)
{
	if (e->map_arg)
		snprintf(buf, buflen, "--map '%s'", e->map_arg);
	else
		snprintf(buf, buflen, "%s:%d", cfg->file, e->line.header);
}

void config_free(struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_entries; i++) {
		free(cfg->entries[i].map_arg);
		free(cfg->entries[i].entry.name);
		free(cfg->entries[i].entry.path);
	}
	free(cfg->entries);
	free(cfg->file);
	memset(cfg, 0, sizeof(*cfg));
}
