"""
Hostile input: sizes no file system can hold, 10,000 entries, names full of
shell metacharacters and UTF-8, backing files cut under a reader, and a
client that writes megabytes of garbage to the control files. The daemon
must keep running, fail with the SPEC's errno and a clear last_error, and
change nothing.
"""
import errno
import os
import random
import resource
import shutil
import subprocess
import threading
import time
import unittest

import harness
from harness import PAGE, Mount, errno_of, pattern, read_file, run_binary, sha256_hex


def fs_type(path):
    r = subprocess.run(['stat', '-f', '-c', '%T', path], capture_output=True, text=True,
                       timeout=10)
    return r.stdout.strip()


class HostileCase(harness.MountCase):
    """A shared mount, and what the tests below check after hostile input."""

    def digest(self, names):
        """sha256 of every view of NAMES and of every backing file."""
        out = {}
        for name in names:
            for view in ('ro', 'rw', 'cow'):
                p = self.p(view, name)
                if os.path.exists(p):
                    out[view, name] = (os.stat(p).st_size, sha256_hex(read_file(p)))
        for name in self.FILES:
            out['file', name] = sha256_hex(self.m.read_backing(name))
        return out

    def assertAlive(self):
        self.assertIsNone(self.m.proc.poll(), 'the daemon died:\n' + self.m.stderr[-3000:])
        self.assertIn('ro', os.listdir(self.m.mnt))


# ====================================================================== huge sizes

DATA = pattern(8 * PAGE, 1)


class HugeResize(HostileCase):
    CONFIG = '[f]\npath = f.bin\n\n[win]\npath = w.bin\nlength = 4K\n'
    FILES = {'f.bin': DATA, 'w.bin': DATA}

    def assertResizeFails(self, name, text, errnos, reason_pattern):
        before = self.digest(['f', 'win'])
        st0 = self.m.ctl_status(name)
        got = self.m.ctl_write(name, 'resize', text)
        self.assertIn(got, errnos, '%r: %s' % (text, harness.errname(got)))
        st = self.m.ctl_status(name)
        self.assertEqual((st['size'], st['file_size'], st['cow_size']),
                         (st0['size'], st0['file_size'], st0['cow_size']))
        self.assertEqual(int(st['errors']), int(st0['errors']) + 1)
        self.assertEqual(st['resizes'], st0['resizes'])
        self.assertRegex(st['last_error'], reason_pattern)
        self.assertEqual(self.digest(['f', 'win']), before)
        self.assertEqual(os.path.getsize(self.m.backing('f.bin')), len(DATA))
        self.assertEqual(os.path.getsize(self.m.backing('w.bin')), len(DATA))
        self.assertAlive()
        return got

    def test_2_to_the_63_is_einval(self):
        for name in ('f', 'win'):
            self.assertResizeFails(name, '9223372036854775808\n', [errno.EINVAL],
                                   r'^resize: .*9223372036854775808')
            self.assertResizeFails(name, '0x8000000000000000', [errno.EINVAL], r'^resize: ')
            self.assertResizeFails(name, '18446744073709551615', [errno.EINVAL], r'^resize: ')
            self.assertResizeFails(name, '18446744073709551616', [errno.EINVAL],
                                   r'^resize: .*2\^64')
            self.assertResizeFails(name, '16777216T', [errno.EINVAL], r'^resize: ')

    def test_window_offset_plus_size_overflowing_is_einval(self):
        m = Mount('[w]\npath = w.bin\noffset = 4K\nlength = 4K\n', {'w.bin': DATA})
        self.addCleanup(m.cleanup)
        m.start()
        fd = os.open(m.path('ctl', 'w', 'resize'), os.O_WRONLY)
        try:
            # offset + SIZE past 2^63 - 1 (and past 2^64 - 1)
            for text in (b'9223372036854771712', b'18446744073709547520'):
                self.assertEqual(errno_of(os.write, fd, text), errno.EINVAL, text)
        finally:
            os.close(fd)
        self.assertEqual(os.path.getsize(m.backing('w.bin')), len(DATA))
        self.assertEqual(read_file(m.path('ro', 'w')), DATA[PAGE:2 * PAGE])
        self.assertEqual(m.stop(), 0)

    def test_size_the_file_system_cannot_hold(self):
        kind = fs_type(self.m.dir)
        if kind in ('ext2/ext3', 'ext4'):
            # ext4 with 4 KiB blocks: files end before 16 TiB
            sizes, errnos = ['17T', '16T'], [errno.EFBIG]
        elif kind == 'xfs':
            sizes, errnos = ['9223372036854775807'], [errno.EFBIG, errno.EINVAL]
        else:
            sizes = ['9223372036854775807']
            errnos = [errno.EFBIG, errno.ENOSPC, errno.EINVAL, errno.ENOMEM]
        for name in ('f', 'win'):
            for text in sizes:
                n = harness_size(text)
                # both entries start at offset 0: the file would be N bytes
                got = self.assertResizeFails(
                    name, text + '\n', errnos,
                    r'^resize: cannot (make the file|map) %d bytes: \S' % n)
                if got == errno.EFBIG:
                    self.assertRegex(self.m.ctl_status(name)['last_error'],
                                     r'^resize: cannot make the file %d bytes: File too large$'
                                     % n)
        # and the daemon still resizes
        self.assertEqual(self.m.ctl_write('f', 'resize', '5000'), 0)
        self.assertEqual(self.m.read_backing('f.bin'), DATA[:5000])
        self.assertEqual(self.m.ctl_write('f', 'resize', str(len(DATA))), 0)
        self.assertEqual(self.m.read_backing('f.bin'), DATA[:5000] + bytes(len(DATA) - 5000))
        with open(self.p('rw', 'f'), 'r+b') as f:
            f.write(DATA)
        self.assertEqual(self.m.read_backing('f.bin'), DATA)

    def test_rw_write_at_a_huge_offset(self):
        """A write that would grow the region past what the file system can
        hold fails (EFBIG or EINVAL) and changes nothing."""
        before = self.digest(['f'])
        fd = os.open(self.p('rw', 'f'), os.O_WRONLY)
        try:
            got = errno_of(os.pwrite, fd, b'far away', (1 << 62))
        finally:
            os.close(fd)
        self.assertIn(got, (errno.EFBIG, errno.EINVAL), harness.errname(got))
        self.assertEqual(self.digest(['f']), before)
        self.assertEqual(os.path.getsize(self.m.backing('f.bin')), len(DATA))
        self.assertAlive()


