/* ctl.c - control-file commands and status (ctl.h). */
#include "ctl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "instance.h"
#include "size.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22	/* Linux 5.14; older headers lack it */
#endif

#define MAX_FIELDS 4
#define TRIMMED " \t\r\n\v\f"

static const struct {
	const char *name;
	unsigned mode;
} files[CTL_FILES] = {
	[CTL_FLUSH] = { "flush", 0200 },
	[CTL_RESIZE] = { "resize", 0600 },
	[CTL_MOVE] = { "move", 0200 },
	[CTL_RESET] = { "reset", 0200 },
	[CTL_FORK] = { "fork", 0200 },
	[CTL_DROP] = { "drop", 0200 },
	[CTL_CHANGES] = { "changes", 0400 },
	[CTL_COMMIT] = { "commit", 0200 },
	[CTL_ADVISE] = { "advise", 0200 },
	[CTL_STATUS] = { "status", 0400 },
};

const char *ctl_file_name(enum ctl_file file)
{
	return files[file].name;
}

int ctl_file_by_name(const char *name)
{
	for (int f = 0; f < CTL_FILES; f++)
		if (strcmp(name, files[f].name) == 0)
			return f;
	return -1;
}

unsigned ctl_file_mode(enum ctl_file file)
{
	return files[file].mode;
}

bool ctl_file_of_entry(enum ctl_file file)
{
	return file != CTL_DROP;
}

bool ctl_file_of_instance(enum ctl_file file)
{
	switch (file) {
	case CTL_RESET:
	case CTL_FORK:
	case CTL_DROP:
	case CTL_CHANGES:
	case CTL_COMMIT:
	case CTL_STATUS:
		return true;
	default:
		return false;
	}
}

/* ---- parsing ---- */

struct fields {
	char text[CTL_MAX_COMMAND + 1];
	char *field[MAX_FIELDS];
	int count;
};

/* Splits TEXT into FIELDS; false with WHY if it is not plain ASCII fields. */
static bool split_fields(const char *text, size_t len, struct fields *f,
			 char *why, size_t whylen)
{
	char *p, *end;

	if (len > CTL_MAX_COMMAND) {
		snprintf(why, whylen, "command is %zu bytes, at most %d", len,
			 CTL_MAX_COMMAND);
		return false;
	}
	memcpy(f->text, text, len);
	f->text[len] = '\0';
	if (strlen(f->text) != len) {
		snprintf(why, whylen, "command holds a NUL byte");
		return false;
	}
	p = f->text + strspn(f->text, TRIMMED);
	for (end = p + strlen(p); end > p && strchr(TRIMMED, end[-1]); end--)
		;
	*end = '\0';
	for (f->count = 0; *p; f->count++) {
		if (f->count == MAX_FIELDS) {
			snprintf(why, whylen, "too many fields");
			return false;
		}
		f->field[f->count] = p;
		p += strcspn(p, " \t");
		if (*p)
			*p++ = '\0';
		p += strspn(p, " \t");
	}
	/* The reason names the byte, never echoes it: status stays text. */
	for (int i = 0; i < f->count; i++)
		for (const char *c = f->field[i]; *c; c++)
			if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e) {
				snprintf(why, whylen, "field %d holds byte 0x%02x, which is "
					 "not printable ASCII", i + 1, (unsigned char)*c);
				return false;
			}
	return true;
}

static bool parse_numbers(char *const *field, int count, uint64_t *out,
			  char *why, size_t whylen)
{
	for (int i = 0; i < count; i++) {
		int err = size_parse(field[i], &out[i]);

		if (err == ERANGE) {
			snprintf(why, whylen, "'%s' is past 2^64 - 1", field[i]);
			return false;
		}
		if (err) {
			snprintf(why, whylen, "'%s' is not a number (decimal or 0x hex, "
				 "optional K/M/G/T suffix)", field[i]);
			return false;
		}
	}
	return true;
}

static bool is_cow_keyword(const char *field)
{
	return view_by_name(field, strlen(field)) == VIEW_COW;
}

/* flush: [async] [OFFSET SIZE]; sets *FIRST past the word, *WANT to the
 * fields expected, *USAGE for a wrong count. */
static void parse_flush(const struct fields *f, struct ctl_command *cmd,
			int *first, int *want, const char **usage)
{
	cmd->async = f->count > 0 && strcasecmp(f->field[0], "async") == 0;
	*first = cmd->async;
	*usage = cmd->async ? "expected async or async OFFSET SIZE"
			    : "expected nothing or OFFSET SIZE";
	cmd->whole = f->count == *first;
	*want = *first + (cmd->whole ? 0 : 2);
}

