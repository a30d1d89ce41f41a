#!/usr/bin/env python3
"""
run.py - runs the mmapfs integration tests.

    python3 tests/integration/run.py --binary build/mmapfs [-k PATTERN] [--timeout S]

Discovers every tests/integration/test_*.py, runs it with unittest
(verbosity 2) and prints as its last line

    integration: N passed, N failed[, N skipped]

(failed counts failures and errors). Exits 1 on any failure or error.

A watchdog bounds the whole run (default 300 s). It lives in this process,
a supervisor that never touches the mount: the tests run in a child process,
where a thread stuck in a hung FUSE request (a page fault in a client mmap
holds Python's GIL) can freeze every other thread. When the time is up, or
on SIGINT/SIGTERM/SIGHUP, the supervisor names the test that hung, aborts
every FUSE connection the child made (/sys/fs/fuse/connections/DEV/abort),
kills the child and its daemons, unmounts lazily and exits 1: a hung FUSE
request fails the run, never hangs CI.

The child reports through files in a state folder (MMAPFS_IT_STATE): the
harness appends each mount and command it starts to `registry`, the test
result writes the running test and the counts to `progress`, and the final
counts to `result`.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402


def summary(passed, failed, skipped):
    line = 'integration: %d passed, %d failed' % (passed, failed)
    if skipped:
        line += ', %d skipped' % skipped
    return line


def write_json(path, data):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(data, f)
    os.replace(tmp, path)


def read_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


# ====================================================================== child

class Tally(unittest.TextTestResult):
    """Counts outcomes and publishes the running test for the supervisor."""

    state = None

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.n_passed = self.n_failed = self.n_skipped = 0
        self.current = None

    def publish(self):
        if Tally.state:
            write_json(os.path.join(Tally.state, 'progress'),
                       {'current': self.current, 'since': time.time(),
                        'passed': self.n_passed, 'failed': self.n_failed,
                        'skipped': self.n_skipped})

    def startTest(self, test):
        self.current = test.id()
        self.publish()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        self.current = None
        self.publish()

    def addSuccess(self, test):
        super().addSuccess(test)
        self.n_passed += 1

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.n_passed += 1

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.n_failed += 1

    def addError(self, test, err):
        super().addError(test, err)   # also errors of setUpClass/tearDownClass
        self.n_failed += 1
        self.publish()

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.n_failed += 1

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.n_skipped += 1

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self.n_failed += 1


def child_main(opts):
    harness.set_binary(opts.binary)
    harness.install_handlers()
    Tally.state = opts.state
    loader = unittest.TestLoader()
    if opts.patterns:
        loader.testNamePatterns = [p if '*' in p else '*%s*' % p for p in opts.patterns]
    suite = loader.discover(HERE, pattern='test_*.py', top_level_dir=HERE)
    runner = unittest.TextTestRunner(verbosity=2, resultclass=Tally, stream=sys.stderr)
    result = runner.run(suite)
    harness.cleanup_all()
    mounts, procs = harness.left_behind()
    failed = result.n_failed
    if mounts or procs:
        sys.stderr.write('run.py: left behind: mounts %s, daemons %s\n' % (mounts, procs))
        harness.emergency_cleanup()
        for mp in mounts:
            harness.force_unmount(mp, procs)
        failed += 1
    sys.stderr.flush()
    if opts.state:
        write_json(os.path.join(opts.state, 'result'),
                   {'passed': result.n_passed, 'failed': failed, 'skipped': result.n_skipped})
    return 1 if failed else 0


# ====================================================================== supervisor

def registry(state):
    out = []
    try:
        with open(os.path.join(state, 'registry')) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return out


def rescue(state, child):
    """Aborts the FUSE connections of every mount the child made, kills the
    child (its whole session) and every daemon it started, unmounts lazily
    and removes the child's temporary folders."""
    entries = registry(state)
    mounts = {e['mnt'] for e in entries if e.get('mnt')}
    for e in entries:                          # and whatever got mounted in its folders
        if e.get('dir'):
            mounts.update(m['mountpoint'] for m in harness.fuse_mounts_under(e['dir'] + '/'))
    mounts = sorted(mounts)
    try:
        os.killpg(child.pid, signal.SIGSTOP)   # no more output from the tests
    except OSError:
        pass
    for mp in mounts:
        if harness.is_mounted(mp):
            harness.abort_connection(mp)
    try:
        os.killpg(child.pid, signal.SIGKILL)   # the child, its -f daemons, its tools
    except OSError:
        pass
    # Daemons that forked into sessions of their own: found by a path of
    # the child's own temporary folders on their command line.
    ours = harness.TMP_ROOT + '/mmapfs-it-'
    needles = {n for n in set(mounts) | {e.get('config') for e in entries}
               if n and n.startswith(ours)}
    base = os.path.basename(harness.BINARY)
    daemons = harness.pids_matching(
        lambda argv: os.path.basename(argv[0]) == base and bool(needles & set(argv)))
    for pid in daemons:
        harness._kill(pid)
    for mp in mounts:
        if harness.is_mounted(mp):
            harness.fusermount(mp, lazy=True)
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    harness._wait_gone(daemons, 10)
    # A test's own tmpfs (test_hard.py) on one of its folders: the daemons
    # that held its files are gone, so it unmounts (lazily if it must).
    for e in entries:
        d = e.get('dir')
        if d:
            for m in harness.mountinfo()[::-1]:
                if m['fstype'] == 'tmpfs' and m['mountpoint'] == d:
                    subprocess.run(['umount', '-l', d], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, timeout=10)
    for e in entries:
        d = e.get('dir')
        if d and not harness.fuse_mounts_under(d + '/'):
            shutil.rmtree(d, ignore_errors=True)
    return [mp for mp in mounts if harness.is_mounted(mp)]


