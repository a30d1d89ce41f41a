"""
SPEC "Control files", through the mount, as an admin would with a shell:
each command with echo/printf, each error's errno, the data unchanged after
every failed command, and descriptors opened before a command seeing its
effect.
"""
import errno
import os
import stat
import subprocess
import unittest

from harness import PAGE, Mount, read_file, sha256_hex

DATA = bytes((i * 7 + i // 251) % 256 for i in range(4 * PAGE))

CONFIG = """
[data]
path = data.bin

[fixed]
path = data.bin
length = 8K
resizable = no

[roonly]
path = data.bin
views = ro

[nocow]
path = other.bin
views = ro, rw

[anon]
anonymous = yes
length = 64K
"""


def sh(command):
    """Runs COMMAND with sh; returns (status, stderr)."""
    p = subprocess.run(['sh', '-c', command], capture_output=True, text=True, timeout=20)
    return p.returncode, p.stderr


class ControlFiles(unittest.TestCase):
    def setUp(self):
        self.m = Mount(CONFIG, files={'data.bin': DATA, 'other.bin': DATA[:PAGE]})
        self.m.start()
        self.addCleanup(self.m.cleanup)

    # -- helpers

    def ctl(self, name, file):
        return self.m.path('ctl', name, file)

    def command(self, name, file, text):
        """One write of TEXT to ctl/NAME/FILE opened with O_TRUNC, as a shell's
        `>` opens it; returns 0 or the errno."""
        return self.m.ctl_write(name, file, text, flags=os.O_WRONLY | os.O_TRUNC)

    def digest(self):
        views = [sha256_hex(read_file(self.m.path(view, 'data'))) for view in ('ro', 'rw', 'cow')]
        views.append(sha256_hex(self.m.read_backing('data.bin')))
        return views

    def assertFails(self, name, file, text, err, reason=None):
        before = self.digest()
        errors = int(self.m.ctl_status(name)['errors'])
        got = self.command(name, file, text)
        self.assertEqual(got, err, '%r to %s/%s: %s, not %s' % (
            text, name, file, errno.errorcode.get(got, got), errno.errorcode[err]))
        self.assertEqual(self.digest(), before, 'a failed command changed the data')
        st = self.m.ctl_status(name)
        self.assertEqual(int(st['errors']), errors + 1)
        self.assertTrue(st['last_error'].startswith(file + ': '), st['last_error'])
        if reason:
            self.assertEqual(st['last_error'], '%s: %s' % (file, reason))

    # -- the folder

    def test_files_modes_and_owner(self):
        want = {'flush': 0o200, 'resize': 0o600, 'move': 0o200, 'reset': 0o200,
                'fork': 0o200, 'changes': 0o400, 'commit': 0o200,
                'advise': 0o200, 'status': 0o400}
        self.assertEqual(sorted(os.listdir(self.m.path('ctl', 'data'))), sorted(want))
        for file, mode in want.items():
            st = os.stat(self.ctl('data', file))
            self.assertTrue(stat.S_ISREG(st.st_mode))
            self.assertEqual(stat.S_IMODE(st.st_mode), mode, file)
            self.assertEqual((st.st_uid, st.st_gid), (os.getuid(), os.getgid()))

    def test_opening_against_the_mode_is_eacces_for_root_too(self):
        for file, flags in [('status', os.O_WRONLY), ('flush', os.O_RDONLY),
                            ('move', os.O_RDWR), ('reset', os.O_RDONLY),
                            ('advise', os.O_RDONLY), ('fork', os.O_RDONLY),
                            ('commit', os.O_RDONLY), ('changes', os.O_WRONLY)]:
            with self.assertRaises(OSError, msg=file) as cm:
                os.open(self.ctl('data', file), flags)
            self.assertEqual(cm.exception.errno, errno.EACCES, file)

    # -- each command from a shell

    def test_echo_resize_and_cat(self):
        self.assertEqual(sh('echo 5000 > %s' % self.ctl('data', 'resize')), (0, ''))
        with open(self.ctl('data', 'resize')) as f:
            self.assertEqual(f.read(), '5000\n')
        self.assertEqual(os.stat(self.m.path('ro', 'data')).st_size, 5000)
        self.assertEqual(os.stat(self.m.backing('data.bin')).st_size, 5000)
        self.assertEqual(self.m.read_backing('data.bin'), DATA[:5000])
        self.assertEqual(sh('echo 1M > %s' % self.ctl('data', 'resize'))[0], 0)
        self.assertEqual(os.stat(self.m.path('rw', 'data')).st_size, 1 << 20)
        self.assertEqual(self.m.read_backing('data.bin'), DATA[:5000] + bytes((1 << 20) - 5000))

    def test_resize_to_zero_and_back(self):
        self.assertEqual(self.command('data', 'resize', '0\n'), 0)
        self.assertEqual(os.stat(self.m.path('ro', 'data')).st_size, 0)
        with open(self.m.path('ro', 'data'), 'rb') as f:
            self.assertEqual(f.read(), b'')
        self.assertEqual(self.command('data', 'resize', '0x2000'), 0)
        self.assertEqual(self.m.read_backing('data.bin'), bytes(2 * PAGE))

    def test_window_resize_never_cuts_the_data_after_it(self):
        m = Mount("[win]\npath = f.bin\nlength = 4K\n", files={'f.bin': DATA})
        with m:
            self.assertEqual(sh('echo 100 > %s' % m.path('ctl', 'win', 'resize'))[0], 0)
            self.assertEqual(os.stat(m.path('ro', 'win')).st_size, 100)
            self.assertEqual(m.read_backing('f.bin'), DATA)
            self.assertEqual(sh('echo 5P > %s' % m.path('ctl', 'win', 'resize'))[0], 1)
            self.assertEqual(sh('echo 20K > %s' % m.path('ctl', 'win', 'resize'))[0], 0)
            self.assertEqual(len(m.read_backing('f.bin')), 20 * 1024)
            self.assertEqual(m.read_backing('f.bin')[:len(DATA)], DATA)

    def test_printf_move_and_cow_move(self):
        self.assertEqual(sh("printf '0 %d 100' > %s" % (PAGE, self.ctl('data', 'move'))), (0, ''))
        want = bytearray(DATA)
        want[0:100] = DATA[PAGE:PAGE + 100]
        self.assertEqual(self.m.read_backing('data.bin'), bytes(want))
        self.assertEqual(sh("echo cow 10 0 50 > %s" % self.ctl('data', 'move'))[0], 0)
        cow = bytearray(want)
        cow[10:60] = want[0:50]
        with open(self.m.path('cow', 'data'), 'rb') as f:
            self.assertEqual(f.read(), bytes(cow))
        self.assertEqual(self.m.read_backing('data.bin'), bytes(want))
        self.assertEqual(self.m.ctl_status('data')['cow_private_bytes'], str(PAGE))

    def test_move_overlapping(self):
        self.assertEqual(self.command('data', 'move', '1 0 1000'), 0)
        want = bytearray(DATA)
        want[1:1001] = DATA[0:1000]
        self.assertEqual(self.m.read_backing('data.bin'), bytes(want))

    def test_move_count_zero_at_the_end_is_a_noop(self):
        size = len(DATA)
        self.assertEqual(self.command('data', 'move', '%d %d 0' % (size, size)), 0)
        self.assertEqual(self.m.read_backing('data.bin'), DATA)
        self.assertFails('data', 'move', '%d 0 0' % (size + 1), errno.EINVAL)

    def test_flush_forms(self):
        flushes = int(self.m.ctl_status('data')['flushes'])
        self.assertEqual(sh('echo > %s' % self.ctl('data', 'flush')), (0, ''))
        self.assertEqual(sh('echo 0x1000 4096 > %s' % self.ctl('data', 'flush')), (0, ''))
        self.assertEqual(self.command('data', 'flush', '100 1\r\n'), 0)  # rounded down
        self.assertEqual(self.command('data', 'flush', ' \t\n'), 0)
        self.assertEqual(int(self.m.ctl_status('data')['flushes']), flushes + 4)
        self.assertEqual(self.command('anon', 'flush', '0 64K'), 0)

    def test_flush_async_forms(self):
        flushes = int(self.m.ctl_status('data')['flushes'])
        with open(self.m.path('rw', 'data'), 'r+b') as f:
            f.write(b'async bytes')
        self.assertEqual(sh('echo async > %s' % self.ctl('data', 'flush')), (0, ''))
        self.assertEqual(sh('echo ASYNC 0x1000 4096 > %s' % self.ctl('data', 'flush')), (0, ''))
        self.assertEqual(self.command('data', 'flush', 'Async 100 1\r\n'), 0)
        self.assertEqual(self.command('data', 'flush', 'async %d 0' % len(DATA)), 0)
        self.assertEqual(int(self.m.ctl_status('data')['flushes']), flushes + 4)
        self.assertEqual(self.m.read_backing('data.bin')[:11], b'async bytes')
        self.assertEqual(self.command('anon', 'flush', 'async'), 0)
        self.assertEqual(self.command('anon', 'flush', 'async 0 64K'), 0)
        self.assertEqual(self.m.ctl_status('anon')['flushes'], '2')

    def test_flush_async_errors(self):
        size = len(DATA)
        self.assertFails('data', 'flush', 'async 0 %d' % (size + 1), errno.EINVAL,
                         'range 0+%d is past the end (%d)' % (size + 1, size))
        self.assertFails('data', 'flush', 'async 1', errno.EINVAL,
                         'expected async or async OFFSET SIZE, got 2 fields')
        self.assertFails('anon', 'flush', 'async 64K 1', errno.EINVAL)
        self.assertEqual(self.command('roonly', 'flush', 'async'), errno.EROFS)

    def test_flush_async_does_not_wait_for_mapped_dirty_pages(self):
        # A client's dirty page of rw/ stays the client's: flush async writes
        # out what the region holds, without first asking the kernel for it.
        import mmap
        with open(self.m.path('rw', 'data'), 'r+b') as f:
            mp = mmap.mmap(f.fileno(), PAGE)
            self.addCleanup(mp.close)
            mp[:6] = b'mapped'
            self.assertEqual(self.command('data', 'flush', 'async'), 0)
            self.assertEqual(self.m.read_backing('data.bin')[:6], DATA[:6])
            self.assertEqual(self.command('data', 'flush', '\n'), 0)  # a plain one does
            self.assertEqual(self.m.read_backing('data.bin')[:6], b'mapped')

    def test_advise_every_word(self):
        with open(self.m.path('rw', 'data'), 'r+b') as f:
            f.write(b'kept')
        with open(self.m.path('cow', 'data'), 'r+b') as f:
            f.seek(PAGE)
            f.write(b'private')
        for word in ('normal', 'sequential', 'random', 'willneed', 'dontneed', 'hugepage',
                     'nohugepage', 'populate', 'DontNeed', 'POPULATE'):
            with self.subTest(word=word):
                self.assertEqual(sh('echo %s > %s' % (word, self.ctl('data', 'advise'))), (0, ''))
                self.assertEqual(self.command('data', 'advise', '%s %d %d\n' % (word, PAGE, PAGE)), 0)
        self.assertEqual(read_file(self.m.path('ro', 'data'))[:4], b'kept')
        cow = read_file(self.m.path('cow', 'data'))
        self.assertEqual(cow[PAGE:PAGE + 7], b'private')
        self.assertEqual(self.m.ctl_status('data')['cow_private_bytes'], str(PAGE))
        self.assertEqual(self.m.ctl_status('data')['errors'], '0')

    def test_advise_any_entry(self):
        for name in ('roonly', 'fixed', 'nocow', 'anon'):
            with self.subTest(name=name):
                self.assertEqual(self.command(name, 'advise', 'populate\n'), 0)
                self.assertEqual(self.command(name, 'advise', 'dontneed 0 %d' % PAGE), 0)
        self.assertGreater(int(self.m.ctl_status('roonly')['resident_bytes']), 0)

    def test_advise_errors_are_einval(self):
        size = len(DATA)
        for text, reason in [
                ('', 'expected ADVICE or ADVICE OFFSET LENGTH, got 0 fields'),
                ('willneed 0', 'expected ADVICE or ADVICE OFFSET LENGTH, got 2 fields'),
                ('free', "'free' is no advice (normal, sequential, random, willneed, "
                         "dontneed, hugepage, nohugepage, populate)"),
                ('willneed 100 1', 'offset 100 is not a multiple of the page size (%d)' % PAGE),
                ('willneed 0 %d' % (size + 1), 'range 0+%d is past the end (%d)' % (size + 1, size)),
                ('normal %d 0' % (size + PAGE), None),
                ('normal 0 -1', None)]:
            with self.subTest(text=text):
                self.assertFails('data', 'advise', text + '\n', errno.EINVAL, reason)

    def test_reset_drops_cow_writes(self):
        fd = os.open(self.m.path('cow', 'data'), os.O_RDWR)
        self.addCleanup(os.close, fd)
        os.pwrite(fd, b'private', 0)
        self.assertEqual(os.pread(fd, 7, 0), b'private')
        self.assertEqual(self.m.ctl_status('data')['cow_private_bytes'], str(PAGE))
        self.assertEqual(sh('echo > %s' % self.ctl('data', 'reset')), (0, ''))
        self.assertEqual(os.pread(fd, 7, 0), DATA[:7], 'an earlier descriptor sees the reset')
        st = self.m.ctl_status('data')
        self.assertEqual((st['cow_private_bytes'], st['resets']), ('0', '1'))

    def test_reset_takes_the_current_size(self):
        self.assertEqual(self.command('data', 'resize', '20K'), 0)
        self.assertEqual(os.stat(self.m.path('cow', 'data')).st_size, len(DATA))
        self.assertEqual(self.command('data', 'reset', 'now please'), 0)
        self.assertEqual(os.stat(self.m.path('cow', 'data')).st_size, 20 * 1024)

    def test_shrink_below_the_cow_view_keeps_its_size_and_written_pages(self):
        fd = os.open(self.m.path('cow', 'data'), os.O_RDWR)
        self.addCleanup(os.close, fd)
        os.pwrite(fd, b'x' * 10, 3 * PAGE)
        self.assertEqual(self.command('data', 'resize', str(PAGE)), 0)
        self.assertEqual(os.fstat(fd).st_size, len(DATA))
        self.assertEqual(self.m.ctl_status('data')['cow_size'], str(len(DATA)))
        self.assertEqual(self.m.ctl_status('data')['cow_private_bytes'], str(PAGE))
        self.assertEqual(os.pread(fd, 20, 3 * PAGE - 10), bytes(10) + b'x' * 10)

    # -- coherence: descriptors opened before the command

    def test_earlier_descriptors_see_the_command(self):
        fds = {v: os.open(self.m.path(v, 'data'), os.O_RDONLY) for v in ('ro', 'rw', 'cow')}
        for fd in fds.values():
            self.addCleanup(os.close, fd)
            os.pread(fd, len(DATA), 0)   # fill the kernel's cache
        self.assertEqual(self.command('data', 'move', '0 %d 16' % PAGE), 0)
        for view, fd in fds.items():
            self.assertEqual(os.pread(fd, 16, 0), DATA[PAGE:PAGE + 16], view)
        self.assertEqual(self.command('data', 'resize', '100'), 0)
        for view in ('ro', 'rw'):
            self.assertEqual(os.fstat(fds[view]).st_size, 100, view)
            self.assertEqual(len(os.pread(fds[view], PAGE, 0)), 100, view)
        # the cow view keeps its size; past its base it reads zeros
        self.assertEqual(os.fstat(fds['cow']).st_size, len(DATA))
        self.assertEqual(os.pread(fds['cow'], PAGE, 0),
                         DATA[PAGE:PAGE + 16] + DATA[16:100] + bytes(PAGE - 100))

    # -- status

    def test_status_keys(self):
        st = self.m.ctl_status('data')
        for key in ('name', 'path', 'views', 'offset', 'size', 'cow_size', 'file_size',
                    'resizable', 'resident_bytes', 'cow_private_bytes', 'reads', 'writes',
                    'flushes', 'resizes', 'moves', 'resets', 'errors', 'last_error'):
            self.assertIn(key, st)
        self.assertEqual(st['name'], 'data')
        self.assertEqual(st['path'], os.path.realpath(self.m.backing('data.bin')))
        self.assertEqual(st['views'], 'ro rw cow')
        self.assertEqual((st['offset'], st['size'], st['cow_size'], st['file_size']),
                         ('0', str(len(DATA)), str(len(DATA)), str(len(DATA))))
        self.assertEqual((st['resizable'], st['errors'], st['last_error']), ('yes', '0', 'none'))
        self.assertEqual(self.m.ctl_status('anon')['path'], 'anonymous')
        self.assertEqual(self.m.ctl_status('roonly')['views'], 'ro')
        self.assertEqual(self.m.ctl_status('fixed')['resizable'], 'no')

    def test_each_open_of_status_resize_and_changes_takes_one_snapshot(self):
        """SPEC: each open of `status`, `changes` or `resize` takes one
        snapshot of the text; reads at any offset of that descriptor read
        from it, whatever changed since."""
        fds = {f: os.open(self.ctl('data', f), os.O_RDONLY) for f in ('status', 'resize', 'changes')}
        try:
            first = {f: os.pread(fd, 1 << 20, 0) for f, fd in fds.items()}
            self.assertEqual(self.command('data', 'resize', '%d\n' % (2 * PAGE)), 0)
            with open(self.m.path('cow', 'data'), 'r+b') as f:
                f.write(b'private')
            for f, fd in fds.items():
                self.assertEqual(os.pread(fd, 1 << 20, 0), first[f], f)
                self.assertEqual(os.pread(fd, 5, 3), first[f][3:8], f)
            self.assertEqual(first['resize'], b'%d\n' % len(DATA))
            self.assertEqual(first['changes'], b'')
        finally:
            for fd in fds.values():
                os.close(fd)
        self.assertEqual(read_file(self.ctl('data', 'resize')), b'%d\n' % (2 * PAGE))
        self.assertEqual(self.m.ctl_status('data')['size'], str(2 * PAGE))
        # the cow view kept its size: the part past its cut base is its own
        self.assertEqual(read_file(self.ctl('data', 'changes')),
                         b'0 %d\n%d %d\n' % (PAGE, 2 * PAGE, len(DATA) - 2 * PAGE))

    def test_status_counts_requests(self):
        with open(self.m.path('ro', 'data'), 'rb') as f:
            f.read()
        fd = os.open(self.m.path('rw', 'data'), os.O_WRONLY)
        os.pwrite(fd, b'abc', 0)
        os.close(fd)
        st = self.m.ctl_status('data')
        self.assertGreaterEqual(int(st['reads']), 1)
        self.assertEqual(st['writes'], '1')
        self.assertGreater(int(st['resident_bytes']), 0)

    # -- errors

    def test_malformed_commands_are_einval(self):
        size = len(DATA)
        for file, text, reason in [
                ('resize', 'abc', "'abc' is not a number (decimal or 0x hex, optional K/M/G/T suffix)"),
                ('resize', '-1', None), ('resize', '+1', None), ('resize', '1.5', None),
                ('resize', '18446744073709551616', "'18446744073709551616' is past 2^64 - 1"),
                ('resize', '1 2', None), ('resize', '\n', None),
                ('move', '1 2', None), ('move', '0 0 1 junk', None),
                ('flush', '1', 'expected nothing or OFFSET SIZE, got 1 field'),
                ('flush', '0 %d' % (size + 1), 'range 0+%d is past the end (%d)' % (size + 1, size)),
                ('flush', '18446744073709551615 2', 'range 18446744073709551615+2 overflows'),
                ('move', '0 %d 100' % size, 'source %d+100 is past the end (%d)' % (size, size)),
                ('move', '%d 0 1' % size, 'destination %d+1 is past the end (%d)' % (size, size)),
                ('move', 'cow 0 0 %d' % (size + 1), None),
                ('move', b'0 0 \xff', 'field 3 holds byte 0xff, which is not printable ASCII'),
                ('flush', b'0\x000', 'command holds a NUL byte'),
                ('resize', '1\n2', None), ('move', 'x' * 4097, None)]:
            with self.subTest(file=file, text=text):
                self.assertFails('data', file, text, errno.EINVAL, reason)

    def test_write_at_another_offset_is_einval(self):
        fd = os.open(self.ctl('data', 'resize'), os.O_WRONLY)
        self.addCleanup(os.close, fd)
        with self.assertRaises(OSError) as cm:
            os.pwrite(fd, b'100', 1)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        self.assertEqual(os.stat(self.m.path('ro', 'data')).st_size, len(DATA))

    def test_two_writes_on_one_open_second_is_einval(self):
        fd = os.open(self.ctl('data', 'resize'), os.O_WRONLY)
        self.addCleanup(os.close, fd)
        self.assertEqual(os.write(fd, b'5000\n'), 5)
        with self.assertRaises(OSError) as cm:
            os.write(fd, b'6000\n')
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        self.assertEqual(os.stat(self.m.path('ro', 'data')).st_size, 5000)

    def test_resize_not_resizable_is_eperm(self):
        self.assertFails('fixed', 'resize', '100', errno.EPERM,
                         'the entry is not resizable (resizable = no)')
        self.assertFails('fixed', 'resize', 'garbage', errno.EPERM)  # before parsing
        self.assertEqual(sh('echo 1 > %s' % self.ctl('fixed', 'resize'))[0], 1)

    def test_missing_view_is_erofs_before_anything(self):
        # (A write of 0 bytes never reaches the daemon: "empty" is "\n".)
        for name, file, text in [('roonly', 'flush', '\n'), ('roonly', 'resize', '10'),
                                 ('roonly', 'resize', 'garbage'), ('roonly', 'move', '0 0 1'),
                                 ('nocow', 'move', 'cow 0 0 1'), ('nocow', 'reset', '\n'),
                                 ('roonly', 'reset', 'x')]:
            with self.subTest(name=name, file=file, text=text):
                before = self.digest()
                self.assertEqual(self.command(name, file, text), errno.EROFS)
                self.assertEqual(self.digest(), before)
                self.assertIn('view', self.m.ctl_status(name)['last_error'])

    def test_errors_reach_the_log(self):
        self.command('data', 'move', '0 %d 100' % len(DATA))
        self.m.stop()
        self.assertIn('[data] move: source %d+100 is past the end' % len(DATA), self.m.stderr)


if __name__ == '__main__':
    unittest.main()
