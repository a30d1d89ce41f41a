/* fault.c - SIGBUS-safe copies (fault.h). */
#include "fault.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

/* Where the current thread's copy resumes on SIGBUS; NULL outside copies. */
static __thread sigjmp_buf *volatile resume_at;

static void on_sigbus(int sig, siginfo_t *info, void *context)
{
	(void)info;
	(void)context;
	if (resume_at)
		siglongjmp(*resume_at, 1);
	/* Not ours: die of it, as without a handler. */
	signal(sig, SIG_DFL);
	raise(sig);
}

int fault_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	/* SA_NODEFER: SIGBUS stays unblocked after the jump, so the jump need
	 * not restore the signal mask (sigsetjmp(.., 0): no syscall a copy). */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL) == 0 ? 0 : errno;
}

int fault_copy(void *dst, const void *src, size_t len)
{
	sigjmp_buf here;

	if (sigsetjmp(here, 0)) {
		resume_at = NULL;
		return EIO;
	}
	resume_at = &here;
	memmove(dst, src, len);
	resume_at = NULL;
	return 0;
}

int fault_zero(void *dst, size_t len)
{
	sigjmp_buf here;

	if (sigsetjmp(here, 0)) {
		resume_at = NULL;
		return EIO;
	}
	resume_at = &here;
	memset(dst, 0, len);
	resume_at = NULL;
	return 0;
}

int fault_probe(const void *src, size_t len, size_t page)
{
	const volatile unsigned char *p = src;
	sigjmp_buf here;

	if (len == 0)
		return 0;
	if (sigsetjmp(here, 0)) {
		resume_at = NULL;
		return EIO;
	}
	resume_at = &here;
	(void)p[0];
	for (size_t i = page - ((uintptr_t)src & (page - 1)); i < len; i += page)
		(void)p[i];
	(void)p[len - 1];
	resume_at = NULL;
	return 0;
}
