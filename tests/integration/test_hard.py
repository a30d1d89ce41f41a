"""
Hard cases of issue 11, each named after the SPEC sentence it checks:
stale sizes (O_APPEND from a real `sh`, `stat`, `ls -l`, `tail -f` of a
following entry; the written view's own cached pages), a full backing file
system and sizes past the limits (on small tmpfs mounts that the tests make
and always unmount), a mount that would serve itself, the flush range
that doubles as a sentinel, failed commands, reloads that cannot add an
entry, the documented `--map` lines, a bad `-o` option, and one log line
per event.

Every mount is unmounted and every process this file starts is ended by
its PID. Operations that could hang on a mount that serves itself run in
child processes under a timeout; on a hang the FUSE connection is aborted,
which ends them, and the test fails.
"""
import errno
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
import unittest

import harness
from harness import wait_until, write_text, line_of
from harness import PAGE, Mount, TmpDirCase, errno_of, pattern, read_file, run_binary

REPO = harness.REPO
WAIT = 5.0          # seconds for a reload or a log line to show


def sh(script, *args, cwd=None, timeout=20):
    """Runs SCRIPT with a real sh (`sh -c SCRIPT sh ARGS...`)."""
    return subprocess.run(['sh', '-c', script, 'sh'] + list(args), cwd=cwd,
                          capture_output=True, timeout=timeout)


def is_sanitized(binary):
    with open(binary, 'rb') as f:
        return b'__asan_init' in f.read()


def listing(m):
    return {v: sorted(os.listdir(m.path(v))) for v in ('ro', 'rw', 'cow', 'ctl')}


class Tmpfs:
    """A small tmpfs of our own on a fresh folder under /tmp: unmounted
    (lazily if it must be) and removed by cleanup(), by the harness's
    emergency clean-up and by run.py's rescue (the folder is registered)."""

    def __init__(self, size):
        self.dir = harness.new_tmpdir('mmapfs-it-tmpfs-')
        self.mounted = False
        harness.add_cleanup(self.cleanup)
        r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=%s,mode=0755' % size,
                            'mmapfs-it-tmpfs', self.dir], capture_output=True, text=True,
                           timeout=10)
        if r.returncode != 0:
            self.cleanup()
            raise unittest.SkipTest('cannot mount a tmpfs: %s' % r.stderr.strip())
        self.mounted = True

    def path(self, name):
        return os.path.join(self.dir, name)

    def cleanup(self):
        harness.remove_cleanup(self.cleanup)
        if self.mounted:
            r = subprocess.run(['umount', self.dir], capture_output=True, timeout=10)
            if r.returncode != 0:
                subprocess.run(['umount', '-l', self.dir], capture_output=True, timeout=10)
            self.mounted = False
        shutil.rmtree(self.dir, ignore_errors=True)


def fill(path):
    """Writes PATH until the file system is full; returns the bytes written."""
    n = 0
    with open(path, 'wb', buffering=0) as f:
        while True:
            try:
                w = f.write(b'\xee' * PAGE)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                return n
            n += w
            if w < PAGE:
                return n


class HardCase(TmpDirCase):
    def start(self, config, files=None, args=(), env=None):
        """A started foreground Mount, cleaned up at the end of the test
        (before a tmpfs made earlier is unmounted)."""
        m = Mount(config, files, args=args)
        self.addCleanup(m.cleanup)
        return m.start(env=env)

    def tmpfs(self, size='1m'):
        t = Tmpfs(size)
        self.addCleanup(t.cleanup)
        return t

    def assertAlive(self, m):
        self.assertIsNone(m.proc.poll(), 'the daemon died:\n' + m.stderr[-3000:])
        self.assertEqual(sorted(os.listdir(m.mnt)), ['cow', 'ctl', 'ro', 'rw'])

    def sizes(self, m, name, file):
        """(the file's size, st_size of ro/ and rw/, status size and file_size)."""
        st = m.ctl_status(name)
        return (os.path.getsize(file), os.stat(m.path('ro', name)).st_size,
                os.stat(m.path('rw', name)).st_size, int(st['size']), int(st['file_size']))


# ====================================================================== 1. stale sizes