def supervise(opts):
    state = tempfile.mkdtemp(prefix='mmapfs-it-state-', dir=harness.TMP_ROOT)
    argv = [sys.executable, os.path.abspath(__file__), '--child', '--binary', opts.binary,
            '--state', state]
    for p in opts.patterns:
        argv += ['-k', p]
    env = dict(os.environ, MMAPFS_IT_STATE=state, MMAPFS_BINARY=opts.binary)

    caught = []
    wake = threading.Event()

    def on_signal(signum, frame):
        caught.append(signum)
        wake.set()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    started = time.monotonic()
    # A session of its own: the terminal's ^C reaches only the supervisor,
    # which then cleans up in order; killpg() reaches the whole child.
    child = subprocess.Popen(argv, env=env, start_new_session=True)
    deadline = started + opts.timeout
    while child.poll() is None and not caught and time.monotonic() < deadline:
        wake.wait(0.2)

    if child.poll() is not None and not caught:
        result = read_json(os.path.join(state, 'result'))
        if result is None:
            # The child died without a result (a crash, os._exit): clean up.
            progress = read_json(os.path.join(state, 'progress'), {})
            sys.stderr.write('run.py: the test process exited with status %s without a '
                             'result (last test: %s)\n'
                             % (child.returncode, progress.get('current')))
            left = rescue(state, child)
            result = {'passed': progress.get('passed', 0),
                      'failed': progress.get('failed', 0) + 1,
                      'skipped': progress.get('skipped', 0)}
        else:
            left = [e['mnt'] for e in registry(state)
                    if e.get('mnt') and harness.is_mounted(e['mnt'])]
            if left:
                rescue(state, child)
                result['failed'] += 1
        if left:
            sys.stderr.write('run.py: mounts left behind: %s\n' % ', '.join(left))
        sys.stderr.write('duration: %.1f s\n' % (time.monotonic() - started))
        sys.stderr.flush()
        shutil.rmtree(state, ignore_errors=True)
        print(summary(result['passed'], result['failed'], result['skipped']))
        sys.stdout.flush()
        return 1 if result['failed'] else 0

    # The watchdog fired, or we were told to stop.
    progress = read_json(os.path.join(state, 'progress'), {})
    test = progress.get('current') or '(between tests)'
    if caught:
        why = 'signal %d' % caught[0]
        sys.stderr.write('\nrun.py: caught signal %d during test %s: aborting FUSE '
                         'connections, killing the tests and daemons\n' % (caught[0], test))
    else:
        why = 'watchdog, %.0f s' % opts.timeout
        ran = ''
        if progress.get('current') and progress.get('since'):
            ran = ' after %.0f s in it' % (time.time() - progress['since'])
        sys.stderr.write('\nWATCHDOG: the run exceeded %.0f s; hung in test %s%s.\n'
                         'Aborting every FUSE connection, killing the tests and daemons.\n'
                         % (opts.timeout, test, ran))
    sys.stderr.flush()
    left = rescue(state, child)
    if left:
        sys.stderr.write('run.py: could not unmount: %s\n' % ', '.join(left))
    sys.stderr.write('duration: %.1f s\n' % (time.monotonic() - started))
    sys.stderr.flush()
    shutil.rmtree(state, ignore_errors=True)
    print('run aborted (%s) in test %s' % (why, test))
    print(summary(progress.get('passed', 0), progress.get('failed', 0) + 1,
                  progress.get('skipped', 0)))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(128 + caught[0] if caught else 1)


def main():
    ap = argparse.ArgumentParser(description='Runs the mmapfs integration tests.')
    ap.add_argument('--binary', default=os.path.join(os.path.dirname(os.path.dirname(HERE)),
                                                     'build', 'mmapfs'),
                    help='the mmapfs binary to test')
    ap.add_argument('-k', dest='patterns', action='append', default=[],
                    help='only tests whose name matches PATTERN (as unittest -k); repeatable')
    ap.add_argument('--timeout', type=float, default=300.0,
                    help='seconds the whole run may take (default 300)')
    ap.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    ap.add_argument('--state', help=argparse.SUPPRESS)
    opts = ap.parse_args()
    opts.binary = os.path.abspath(opts.binary)
    if opts.child:
        return child_main(opts)
    if not os.access(opts.binary, os.X_OK):
        print('run.py: %s is not an executable' % opts.binary, file=sys.stderr)
        print(summary(0, 1, 0))
        return 1
    return supervise(opts)


if __name__ == '__main__':
    sys.exit(main())
