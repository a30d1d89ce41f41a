/*
 * thread.h - the two ways mmapfs starts threads and makes locks.
 */
#ifndef MMAPFS_THREAD_H
#define MMAPFS_THREAD_H

#include <pthread.h>

/*
 * Starts FN(ARG) with every signal blocked. The daemon takes its signals
 * in one thread of its own (sigwait), and libfuse blocks them in its
 * workers, so no other thread may be picked to run a handler. Returns 0
 * or an errno.
 */
int thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

/* A rwlock on which a waiting writer goes before new readers: a resize
 * or reload must not starve behind a stream of requests. (It must never
 * be taken shared twice by one thread: a writer waiting in between would
 * deadlock it.) */
void rwlock_init_writer_first(pthread_rwlock_t *lock);

#endif
