/*
 * child.h - processes mmapfs starts: `-- COMMAND` (SPEC "Command line")
 * and the fusermount3 that detaches a mount.
 *
 * A child gets back what mmapfs's caller gave mmapfs: the signal mask and
 * the dispositions of the signals the daemon takes over (a signal the
 * caller ignored stays ignored in the child), the working folder, the
 * session, the process group and the standard streams.
 */
#ifndef MMAPFS_CHILD_H
#define MMAPFS_CHILD_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#define CALLER_SIGNALS 8

/* The caller's signal mask and the dispositions of the signals in SIGNO. */
struct caller_signals {
	sigset_t mask;
	int signo[CALLER_SIGNALS];
	struct sigaction action[CALLER_SIGNALS];
	size_t count;
};

/*
 * Starts ARGV (argv[0] looked up on the PATH) as a child with CALLER's
 * signals, and, when MOUNT is not NULL, MMAPFS_MOUNT=MOUNT in its
 * environment. Returns 0 with *PID, or the errno of the fork or of the
 * exec (ENOENT: no such command; EACCES: not executable). Only
 * async-signal-safe calls run between the fork and the exec, so any
 * thread may call it.
 */
int child_start(char *const argv[], const char *mount,
		const struct caller_signals *caller, pid_t *pid);

/* The status a shell gives for a child's wait status: its exit code, or
 * 128 + N when signal N ended it. */
int child_exit_status(int wstatus);

#endif