class AppendLandsAtTheEnd(HardCase):
    """SPEC rw/NAME: "A write(2) on a descriptor opened with O_APPEND ...
    lands at the region's end as it is when the write runs (for a following
    entry, the file's current size), whatever offset the kernel passes.\""""

    def append_from_sh(self, change_outside):
        m = self.start('[g]\npath = g.txt\n', {'g.txt': b'hello world\n'})
        # Both views are looked up and read: the kernel knows 12 bytes.
        r = sh('cat ro/g >/dev/null && cat rw/g >/dev/null && stat -c %s rw/g', cwd=m.mnt)
        self.assertEqual((r.returncode, r.stdout), (0, b'12\n'), r)
        change_outside(m.backing('g.txt'))
        r = sh('echo new >> rw/g', cwd=m.mnt)
        self.assertEqual(r.returncode, 0, r)
        return m

    def test_append_after_the_file_was_truncated_outside_writes_at_its_current_end(self):
        def truncate(path):
            r = sh(': > "$1"', path)
            self.assertEqual(r.returncode, 0, r)
        m = self.append_from_sh(truncate)
        self.assertEqual(m.read_backing('g.txt'), b'new\n',
                         'the append must land at the file\'s current end (0), '
                         'not at the size the kernel was told before (12)')
        self.assertEqual(read_file(m.path('ro', 'g')), b'new\n')
        self.assertEqual(os.stat(m.path('ro', 'g')).st_size, 4)
        self.assertEqual(m.stop(), 0, m.stderr)

    def test_append_after_the_file_grew_outside_keeps_the_other_programs_data(self):
        def grow(path):
            r = sh('echo "other program" >> "$1"', path)
            self.assertEqual(r.returncode, 0, r)
        m = self.append_from_sh(grow)
        want = b'hello world\nother program\nnew\n'
        self.assertEqual(m.read_backing('g.txt'), want)
        self.assertEqual(read_file(m.path('ro', 'g')), want)
        self.assertEqual(os.stat(m.path('ro', 'g')).st_size, len(want))
        self.assertEqual(m.stop(), 0, m.stderr)