def harness_size(text):
    suffix = {'K': 10, 'M': 20, 'G': 30, 'T': 40}
    if text[-1] in suffix:
        return int(text[:-1]) << suffix[text[-1]]
    return int(text, 0)


# ====================================================================== 10,000 entries

N_ENTRIES = 10000
N_FILE_ENTRIES = 10
SHARED = pattern(N_FILE_ENTRIES * PAGE, 2)


def many_config():
    parts = []
    for i in range(N_ENTRIES - N_FILE_ENTRIES):
        parts.append('[anon%05d]\nanonymous = yes\nlength = 4K\n' % i)
    for i in range(N_FILE_ENTRIES):
        parts.append('[win%02d]\npath = shared.bin\noffset = %d\nlength = 4K\n' % (i, i * PAGE))
    return ''.join(parts)


class NoFileLimit:
    """Sets this process's RLIMIT_NOFILE soft limit (inherited by the
    daemon) for the duration of a with block."""

    def __init__(self, soft):
        self.soft = soft

    def __enter__(self):
        self.saved = resource.getrlimit(resource.RLIMIT_NOFILE)
        hard = self.saved[1]
        soft = self.soft if hard == resource.RLIM_INFINITY else min(self.soft, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        return soft

    def __exit__(self, *exc):
        resource.setrlimit(resource.RLIMIT_NOFILE, self.saved)


class ManyEntries(unittest.TestCase):
    def check_mount(self, m):
        names = set(['anon%05d' % i for i in range(N_ENTRIES - N_FILE_ENTRIES)] +
                    ['win%02d' % i for i in range(N_FILE_ENTRIES)])
        r = subprocess.run(['ls', '-l', m.path('ro')], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith('total '), lines[0])
        self.assertEqual(len(lines) - 1, N_ENTRIES)
        self.assertEqual(set(l.split()[-1] for l in lines[1:]), names)
        for view in ('ro', 'rw', 'cow', 'ctl'):
            self.assertEqual(set(os.listdir(m.path(view))), names, view)
        rnd = random.Random(10000)
        for name in rnd.sample(sorted(names), 20):
            st = os.stat(m.path('ro', name))
            self.assertEqual(st.st_size, PAGE, name)
            with open(m.path('ctl', name, 'status')) as f:
                self.assertIn('name: %s\n' % name, f.read())
        with open(m.path('rw', 'anon09000'), 'r+b') as f:
            f.write(b'nine thousand')
        self.assertEqual(read_file(m.path('ro', 'anon09000'))[:14], b'nine thousand\0')
        self.assertEqual(read_file(m.path('ro', 'anon08999')), bytes(PAGE))
        for i in (0, 7, 9):
            self.assertEqual(read_file(m.path('cow', 'win%02d' % i)),
                             SHARED[i * PAGE:(i + 1) * PAGE])

    def test_ten_thousand_entries(self):
        """9,990 anonymous entries and 10 windows of one file: mounted within
        30 s, listed, usable, unmounted cleanly. The daemon starts under
        Debian's default soft limit of 1024 open files (the hard one is
        524288 under systemd, also for mmapfs@.service, which sets no
        LimitNOFILE=): holding a descriptor per entry, it must raise its
        soft limit itself."""
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if hard != resource.RLIM_INFINITY and hard < N_ENTRIES + 100:
            self.skipTest('hard RLIMIT_NOFILE %d is below %d' % (hard, N_ENTRIES + 100))
        # A sanitizer build maps 10,000 entries about 20 times slower.
        slow = is_sanitized(harness.BINARY)
        m = Mount(many_config(), {'shared.bin': SHARED}, start_timeout=120 if slow else 30)
        self.addCleanup(m.cleanup)
        t0 = time.monotonic()
        try:
            with NoFileLimit(1024):
                m.start()
        except harness.MountError as e:
            lines = str(e).splitlines()
            self.fail('\n'.join(lines[:4] + ['... %d lines in all' % len(lines)]))
        took = time.monotonic() - t0
        if not slow:
            self.assertLess(took, 30)
        self.check_mount(m)
        t0 = time.monotonic()
        self.assertEqual(m.stop(), 0, m.stderr[-2000:])
        self.assertLess(time.monotonic() - t0, 30)
        self.assertFalse(harness.is_mounted(m.mnt))


def is_sanitized(binary):
    with open(binary, 'rb') as f:
        return b'__asan_init' in f.read()


# ====================================================================== names

NAMES = ['données été', '日本語', 'a;b', '$x', '*', "'q'", '"dq"', 'back\\slash', '&amp',
         '|pipe|', '#hash', ';semi', 'a b  c', '?', '~tilde', '-dash', '!bang', '`tick`',
         'a=b', '%s%n', '[x', 'a ; b', 'a # b', '$(echo pwned)', '..x', 'x.', '.hidden',
         'émoji 🎉', 'new\\nline']


class Names(HostileCase):
    CONFIG = ''.join('[%s]\npath = f%02d.bin\n' % (n, i) for i, n in enumerate(NAMES))
    FILES = {'f%02d.bin' % i: ('%s: %d\n' % (n, i)).encode() * 10 for i, n in enumerate(NAMES)}

    def test_every_view_lists_exactly_these_names(self):
        for view in ('ro', 'rw', 'cow', 'ctl'):
            self.assertEqual(sorted(os.listdir(self.p(view))), sorted(NAMES), view)
            self.assertEqual(sorted(os.listdir(os.fsencode(self.p(view)))),
                             sorted(n.encode() for n in NAMES), view)

    def test_read_write_cow_and_status(self):
        for i, n in enumerate(NAMES):
            with self.subTest(name=n):
                content = self.FILES['f%02d.bin' % i]
                size = os.path.getsize(self.m.backing('f%02d.bin' % i))   # the shell test grows it
                self.assertEqual(read_file(self.p('ro', n)), content.ljust(size, b'\0'))
                with open(self.p('rw', n), 'r+b') as f:
                    f.write(b'W')
                want = (b'W' + content[1:]).ljust(size, b'\0')
                self.assertEqual(read_file(self.p('ro', n)), want)
                self.assertEqual(self.m.read_backing('f%02d.bin' % i), want)
                with open(self.p('cow', n), 'r+b') as f:
                    f.seek(1)
                    f.write(b'C')
                self.assertEqual(read_file(self.p('cow', n))[:2], b'WC')
                self.assertEqual(self.m.read_backing('f%02d.bin' % i), want)
                st = self.m.ctl_status(n)
                self.assertEqual(st['name'], n)
                self.assertEqual(st['path'], self.m.backing('f%02d.bin' % i))

    def test_shell_tools_with_quoted_names(self):
        """The names go through a shell safely when quoted: cat, echo > resize,
        ls; nothing else is created or run."""
        for i, n in enumerate(NAMES):
            with self.subTest(name=n):
                size = len(self.FILES['f%02d.bin' % i]) + 7
                r = subprocess.run(
                    ['sh', '-c', 'cd "$1" && echo "$3" > "ctl/$2/resize" && cat "ctl/$2/resize"'
                     ' && wc -c < "ro/$2" && ls -d -- "rw/$2"', 'sh', self.m.mnt, n, str(size)],
                    capture_output=True, text=True, timeout=20)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout.split('\n'), [str(size), str(size), 'rw/' + n, ''])
                self.assertEqual(os.path.getsize(self.m.backing('f%02d.bin' % i)), size)
        self.assertFalse(os.path.exists(os.path.join(self.m.mnt, 'pwned')))

    def test_unknown_names_are_enoent(self):
        for n in ('a', 'b', 'x', 'dq', 'q', "'q", 'données', 'ete', '日本', 'a;', 'A;B'):
            self.assertEqual(errno_of(os.stat, self.p('ro', n)), errno.ENOENT, n)


