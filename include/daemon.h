/*
 * daemon.h - a mount's life: mount the table, serve it until it is
 * unmounted or signalled, unmount (SPEC "Command line", "Lifecycle").
 *
 * Signals are taken by one thread with sigwait(), never by a handler in a
 * thread that serves requests: SIGHUP reloads the config; SIGINT and
 * SIGTERM first make the kernel write back what clients dirtied through
 * their own mappings of the views, while the loop still serves the writes
 * this causes, and only then end the loop. The caller flushes and closes
 * the regions afterwards (table_free).
 */
#ifndef MMAPFS_DAEMON_H
#define MMAPFS_DAEMON_H

#include "cli.h"
#include "config.h"
#include "table.h"

/*
 * Mounts T on CLI's mount point and serves it until unmounted; CFG is the
 * config T was made from (log_level, flush_interval). The session takes
 * CLI's args (libfuse removes what it parses). Returns the exit
 * status: EXIT_SUCCESS after a clean unmount, EXIT_USAGE if libfuse
 * refuses the options, EXIT_MOUNT if the mount or the loop fails.
 */
int daemon_run(struct table *t, struct cli *cli, const struct config *cfg);

/* Sends libfuse's messages to log_msg(), one message per line. Call it
 * first: libfuse reports bad options while the command line is parsed. */
void daemon_log_fuse_messages(void);

#endif