/* advise: ADVICE [OFFSET LENGTH]; as parse_flush, false with WHY for a
 * word that is no advice. */
static bool parse_advise(const struct fields *f, struct ctl_command *cmd,
			 int *first, int *want, char *why, size_t whylen)
{
	*first = 1;
	cmd->whole = f->count == 1;
	*want = cmd->whole ? 1 : 3;
	if (f->count == 0 || f->count == 2 || f->count > 3)
		return true;	/* the count is wrong: the caller says so */
	cmd->advice = entry_madvise_by_name(f->field[0]);
	if (cmd->advice < 0)
		snprintf(why, whylen, "'%s' is no advice (normal, sequential, random, "
			 "willneed, dontneed, hugepage, nohugepage, populate)", f->field[0]);
	return cmd->advice >= 0;
}

int ctl_parse(enum ctl_file file, const char *text, size_t len,
	      struct ctl_command *cmd, char *why, size_t whylen)
{
	struct fields f;
	const char *usage = NULL;
	int first = 0, want = 0;

	memset(cmd, 0, sizeof(*cmd));
	cmd->file = file;
	cmd->view = VIEW_RW;
	if ((file == CTL_RESET || file == CTL_DROP || file == CTL_COMMIT) &&
	    len <= CTL_MAX_COMMAND)
		return 0;	/* anything goes */
	if (!split_fields(text, len, &f, why, whylen))
		return EINVAL;
	switch (file) {
	case CTL_FLUSH:
		parse_flush(&f, cmd, &first, &want, &usage);
		break;
	case CTL_ADVISE:
		usage = "expected ADVICE or ADVICE OFFSET LENGTH";
		if (!parse_advise(&f, cmd, &first, &want, why, whylen))
			return EINVAL;
		break;
	case CTL_RESIZE:
		usage = "expected SIZE";
		want = 1;
		break;
	case CTL_FORK:
		if (f.count != 1) {
			snprintf(why, whylen, "expected TAG, got %d fields", f.count);
			return EINVAL;
		}
		if (strlen(f.field[0]) > CTL_TAG_MAX) {
			snprintf(why, whylen, "tag is %zu bytes, at most %d",
				 strlen(f.field[0]), CTL_TAG_MAX);
			return EINVAL;
		}
		strcpy(cmd->tag, f.field[0]);
		return 0;
	case CTL_MOVE:
		usage = "expected DEST SRC COUNT or cow DEST SRC COUNT";
		if (f.count == 4 && is_cow_keyword(f.field[0])) {
			cmd->view = VIEW_COW;
			first = 1;
		}
		want = first + 3;
		break;
	default:
		snprintf(why, whylen, "%s is read-only", ctl_file_name(file));
		return EINVAL;
	}
	if (f.count != want) {
		snprintf(why, whylen, "%s, got %d field%s", usage, f.count,
			 f.count == 1 ? "" : "s");
		return EINVAL;
	}
	return parse_numbers(f.field + first, want - first, cmd->arg, why, whylen)
	       ? 0 : EINVAL;
}

/* ---- running ---- */

/* The view a command needs, decided before its text is parsed (SPEC: EROFS
 * comes first), so "move" peeks at its first field only; text that does
 * not split into fields is malformed whatever the view. */
static unsigned needed_view(enum ctl_file file, const char *text, size_t len)
{
	struct fields f;
	char ignored[REASON_MAX];

	switch (file) {
	case CTL_RESET:
	case CTL_FORK:
	case CTL_DROP:
		return VIEW_COW;
	case CTL_COMMIT:
		return VIEW_RW | VIEW_COW;
	case CTL_ADVISE:
		return 0;	/* any entry, whatever its views */
	case CTL_MOVE:
		return split_fields(text, len, &f, ignored, sizeof(ignored)) && f.count > 0 &&
		       is_cow_keyword(f.field[0]) ? VIEW_COW : VIEW_RW;
	default:
		return VIEW_RW;
	}
}