class NameRules(unittest.TestCase):
    """What a section header can name, through --check (no mount)."""

    def check(self, config):
        d = harness.new_tmpdir()
        self.addCleanup(shutil.rmtree, d, True)
        with open(os.path.join(d, 'f.bin'), 'wb') as f:
            f.write(b'data\n')
        with open(os.path.join(d, 'c.ini'), 'w') as f:
            f.write(config)
        return run_binary(['--check', 'c.ini'], cwd=d)

    def test_comment_after_the_header(self):
        r = self.check('[data] ; a comment\npath = f.bin\n')
        self.assertEqual(r.status, 0, r)
        self.assertTrue(r.stdout.startswith('data: path='), r.stdout)

    def test_text_after_the_closing_bracket_is_an_error(self):
        """`[a]b]` cannot name `a]b`; it must not silently name `a` either
        (SPEC: typos must not pass silently)."""
        for header in ('[a]b]', '[data] junk', '[data]]'):
            with self.subTest(header=header):
                r = self.check(header + '\npath = f.bin\n')
                self.assertEqual(r.status, 1, r)
                self.assertRegex(r.stderr, r'^c\.ini:1: ')

    def test_bad_names(self):
        for header in ('[]', '[.]', '[..]', '[a/b]', '[/]', '[%s]' % ('n' * 256)):
            with self.subTest(header=header[:20]):
                r = self.check(header + '\npath = f.bin\n')
                self.assertEqual(r.status, 1, r)
                self.assertRegex(r.stderr, r'^c\.ini:1: .*name')


