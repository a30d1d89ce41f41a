"""
Clients that misbehave (SPEC "Lifecycle and faults": a client killed
mid-request, and many clients at once, leave the daemon running and the
data intact):

- readers (and a writer) killed with SIGKILL in the middle of big reads of a
  256 MiB sparse entry, ten times over;
- requests interrupted by signals (FUSE_INTERRUPT): a client process (reads,
  writes, opens) under a fast SIGALRM timer whose handler now and then
  raises, and a client thread of this process hit by SIGUSR1 over and over;
  every read is checked, and the data must be intact afterwards;
- 10,000 open/close cycles of views and control files, and 1,000
  descriptors open at once: the daemon's descriptors and memory stay put.
  A FUSE open needs no descriptor in the daemon, so its fd count must not
  grow at all with the number of open files.

The daemon's fd count is len(/proc/PID/fd): besides /dev/fuse, its backing
files and memfds, libfuse keeps a pipe (2 fds) per worker thread for splice,
so it can only change when the number of threads does.
"""
import mmap
import os
import random
import resource
import signal
import subprocess
import sys
import threading
import time
import unittest

from harness import PAGE, Mount, pattern, pread_all

K = 1024
M = K * K
BIG = 256 * M
SIG = 16 * M


# Marks written into the sparse 256 MiB file before mounting.
MARKS = {0: pattern(64 * K, 1), 64 * M + 12345: pattern(64 * K, 2), 200 * M: pattern(64 * K, 3),
         BIG - 64 * K: pattern(64 * K, 4)}


def daemon_fds(pid):
    return len(os.listdir('/proc/%d/fd' % pid))


def daemon_pipes(pid):
    d = '/proc/%d/fd' % pid
    n = 0
    for f in os.listdir(d):
        try:
            n += os.readlink(os.path.join(d, f)).startswith('pipe:')
        except OSError:
            pass
    return n


def vm_kb(pid, key):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    raise AssertionError('%s not in /proc/%d/status' % (key, pid))


# A child that reads VIEW of the big entry until killed: big reads at
# offsets that walk the whole file (so they miss the kernel's cache), with
# O_DIRECT (every read a FUSE request), through a client mmap of ro, or, for
# 'write', big writes to rw. It prints 'go' once the first request is done.
CHILD = r'''
import mmap, os, sys
path, mode, start = sys.argv[1], sys.argv[2], int(sys.argv[3])
BIG, CHUNK = 256 << 20, 8 << 20
off = start
if mode == 'mmap':
    fd = os.open(path, os.O_RDONLY)
    mm = mmap.mmap(fd, BIG, access=mmap.ACCESS_READ)
    step = lambda off: mm[off:off + CHUNK]
elif mode == 'direct':
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, CHUNK)
    step = lambda off: os.preadv(fd, [buf], off)
elif mode == 'write':
    fd = os.open(path, os.O_WRONLY)
    data = bytes([0x5a]) * CHUNK
    step = lambda off: os.pwrite(fd, data, 128 * (1 << 20) + off % (8 * CHUNK))
else:
    fd = os.open(path, os.O_RDONLY)
    step = lambda off: os.pread(fd, CHUNK, off)
step(off)
print('go', flush=True)
while True:
    off = (off + CHUNK) % BIG
    step(off)
'''

# A client under a SIGALRM timer every 200 us whose handler now and then
# raises, so that a call is given up in the middle. Reads (O_DIRECT, from ro)
# are checked against the backing file; writes (to rw) put back the bytes
# the file already holds, so every read can be checked while they run;
# opens of cow come too. Buffered writes and opens are FUSE requests the
# client waits for interruptibly: a signal then makes the kernel send the
# daemon a FUSE_INTERRUPT (reads are asynchronous in the kernel: they are
# only ever interrupted by SIGKILL).
ALARMED = r'''
import mmap, os, random, signal, sys, time
ro, rw, cow, backing, seconds = sys.argv[1:6]
with open(backing, 'rb') as f:
    want = f.read()
n = {'signals': 0, 'reads': 0, 'writes': 0, 'opens': 0, 'given up': 0, 'bad': 0}
busy = False
class GiveUp(Exception):
    pass
def on_alarm(signum, frame):
    n['signals'] += 1
    if busy and n['signals'] % 50 == 0:
        raise GiveUp()
signal.signal(signal.SIGALRM, on_alarm)
signal.siginterrupt(signal.SIGALRM, True)
rfd = os.open(ro, os.O_RDONLY | os.O_DIRECT)
wfd = os.open(rw, os.O_WRONLY)
buf = mmap.mmap(-1, 1 << 20)
rnd = random.Random(5)
signal.setitimer(signal.ITIMER_REAL, 0.0002, 0.0002)
end = time.monotonic() + float(seconds)
while time.monotonic() < end:
    op = rnd.random()
    off = rnd.randrange(0, len(want) - (1 << 20)) // 4096 * 4096
    try:
        busy = True
        if op < 0.4:
            got = os.preadv(rfd, [buf], off)
            busy = False
            n['reads'] += 1
            if got != 1 << 20 or buf[:got] != want[off:off + got]:
                n['bad'] += 1
        elif op < 0.8:
            os.pwrite(wfd, want[off:off + (1 << 20)], off)
            busy = False
            n['writes'] += 1
        else:
            fd = os.open(cow, os.O_RDONLY)
            busy = False
            os.fstat(fd)
            os.close(fd)
            n['opens'] += 1
    except GiveUp:
        busy = False
        n['given up'] += 1
signal.setitimer(signal.ITIMER_REAL, 0, 0)
print(' '.join('%s=%d' % (k.replace(' ', '_'), v) for k, v in n.items()))
'''