/* Checks that come before parsing; returns 0 or the errno. */
static int check_allowed(const struct region *r, enum ctl_file file,
			 const char *text, size_t len, uint64_t offset,
			 char *why, size_t whylen)
{
	const struct entry *e = region_entry(r);
	unsigned view = needed_view(file, text, len);

	if (file == CTL_STATUS) {
		snprintf(why, whylen, "status is read-only");
		return EINVAL;
	}
	if (file == CTL_CHANGES) {
		snprintf(why, whylen, "changes is read-only");
		return EINVAL;
	}
	if (view && (e->views & view) != view) {
		snprintf(why, whylen, "the entry has no %s view",
			 view_name(view & ~e->views & VIEW_RW ? VIEW_RW : VIEW_COW));
		return EROFS;
	}
	if (file == CTL_RESIZE && !e->resizable) {
		snprintf(why, whylen, "the entry is not resizable (resizable = no)");
		return EPERM;
	}
	if (offset != 0) {
		snprintf(why, whylen, "written at offset %llu; a command is one write "
			 "at offset 0", (unsigned long long)offset);
		return EINVAL;
	}
	return 0;
}

/* What a command changes, for the caller's invalidation: set by run()
 * only once the command has succeeded, the region SIZE_BEFORE bytes
 * before it. A resize changes no byte below the smaller of the two sizes
 * in any view (a cow view's base is cut only at the new size), and pages
 * dropped where nothing changed would race the writes in flight to them:
 * a page the kernel updated for a write and then dropped can be read back
 * from the region before that write lands there, and kept. */
static struct ctl_effect effect_of(const struct ctl_command *cmd, uint64_t size_before)
{
	const uint64_t *a = cmd->arg;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	switch (cmd->file) {
	case CTL_RESIZE:
		return (struct ctl_effect){ VIEW_ALL, (a[0] < size_before ? a[0] : size_before) &
						      ~(page - 1), 0 };
	case CTL_MOVE:
		if (a[2] == 0 || a[0] == a[1])
			return (struct ctl_effect){ 0 };
		return (struct ctl_effect){ cmd->view == VIEW_COW ? VIEW_COW : VIEW_ALL,
					    a[0], a[2] };
	case CTL_RESET:
		return (struct ctl_effect){ VIEW_COW, 0, 0 };
	case CTL_COMMIT:
		return (struct ctl_effect){ VIEW_ALL, 0, 0 };
	default:
		return (struct ctl_effect){ 0 };
	}
}

static int run(struct region *r, struct instance *in, const struct ctl_command *cmd,
	       char *why, size_t whylen)
{
	const uint64_t *a = cmd->arg;

	switch (cmd->file) {
	case CTL_FLUSH:
		if (cmd->async)
			return region_sync_start(r, cmd->whole, a[0], a[1], why, whylen);
		return cmd->whole
		       ? region_sync_all(r, why, whylen)
		       : region_sync(r, a[0], a[1], why, whylen);
	case CTL_ADVISE:
		return region_advise(r, cmd->advice, cmd->whole, a[0], a[1], why, whylen);
	case CTL_RESIZE:
		return region_resize(r, a[0], why, whylen);
	case CTL_MOVE:
		return region_move(r, cmd->view, a[0], a[1], a[2], why, whylen);
	case CTL_RESET:
		return region_cow_reset(r, in, why, whylen);
	case CTL_FORK:
		return region_cow_fork(r, in, cmd->tag, why, whylen);
	case CTL_DROP:
		if (!in || !instance_drop(region_instances(r), in)) {
			snprintf(why, whylen, "dropped already");
			return ESTALE;
		}
		return 0;
	case CTL_COMMIT:
		return region_cow_commit(r, in, why, whylen);
	default:
		return EINVAL;
	}
}

/* Whether TEXT is a flush async: it writes out what the region holds,
 * not what clients hold dirty in their mappings. */
static bool is_flush_async(const char *text, size_t len)
{
	struct fields f;
	char ignored[REASON_MAX];

	return split_fields(text, len, &f, ignored, sizeof(ignored)) && f.count > 0 &&
	       strcasecmp(f.field[0], "async") == 0;
}

unsigned ctl_write_back_views(enum ctl_file file, const char *text, size_t len)
{
	switch (file) {
	case CTL_RESIZE:
		return VIEW_RW | VIEW_COW;
	case CTL_FLUSH:
		return is_flush_async(text, len) ? 0 : VIEW_RW;
	case CTL_ADVISE:
	case CTL_STATUS:
	case CTL_CHANGES:
	case CTL_DROP:
		return 0;
	case CTL_FORK:
	case CTL_COMMIT:
		return VIEW_RW | VIEW_COW;
	default:
		/* A cow command reads the cow pages it has not written from
		 * the file, where an rw client's dirty pages belong first. */
		return needed_view(file, text, len) == VIEW_COW ? VIEW_RW | VIEW_COW : VIEW_RW;
	}
}