class FollowingEntrySize(HardCase):
    """SPEC Coherence: "The size of a following entry (`length = 0`) is
    taken from its file at every stat (lookup, getattr) and open, so
    `ls -l`, `stat` and `tail -f` see a file that grew or shrank outside
    the mount.\""""

    def stat_and_ls(self, m):
        r = sh('stat -c %s ro/g rw/g && ls -l ro/g rw/g', cwd=m.mnt)
        self.assertEqual(r.returncode, 0, r)
        lines = r.stdout.decode().splitlines()
        return [int(x) for x in lines[:2]] + [int(l.split()[4]) for l in lines[2:]]

    def test_stat_and_ls_l_show_the_files_current_size_after_it_grew_or_shrank_outside(self):
        m = self.start('[g]\npath = g.txt\n', {'g.txt': b'abc'})
        self.assertEqual(self.stat_and_ls(m), [3] * 4)
        self.assertEqual(os.stat(m.path('ro', 'g')).st_size, 3)
        with open(m.backing('g.txt'), 'ab') as f:
            f.write(b'0123456789' * 3)
        self.assertEqual(self.stat_and_ls(m), [33] * 4, 'grown outside to 33 bytes')
        self.assertEqual(os.stat(m.path('ro', 'g')).st_size, 33)
        os.truncate(m.backing('g.txt'), 7)
        self.assertEqual(self.stat_and_ls(m), [7] * 4, 'shrunk outside to 7 bytes')
        self.assertEqual(m.stop(), 0, m.stderr)

    def test_tail_f_sees_lines_appended_outside_the_mount(self):
        m = self.start('[g]\npath = g.txt\n', {'g.txt': b'first\n'})
        out_path = os.path.join(m.dir, 'tail.out')
        with open(out_path, 'wb') as out:
            p = subprocess.Popen(['tail', '-n', '+1', '-s', '0.2', '-f', m.path('ro', 'g')],
                                 stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
        try:
            self.assertTrue(wait_until(lambda: read_file(out_path) == b'first\n'),
                            read_file(out_path))
            lines = [b'appended %d outside\n' % i for i in range(3)]
            for line in lines:
                with open(m.backing('g.txt'), 'ab') as f:
                    f.write(line)
                time.sleep(0.3)
            want = b'first\n' + b''.join(lines)
            wait_until(lambda: read_file(out_path) == want, timeout=6)
            self.assertEqual(read_file(out_path), want,
                             'tail -f of ro/g must show the 3 lines appended outside')
        finally:
            p.kill()
            p.wait(10)
        self.assertEqual(m.stop(), 0, m.stderr)


# ====================================================================== 2. the written view's cache

class WrittenViewCoherence(HardCase):
    """SPEC Coherence: the daemon invalidates the kernel's cached pages of
    the views when it changes a region, "the view written through too,
    wherever its cached pages no longer match the region, e.g. after a
    write that grows a window"."""

    def test_a_write_that_grows_a_window_drops_the_writers_stale_last_page(self):
        data = pattern(200000, 21)
        m = self.start('[w]\npath = w.bin\noffset = 8192\nlength = 65536\n', {'w.bin': data})
        self.assertEqual(m.ctl_write('w', 'resize', '65000\n'), 0)
        self.assertEqual(os.path.getsize(m.backing('w.bin')), 200000,
                         'a window that ends before the end never cuts the file')
        fd = os.open(m.path('rw', 'w'), os.O_RDWR)
        try:
            self.assertEqual(os.pread(fd, 4096, 61440), data[8192 + 61440:8192 + 65000])
            self.assertEqual(os.pwrite(fd, b'x', 70000), 1)
            want = data[8192 + 65000:8192 + 65008]
            self.assertEqual(m.read_backing('w.bin')[8192 + 65000:8192 + 65008], want)
            self.assertEqual(os.pread(fd, 8, 65000), want,
                             'the writer\'s own descriptor must read the file\'s bytes, '
                             'not the zeros of its cached last page')
            whole = data[8192:8192 + 70000] + b'x'
            self.assertEqual(harness.pread_all(fd, 80000, 0), whole)
        finally:
            os.close(fd)
        self.assertEqual(read_file(m.path('ro', 'w')), whole)
        self.assertEqual(m.stop(), 0, m.stderr)


# ====================================================================== 3. a full file system

class FullFileSystem(HardCase):
    """SPEC rw/NAME: "When the backing file system is full, the write that
    does not fit fails with ENOSPC (short where some of it fit: the sizes
    then grow by exactly the bytes written) and otherwise leaves the file's
    and the region's size as they were." On a 1 MiB tmpfs of the test's
    own."""

    def test_a_write_past_the_space_fails_with_enospc_and_changes_no_size(self):
        t = self.tmpfs('1m')
        data = pattern(1 << 20, 31)
        with open(t.path('full.bin'), 'wb') as f:
            f.write(data)
        self.assertEqual(errno_of(fill, t.path('control.bin')), 0)
        self.assertEqual(os.path.getsize(t.path('control.bin')), 0, 'the tmpfs is full')
        m = self.start('[full]\npath = %s\n' % t.path('full.bin'))
        before = self.sizes(m, 'full', t.path('full.bin'))
        self.assertEqual(before, (1 << 20,) * 5)
        fd = os.open(m.path('rw', 'full'), os.O_WRONLY)
        try:
            for off, n in ((1 << 20, PAGE), ((1 << 20) + 100, 10), ((1 << 20) - 10, 20 + PAGE)):
                if off + n > (1 << 20) and off < (1 << 20):
                    # crossing the end: the part inside fits (no new space)
                    got = os.pwrite(fd, b'y' * n, off)
                    self.assertEqual(got, (1 << 20) - off, 'short where some of it fit')
                    data = data[:off] + b'y' * got
                else:
                    got = errno_of(os.pwrite, fd, b'y' * n, off)
                    self.assertEqual(got, errno.ENOSPC, '%d bytes at %d: %s'
                                     % (n, off, harness.errname(got)))
                self.assertEqual(self.sizes(m, 'full', t.path('full.bin')), before,
                                 (off, n))
        finally:
            os.close(fd)
        self.assertEqual(read_file(t.path('full.bin')), data)
        self.assertEqual(read_file(m.path('ro', 'full')), data)
        self.assertAlive(m)
        self.assertEqual(m.stop(), 0, m.stderr)

    def test_a_write_where_some_fits_is_short_and_sizes_grow_by_exactly_the_bytes_written(self):
        t = self.tmpfs('1m')
        open(t.path('small.bin'), 'wb').close()
        m = self.start('[small]\npath = %s\n' % t.path('small.bin'))
        data = pattern(2 << 20, 32)
        written, end, enospc = b'', 0, False
        fd = os.open(m.path('rw', 'small'), os.O_WRONLY)
        try:
            for _ in range(64):
                try:
                    n = os.pwrite(fd, data, end)
                except OSError as e:
                    self.assertEqual(e.errno, errno.ENOSPC, harness.errname(e.errno))
                    enospc = True
                    self.assertEqual(self.sizes(m, 'small', t.path('small.bin')), (end,) * 5,
                                     'the write that does not fit changes no size')
                    break
                self.assertGreater(n, 0)
                self.assertLess(n, len(data), 'a 2 MiB write on a 1 MiB tmpfs is short')
                written += data[:n]
                end += n
                self.assertEqual(self.sizes(m, 'small', t.path('small.bin')), (end,) * 5,
                                 'the sizes grow by exactly the %d bytes written' % n)
        finally:
            os.close(fd)
        self.assertTrue(enospc, 'the tmpfs filled without an ENOSPC')
        self.assertGreater(end, 0)
        self.assertLessEqual(end, 1 << 20)
        self.assertEqual(read_file(t.path('small.bin')), written)
        self.assertEqual(read_file(m.path('ro', 'small')), written)
        self.assertAlive(m)
        self.assertEqual(m.stop(), 0, m.stderr)

    def test_a_write_into_a_hole_of_a_full_file_system_fails_with_enospc(self):
        """Inside the region (no growth), into a page the file has no block
        for: the file system cannot give one. ENOSPC, not EIO (which says
        the file was cut outside the mount), and the daemon lives on."""
        t = self.tmpfs('1m')
        with open(t.path('holes.bin'), 'wb') as f:
            f.write(b'head')
            f.truncate(256 * 1024)
        fill(t.path('filler.bin'))
        self.assertEqual(errno_of(fill, t.path('control.bin')), 0)
        self.assertEqual(os.path.getsize(t.path('control.bin')), 0, 'the tmpfs is full')
        m = self.start('[holes]\npath = %s\n' % t.path('holes.bin'))
        before = self.sizes(m, 'holes', t.path('holes.bin'))
        self.assertEqual(before, (256 * 1024,) * 5)
        log0 = len(m.stderr)
        fd = os.open(m.path('rw', 'holes'), os.O_WRONLY)
        try:
            for off in (8192, 128 * 1024, 256 * 1024 - PAGE):
                got = errno_of(os.pwrite, fd, b'z' * PAGE, off)
                self.assertEqual(got, errno.ENOSPC, 'a write into the hole at %d: %s'
                                 % (off, harness.errname(got)))
                self.assertEqual(self.sizes(m, 'holes', t.path('holes.bin')), before)
        finally:
            os.close(fd)
        self.assertAlive(m)
        self.assertNotIn('cut outside the mount', m.stderr[log0:],
                         'a full file system is not a truncation')
        want = b'head' + bytes(256 * 1024 - 4)
        self.assertEqual(read_file(m.path('ro', 'holes')), want)
        self.assertEqual(read_file(t.path('holes.bin')), want)
        self.assertEqual(m.stop(), 0, m.stderr)


# ====================================================================== 4. past the limits

class SizesPastTheLimits(HardCase):
    """SPEC rw/NAME: "a size past what the file system or the mapping
    allows fails with EFBIG". On a tmpfs, which takes sparse files of any
    size: the mapping is the limit."""

    SIZES = (1 << 46, 1 << 50)

    def setUp(self):
        self.t = self.tmpfs('1m')
        self.data = pattern(2 * PAGE, 41)
        with open(self.t.path('f.bin'), 'wb') as f:
            f.write(self.data)
        self.m = self.start('[f]\npath = %s\n' % self.t.path('f.bin'))
        self.before = self.sizes(self.m, 'f', self.t.path('f.bin'))

    def assertUnchanged(self, what):
        self.assertEqual(self.sizes(self.m, 'f', self.t.path('f.bin')), self.before, what)
        self.assertEqual(read_file(self.t.path('f.bin')), self.data, what)
        self.assertAlive(self.m)

    def test_a_write_at_2_46_and_2_50_fails_with_efbig(self):
        fd = os.open(self.m.path('rw', 'f'), os.O_WRONLY)
        try:
            for off in self.SIZES:
                with self.subTest(write_at='2^%d' % (off.bit_length() - 1)):
                    got = errno_of(os.pwrite, fd, b'far away', off)
                    self.assertEqual(got, errno.EFBIG, harness.errname(got))
                    self.assertUnchanged(off)
        finally:
            os.close(fd)
        self.assertEqual(self.m.stop(), 0, self.m.stderr)

    def test_a_resize_to_2_46_and_2_50_fails_with_efbig(self):
        def ctl(size):
            got = self.m.ctl_write('f', 'resize', '%d\n' % size)
            if got:
                raise OSError(got, os.strerror(got))

        def truncate(size):
            os.truncate(self.m.path('rw', 'f'), size)

        def ftruncate(size):
            with open(self.m.path('rw', 'f'), 'r+b') as f:
                os.ftruncate(f.fileno(), size)

        def fallocate(size):
            with open(self.m.path('rw', 'f'), 'r+b') as f:
                os.posix_fallocate(f.fileno(), size - PAGE, PAGE)

        for how in (ctl, truncate, ftruncate, fallocate):
            for size in self.SIZES:
                with self.subTest(how=how.__name__, size='2^%d' % (size.bit_length() - 1)):
                    got = errno_of(how, size)
                    self.assertEqual(got, errno.EFBIG, harness.errname(got))
                    self.assertUnchanged((how.__name__, size))
        self.assertEqual(self.m.stop(), 0, self.m.stderr)


# ====================================================================== 5. serving itself

class ServingItself(HardCase):
    """SPEC Config: an error is "a file on the mount's own file system (it
    would serve itself)", at start and at reload ("a config with errors
    changes nothing and is logged")."""

    def test_a_backing_file_inside_the_mount_point_is_a_config_error_at_start(self):
        d = self.tmpdir()
        self.write(d, 'a.bin', b'fine\n')
        self.write(d, 'mnt/data.bin', pattern(PAGE, 51))   # in the mount point's folder
        os.symlink('mnt', os.path.join(d, 'link'))
        for path in ('mnt/data.bin', os.path.join(d, 'mnt', 'data.bin'), 'link/data.bin'):
            with self.subTest(path=path):
                config = '[a]\npath = a.bin\n\n[b]\npath = %s\n' % path
                self.write(d, 'c.ini', config)
                r = run_binary(['c.ini', 'mnt'], mountpoint=os.path.join(d, 'mnt'), cwd=d)
                self.assertEqual(r.status, 1, r)
                self.assertFalse(r.mounted, r)
                self.assertRegex(r.stderr, r'(?m)^c\.ini:%d: .*data\.bin'
                                 % line_of(config, 'path = ' + path))
                self.assertFalse(harness.is_mounted(os.path.join(d, 'mnt')))

    def bounded(self, m, argv, timeout=5.0):
        """Runs ARGV (a tool on the mount) in a child; a hang aborts the FUSE
        connection (which ends it) and fails the test."""
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, cwd='/')
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            log = m.stderr
            m.emergency()
            p.kill()
            p.communicate(timeout=10)
            self.fail('%s hung on the mount for %.0f s: the connection was aborted\n%s'
                      % (' '.join(argv), timeout, log[-2000:]))
        return p.returncode, out, err

    def check_refused_at_reload(self, args):
        a = pattern(3 * PAGE, 52)
        m = self.start('[a]\npath = a.bin\n', {'a.bin': a}, args=args)
        config = '[a]\npath = a.bin\n\n[b]\npath = %s\n' % m.path('rw', 'a')
        write_text(m.config_path, config)
        os.kill(m.pid, signal.SIGHUP)
        outcome = wait_until(lambda: re.search(r'reload failed|reloaded:', m.stderr))
        rc, out, err = self.bounded(m, ['ls', m.path('ro')])
        if rc == 0 and b'b' in out.split():
            log = m.stderr
            m.emergency()
            self.fail('the reload added an entry that the mount serves itself (connection '
                      'aborted):\n' + log[-2000:])
        self.assertTrue(outcome, 'no reload outcome in the log within %.0f s:\n%s'
                        % (WAIT, m.stderr[-2000:]))
        self.assertEqual((rc, out), (0, b'a\n'), err)
        self.assertRegex(m.stderr, r'(?m)^mmapfs: %s:%d: .*%s'
                         % (re.escape(m.config_path), line_of(config, 'path = ' + m.mnt),
                            re.escape(m.path('rw', 'a'))))
        self.assertIn('reload failed', m.stderr)
        rc, out, err = self.bounded(m, ['cat', m.path('ro', 'a')])
        self.assertEqual((rc, out), (0, a), err)
        for view in ('ro', 'rw', 'cow', 'ctl'):
            rc, out, err = self.bounded(m, ['ls', m.path(view)])
            self.assertEqual((rc, out), (0, b'a\n'), (view, err))
        self.assertAlive(m)
        self.assertEqual(m.stop(), 0, m.stderr)

    def test_a_backing_file_on_the_mount_itself_is_refused_at_reload_single_threaded(self):
        self.check_refused_at_reload(['-s'])

    def test_a_backing_file_on_the_mount_itself_is_refused_at_reload_multi_threaded(self):
        self.check_refused_at_reload([])