class Clients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.small = pattern(1 * M, 10)
        cls.sig = pattern(SIG, 11)
        config = ('[big]\npath = big.bin\n'
                  '[small]\npath = small.bin\n'
                  '[sig]\npath = sig.bin\n'
                  '[anon]\nanonymous = yes\nlength = 1M\n')
        cls.m = Mount(config, {'big.bin': b'', 'small.bin': cls.small, 'sig.bin': cls.sig})
        cls.addClassCleanup(cls.m.cleanup)
        with open(cls.m.backing('big.bin'), 'r+b') as f:     # sparse, with marks
            f.truncate(BIG)
            for off, data in MARKS.items():
                f.seek(off)
                f.write(data)
        cls.m.start()
        with open(cls.m.path('rw', 'anon'), 'r+b') as f:
            f.write(pattern(1 * M, 12))

    def setUp(self):
        self.assertIsNone(self.m.proc.poll(), 'the daemon is gone:\n' + self.m.stderr)

    # -- helpers
    def alive(self):
        self.assertIsNone(self.m.proc.poll(), 'the daemon died:\n' + self.m.stderr[-3000:])

    def check_big(self, views=('ro', 'rw', 'cow')):
        """A fresh read of each mark (and of the zeros around one)."""
        for view in views:
            fd = os.open(self.m.path(view, 'big'), os.O_RDONLY)
            try:
                self.assertEqual(os.fstat(fd).st_size, BIG)
                for off, data in MARKS.items():
                    self.assertTrue(pread_all(fd, len(data), off) == data,
                                    '%s/big: mark at %d' % (view, off))
                self.assertEqual(pread_all(fd, 1 * M, 100 * M), bytes(1 * M),
                                 '%s/big: the hole at 100 MiB' % view)
            finally:
                os.close(fd)

    def kill_mid_request(self, view, mode, start):
        p = subprocess.Popen([sys.executable, '-c', CHILD, self.m.path(view, 'big'), mode,
                              str(start)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            line = p.stdout.readline()
            self.assertEqual(line, b'go\n', p.stderr.read() if not line else line)
            time.sleep(0.2)
            if p.poll() is not None:
                self.fail('the client stopped by itself: %r' % p.stderr.read())
            p.kill()
            try:
                # A killed client still waits for the reply of a request the
                # daemon holds: it must come.
                status = p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.fail('a client killed in %s of %s/big did not die within 10 s: '
                          'the daemon never answered its request' % (mode, view))
            self.assertEqual(status, -signal.SIGKILL)
        finally:
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    pass        # stuck in the daemon: the mount's clean-up aborts it
            p.stdout.close()
            p.stderr.close()

    # -- killed clients
    def test_reader_killed_mid_read_ten_times(self):
        modes = [('ro', 'read'), ('rw', 'read'), ('cow', 'read'), ('ro', 'direct'),
                 ('ro', 'mmap'), ('cow', 'direct'), ('ro', 'read'), ('rw', 'direct'),
                 ('ro', 'mmap'), ('cow', 'read')]
        for i, (view, mode) in enumerate(modes):
            with self.subTest(i=i, view=view, mode=mode):
                self.kill_mid_request(view, mode, (i * 24 * M) % BIG)
                self.alive()
                self.check_big((view,))
        self.check_big()

    def test_writer_killed_mid_write(self):
        before = self.m.ctl_status('big')
        for i in range(3):
            self.kill_mid_request('rw', 'write', i * 8 * M)
            self.alive()
        # A fresh write lands and shows; the marks are intact.
        data = pattern(1 * M, 20)
        fd = os.open(self.m.path('rw', 'big'), os.O_WRONLY)
        try:
            self.assertEqual(os.pwrite(fd, data, 150 * M), len(data))
        finally:
            os.close(fd)
        with open(self.m.path('ro', 'big'), 'rb') as f:
            f.seek(150 * M)
            self.assertTrue(f.read(len(data)) == data)
        self.check_big()
        after = self.m.ctl_status('big')
        self.assertGreater(int(after['writes']), int(before['writes']))
        self.assertEqual(after['errors'], before['errors'])

    # -- interrupted requests
    def test_client_process_under_sigalrm(self):
        r = subprocess.run([sys.executable, '-c', ALARMED, self.m.path('ro', 'sig'),
                            self.m.path('rw', 'sig'), self.m.path('cow', 'sig'),
                            self.m.backing('sig.bin'), '2'],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr.decode()[-2000:])
        n = dict((k, int(v)) for k, v in (kv.split('=') for kv in r.stdout.decode().split()))
        sys.stderr.write('[%s] ' % r.stdout.decode().strip())
        self.assertGreater(n['signals'], 200, n)
        for k in ('reads', 'writes', 'opens', 'given_up'):
            self.assertGreater(n[k], 0, n)
        self.assertEqual(n['bad'], 0, n)
        self.alive()
        with open(self.m.path('ro', 'sig'), 'rb') as f:
            self.assertTrue(f.read() == self.sig)

    def test_client_thread_hit_by_sigusr1(self):
        # A thread of this process reads, writes and opens while the main
        # thread sends it SIGUSR1 every 200 us (a Python handler installed,
        # without SA_RESTART: its calls fail with EINTR and are retried).
        hits = [0]
        old = signal.signal(signal.SIGUSR1, lambda s, f: hits.__setitem__(0, hits[0] + 1))
        self.addCleanup(signal.signal, signal.SIGUSR1, old)
        signal.siginterrupt(signal.SIGUSR1, True)
        stop = threading.Event()
        result = {'reads': 0, 'writes': 0, 'opens': 0, 'bad': [], 'error': None}

        def client():
            rnd = random.Random(6)
            views = ['ro', 'rw', 'cow']
            # O_DIRECT reads and buffered ones whose cached pages are
            # dropped first: every read reaches the daemon.
            fds = {(v, d): os.open(self.m.path(v, 'sig'), os.O_RDONLY | (os.O_DIRECT if d else 0))
                   for v in views for d in (False, True)}
            wfd = os.open(self.m.path('rw', 'sig'), os.O_WRONLY)
            buf = mmap.mmap(-1, 1 * M)
            try:
                while not stop.is_set():
                    op = rnd.random()
                    v, direct = rnd.choice(views), rnd.random() < 0.5
                    if op < 0.25:
                        # The bytes the file holds: reads stay checkable.
                        off = rnd.randrange(0, SIG - 1 * M)
                        os.pwrite(wfd, self.sig[off:off + 1 * M], off)
                        result['writes'] += 1
                        continue
                    if op < 0.35:
                        os.close(os.open(self.m.path(v, 'sig'), os.O_RDONLY))
                        result['opens'] += 1
                        continue
                    fd = fds[v, direct]
                    if direct:
                        off = rnd.randrange(0, SIG - 1 * M) // PAGE * PAGE
                        n = os.preadv(fd, [buf], off)
                        got = buf[:n]
                    else:
                        off = rnd.randrange(0, SIG - 1 * M)
                        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                        got = os.pread(fd, 1 * M, off)
                    result['reads'] += 1
                    if got != self.sig[off:off + 1 * M]:
                        result['bad'].append((v, direct, off, len(got)))
            except BaseException as e:
                result['error'] = e
            finally:
                for fd in list(fds.values()) + [wfd]:
                    os.close(fd)
                buf.close()

        t = threading.Thread(target=client, name='sigusr1-client', daemon=True)
        t.start()
        end = time.monotonic() + 2
        sent = 0
        while time.monotonic() < end and t.is_alive():
            signal.pthread_kill(t.ident, signal.SIGUSR1)
            sent += 1
            time.sleep(0.0002)
        stop.set()
        t.join(20)
        self.assertFalse(t.is_alive(), 'the client thread hangs')
        sys.stderr.write('[%d signals sent, %d handled; %d reads, %d writes, %d opens] '
                         % (sent, hits[0], result['reads'], result['writes'], result['opens']))
        self.assertIsNone(result['error'])
        self.assertEqual(result['bad'], [])
        self.assertGreater(sent, 1000)
        for k in ('reads', 'writes', 'opens'):
            self.assertGreater(result[k], 0, result)
        self.alive()
        with open(self.m.path('ro', 'sig'), 'rb') as f:
            self.assertTrue(f.read() == self.sig)
        with open(self.m.backing('sig.bin'), 'rb') as f:
            self.assertTrue(f.read() == self.sig)

    # -- many opens
    def settle(self):
        """Figures of the daemon once it is idle."""
        time.sleep(0.2)
        pid = self.m.pid
        return daemon_fds(pid), vm_kb(pid, 'VmRSS'), vm_kb(pid, 'RssAnon'), daemon_pipes(pid)

    def test_ten_thousand_open_close_cycles(self):
        targets = [(self.m.path(v, e), os.O_RDWR if v != 'ro' else os.O_RDONLY)
                   for v in ('ro', 'rw', 'cow') for e in ('small', 'anon', 'sig')]
        targets += [(self.m.path('ctl', e, 'status'), os.O_RDONLY) for e in ('small', 'anon')]
        targets += [(self.m.path('ctl', 'small', 'resize'), os.O_RDONLY)]
        rnd = random.Random(3)

        def cycles(n):
            for i in range(n):
                path, flags = targets[rnd.randrange(len(targets))]
                fd = os.open(path, flags)
                if i % 10 == 0:
                    os.read(fd, 64)
                os.close(fd)
        cycles(300)                    # threads and lookups in place
        fds0, rss0, anon0, pipes0 = self.settle()
        t0 = time.monotonic()
        cycles(10000)
        took = time.monotonic() - t0
        fds1, rss1, anon1, pipes1 = self.settle()
        sys.stderr.write('[%.1f s; fds %d -> %d (pipes %d -> %d); VmRSS %d -> %d kB; '
                         'RssAnon %d -> %d kB] '
                         % (took, fds0, fds1, pipes0, pipes1, rss0, rss1, anon0, anon1))
        self.alive()
        self.assertLessEqual(abs(fds1 - fds0), 2, 'daemon fds %d -> %d' % (fds0, fds1))
        # AddressSanitizer's allocator keeps freed blocks (its quarantine)
        # and per-thread caches: more room there, still far below a leak
        # of what 10,000 opens allocate.
        with open('/proc/%d/maps' % self.m.pid) as maps:
            sanitized = 'libasan' in maps.read()
        self.assertLess(rss1 - rss0, (32 if sanitized else 8) * K,
                        'daemon VmRSS %d -> %d kB' % (rss0, rss1))
        with open(self.m.path('ro', 'small'), 'rb') as f:
            self.assertTrue(f.read() == self.small)

    def test_thousand_open_descriptors(self):
        N = 1000
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = N + len(os.listdir('/proc/self/fd')) + 64
        if soft < need:
            if hard != resource.RLIM_INFINITY and hard < need:
                self.skipTest('RLIMIT_NOFILE hard limit %d is below %d' % (hard, need))
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        first = {'small': self.small[:1], 'sig': self.sig[:1], 'anon': pattern(1, 12),
                 'big': MARKS[0][:1]}
        targets = [(v, e) for v in ('ro', 'rw', 'cow') for e in first]
        fds0, rss0, anon0, pipes0 = self.settle()
        fds = []
        during = {}
        try:
            for i in range(N):
                view, name = targets[i % len(targets)]
                fds.append((view, name, os.open(self.m.path(view, name),
                                                os.O_RDONLY if view == 'ro' else os.O_RDWR)))
                if i + 1 in (1, N // 2):
                    during[i + 1] = daemon_fds(self.m.pid)
            bad = [(v, n) for v, n, fd in fds if os.pread(fd, 1, 0) != first[n]]
            self.assertEqual(bad, [])
            during[N] = self.settle()[0]
            sys.stderr.write('[daemon fds: %d before, %s while open] '
                             % (fds0, ', '.join('%d at %d opens' % (v, k)
                                                for k, v in sorted(during.items()))))
            # Not a single daemon descriptor per open file.
            for k, v in sorted(during.items()):
                self.assertLessEqual(v, fds0, 'daemon fds %d before, %d with %d files open'
                                     % (fds0, v, k))
            self.alive()
        finally:
            for _, _, fd in fds:
                os.close(fd)
        fds1, rss1, anon1, pipes1 = self.settle()
        sys.stderr.write('[fds %d -> %d (pipes %d -> %d); VmRSS %d -> %d kB; '
                         'RssAnon %d -> %d kB] '
                         % (fds0, fds1, pipes0, pipes1, rss0, rss1, anon0, anon1))
        self.assertLessEqual(abs(fds1 - fds0), 2, 'daemon fds %d -> %d' % (fds0, fds1))
        self.assertLess(rss1 - rss0, 8 * K, 'daemon VmRSS %d -> %d kB' % (rss0, rss1))
        self.alive()
        with open(self.m.path('ro', 'small'), 'rb') as f:
            self.assertTrue(f.read() == self.small)

    @classmethod
    def tearDownClass(cls):
        status = cls.m.stop()
        if status != 0:
            raise AssertionError('the daemon exited %s at unmount:\n%s' % (status, cls.m.stderr))


if __name__ == '__main__':
    unittest.main()
