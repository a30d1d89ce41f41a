/*
 * log.h - one logger for the daemon and libfuse: stderr in the foreground,
 * syslog as a daemon, filtered by the config's log_level.
 */
#ifndef MMAPFS_LOG_H
#define MMAPFS_LOG_H

#include <stdbool.h>
#include <syslog.h>

/* LEVEL is a syslog priority; messages above it are dropped. */
void log_setup(bool to_syslog, int level);

/* Changes the level only (a reload's log_level). */
void log_set_level(int level);

void log_msg(int priority, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