# ====================================================================== 6. flush range

class FlushRange(HardCase):
    """SPEC ctl flush: `OFFSET SIZE` msyncs "that part of the rw region
    (... the range must lie inside the region)"; a number out of range is
    EINVAL. 2^64 - 1 is a size like any other, never "to the end"."""

    def test_flush_with_size_2_64_minus_1_is_einval(self):
        m = self.start('[f]\npath = f.bin\n', {'f.bin': pattern(4 * PAGE, 61)})
        for text in ('1 18446744073709551615', '0 0xffffffffffffffff',
                     '0 0XFFFFFFFFFFFFFFFF', 'async 0 0xffffffffffffffff',
                     'async 1 18446744073709551615'):
            with self.subTest(text=text):
                errors0 = int(m.ctl_status('f')['errors'])
                # coreutils' echo names the errno; dash's builtin says
                # "I/O error" for every failed write.
                r = sh('env echo "$1" > ctl/f/flush', text, cwd=m.mnt)
                self.assertNotEqual(r.returncode, 0, 'echo %s > ctl/f/flush succeeded' % text)
                self.assertIn(b'Invalid argument', r.stderr)
                self.assertEqual(m.ctl_write('f', 'flush', text), errno.EINVAL, text)
                st = m.ctl_status('f')
                self.assertEqual(int(st['errors']), errors0 + 2)
                self.assertTrue(st['last_error'].startswith('flush: '), st['last_error'])
        self.assertEqual(m.ctl_write('f', 'flush', '0 %d' % (4 * PAGE)), 0)
        self.assertEqual(m.stop(), 0, m.stderr)


