"""
Load: readers of ro/ (pread, a client mmap, another process) and of cow/,
writers of rw/ at disjoint offsets and a thread that truncates a second entry
up and down, all at once for a few seconds. Every rw write makes the daemon
invalidate the kernel's cached pages of ro/ and cow/ from its notifier thread
(src/fs.c) while reads of those very pages are in flight: the run must never
hang (run.py's watchdog would fire) and must end coherent: each writer's
range shows its last pattern through ro/ and in the backing file.

The same load runs briefly against a single-threaded daemon (-s).
"""
import mmap
import os
import random
import struct
import subprocess
import sys
import threading
import time
import unittest

from harness import Mount, PAGE

RANGE = 64 * 1024                 # bytes per writer
BIG = 16 * RANGE                  # 1 MiB
FLEX = 64 * 1024
REC = 8                           # a record: (writer id, iteration), little endian


def records(writer, iteration, n=RANGE):
    return struct.pack('<II', writer, iteration) * (n // REC)


def initial_big():
    # Every record already carries the id of the writer owning its range, so
    # a reader can check ids whatever write it races with.
    return b''.join(records(i, 0xFFFFFFFF) for i in range(BIG // RANGE))


def bad_records(data, start):
    """Offsets of records in DATA (read at START, 8-aligned) whose writer id
    is not the owner of their range."""
    bad = []
    for off in range(0, len(data) - REC + 1, REC):
        pos = start + off
        (wid,) = struct.unpack_from('<I', data, off)
        if wid != pos // RANGE:
            bad.append(pos)
            if len(bad) > 5:
                break
    return bad


READER_PROCESS = r'''
import os, struct, sys, time
path, seconds, RANGE, BIG = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
fd = os.open(path, os.O_RDONLY)
end = time.monotonic() + seconds
n = 0
while time.monotonic() < end:
    off = (n * 40968) % (BIG - 65536) // 8 * 8
    data = os.pread(fd, 65536, off)
    if len(data) != 65536:
        print('short read %d at %d' % (len(data), off)); sys.exit(1)
    for i in range(0, len(data), 8):
        if struct.unpack_from('<I', data, i)[0] != (off + i) // RANGE:
            print('bad record at %d' % (off + i)); sys.exit(1)
    n += 1
print(n)
'''


class LoadBase:
    ARGS = ()
    SECONDS = 5.0
    WRITERS = 4
    READERS = 3
    JOIN_TIMEOUT = 60.0

    @classmethod
    def setUpClass(cls):
        cls.m = Mount('[big]\npath = big.bin\n[flex]\npath = flex.bin\n',
                      {'big.bin': initial_big(), 'flex.bin': bytes(FLEX)}, args=cls.ARGS)
        cls.addClassCleanup(cls.m.cleanup)
        cls.m.start()

    def test_concurrent_readers_writers_and_truncation(self):
        m = self.m
        stop = threading.Event()
        errors = []
        counts = {}
        last = {}
        lock = threading.Lock()

        def guard(name, fn):
            def run():
                n = 0
                try:
                    n = fn()
                except BaseException as e:       # reported by the test, not lost
                    errors.append('%s: %r' % (name, e))
                    stop.set()
                with lock:
                    counts[name] = n
            return threading.Thread(target=run, name=name, daemon=True)

        def writer(i):
            def run():
                rnd = random.Random(i)
                fd = os.open(m.path('rw', 'big'), os.O_WRONLY)
                k = 0
                try:
                    while not stop.is_set() or k == 0:    # at least one pass
                        block = records(i, k)
                        off = 0
                        while off < RANGE:              # in chunks of random sizes
                            n = min(RANGE - off, REC * rnd.randint(1, 2048))
                            if os.pwrite(fd, block[off:off + n], i * RANGE + off) != n:
                                raise AssertionError('short write')
                            off += n
                        last[i] = block
                        k += 1
                finally:
                    os.close(fd)
                return k
            return run

        def reader(view, seed):
            def run():
                rnd = random.Random(seed)
                fd = os.open(m.path(view, 'big'), os.O_RDONLY)
                n = 0
                try:
                    while not stop.is_set() or n == 0:
                        off = rnd.randrange(0, BIG // REC) * REC
                        size = min(BIG - off, REC * rnd.randint(1, 4096))
                        data = os.pread(fd, size, off)
                        if len(data) != size:
                            raise AssertionError('short read of %s: %d of %d at %d'
                                                 % (view, len(data), size, off))
                        bad = bad_records(data, off) if view == 'ro' else []
                        if bad:
                            raise AssertionError('%s: foreign records at %s' % (view, bad))
                        n += 1
                finally:
                    os.close(fd)
                return n
            return run

        def mapper():
            rnd = random.Random(99)
            fd = os.open(m.path('ro', 'big'), os.O_RDONLY)
            n = 0
            try:
                with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as mm:
                    while not stop.is_set() or n == 0:
                        off = rnd.randrange(0, BIG // PAGE) * PAGE
                        data = mm[off:off + 2 * PAGE]
                        bad = bad_records(data, off)
                        if bad:
                            raise AssertionError('mmap: foreign records at %s' % bad)
                        n += 1
                        time.sleep(0.001)
            finally:
                os.close(fd)
            return n

        def truncator():
            rnd = random.Random(7)
            n = 0
            fd = os.open(m.path('rw', 'flex'), os.O_RDWR)
            try:
                while not stop.is_set() or n == 0:
                    size = rnd.choice([0, 1, 1000, PAGE, 3 * PAGE + 5, FLEX, 2 * FLEX])
                    if n % 2:
                        os.ftruncate(fd, size)
                    else:
                        os.truncate(m.path('rw', 'flex'), size)
                    n += 1
            finally:
                os.close(fd)
            return n

        def flex_user():
            rnd = random.Random(8)
            n = 0
            rw = os.open(m.path('rw', 'flex'), os.O_RDWR)
            ro = os.open(m.path('ro', 'flex'), os.O_RDONLY)
            try:
                while not stop.is_set() or n == 0:
                    off = rnd.randrange(0, 2 * FLEX)
                    os.pwrite(rw, b'f' * rnd.randint(1, 3000), off)
                    data = os.pread(ro, 8192, rnd.randrange(0, 2 * FLEX))
                    if data.strip(b'f\0'):
                        raise AssertionError('flex: unexpected bytes %r' % data.strip(b'f\0')[:20])
                    n += 1
            finally:
                os.close(rw)
                os.close(ro)
            return n

        threads = [guard('writer%d' % i, writer(i)) for i in range(self.WRITERS)]
        threads += [guard('ro-reader%d' % i, reader('ro', 100 + i)) for i in range(self.READERS)]
        threads += [guard('cow-reader', reader('cow', 200)), guard('mmap-reader', mapper),
                    guard('truncator', truncator), guard('flex-user', flex_user)]
        # Witnesses opened before the load, their pages cached: at the end
        # they must show the last writes, not what they cached.
        witness = os.open(m.path('ro', 'big'), os.O_RDONLY)
        witness_map = mmap.mmap(witness, 0, access=mmap.ACCESS_READ)

        def close_witnesses():
            witness_map.close()
            try:
                os.close(witness)
            except OSError:
                pass
        self.addCleanup(close_witnesses)
        self.assertEqual(os.pread(witness, BIG, 0), initial_big())
        self.assertEqual(witness_map[:], initial_big())

        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, '-c', READER_PROCESS, m.path('ro', 'big'),
                                 str(self.SECONDS), str(RANGE), str(BIG)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for t in threads:
            t.start()
        stop.wait(self.SECONDS)
        stop.set()
        deadline = time.monotonic() + self.JOIN_TIMEOUT
        for t in threads:
            t.join(max(0.1, deadline - time.monotonic()))
        hung = [t.name for t in threads if t.is_alive()]
        try:
            out, _ = proc.communicate(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            hung.append('reader-process')
        elapsed = time.monotonic() - started
        self.assertEqual(hung, [], 'hung after %.0f s: %s' % (elapsed, hung))
        self.assertEqual(errors, [])
        self.assertEqual(proc.returncode, 0, out)
        self.assertIsNone(m.proc.poll(), 'the daemon must still run:\n' + m.stderr)
        self.assertEqual(len(counts), len(threads))
        for name, n in counts.items():       # each did at least one pass
            self.assertGreater(n, 0, '%s made no progress: %s' % (name, counts))
        sys.stderr.write('[%.1f s: %s] ' % (elapsed, ', '.join(
            '%s %d' % kv for kv in sorted(counts.items()))))
        self.assertGreater(int(out), 0)

        # Coherent at the end: each writer's last pattern through ro/ (first
        # the witnesses opened before the load: opening ro/ again would drop
        # their cache; then a new descriptor) and in the file.
        self.assertEqual(sorted(last), list(range(self.WRITERS)))
        rest = self.WRITERS * RANGE

        def check(read, what):
            for i in range(self.WRITERS):
                self.assertTrue(read(i * RANGE, RANGE) == last[i], '%s: writer %d' % (what, i))
            self.assertTrue(read(rest, BIG - rest) == initial_big()[rest:], what)
        check(lambda off, n: witness_map[off:off + n], 'client mmap of ro made before')
        check(lambda off, n: os.pread(witness, n, off), 'ro opened before')
        with open(m.path('ro', 'big'), 'rb') as f:
            check(lambda off, n: os.pread(f.fileno(), n, off), 'ro opened after')
        with open(m.backing('big.bin'), 'rb') as f:
            check(lambda off, n: os.pread(f.fileno(), n, off), 'the file')
        close_witnesses()
        os.truncate(m.path('rw', 'flex'), 5000)
        self.assertEqual(os.stat(m.path('ro', 'flex')).st_size, 5000)
        self.assertEqual(os.stat(m.backing('flex.bin')).st_size, 5000)
        with open(m.path('rw', 'flex'), 'r+b') as f:
            f.write(b'final')
        with open(m.path('ro', 'flex'), 'rb') as f:
            self.assertEqual(f.read(5), b'final')
        self.assertEqual(m.stop(), 0, m.stderr)


class LoadMultiThreaded(LoadBase, unittest.TestCase):
    ARGS = ()
    SECONDS = 5.0


class LoadSingleThreaded(LoadBase, unittest.TestCase):
    """-s: the notifier's invalidations may have to wait for the one
    thread; the load must still finish, maybe slower, and end coherent."""
    ARGS = ('-s',)
    SECONDS = 2.0
    WRITERS = 2
    READERS = 1