int ctl_write(struct region *r, enum ctl_file file, const char *text,
	      size_t len, uint64_t offset, struct ctl_effect *effect)
{
	return ctl_write_in(r, NULL, file, text, len, offset, effect);
}

int ctl_write_in(struct region *r, struct instance *in, enum ctl_file file,
		 const char *text, size_t len, uint64_t offset, struct ctl_effect *effect)
{
	struct ctl_command cmd;
	char why[REASON_MAX] = "";
	uint64_t size_before = region_view_size(r, VIEW_RW);
	int err;

	err = check_allowed(r, file, text, len, offset, why, sizeof(why));
	if (!err)
		err = ctl_parse(file, text, len, &cmd, why, sizeof(why));
	memset(effect, 0, sizeof(*effect));
	if (!err)
		err = run(r, in, &cmd, why, sizeof(why));
	if (!err)
		*effect = effect_of(&cmd, size_before);
	if (err)
		region_cow_note_error(r, in, ctl_file_name(file), why[0] ? why : strerror(err));
	return err;
}

/* ---- reading ---- */

/* The name of IN's view: NAME, or NAME@TAG. */
static void view_name_of(const struct region *r, const struct instance *in, char *buf,
			 size_t buflen)
{
	if (in)
		snprintf(buf, buflen, "%s@%s", region_entry(r)->name, in->tag);
	else
		snprintf(buf, buflen, "%s", region_entry(r)->name);
}

static size_t status_text(struct region *r, struct instance *in, char *buf, size_t buflen)
{
	const struct entry *e = region_entry(r);
	struct region_stats st;
	char views[16], name[INSTANCE_NAME_MAX + 2];
	int n;

	region_cow_stats(r, in, &st);
	view_list(e->views, ' ', views, sizeof(views));
	view_name_of(r, in, name, sizeof(name));
	n = snprintf(buf, buflen,
		     "name: %s\npath: %s\nviews: %s\noffset: %llu\nsize: %llu\n"
		     "cow_size: %llu\nfile_size: %llu\nresizable: %s\n"
		     "resident_bytes: %llu\ncow_private_bytes: %llu\n"
		     "reads: %llu\nwrites: %llu\nflushes: %llu\nresizes: %llu\n"
		     "moves: %llu\nresets: %llu\nforks: %llu\ncommits: %llu\n"
		     "errors: %llu\ninstances: ",
		     name, e->anonymous ? "anonymous" : e->path, views,
		     (unsigned long long)e->offset, (unsigned long long)st.size,
		     (unsigned long long)st.cow_size, (unsigned long long)st.file_size,
		     e->resizable ? "yes" : "no",
		     (unsigned long long)st.resident_bytes,
		     (unsigned long long)st.cow_private_bytes,
		     (unsigned long long)st.reads, (unsigned long long)st.writes,
		     (unsigned long long)st.flushes, (unsigned long long)st.resizes,
		     (unsigned long long)st.moves, (unsigned long long)st.resets,
		     (unsigned long long)st.forks, (unsigned long long)st.commits,
		     (unsigned long long)st.errors);
	if (n < 0 || (size_t)n >= buflen)
		return n < 0 ? 0 : buflen - 1;
	instance_tags(region_instances(r), buf + n, buflen - (size_t)n);
	n += (int)strlen(buf + n);
	n += snprintf(buf + n, buflen - (size_t)n, "\nlast_error: %s\n", st.last_error);
	return (size_t)n < buflen ? (size_t)n : buflen - 1;
}

size_t ctl_read(struct region *r, enum ctl_file file, char *buf, size_t buflen)
{
	return ctl_read_in(r, NULL, file, buf, buflen);
}

size_t ctl_read_in(struct region *r, struct instance *in, enum ctl_file file,
		   char *buf, size_t buflen)
{
	int n;

	if (buflen == 0)
		return 0;
	switch (file) {
	case CTL_STATUS:
		return status_text(r, in, buf, buflen);
	case CTL_CHANGES:
		region_cow_changes(r, in, buf, buflen);
		return strlen(buf);	/* the whole lines that fit */
	case CTL_RESIZE:
		n = snprintf(buf, buflen, "%llu\n",
			     (unsigned long long)region_view_size(r, VIEW_RW));
		return n < 0 ? 0 : (size_t)n < buflen ? (size_t)n : buflen - 1;
	default:
		return 0;
	}
}