# ====================================================================== 7. failed commands

class FailedCommands(HardCase):
    """SPEC Control files: "On failure nothing changes but `last_error`
    and the `errors` counter": nor are the kernel's cached pages of any
    view invalidated. Seen in libfuse's -d trace: a FUSE_NOTIFY_INVAL_INODE
    is logged as `NOTIFY: code=2`."""

    def test_a_failed_command_invalidates_no_view(self):
        m = self.start('[e]\npath = e.bin\nlength = 4K\n', {'e.bin': pattern(PAGE, 71)},
                       args=['-d'])
        fds = []
        try:
            for view in ('ro', 'rw', 'cow'):     # open, with cached pages
                fd = os.open(m.path(view, 'e'), os.O_RDONLY)
                fds.append(fd)
                os.pread(fd, PAGE, 0)

            def notifies(text, want_err):
                n = len(m.stderr)
                self.assertEqual(m.ctl_write('e', text.split()[0], ' '.join(text.split()[1:])),
                                 want_err, text)
                time.sleep(0.2)
                return m.stderr[n:].count('NOTIFY: code=2 ')

            # control: a move that succeeds invalidates (the trace shows it)
            self.assertGreater(notifies('move 0 100 10', 0), 0,
                               'control: a move that succeeds shows NOTIFY: code=2 in the '
                               '-d trace:\n' + m.stderr[-2000:])
            for text, err in (('move 0 8000 10', errno.EINVAL),
                              ('move 8000 0 10', errno.EINVAL),
                              ('move cow 0 8000 10', errno.EINVAL),
                              ('resize %d' % (1 << 62), None)):
                with self.subTest(text=text):
                    n = len(m.stderr)
                    errors0 = int(m.ctl_status('e')['errors'])
                    got = m.ctl_write('e', text.split()[0], ' '.join(text.split()[1:]))
                    if err is None:
                        self.assertNotEqual(got, 0, text)
                    else:
                        self.assertEqual(got, err, text)
                    time.sleep(0.2)
                    self.assertEqual(int(m.ctl_status('e')['errors']), errors0 + 1)
                    trace = [l for l in m.stderr[n:].splitlines()
                             if 'NOTIFY' in l or 'WRITE' in l or '[e]' in l or 'error:' in l]
                    self.assertEqual(m.stderr[n:].count('NOTIFY: code=2 '), 0,
                                     'a failed %r invalidated views:\n%s'
                                     % (text, '\n'.join(trace)))
        finally:
            for fd in fds:
                os.close(fd)
        self.assertEqual(m.stop(), 0, m.stderr[-2000:])