# ====================================================================== cut files

BIG = pattern(256 * 1024, 3)


def only_file_or_zero(got, want):
    """True if every byte of GOT is the byte of WANT at that place or 0 (a
    page cut away and grown back reads as zeros until rewritten)."""
    if len(got) > len(want):
        return False
    g = int.from_bytes(got, 'big')
    x = g ^ int.from_bytes(want[:len(got)], 'big')
    return (g & x) == 0


class CutUnderReaders(HostileCase):
    CONFIG = ('[whole]\npath = whole.bin\n\n'
              '[win]\npath = win.bin\noffset = 64K\nlength = 128K\n')
    FILES = {'whole.bin': BIG, 'win.bin': BIG}

    def test_truncate_while_reading(self):
        stop = threading.Event()
        problems, counts = [], {'ok': 0, 'eio': 0, 'write_eio': 0, 'ls': 0}
        lock = threading.Lock()

        def note(key):
            with lock:
                counts[key] += 1

        def reopening_reader(name, want):
            while not stop.is_set():
                try:
                    with open(self.p('ro', name), 'rb') as f:
                        got = f.read()
                    if not only_file_or_zero(got, want):
                        problems.append(('foreign bytes', name, len(got)))
                    note('ok')
                except OSError as e:
                    if e.errno != errno.EIO:
                        problems.append(('reopen', name, e))
                        return
                    note('eio')

        def long_reader(view, name, want):
            fd = os.open(self.p(view, name), os.O_RDONLY)
            try:
                while not stop.is_set():
                    for off in range(0, len(want), 32768):
                        try:
                            got = os.pread(fd, 32768, off)
                            if not only_file_or_zero(got, want[off:off + 32768]):
                                problems.append(('foreign bytes', view, name, off))
                            note('ok')
                        except OSError as e:
                            if e.errno != errno.EIO:
                                problems.append(('pread', view, name, off, e))
                                return
                            note('eio')
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)

        def writer(name, want):
            """Writes the file's own bytes back inside its original length."""
            fd = os.open(self.p('rw', name), os.O_WRONLY)
            rnd = random.Random(5)
            try:
                while not stop.is_set():
                    off = rnd.randrange(0, len(want) - 4096)
                    try:
                        os.pwrite(fd, want[off:off + 4096], off)
                    except OSError as e:
                        if e.errno != errno.EIO:
                            problems.append(('pwrite', name, off, e))
                            return
                        note('write_eio')
                    time.sleep(0.001)
            finally:
                os.close(fd)

        def watcher():
            while not stop.is_set():
                try:
                    if self.m.proc.poll() is not None:
                        problems.append(('daemon died', self.m.proc.returncode))
                        return
                    if sorted(os.listdir(self.m.mnt)) != ['cow', 'ctl', 'ro', 'rw']:
                        problems.append(('ls', os.listdir(self.m.mnt)))
                    os.listdir(self.p('ro'))
                    note('ls')
                except OSError as e:
                    problems.append(('ls', e))
                    return
                time.sleep(0.005)

        win_want = BIG[65536:65536 + 131072]
        threads = [threading.Thread(target=reopening_reader, args=('whole', BIG)),
                   threading.Thread(target=long_reader, args=('ro', 'whole', BIG)),
                   threading.Thread(target=long_reader, args=('ro', 'win', win_want)),
                   threading.Thread(target=long_reader, args=('cow', 'win', win_want)),
                   threading.Thread(target=writer, args=('whole', BIG)),
                   threading.Thread(target=watcher)]
        for t in threads:
            t.start()
        rnd = random.Random(7)
        try:
            for i in range(8):
                for name in ('whole.bin', 'win.bin'):
                    os.truncate(self.m.backing(name), rnd.choice([0, 100, 5000, 70000,
                                                                  rnd.randrange(len(BIG))]))
                time.sleep(0.06)
                for name in ('whole.bin', 'win.bin'):
                    os.truncate(self.m.backing(name), len(BIG))
                    with open(self.m.backing(name), 'r+b') as f:
                        f.write(BIG)
                time.sleep(0.06)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertEqual(problems, [])
        self.assertGreater(counts['ok'], 10)
        self.assertGreater(counts['ls'], 10)
        self.assertAlive()
        # Stable again: put the bytes back (a writer may have raced the
        # last rewrite), then a fresh open reads the file's current bytes.
        for name in ('whole.bin', 'win.bin'):
            with open(self.m.backing(name), 'r+b') as f:
                f.truncate(len(BIG))
                f.write(BIG)
        self.assertEqual(read_file(self.p('ro', 'whole')), BIG)
        self.assertEqual(read_file(self.p('rw', 'whole')), BIG)
        self.assertEqual(os.stat(self.p('ro', 'whole')).st_size, len(BIG))
        st = self.m.ctl_status('whole')
        self.assertEqual((st['size'], st['file_size']), (str(len(BIG)), str(len(BIG))))
        if counts['eio'] or counts['write_eio']:
            self.assertIn('touched a page past the end', self.m.stderr)
        self.assertAlive()

    def test_window_cut_and_restored_shows_its_window_again(self):
        """A window (fixed offset and length) whose file was cut outside the
        mount and then grown back: once the file is stable again, a fresh
        open shows the configured window of the file's current bytes, not
        the size the window had while the file was short."""
        m = Mount('[w]\npath = w.bin\noffset = 64K\nlength = 128K\n', {'w.bin': BIG})
        self.addCleanup(m.cleanup)
        m.start()
        want = BIG[65536:65536 + 131072]
        self.assertEqual(read_file(m.path('ro', 'w')), want)
        os.truncate(m.backing('w.bin'), 65536 + 100)
        try:
            got = read_file(m.path('ro', 'w'))
            self.assertEqual(got, want[:100])
        except OSError as e:
            self.assertEqual(e.errno, errno.EIO)
        self.assertIsNone(m.proc.poll())
        with open(m.backing('w.bin'), 'r+b') as f:
            f.truncate(len(BIG))
            f.write(BIG)
        self.assertEqual(read_file(m.path('ro', 'w')), want)
        self.assertEqual(os.stat(m.path('ro', 'w')).st_size, len(want))
        self.assertEqual(m.stop(), 0)


