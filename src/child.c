/* child.c - processes mmapfs starts (child.h). */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MOUNT_VAR "MMAPFS_MOUNT"

/* A shell's status for a command it cannot run. */
#define CANNOT_RUN 127

extern char **environ;

/* environ without any MMAPFS_MOUNT, and VAR last; NULL if out of memory.
 * Free the array only: its strings are environ's and VAR. */
static char **environ_with(char *var)
{
	size_t n = 0, kept = 0, len = strlen(MOUNT_VAR "=");
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], MOUNT_VAR "=", len) != 0)
			env[kept++] = environ[i];
	env[kept] = var;
	return env;
}

/* In the child: the caller's signals back, then the exec; a failed exec
 * sends its errno through REPORT (close-on-exec: a successful one sends
 * nothing). Only async-signal-safe calls: the parent has threads. */
static void __attribute__((noreturn))
exec_child(char *const argv[], char *const envp[], const struct caller_signals *caller,
	   int report)
{
	ssize_t sent;
	int err;

	for (size_t i = 0; i < caller->count; i++)
		sigaction(caller->signo[i], &caller->action[i], NULL);
	sigprocmask(SIG_SETMASK, &caller->mask, NULL);
	execvpe(argv[0], argv, envp);
	err = errno;
	sent = write(report, &err, sizeof(err));
	(void)sent;	/* nothing left to tell it to */
	_exit(CANNOT_RUN);
}

/* In the parent: 0 once PID has exec'd, or the errno its exec failed with
 * (the child is then reaped). */
static int exec_result(int report, pid_t pid)
{
	int err = 0;
	ssize_t n;

	do
		n = read(report, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(err)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return err;
	}
	return 0;
}

/* Forks and execs ARGV with ENVP; as child_start. */
static int fork_exec(char *const argv[], char *const envp[],
		     const struct caller_signals *caller, pid_t *pid)
{
	int report[2], err = 0;

	if (pipe2(report, O_CLOEXEC) < 0)
		return errno;
	*pid = fork();
	if (*pid == 0)
		exec_child(argv, envp, caller, report[1]);
	if (*pid < 0)
		err = errno;
	close(report[1]);
	if (!err)
		err = exec_result(report[0], *pid);
	close(report[0]);
	return err;
}

int child_start(char *const argv[], const char *mount,
		const struct caller_signals *caller, pid_t *pid)
{
	char *var = NULL, **env = environ;
	int err;

	if (mount) {
		if (asprintf(&var, MOUNT_VAR "=%s", mount) < 0)
			return ENOMEM;
		env = environ_with(var);
		if (!env) {
			free(var);
			return ENOMEM;
		}
	}
	err = fork_exec(argv, env, caller, pid);
	if (env != environ)
		free(env);
	free(var);
	return err;
}

int child_exit_status(int wstatus)
{
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : CANNOT_RUN;
}