# ====================================================================== 8. reload refusals

INJECT_C = r'''
/* strdup() that fails (ENOMEM) the FAIL_AT-th time it copies the string
 * MMAPFS_TEST_NAME, and appends "call N" / "fail N" to MMAPFS_TEST_LOG. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int calls;

static void note(const char *what, int n)
{
	const char *log = getenv("MMAPFS_TEST_LOG");
	char line[64];
	int fd, len;

	if (!log)
		return;
	len = snprintf(line, sizeof(line), "%s %d\n", what, n);
	fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, line, (size_t)len) < 0) {}
		close(fd);
	}
}

char *strdup(const char *s)
{
	const char *name = getenv("MMAPFS_TEST_NAME");
	size_t n = strlen(s) + 1;
	char *copy;

	if (name && strcmp(s, name) == 0) {
		int k = __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST);
		const char *at = getenv("MMAPFS_TEST_FAIL_AT");

		note("call", k);
		if (at && atoi(at) == k) {
			note("fail", k);
			errno = ENOMEM;
			return NULL;
		}
	}
	copy = malloc(n);
	if (copy)
		memcpy(copy, s, n);
	return copy;
}
'''


class ReloadRefusals(HardCase):
    """SPEC Command line, SIGHUP, and docs (mmapfs.1 SIGNALS, design.md
    "Reloading"): a reload that fails on the way changes nothing, and its
    reason is logged. Here one new entry cannot be added because memory
    runs out (an LD_PRELOAD strdup that fails for that entry's name, at
    each place the daemon copies it during the reload)."""

    VICTIM = 'victim-entry'
    BASE = '[a]\npath = a.bin\n\n[gone]\nanonymous = yes\nlength = 4K\n'
    NEW = ('[a]\npath = a.bin\n\n[victim-entry]\npath = v.bin\n\n'
           '[other]\nanonymous = yes\nlength = 4K\n')
    FILES = {'a.bin': pattern(2 * PAGE, 81), 'v.bin': pattern(PAGE, 82)}

    def build_injector(self):
        if is_sanitized(harness.BINARY):
            self.skipTest('a sanitizer build does not take an LD_PRELOAD library')
        cc = shutil.which('cc') or shutil.which('gcc')
        if not cc:
            self.skipTest('no C compiler for the fault injector')
        d = self.tmpdir()
        src = self.write(d, 'inject.c', INJECT_C)
        lib = os.path.join(d, 'inject.so')
        r = subprocess.run([cc, '-shared', '-fPIC', '-O1', '-o', lib, src],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return d, lib

    def reload(self, lib, logdir, fail_at, run):
        """Mounts BASE with the injector failing the FAIL_AT-th copy of the
        victim's name (0: none), reloads NEW, waits for the outcome; returns
        (mount, injector log, daemon log since the reload, snapshot before)."""
        inject_log = os.path.join(logdir, 'inject-%d-%d.log' % (fail_at, run))
        env = dict(os.environ, LD_PRELOAD=lib, MMAPFS_TEST_NAME=self.VICTIM,
                   MMAPFS_TEST_FAIL_AT=str(fail_at), MMAPFS_TEST_LOG=inject_log)
        m = self.start(self.BASE, self.FILES, env=env)
        before = self.snapshot(m)
        n = len(m.stderr)
        write_text(m.config_path, self.NEW)
        os.kill(m.pid, signal.SIGHUP)
        done = wait_until(lambda: re.search(r'reload failed|reloaded:', m.stderr[n:]))
        time.sleep(0.2)
        self.assertTrue(done, 'no reload outcome in the log:\n' + m.stderr[-2000:])
        try:
            log = read_file(inject_log).decode()
        except FileNotFoundError:
            log = ''
        return m, log, m.stderr[n:], before

    def snapshot(self, m):
        out = {'listing': listing(m)}
        for v in ('ro', 'rw', 'cow', 'ctl'):
            for name in os.listdir(m.path(v)):
                out[v, name] = os.stat(m.path(v, name)).st_ino
        return out

    def test_an_entry_that_cannot_be_added_is_logged_and_the_whole_reload_refused(self):
        logdir, lib = self.build_injector()
        # How many times does a reload copy the new entry's name?
        m, log, _, _ = self.reload(lib, logdir, 0, 0)
        self.assertEqual(listing(m)['ro'], ['a', 'other', self.VICTIM], m.stderr)
        calls = log.count('call ')
        self.assertEqual(m.stop(), 0, m.stderr)
        if calls == 0:
            self.skipTest('the daemon never strdup()s an entry name: nothing to inject')
        for k in range(1, calls + 1):
            with self.subTest(failing_copy=k, of=calls):
                m, log, new_log, before = self.reload(lib, logdir, k, 1)
                self.assertIn('fail %d' % k, log)
                self.assertAlive(m)
                self.assertEqual(self.snapshot(m), before,
                                 'the reload partly applied (%s): the docs say a reload '
                                 'that fails changes nothing; log:\n%s'
                                 % (listing(m)['ro'], new_log))
                self.assertRegex(new_log, r'(?im)^mmapfs: .*%s.*(memory|cannot allocate)'
                                 % re.escape(self.VICTIM),
                                 'the refused entry and its reason must be logged:\n'
                                 + new_log)
                self.assertIn('reload failed', new_log)
                # The same reload, with memory enough this time, applies.
                n = len(m.stderr)
                os.kill(m.pid, signal.SIGHUP)
                self.assertTrue(wait_until(lambda: 'reloaded:' in m.stderr[n:]), m.stderr[n:])
                self.assertEqual(listing(m)['ro'], ['a', 'other', self.VICTIM])
                self.assertEqual(read_file(m.path('ro', self.VICTIM)), self.FILES['v.bin'])
                self.assertEqual(m.stop(), 0, m.stderr)


# ====================================================================== 11. documented --map lines

def documented_map_lines():
    """(source, command line) of every `mmapfs ... --map ...` command that
    README.md and docs/mmapfs.1 show."""
    out = []
    with open(os.path.join(REPO, 'README.md')) as f:
        readme = f.read()
    for cmd in re.findall(r'`(mmapfs [^`\n]*--map [^`\n]*)`', readme):
        out.append(('README.md', cmd))
    for line in readme.splitlines():       # in code blocks
        s = line.split('#')[0].strip()
        if s.startswith('mmapfs ') and '--map ' in s and '`' not in s:
            out.append(('README.md', s))
    with open(os.path.join(REPO, 'docs', 'mmapfs.1')) as f:
        for line in f:
            s = line.strip().replace('\\-', '-').replace('\\(aq', "'").replace('\\e', '\\')
            if s.startswith('mmapfs ') and '--map ' in s and '\\f' not in s:
                out.append(('docs/mmapfs.1', s))
    return out


def parse_map(arg):
    """NAME, PATH and {key: value} of a --map argument; an item without `=`
    continues the value before it (`views=ro,cow`)."""
    items = arg.split(',')
    name, _, path = items[0].partition('=')
    keys, last = {}, None
    for item in items[1:]:
        if '=' in item:
            last, _, value = item.partition('=')
            keys[last] = value
        else:
            keys[last] += ',' + item
    return name, path, keys


class DocMount(Mount):
    """A Mount started by a documented command line (no -f: it returns
    once mounted)."""

    def _all_pids(self):
        return sorted(set(super()._all_pids()) | set(harness.daemon_pids(self.mnt)))


class DocumentedMapLines(HardCase):
    """README and mmapfs.1 show `--map` lines; they work as written (SPEC
    Command line: "`views=ro,cow` lists several views, commas and all")."""

    def test_the_map_lines_of_the_readme_and_the_man_page_work_as_written(self):
        lines = documented_map_lines()
        self.assertIn('README.md', [s for s, _ in lines], lines)
        self.assertIn('docs/mmapfs.1', [s for s, _ in lines], lines)
        fixture = pattern(3 * PAGE, 111)
        for source, line in lines:
            with self.subTest(source=source, line=line):
                # the mount part of `... -- COMMAND` (COMMAND: test_command.py)
                argv = shlex.split(line.split(' -- ', 1)[0])
                first_opt = next(i for i, a in enumerate(argv) if a.startswith('-'))
                positional = argv[1:first_opt]
                self.assertEqual(len(positional), 1, 'a mount point, then --map: %r' % line)
                maps = [argv[i + 1] for i, a in enumerate(argv) if a == '--map']
                m = DocMount('')
                self.addCleanup(m.cleanup)
                work = os.path.join(m.dir, 'work')
                os.mkdir(work)
                want = {}
                for arg in maps:
                    name, path, keys = parse_map(arg)
                    views = [v.strip() for v in re.split(r'[ ,]+', keys.get('views', 'ro,rw,cow'))
                             if v.strip()]
                    if path != 'anonymous':
                        with open(os.path.join(work, path), 'wb') as f:
                            f.write(fixture)
                        size = len(fixture)
                    else:
                        size = harness_size(keys['length'])
                    want[name] = (sorted(views), size)
                run = [harness.BINARY] + [m.mnt if a == positional[0] else a for a in argv[1:]]
                try:
                    m.start(launcher=run, cwd=work)
                except harness.MountError as e:
                    self.fail('%s as written: %s' % (line, e))
                self.assertEqual(m.status, 0, m.stderr)
                for name, (views, size) in want.items():
                    got = sorted(v for v in ('ro', 'rw', 'cow')
                                 if os.path.exists(m.path(v, name)))
                    self.assertEqual(got, views, name)
                    for v in views:
                        self.assertEqual(os.stat(m.path(v, name)).st_size, size, (name, v))
                    if name in [parse_map(a)[0] for a in maps if parse_map(a)[1] != 'anonymous']:
                        self.assertEqual(read_file(m.path(views[0], name)), fixture)
                m.stop()
                self.assertFalse(harness.is_mounted(m.mnt))


def harness_size(text):
    suffix = {'K': 10, 'M': 20, 'G': 30, 'T': 40}
    if text[-1].upper() in suffix:
        return int(text[:-1], 0) << suffix[text[-1].upper()]
    return int(text, 0)


# ====================================================================== 12. the command line first

class CommandLineFirst(HardCase):
    """SPEC Command line: exit status 1 "for a bad config or command line",
    and (issue 11) the whole command line is checked before any file is
    touched: a bad `-o` option creates no `create = yes` file."""

    def test_a_bad_o_option_exits_1_without_creating_a_create_yes_file(self):
        d = self.tmpdir()
        self.write(d, 'c.ini', '[n]\npath = new.bin\ncreate = yes\nlength = 4K\n')
        os.mkdir(os.path.join(d, 'mnt'))
        mnt = os.path.join(d, 'mnt')
        for argv in (['c.ini', 'mnt', '-o', 'nosuchoption'],
                     ['c.ini', 'mnt', '-f', '-o', 'nosuchoption'],
                     ['c.ini', 'mnt', '-o', 'ro,nosuchoption'],
                     ['mnt', '--map', 'n=new.bin,create=yes,length=4K', '-o', 'nosuchoption']):
            with self.subTest(argv=argv):
                r = run_binary(argv, mountpoint=mnt, cwd=d)
                self.assertEqual(r.status, 1, r)
                self.assertNothingMounted(r, mnt)
                self.assertIn('nosuchoption', r.stderr)
                self.assertFalse(os.path.exists(os.path.join(d, 'new.bin')),
                                 'a bad command line created the create = yes file')


# ====================================================================== 13. one line per event

class OneLogLinePerEvent(HardCase):
    """Issue 11, 13 (SPEC Lifecycle: the reason of each fault is logged at
    level info or above): one message per event, at the right level."""

    def test_a_faulted_read_logs_its_fault_and_no_bad_address_error(self):
        data = pattern(64 * 1024, 131)
        m = self.start('[w]\npath = w.bin\nlength = 64K\n', {'w.bin': data})
        fd = os.open(m.path('ro', 'w'), os.O_RDONLY)
        try:
            self.assertEqual(os.pread(fd, 100, 0), data[:100])
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.truncate(m.backing('w.bin'), PAGE)
            n = len(m.stderr)
            got = errno_of(os.pread, fd, PAGE, 32768)
            self.assertIn(got, (0, errno.EIO), harness.errname(got))
            if got == 0:
                self.assertIn(os.pread(fd, PAGE, 32768), (b'', bytes(PAGE)), 'no foreign bytes')
            time.sleep(0.2)
        finally:
            os.close(fd)
        new = m.stderr[n:]
        self.assertNotIn('writing device', new,
                         'a faulted read is no error of the FUSE device:\n' + new)
        self.assertNotIn('Bad address', new)
        fault_lines = [l for l in new.splitlines() if '[w]' in l]
        if got == errno.EIO:
            self.assertEqual(len(fault_lines), 1, 'one line for the fault:\n' + new)
        else:
            self.assertLessEqual(len(fault_lines), 1, 'one line for the fault:\n' + new)
        self.assertAlive(m)
        self.assertEqual(m.stop(), 0, m.stderr)

    def test_libfuse_messages_are_one_line_each(self):
        """libfuse writes its "unknown option(s)" message in pieces; each
        message is one `mmapfs:` line."""
        d = self.tmpdir()
        self.write(d, 'a.bin', b'data\n')
        self.write(d, 'c.ini', '[a]\npath = a.bin\n')
        mnt = os.path.join(d, 'mnt')
        os.mkdir(mnt)
        r = run_binary(['c.ini', 'mnt', '-o', 'nosuchoption'], mountpoint=mnt, cwd=d)
        self.assertEqual(r.status, 1, r)
        lines = r.stderr.splitlines()
        naming = [l for l in lines if 'nosuchoption' in l]
        self.assertEqual(len(naming), 1, r.stderr)
        for line in filter(str.strip, lines):
            msg = line[len('mmapfs:'):].strip() if line.startswith('mmapfs:') else line
            self.assertGreater(len(msg.split()), 1, 'a piece of a message: %r in\n%s'
                               % (line, r.stderr))
            self.assertFalse(msg.endswith('`'), 'a piece of a message: %r' % line)
        self.assertRegex(naming[0], r'option.*nosuchoption')


if __name__ == '__main__':
    unittest.main()