# ====================================================================== garbage

GDATA = pattern(4 * PAGE, 4)


class Garbage(HostileCase):
    """Megabytes of random bytes and malformed commands to every control
    file: each write fails with the SPEC's errno, nothing changes."""
    CONFIG = ('[g]\npath = g.bin\n\n'
              '[fixed]\npath = g.bin\nlength = 8K\nresizable = no\n\n'
              '[roonly]\npath = g.bin\nviews = ro\n\n'
              '[nocow]\npath = h.bin\nviews = ro, rw\n\n'
              '[anon]\nanonymous = yes\nlength = 64K\n')
    FILES = {'g.bin': GDATA, 'h.bin': GDATA[:PAGE]}
    NAMES = ['g', 'fixed', 'roonly', 'nocow', 'anon']

    # What random bytes (never a valid command) get, per entry and file:
    # EROFS and EPERM are checked before the text is parsed; reset takes
    # anything up to 4096 bytes.
    EXPECT = {
        ('g', 'flush'): errno.EINVAL, ('g', 'resize'): errno.EINVAL,
        ('g', 'move'): errno.EINVAL, ('g', 'reset'): 0,
        ('fixed', 'flush'): errno.EINVAL, ('fixed', 'resize'): errno.EPERM,
        ('fixed', 'move'): errno.EINVAL, ('fixed', 'reset'): 0,
        ('roonly', 'flush'): errno.EROFS, ('roonly', 'resize'): errno.EROFS,
        ('roonly', 'move'): errno.EROFS, ('roonly', 'reset'): errno.EROFS,
        ('nocow', 'flush'): errno.EINVAL, ('nocow', 'resize'): errno.EINVAL,
        ('nocow', 'move'): errno.EINVAL, ('nocow', 'reset'): errno.EROFS,
        ('anon', 'flush'): errno.EINVAL, ('anon', 'resize'): errno.EINVAL,
        ('anon', 'move'): errno.EINVAL, ('anon', 'reset'): 0,
    }

    def snapshot(self):
        st = {n: self.m.ctl_status(n) for n in self.NAMES}
        keep = ('size', 'cow_size', 'file_size', 'offset', 'views', 'resizable', 'moves',
                'flushes', 'resizes', 'cow_private_bytes')
        return self.digest(self.NAMES), {n: {k: st[n][k] for k in keep} for n in st}

    def errors(self):
        return {n: int(self.m.ctl_status(n)['errors']) for n in self.NAMES}

    def test_ten_mebibytes_of_random_bytes(self):
        rnd = random.Random(1010)
        before = self.snapshot()
        errors0 = self.errors()
        want_errors = dict(errors0)
        fds = {}
        try:
            for key in self.EXPECT:
                fds[key] = os.open(self.p('ctl', *key), os.O_WRONLY)
            keys = sorted(self.EXPECT)
            total, i, wrong = 0, 0, []
            while total < 9 << 20:
                key = keys[i % len(keys)]
                i += 1
                chunk = rnd.randbytes(4096)
                if key[1] != 'reset' and chunk.strip(b' \t\r\n') == b'':
                    continue
                got = errno_of(os.pwrite, fds[key], chunk, 0)
                total += len(chunk)
                if got != self.EXPECT[key]:
                    wrong.append((key, harness.errname(got)))
                if got:
                    want_errors[key[0]] += 1
            self.assertEqual(wrong[:10], [])
            # one write of 1 MiB: more than a command may hold, everywhere
            big = rnd.randbytes(1 << 20)
            for key in keys:
                got = errno_of(os.pwrite, fds[key], big, 0)
                expected = self.EXPECT[key] or errno.EINVAL
                self.assertEqual(got, expected, (key, harness.errname(got)))
                want_errors[key[0]] += 1
        finally:
            for fd in fds.values():
                os.close(fd)
        self.assertEqual(self.snapshot(), before)
        self.assertEqual(self.errors(), want_errors)
        self.assertAlive()
        self.assertEqual(self.m.ctl_write('g', 'flush', '\n'), 0)

    def test_status_cannot_be_written(self):
        for n in self.NAMES:
            self.assertEqual(errno_of(os.open, self.p('ctl', n, 'status'), os.O_WRONLY),
                             errno.EACCES, n)

    GARBAGE = {
        'resize': ['-1', '+1', '1.5', '0x', '1KK', '1P', '1E', '18446744073709551616',
                   '4096 4096', 'abc', '\x00', '4096\x00', '\xff', '１２', '0x1q', '0xg', '4096;',
                   '$(reboot)', '4096\n4096', 'resize 4096', '0b101', '1e3', '- 1',
                   '99999999999999999999999999999999', '0x10000000000000000'],
        'move': ['0 0', '0 0 0 0', 'cow', 'cow 0 0', 'x y z', '-1 0 0', '0 0 -1',
                 '0 99999999 1', '99999999 0 1', '0 0 99999999', 'cows 0 0 0', '0,0,0',
                 '18446744073709551615 1 1', '1 18446744073709551615 1',
                 '0 0 18446744073709551615', 'cow 0 0 99999999', '\x00 0 0'],
        'flush': ['0', '0 0 0', 'x', '0 99999999', '99999999 0', '0 -1', 'sync',
                  '18446744073709551615 1', '\xff\xfe'],
    }

    def test_malformed_commands(self):
        before = self.snapshot()
        errors0 = self.errors()
        n = 0
        for file, texts in self.GARBAGE.items():
            for text in texts:
                for name in ('g', 'anon'):
                    with self.subTest(file=file, text=text, name=name):
                        data = text.encode('utf-8', 'surrogateescape')
                        self.assertEqual(self.m.ctl_write(name, file, data), errno.EINVAL)
                        last = self.m.ctl_status(name)['last_error']
                        self.assertTrue(last.startswith(file + ': '), last)
                        self.assertTrue(last.isprintable() and last.isascii(), repr(last))
                        n += 1
        # a valid command at another offset
        for file, text in (('resize', '4096'), ('flush', ''), ('move', '0 0 0')):
            self.assertEqual(self.m.ctl_write('g', file, text + '\n', offset=1), errno.EINVAL)
            n += 1
        self.assertEqual(self.snapshot(), before)
        self.assertEqual(sum(self.errors().values()) - sum(errors0.values()), n)
        self.assertAlive()


if __name__ == '__main__':
    unittest.main()
