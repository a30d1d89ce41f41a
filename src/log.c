/* log.c - see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static bool use_syslog;
static _Atomic int max_priority = LOG_INFO;

void log_setup(bool to_syslog, int level)
{
	use_syslog = to_syslog;
	max_priority = level;
	if (to_syslog)
		openlog("mmapfs", LOG_PID, LOG_DAEMON);
}

void log_set_level(int level)
{
	max_priority = level;
}

void log_msg(int priority, const char *fmt, ...)
{
	va_list ap;

	if (priority > max_priority)
		return;
	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(priority, fmt, ap);
	} else {
		/* One fprintf per line, so lines of concurrent threads do not mix. */
		char line[1024];

		vsnprintf(line, sizeof(line), fmt, ap);
		fprintf(stderr, "mmapfs: %s\n", line);
	}
	va_end(ap);
}
