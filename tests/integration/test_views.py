"""
SPEC "Views": ro/NAME, rw/NAME and cow/NAME through syscalls, Python's mmap
and unmodified tools (cat, cmp, sha256sum, dd, grep).

Each class mounts once (setUpClass); each test uses entries of its own, so
that the tests of a class do not depend on their order.
"""
import errno
import mmap
import os
import re
import stat
import subprocess
import time
import unittest

import harness
from harness import PAGE, Fd, Mount, errno_of, pattern, read_file, sha256_hex


WORDS = ('lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor '
         'incididunt ut labore et dolore magnam aliquam quaerat voluptatem ut enim ad minim '
         'veniam quis nostrum exercitationem ullam corporis suscipit laboriosam').split()


def lorem(n_lines, seed=1):
    lines = []
    for i in range(n_lines):
        words = [WORDS[(i * 7 + j * (seed + 3) + (i * j) % 5) % len(WORDS)]
                 for j in range(6 + i % 9)]
        lines.append(' '.join(words).capitalize() + '.')
    return ('\n'.join(lines) + '\n').encode()


class ViewsCase(harness.MountCase):
    """A shared mount and the helpers of the tests below."""

    def backing(self, name):
        return self.m.read_backing(name)

    def backing_size(self, name):
        return os.stat(self.m.backing(name)).st_size

    def pwrite(self, view, name, data, off):
        with Fd(self.p(view, name), os.O_WRONLY) as fd:
            return os.pwrite(fd, data, off)

    def run_tool(self, argv, **kw):
        return subprocess.run(argv, capture_output=True, timeout=30, **kw)


# ====================================================================== reading

TEXT = lorem(300)                     # about 15 KB of text
WIN = pattern(16384, 7)
ODD = pattern(5000, 8)


class ReadingViews(ViewsCase):
    """Listings, attributes, permissions, reads, tools, client mmap."""
    CONFIG = '''
[text]
path = text.txt
[perm]
path = perm.bin
[ro444]
path = ro444.bin
[odd]
path = odd.bin
[anon]
anonymous = yes
length = 64K
[empty]
path = empty.bin
[window]
path = win.bin
offset = 4096
length = 4096
[tail]
path = win.bin
offset = 8192
[onlyro]
path = text.txt
views = ro
[rocow]
path = text.txt
views = cow, ro
[chmodme]
path = chmodme.bin
'''
    FILES = {
        'text.txt': (TEXT, 0o644),
        'perm.bin': (ODD, 0o640, 1234, 5678),
        'ro444.bin': (ODD, 0o444),
        'odd.bin': (ODD, 0o751),
        'empty.bin': (b'', 0o644),
        'win.bin': (WIN, 0o644),
        'chmodme.bin': (ODD, 0o644),
    }
    NAMES = ['anon', 'chmodme', 'empty', 'odd', 'onlyro', 'perm', 'ro444', 'rocow', 'tail',
             'text', 'window']

    # -- the tree
    def test_root_lists_the_four_folders(self):
        self.assertEqual(sorted(os.listdir(self.m.mnt)), ['cow', 'ctl', 'ro', 'rw'])
        for d in ('cow', 'ctl', 'ro', 'rw'):
            self.assertTrue(stat.S_ISDIR(os.stat(self.m.path(d)).st_mode), d)

    def test_ctl_lists_one_folder_per_entry(self):
        self.assertEqual(sorted(os.listdir(self.m.path('ctl'))), self.NAMES)
        for n in self.NAMES:
            self.assertTrue(stat.S_ISDIR(os.stat(self.m.path('ctl', n)).st_mode), n)

    def test_each_view_folder_lists_the_entries_with_that_view(self):
        self.assertEqual(sorted(os.listdir(self.m.path('ro'))), self.NAMES)
        self.assertEqual(sorted(os.listdir(self.m.path('rw'))),
                         [n for n in self.NAMES if n not in ('onlyro', 'rocow')])
        self.assertEqual(sorted(os.listdir(self.m.path('cow'))),
                         [n for n in self.NAMES if n != 'onlyro'])

    def test_a_view_not_listed_is_absent_everywhere(self):
        for path in (self.p('rw', 'onlyro'), self.p('cow', 'onlyro'), self.p('rw', 'rocow')):
            self.assertErrno(errno.ENOENT, os.stat, path)
            self.assertErrno(errno.ENOENT, os.open, path, os.O_RDONLY)
            self.assertErrno(errno.ENOENT, os.open, path, os.O_RDWR)
        self.assertEqual(self.read('ro', 'onlyro'), TEXT)
        self.assertEqual(self.read('cow', 'rocow'), TEXT)
        self.assertTrue(os.path.isdir(self.m.path('ctl', 'onlyro')))
        r = self.run_tool(['ls', self.m.path('rw')])
        self.assertEqual(r.returncode, 0)
        self.assertNotIn(b'onlyro', r.stdout)
        self.assertIn(b'text', r.stdout)

    def test_views_are_regular_files(self):
        for n in self.NAMES:
            for v in ('ro', 'rw', 'cow'):
                if os.path.exists(self.p(v, n)):
                    st = os.stat(self.p(v, n))
                    self.assertTrue(stat.S_ISREG(st.st_mode), (v, n, oct(st.st_mode)))
                    self.assertEqual(st.st_nlink, 1, (v, n))

    # -- sizes and reads
    def test_st_size_is_the_region_length(self):
        want = {'text': len(TEXT), 'perm': len(ODD), 'anon': 65536, 'empty': 0,
                'window': 4096, 'tail': len(WIN) - 8192}
        for n, size in want.items():
            for v in ('ro', 'rw', 'cow'):
                self.assertEqual(self.size(v, n), size, (v, n))

    def test_reads_at_or_past_the_end_return_0_bytes(self):
        for n in ('text', 'window', 'anon', 'empty'):
            for v in ('ro', 'rw', 'cow'):
                with Fd(self.p(v, n)) as fd:
                    size = os.fstat(fd).st_size
                    self.assertEqual(os.pread(fd, 100, size), b'', (v, n))
                    self.assertEqual(os.pread(fd, 100, size + 1), b'', (v, n))
                    self.assertEqual(os.pread(fd, 100, size + 5 * PAGE), b'', (v, n))
                    if size:
                        self.assertEqual(len(os.pread(fd, 100, size - 3)), 3, (v, n))

    def test_every_view_reads_the_backing_bytes(self):
        for v in ('ro', 'rw', 'cow'):
            self.assertEqual(self.read(v, 'text'), TEXT, v)
            self.assertEqual(self.read(v, 'odd'), ODD, v)
            self.assertEqual(self.read(v, 'anon'), bytes(65536), v)

    def test_an_empty_file_is_a_valid_entry_of_size_0(self):
        for v in ('ro', 'rw', 'cow'):
            self.assertEqual(self.size(v, 'empty'), 0)
            self.assertEqual(self.read(v, 'empty'), b'')

    def test_a_window_shows_exactly_its_bytes(self):
        for v in ('ro', 'rw', 'cow'):
            self.assertEqual(self.read(v, 'window'), WIN[4096:8192], v)
            self.assertEqual(self.read(v, 'tail'), WIN[8192:], v)
        r = self.run_tool(['sha256sum', self.p('ro', 'window')])
        self.assertEqual(r.stdout.split()[0].decode(), sha256_hex(WIN[4096:8192]))
        with Fd(self.p('ro', 'window')) as fd, \
                mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as mm:
            self.assertEqual(len(mm), 4096)
            self.assertEqual(mm[:], WIN[4096:8192])

    # -- inode numbers
    def inos(self):
        out = {}
        for v in ('ro', 'rw', 'cow'):
            for n in os.listdir(self.m.path(v)):
                out[(v, n)] = os.stat(self.p(v, n)).st_ino
        for d in ('ro', 'rw', 'cow', 'ctl'):
            out[(d, '')] = os.stat(self.m.path(d)).st_ino
        return out

    def test_inode_numbers_are_stable_and_each_view_has_its_own(self):
        first = self.inos()
        self.assertEqual(len(set(first.values())), len(first), 'inode numbers must be distinct')
        for v in ('ro', 'rw', 'cow'):
            with Fd(self.p(v, 'text')) as fd:
                os.read(fd, 10)
                self.assertEqual(os.fstat(fd).st_ino, first[(v, 'text')])
        self.assertEqual(self.inos(), first)
        # Make the kernel forget the inodes: looked up again, same numbers.
        with open('/proc/sys/vm/drop_caches', 'w') as f:
            f.write('2')
        self.assertEqual(self.inos(), first)
        r = self.run_tool(['stat', '-c', '%i', self.p('ro', 'text'), self.p('rw', 'text'),
                           self.p('cow', 'text')])
        self.assertEqual([int(x) for x in r.stdout.split()],
                         [first[('ro', 'text')], first[('rw', 'text')], first[('cow', 'text')]])

    # -- owner and mode
    def mode(self, v, n):
        st = os.stat(self.p(v, n))
        return stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid

    def test_owner_group_and_mode_come_from_the_backing_file(self):
        self.assertEqual(self.mode('rw', 'perm'), (0o640, 1234, 5678))
        self.assertEqual(self.mode('ro', 'perm'), (0o440, 1234, 5678))
        self.assertEqual(self.mode('cow', 'perm'), (0o640, 1234, 5678))
        self.assertEqual(self.mode('rw', 'text'), (0o644, 0, 0))

    def test_ro_masks_every_write_bit(self):
        self.assertEqual(self.mode('ro', 'text')[0], 0o444)
        self.assertEqual(self.mode('ro', 'odd')[0], 0o551)
        self.assertEqual(self.mode('ro', 'ro444')[0], 0o444)

    def test_cow_adds_the_owner_write_bit(self):
        self.assertEqual(self.mode('cow', 'ro444')[0], 0o644)
        self.assertEqual(self.mode('rw', 'ro444')[0], 0o444)
        self.assertEqual(self.mode('cow', 'odd')[0], 0o751)
        self.assertEqual(self.mode('rw', 'odd')[0], 0o751)

    def test_anonymous_views_belong_to_the_mounting_user(self):
        me = (os.getuid(), os.getgid())
        self.assertEqual(self.mode('ro', 'anon'), (0o400,) + me)
        self.assertEqual(self.mode('rw', 'anon'), (0o600,) + me)
        self.assertEqual(self.mode('cow', 'anon'), (0o600,) + me)

    def test_mode_and_owner_follow_the_backing_file(self):
        path = self.m.backing('chmodme.bin')
        self.addCleanup(os.chmod, path, 0o644)
        self.addCleanup(os.chown, path, 0, 0)
        os.chmod(path, 0o604)
        os.chown(path, 42, 43)
        self.assertEqual(self.mode('ro', 'chmodme'), (0o404, 42, 43))
        self.assertEqual(self.mode('rw', 'chmodme'), (0o604, 42, 43))
        self.assertEqual(self.mode('cow', 'chmodme'), (0o604, 42, 43))

    # -- what fails
    def test_creating_removing_renaming_linking_chmod_chown_fail_with_eperm(self):
        m = self.m
        before = {d: sorted(os.listdir(m.path(d))) for d in ('', 'ro', 'rw', 'cow', 'ctl')}
        ops = {
            'create in ro/': lambda: os.open(m.path('ro', 'new'), os.O_CREAT | os.O_WRONLY, 0o644),
            'create in rw/': lambda: os.open(m.path('rw', 'new'), os.O_CREAT | os.O_RDWR, 0o644),
            'create in cow/': lambda: os.open(m.path('cow', 'new'), os.O_CREAT | os.O_WRONLY),
            'create in root': lambda: os.open(m.path('new'), os.O_CREAT | os.O_WRONLY, 0o644),
            'create in ctl/NAME/': lambda: os.open(m.path('ctl', 'text', 'new'),
                                                   os.O_CREAT | os.O_WRONLY, 0o644),
            'mknod': lambda: os.mknod(m.path('rw', 'node'), 0o600 | stat.S_IFREG),
            'mkfifo': lambda: os.mkfifo(m.path('ro', 'fifo')),
            'mkdir in root': lambda: os.mkdir(m.path('dir')),
            'mkdir in ctl/': lambda: os.mkdir(m.path('ctl', 'dir')),
            'unlink ro/': lambda: os.unlink(m.path('ro', 'text')),
            'unlink rw/': lambda: os.unlink(m.path('rw', 'text')),
            'unlink cow/': lambda: os.unlink(m.path('cow', 'text')),
            'rmdir ro': lambda: os.rmdir(m.path('ro')),
            'rmdir ctl/NAME': lambda: os.rmdir(m.path('ctl', 'empty')),
            'rename in rw/': lambda: os.rename(m.path('rw', 'text'), m.path('rw', 'other')),
            'rename ro/ to rw/': lambda: os.rename(m.path('ro', 'odd'), m.path('rw', 'odd2')),
            'rename over a view': lambda: os.rename(m.path('rw', 'text'), m.path('rw', 'odd')),
            'rename a folder': lambda: os.rename(m.path('cow'), m.path('cow2')),
            'link': lambda: os.link(m.path('rw', 'text'), m.path('rw', 'hard')),
            'symlink': lambda: os.symlink('text', m.path('rw', 'sym')),
            'chmod rw/': lambda: os.chmod(m.path('rw', 'text'), 0o600),
            'chmod ro/': lambda: os.chmod(m.path('ro', 'text'), 0o644),
            'chmod cow/': lambda: os.chmod(m.path('cow', 'text'), 0o600),
            'chmod a folder': lambda: os.chmod(m.path('ro'), 0o700),
            'chown rw/': lambda: os.chown(m.path('rw', 'text'), 1, 1),
            'chown ro/': lambda: os.chown(m.path('ro', 'text'), 2, -1),
            'chgrp cow/': lambda: os.chown(m.path('cow', 'text'), -1, 3),
            'chown a folder': lambda: os.chown(m.path('ctl'), 1, 1),
        }
        in_ro = ('create in ro/', 'mkfifo', 'unlink ro/', 'rename ro/ to rw/')
        for what, fn in ops.items():
            with self.subTest(what):
                got = errno_of(fn)
                want = errno.EROFS if what in in_ro else errno.EPERM
                self.assertEqual(got, want, '%s: %s' % (what, harness.errname(got)))
        after = {d: sorted(os.listdir(m.path(d))) for d in ('', 'ro', 'rw', 'cow', 'ctl')}
        self.assertEqual(after, before)
        self.assertEqual(self.mode('rw', 'text'), (0o644, 0, 0))

    def test_ro_open_for_writing_fails_with_eacces_for_root_too(self):
        self.assertEqual(os.geteuid(), 0, 'run as root: then only the daemon can refuse')
        for n in ('text', 'anon', 'empty'):
            for flags in (os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_APPEND,
                          os.O_RDONLY | os.O_TRUNC, os.O_WRONLY | os.O_TRUNC):
                with self.subTest(name=n, flags=flags):
                    self.assertErrno(errno.EACCES, os.open, self.p('ro', n), flags)
        self.assertEqual(self.read('ro', 'text'), TEXT)
        self.assertEqual(self.backing('text.txt'), TEXT)

    def test_ro_truncate_fails_with_eacces(self):
        self.assertErrno(errno.EACCES, os.truncate, self.p('ro', 'text'), 0)
        self.assertErrno(errno.EACCES, os.truncate, self.p('ro', 'text'), len(TEXT) + 10)
        self.assertErrno(errno.EACCES, os.truncate, self.p('ro', 'anon'), 0)
        self.assertEqual(self.size('ro', 'text'), len(TEXT))
        self.assertEqual(self.backing('text.txt'), TEXT)

    # -- tools and client mmap
    def test_cat_cmp_sha256sum_grep(self):
        r = self.run_tool(['cat', self.p('ro', 'text')])
        self.assertEqual((r.returncode, r.stdout), (0, TEXT))
        for v in ('ro', 'rw', 'cow'):
            r = self.run_tool(['cmp', self.p(v, 'text'), self.m.backing('text.txt')])
            self.assertEqual(r.returncode, 0, (v, r.stdout))
        r = self.run_tool(['cmp', self.p('ro', 'odd'), self.p('ro', 'text')])
        self.assertEqual(r.returncode, 1, 'control: cmp tells different files apart')
        r = self.run_tool(['sha256sum', self.p('ro', 'text'), self.p('cow', 'odd')])
        sums = [line.split()[0].decode() for line in r.stdout.splitlines()]
        self.assertEqual(sums, [sha256_hex(self.backing('text.txt')),
                                sha256_hex(self.backing('odd.bin'))])
        lines = TEXT.decode().splitlines()
        r = self.run_tool(['grep', '-c', 'dolor', self.p('ro', 'text')])
        self.assertEqual(int(r.stdout), sum('dolor' in line for line in lines))
        r = self.run_tool(['grep', '-o', r'\bvol[a-z]*', self.p('rw', 'text')])
        self.assertEqual(r.stdout.decode().split(),
                         re.findall(r'\bvol[a-z]*', TEXT.decode()))

    def test_python_mmap_access_read_and_re(self):
        """As in the docs: the re module searches a memory-mapped file."""
        with open(self.p('ro', 'text'), 'rb') as f:
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                self.assertEqual(len(mm), len(TEXT))
                self.assertEqual(mm.readline(), TEXT.split(b'\n')[0] + b'\n')
                found = re.findall(rb'\b(\w+)um\b', mm)
                self.assertEqual(found, re.findall(rb'\b(\w+)um\b', TEXT))
                self.assertGreater(len(found), 10)
                self.assertEqual(mm.find(b'laboriosam'), TEXT.find(b'laboriosam'))
                self.assertEqual(mm[-20:], TEXT[-20:])

    def test_client_mmap_of_rw_and_cow_reads_the_same(self):
        for v in ('rw', 'cow'):
            with Fd(self.p(v, 'odd')) as fd, mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as mm:
                self.assertEqual(mm[:], ODD, v)


# ====================================================================== rw/

V3 = pattern(3 * PAGE, 11)


def files_of(**specs):
    return {k + '.bin': v for k, v in specs.items()}


class RwView(ViewsCase):
    CONFIG = '''
[vis]
path = vis.bin
[mmapro]
path = mmapro.bin
[other]
path = other.bin
[grow]
path = grow.bin
[trunc]
path = trunc.bin
[otrunc]
path = otrunc.bin
[fixed]
path = fixed.bin
resizable = no
[win]
path = win.bin
offset = 4096
length = 4096
[winend]
path = winend.bin
offset = 4096
[winmid]
path = winmid.bin
offset = 4096
length = 4096
[empty]
path = empty.bin
[created]
path = created.bin
create = yes
offset = 4K
length = 8K
[sync]
path = sync.bin
[shared]
path = shared.bin
[dd]
path = dd.bin
[anon]
anonymous = yes
length = 16K
[tools]
path = tools.bin
[closed]
path = closed.bin
[keep]
path = keep.bin
create = yes
length = 4K
[served]
path = served.bin
'''
    FILES = files_of(vis=V3, mmapro=V3, other=V3, grow=pattern(5000, 12), trunc=V3, otrunc=V3,
                     fixed=pattern(8192, 13), win=WIN, winend=pattern(3 * PAGE, 14), winmid=WIN,
                     empty=b'', sync=V3, shared=V3, dd=pattern(4 * PAGE, 15), tools=V3,
                     keep=pattern(8192, 17), served=bytes(1 << 20), closed=V3)

    def test_write_is_seen_at_once_through_ro_opened_before(self):
        with Fd(self.p('ro', 'vis')) as ro:
            self.assertEqual(os.pread(ro, len(V3), 0), V3)       # now in the page cache
            self.assertEqual(self.pwrite('rw', 'vis', b'NEW BYTES', 5000), 9)
            self.assertEqual(os.pread(ro, 9, 5000), b'NEW BYTES')
            self.assertEqual(os.pread(ro, len(V3), 0),
                             V3[:5000] + b'NEW BYTES' + V3[5009:])
        with Fd(self.m.backing('vis.bin')) as f:
            self.assertEqual(os.pread(f, 9, 5000), b'NEW BYTES')
        self.assertEqual(self.read('ro', 'vis')[5000:5009], b'NEW BYTES')

    def test_write_is_seen_at_once_through_a_client_mmap_of_ro_made_before(self):
        with Fd(self.p('ro', 'mmapro')) as ro, \
                mmap.mmap(ro, 0, access=mmap.ACCESS_READ) as mm, \
                open(self.m.backing('mmapro.bin'), 'rb') as bf, \
                mmap.mmap(bf.fileno(), 0, access=mmap.ACCESS_READ) as bm:
            self.assertEqual(mm[:], V3)                            # faulted in
            self.assertEqual(self.pwrite('rw', 'mmapro', b'MAPPED', PAGE + 10), 6)
            self.assertEqual(mm[PAGE + 10:PAGE + 16], b'MAPPED')
            self.assertEqual(bm[PAGE + 10:PAGE + 16], b'MAPPED')  # the same page cache
            self.assertEqual(mm[:], V3[:PAGE + 10] + b'MAPPED' + V3[PAGE + 16:])

    def test_a_write_while_ro_is_closed_shows_at_the_next_open(self):
        """The kernel may still cache ro/'s pages from an earlier open."""
        for n in range(3):
            word = b'closed-%d' % n
            self.read('ro', 'closed')                   # cached, then closed
            self.read('cow', 'closed')
            self.assertEqual(self.pwrite('rw', 'closed', word, PAGE + 7), len(word))
            self.assertEqual(self.read('ro', 'closed')[PAGE + 7:PAGE + 7 + len(word)], word)
            self.assertEqual(self.read('cow', 'closed')[PAGE + 7:PAGE + 7 + len(word)], word)
        os.truncate(self.p('rw', 'closed'), 100)
        self.assertEqual(self.read('ro', 'closed'), V3[:100])
        self.assertEqual(self.pwrite('rw', 'closed', b'x' * 50, 100), 50)
        self.assertEqual(self.read('ro', 'closed'), V3[:100] + b'x' * 50)

    def test_other_processes_see_the_write(self):
        self.assertEqual(self.pwrite('rw', 'other', b'OTHER', 0), 5)
        for path in (self.p('ro', 'other'), self.m.backing('other.bin')):
            r = subprocess.run(['head', '-c', '5', path], capture_output=True, timeout=30)
            self.assertEqual(r.stdout, b'OTHER', path)

    def test_a_write_past_the_end_grows_the_region_and_the_file(self):
        size = 5000
        with Fd(self.p('ro', 'grow')) as ro:
            self.assertEqual(os.fstat(ro).st_size, size)
            self.assertEqual(self.pwrite('rw', 'grow', b'Z' * 100, 6000), 100)
            self.assertEqual(os.fstat(ro).st_size, 6100)
            self.assertEqual(os.pread(ro, 2000, 5000), bytes(1000) + b'Z' * 100)
        for v in ('ro', 'rw'):
            self.assertEqual(self.size(v, 'grow'), 6100, v)
        self.assertEqual(self.backing('grow.bin'), pattern(5000, 12) + bytes(1000) + b'Z' * 100)
        # a write straddling the end
        self.assertEqual(self.pwrite('rw', 'grow', b'Y' * 200, 6000), 200)
        self.assertEqual(self.backing_size('grow.bin'), 6200)

    def test_truncate_and_ftruncate_resize_the_region_and_the_file(self):
        os.truncate(self.p('rw', 'trunc'), 1000)
        self.assertEqual(self.size('ro', 'trunc'), 1000)
        self.assertEqual(self.size('rw', 'trunc'), 1000)
        self.assertEqual(self.backing('trunc.bin'), V3[:1000])
        with Fd(self.p('rw', 'trunc'), os.O_RDWR) as fd:
            os.ftruncate(fd, 10000)
            self.assertEqual(os.fstat(fd).st_size, 10000)
        self.assertEqual(self.read('ro', 'trunc'), V3[:1000] + bytes(9000))
        self.assertEqual(self.backing('trunc.bin'), V3[:1000] + bytes(9000))

    def test_o_trunc_resizes_to_0(self):
        with Fd(self.p('rw', 'otrunc'), os.O_WRONLY | os.O_TRUNC) as fd:
            self.assertEqual(os.fstat(fd).st_size, 0)
            self.assertEqual(self.backing_size('otrunc.bin'), 0)
            self.assertEqual(os.write(fd, b'after'), 5)
        self.assertEqual(self.backing('otrunc.bin'), b'after')
        self.assertEqual(self.read('ro', 'otrunc'), b'after')

    def test_resizable_no_short_write_then_enospc_and_truncate_eperm(self):
        data = pattern(8192, 13)
        with Fd(self.p('rw', 'fixed'), os.O_RDWR) as fd:
            self.assertEqual(os.pwrite(fd, b'F' * 100, 8192 - 10), 10)
            self.assertErrno(errno.ENOSPC, os.pwrite, fd, b'G' * 100, 8192)
            self.assertErrno(errno.ENOSPC, os.pwrite, fd, b'G', 9000)
            self.assertErrno(errno.EPERM, os.ftruncate, fd, 4096)
            self.assertErrno(errno.EPERM, os.ftruncate, fd, 10000)
        self.assertErrno(errno.EPERM, os.truncate, self.p('rw', 'fixed'), 0)
        self.assertErrno(errno.EPERM, os.open, self.p('rw', 'fixed'), os.O_WRONLY | os.O_TRUNC)
        self.assertEqual(self.size('rw', 'fixed'), 8192)
        self.assertEqual(self.size('ro', 'fixed'), 8192)
        self.assertEqual(self.backing('fixed.bin'), data[:8182] + b'F' * 10)

    def test_a_write_past_the_end_of_a_window_never_cuts_the_file(self):
        self.assertEqual(self.pwrite('rw', 'win', b'W' * 10, 4096), 10)
        self.assertEqual(self.size('ro', 'win'), 4106)
        self.assertEqual(self.read('ro', 'win'), WIN[4096:8192] + b'W' * 10)
        self.assertEqual(self.backing('win.bin'), WIN[:8192] + b'W' * 10 + WIN[8202:])

    def test_truncating_a_window_that_reaches_the_end_sets_the_file(self):
        os.truncate(self.p('rw', 'winend'), 1000)
        self.assertEqual(self.size('ro', 'winend'), 1000)
        self.assertEqual(self.backing('winend.bin'), pattern(3 * PAGE, 14)[:4096 + 1000])
        os.truncate(self.p('rw', 'winend'), 5000)
        self.assertEqual(self.backing_size('winend.bin'), 4096 + 5000)

    def test_truncating_a_window_before_the_end_never_cuts_the_data_after_it(self):
        os.truncate(self.p('rw', 'winmid'), 2048)
        self.assertEqual(self.size('ro', 'winmid'), 2048)
        self.assertEqual(self.read('ro', 'winmid'), WIN[4096:6144])
        self.assertEqual(self.backing('winmid.bin'), WIN)
        os.truncate(self.p('rw', 'winmid'), 20000)       # past the end: extends the file
        self.assertEqual(self.size('ro', 'winmid'), 20000)
        self.assertEqual(self.backing_size('winmid.bin'), 4096 + 20000)
        self.assertEqual(self.backing('winmid.bin')[:len(WIN)], WIN)

    def test_writing_an_empty_entry_grows_it(self):
        self.assertEqual(self.size('ro', 'empty'), 0)
        self.assertEqual(self.pwrite('rw', 'empty', b'abc', 0), 3)
        self.assertEqual(self.read('ro', 'empty'), b'abc')
        self.assertEqual(self.backing('empty.bin'), b'abc')
        self.assertEqual(self.pwrite('rw', 'empty', b'Q' * 3 * PAGE, 3), 3 * PAGE)
        self.assertEqual(self.read('ro', 'empty'), b'abc' + b'Q' * 3 * PAGE)

    def test_create_yes_makes_offset_plus_length_zero_bytes(self):
        st = os.stat(self.m.backing('created.bin'))
        self.assertEqual(st.st_size, 12288)
        self.assertEqual(self.backing('created.bin'), bytes(12288))
        self.assertEqual(self.size('ro', 'created'), 8192)
        self.assertEqual(self.read('cow', 'created'), bytes(8192))
        self.assertEqual(self.pwrite('rw', 'created', b'C', 0), 1)
        self.assertEqual(self.backing('created.bin')[4096:4097], b'C')

    def test_create_yes_file_is_sparse(self):
        # Nothing written to created.bin's first page by any test.
        self.assertLess(os.stat(self.m.backing('created.bin')).st_blocks * 512, 12288)

    def test_create_yes_leaves_an_existing_file_as_it_is(self):
        self.assertEqual(self.backing('keep.bin'), pattern(8192, 17))
        self.assertEqual(self.read('ro', 'keep'), pattern(8192, 17)[:4096])

    def test_views_are_served_from_the_mapping_not_by_read_write(self):
        """Reads are served from the mapping, never read(2) of the backing
        file; rw writes may go by pwrite(2) into the region's own
        descriptor (SPEC "What it is": the same page-cache pages), once,
        never a second copy; cow writes never by write(2): cow bytes only
        go through the private mapping. The daemon's I/O counters
        (/proc/PID/io) grow by the FUSE requests it reads and the replies
        it writes, and by the rw data once at most."""
        def io():
            with open('/proc/%d/io' % self.m.pid) as f:
                return {k: int(v) for k, v in (line.split(': ') for line in f)}
        size, chunk = 1 << 20, 128 * 1024
        block = pattern(chunk, 18)
        before = io()
        with Fd(self.p('rw', 'served'), os.O_WRONLY) as fd:
            for off in range(0, size, chunk):
                self.assertEqual(os.pwrite(fd, block, off), chunk)
        written = io()
        self.assertGreaterEqual(written['rchar'] - before['rchar'], size, 'the requests')
        self.assertLess(written['wchar'] - before['wchar'], size + size // 8,
                        'the daemon wrote the rw data more than once')
        with Fd(self.p('ro', 'served')) as fd:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            got = b''.join(os.pread(fd, chunk, off) for off in range(0, size, chunk))
        read = io()
        self.assertEqual(got, block * (size // chunk))
        self.assertGreaterEqual(read['wchar'] - written['wchar'], size, 'the replies')
        self.assertLess(read['rchar'] - written['rchar'], size // 8,
                        'the daemon read the data with read(2)')
        cow_block = pattern(chunk, 19)
        with Fd(self.p('cow', 'served'), os.O_WRONLY) as fd:
            for off in range(0, size, chunk):
                self.assertEqual(os.pwrite(fd, cow_block, off), chunk)
        cow_written = io()
        self.assertGreaterEqual(cow_written['rchar'] - read['rchar'], size, 'the requests')
        self.assertLess(cow_written['wchar'] - read['wchar'], size // 8,
                        'the daemon wrote the cow data with write(2)')
        self.assertEqual(self.backing('served.bin'), block * (size // chunk),
                         'cow writes never reach the file')

    def test_fsync_and_fdatasync_flush_the_region(self):
        """On disk after fsync(2)/fdatasync(2) of rw: the daemon's shared
        mapping has no dirty page left (/proc/PID/smaps)."""
        path = self.m.backing('sync.bin')
        for sync in (os.fsync, os.fdatasync):
            with Fd(self.p('rw', 'sync'), os.O_RDWR) as fd:
                for attempt in range(5):    # a sync(2) elsewhere may clean it first
                    os.pwrite(fd, b'S' * 5000, 100)
                    if harness.smaps_dirty(self.m.pid, path).get('rw-s', 0) > 0:
                        break
                self.assertGreater(harness.smaps_dirty(self.m.pid, path).get('rw-s', 0), 0)
                self.assertIsNone(sync(fd))
                self.assertEqual(harness.smaps_dirty(self.m.pid, path)['rw-s'], 0, sync)

    def test_a_shared_writable_client_mmap_writes_back(self):
        with Fd(self.p('rw', 'shared'), os.O_RDWR) as fd, mmap.mmap(fd, 0) as mm:
            self.assertEqual(mm[:], V3)
            mm[100:105] = b'HELLO'
            mm[2 * PAGE:2 * PAGE + 5] = b'WORLD'
            mm.flush()
            with Fd(self.m.backing('shared.bin')) as bf:
                self.assertEqual(os.pread(bf, 5, 100), b'HELLO')
                self.assertEqual(os.pread(bf, 5, 2 * PAGE), b'WORLD')
        self.assertEqual(self.read('ro', 'shared')[100:105], b'HELLO')

    def test_dd_conv_notrunc_into_rw(self):
        """The backing file changes; a cow page written before does not
        (an unwritten cow page does: MAP_PRIVATE)."""
        orig = pattern(4 * PAGE, 15)
        patch = pattern(2 * PAGE, 16)
        self.assertEqual(self.pwrite('cow', 'dd', b'c' * PAGE, PAGE), PAGE)
        src = os.path.join(self.m.dir, 'patch')
        with open(src, 'wb') as f:
            f.write(patch)
        r = subprocess.run(['dd', 'if=' + src, 'of=' + self.p('rw', 'dd'), 'bs=%d' % PAGE,
                            'seek=1', 'count=2', 'conv=notrunc', 'status=none'],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        want = orig[:PAGE] + patch + orig[3 * PAGE:]
        self.assertEqual(self.backing('dd.bin'), want)
        self.assertEqual(self.read('ro', 'dd'), want)
        cow = self.read('cow', 'dd')
        self.assertEqual(cow[PAGE:2 * PAGE], b'c' * PAGE, 'the written cow page keeps its bytes')
        self.assertEqual(cow[2 * PAGE:3 * PAGE], patch[PAGE:], 'an unwritten cow page follows')
        # dd into cow/ never reaches the file
        r = subprocess.run(['dd', 'if=' + src, 'of=' + self.p('cow', 'dd'), 'bs=%d' % PAGE,
                            'seek=3', 'count=1', 'conv=notrunc', 'status=none'],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.read('cow', 'dd')[3 * PAGE:], patch[:PAGE])
        self.assertEqual(self.backing('dd.bin'), want)

    def test_anonymous_memory_is_shared_by_ro_and_rw(self):
        self.assertEqual(self.pwrite('rw', 'anon', b'anon!', 8000), 5)
        self.assertEqual(self.read('ro', 'anon')[8000:8005], b'anon!')
        self.assertEqual(self.read('rw', 'anon')[8000:8005], b'anon!')
        self.assertEqual(self.pwrite('cow', 'anon', b'cow', 0), 3)
        self.assertEqual(self.read('ro', 'anon')[:3], bytes(3))
        self.assertEqual(self.read('cow', 'anon')[:3], b'cow')

    def test_cmp_and_sha256sum_after_writes(self):
        self.assertEqual(self.pwrite('rw', 'tools', b'tool' * 100, 3000), 400)
        want = V3[:3000] + b'tool' * 100 + V3[3400:]
        r = subprocess.run(['cmp', self.p('ro', 'tools'), self.m.backing('tools.bin')],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout)
        r = subprocess.run(['sha256sum', self.p('rw', 'tools')], capture_output=True, timeout=30)
        self.assertEqual(r.stdout.split()[0].decode(), sha256_hex(want))
        r = subprocess.run(['grep', '-c', 'tooltool', self.p('ro', 'tools')],
                           capture_output=True, timeout=30)
        self.assertEqual(r.stdout.strip(), b'1')


# ====================================================================== cow/

C4 = pattern(4 * PAGE, 21)


class CowView(ViewsCase):
    CONFIG = ''.join('[%s]\npath = %s.bin\n' % (n, n) for n in (
        'private', 'shared', 'later', 'outside', 'end', 'trunc', 'sync', 'copy', 'mapw',
        'shrink', 'grow'))
    FILES = {n + '.bin': C4 for n in ('private', 'shared', 'later', 'outside', 'end', 'trunc',
                                      'sync', 'copy', 'mapw', 'shrink', 'grow')}

    def test_cow_writes_are_private(self):
        self.assertEqual(self.pwrite('cow', 'private', b'PRIVATE', 10), 7)
        self.assertEqual(self.read('cow', 'private'), C4[:10] + b'PRIVATE' + C4[17:])
        self.assertEqual(self.read('ro', 'private'), C4)
        self.assertEqual(self.read('rw', 'private'), C4)
        self.assertEqual(self.backing('private.bin'), C4)

    def test_one_private_mapping_shared_by_everyone_who_opens_it(self):
        with Fd(self.p('cow', 'shared'), os.O_RDWR) as a, Fd(self.p('cow', 'shared')) as b:
            self.assertEqual(os.pread(b, 8, PAGE), C4[PAGE:PAGE + 8])
            self.assertEqual(os.pwrite(a, b'SHAREDCW', PAGE), 8)
            self.assertEqual(os.pread(b, 8, PAGE), b'SHAREDCW')
        r = subprocess.run(['cat', self.p('cow', 'shared')], capture_output=True, timeout=30)
        self.assertEqual(r.stdout[PAGE:PAGE + 8], b'SHAREDCW')
        # for the life of the mount: nobody has it open now
        self.assertEqual(self.read('cow', 'shared')[PAGE:PAGE + 8], b'SHAREDCW')
        self.assertEqual(self.backing('shared.bin'), C4)

    def test_unwritten_pages_show_later_changes_made_through_rw(self):
        with Fd(self.p('cow', 'later')) as cow:
            self.assertEqual(self.pwrite('cow', 'later', b'mine', 0), 4)     # page 0 is private
            self.assertEqual(os.pread(cow, len(C4), 0), b'mine' + C4[4:])   # cached now
            self.assertEqual(self.pwrite('rw', 'later', b'RW0', 100), 3)     # page 0
            self.assertEqual(self.pwrite('rw', 'later', b'RW2', 2 * PAGE), 3)  # page 2
            got = os.pread(cow, len(C4), 0)
        self.assertEqual(got[:PAGE], b'mine' + C4[4:PAGE], 'a written page keeps its bytes')
        self.assertEqual(got[2 * PAGE:2 * PAGE + 3], b'RW2', 'an unwritten page follows rw')
        self.assertEqual(self.backing('later.bin')[2 * PAGE:2 * PAGE + 3], b'RW2')

    def test_unwritten_pages_show_outside_changes_at_the_next_open(self):
        self.assertEqual(self.read('cow', 'outside'), C4)
        with open(self.m.backing('outside.bin'), 'r+b') as f:
            f.seek(3 * PAGE + 5)
            f.write(b'OUTSIDE')
        self.assertEqual(self.read('cow', 'outside')[3 * PAGE + 5:3 * PAGE + 12], b'OUTSIDE')
        self.assertEqual(self.read('ro', 'outside')[3 * PAGE + 5:3 * PAGE + 12], b'OUTSIDE')

    def test_a_write_crossing_the_end_grows_it_and_never_the_file(self):
        size = len(C4)
        with Fd(self.p('cow', 'end'), os.O_RDWR) as fd:
            self.assertEqual(os.pwrite(fd, b'E' * 100, size - 42), 100)
            self.assertEqual(os.fstat(fd).st_size, size + 58)
            self.assertEqual(os.pwrite(fd, b'F' * 10, size + 58), 10)
            self.assertEqual(os.fstat(fd).st_size, size + 68)
        self.assertEqual(self.read('cow', 'end'), C4[:-42] + b'E' * 100 + b'F' * 10)
        self.assertEqual(self.backing('end.bin'), C4)
        self.assertEqual(self.size('rw', 'end'), size)

    def test_truncate_changes_its_size_and_never_the_file(self):
        os.truncate(self.p('cow', 'trunc'), 2 * len(C4))
        self.assertEqual(self.read('cow', 'trunc'), C4 + bytes(len(C4)))
        with Fd(self.p('cow', 'trunc'), os.O_RDWR) as fd:
            os.ftruncate(fd, 100)
            self.assertEqual(os.fstat(fd).st_size, 100)
        self.assertEqual(self.read('cow', 'trunc'), C4[:100])
        os.close(os.open(self.p('cow', 'trunc'), os.O_WRONLY | os.O_TRUNC))
        self.assertEqual(self.size('cow', 'trunc'), 0)
        os.truncate(self.p('cow', 'trunc'), PAGE)
        self.assertEqual(self.read('cow', 'trunc'), bytes(PAGE), 'cut off: zeros, not the file')
        self.assertEqual(self.read('ro', 'trunc'), C4)
        self.assertEqual(self.backing('trunc.bin'), C4)

    def test_fsync_succeeds_and_does_nothing(self):
        """fsync of cow/ flushes nothing: the rw region's dirty pages stay
        (a round in which a sync(2) elsewhere cleaned them is tried again)."""
        path = self.m.backing('sync.bin')
        for attempt in range(3):
            self.assertEqual(self.pwrite('rw', 'sync', b'dirty%d' % attempt, 0), 6)
            dirty = harness.smaps_dirty(self.m.pid, path)['rw-s']
            with Fd(self.p('cow', 'sync'), os.O_RDWR) as fd:
                os.pwrite(fd, b'private', 0)
                self.assertIsNone(os.fsync(fd))
                self.assertIsNone(os.fdatasync(fd))
            if dirty > 0 and harness.smaps_dirty(self.m.pid, path)['rw-s'] == dirty:
                break
        self.assertGreater(dirty, 0)
        self.assertEqual(harness.smaps_dirty(self.m.pid, path)['rw-s'], dirty,
                         'fsync of cow must not flush the rw region')
        self.assertEqual(self.backing('sync.bin')[:6], b'dirty%d' % attempt)
        self.assertEqual(self.read('cow', 'sync')[:7], b'private')

    def test_client_mmap_access_copy(self):
        self.assertEqual(self.pwrite('cow', 'copy', b'daemon-cow', 0), 10)
        with Fd(self.p('cow', 'copy')) as fd, mmap.mmap(fd, 0, access=mmap.ACCESS_COPY) as mm:
            self.assertEqual(mm[:10], b'daemon-cow')
            self.assertEqual(mm[10:], C4[10:])
            mm[PAGE:PAGE + 6] = b'CLIENT'
            mm.flush()
            self.assertEqual(mm[PAGE:PAGE + 6], b'CLIENT')
        self.assertEqual(self.read('cow', 'copy')[PAGE:PAGE + 6], C4[PAGE:PAGE + 6])
        self.assertEqual(self.backing('copy.bin'), C4)

    def test_a_shared_writable_client_mmap_writes_to_cow_only(self):
        with Fd(self.p('cow', 'mapw'), os.O_RDWR) as fd, mmap.mmap(fd, 0) as mm:
            mm[0:6] = b'MAPCOW'
            mm.flush()
        self.assertEqual(self.read('cow', 'mapw')[:6], b'MAPCOW')
        self.assertEqual(self.read('ro', 'mapw'), C4)
        self.assertEqual(self.backing('mapw.bin'), C4)

    def test_a_resize_that_shrinks_the_file_cuts_only_the_cow_base(self):
        self.assertEqual(self.pwrite('cow', 'shrink', b'x' * 10, 0), 10)
        os.truncate(self.p('rw', 'shrink'), PAGE + 100)
        want = b'x' * 10 + C4[10:PAGE + 100] + bytes(len(C4) - PAGE - 100)
        self.assertEqual(self.size('cow', 'shrink'), len(C4))
        self.assertEqual(self.read('cow', 'shrink'), want)
        # the file's growth never shows past the base
        os.truncate(self.p('rw', 'shrink'), 3 * PAGE)
        self.assertEqual(self.size('ro', 'shrink'), 3 * PAGE)
        self.assertEqual(self.read('cow', 'shrink'), want)

    def test_growth_through_rw_does_not_show_in_cow(self):
        self.assertEqual(self.pwrite('rw', 'grow', b'more', len(C4)), 4)
        self.assertEqual(self.size('rw', 'grow'), len(C4) + 4)
        self.assertEqual(self.size('cow', 'grow'), len(C4))
        self.assertEqual(self.read('cow', 'grow'), C4)


# ====================================================================== outside changes

class OutsideChanges(ViewsCase):
    """length = 0 entries follow their file at the next open; every change
    made outside the mount shows no later than the next open."""
    CONFIG = '''
[follow]
path = follow.bin
[followoff]
path = followoff.bin
offset = 4096
[shrink]
path = shrink.bin
[coh]
path = coh.bin
[cohfixed]
path = cohfixed.bin
length = 8192
[cohmap]
path = cohmap.bin
'''
    FILES = files_of(follow=pattern(8192, 31), followoff=pattern(12288, 32),
                     shrink=pattern(12288, 33), coh=pattern(8192, 34),
                     cohfixed=pattern(12288, 35), cohmap=pattern(8192, 37))

    def test_a_file_grown_outside_shows_at_the_next_open(self):
        extra = pattern(5000, 36)
        with Fd(self.p('ro', 'follow')) as old:
            self.assertEqual(os.pread(old, 10, 0), pattern(8192, 31)[:10])
            with open(self.m.backing('follow.bin'), 'ab') as f:
                f.write(extra)
            with Fd(self.p('ro', 'follow')) as new:
                self.assertEqual(os.fstat(new).st_size, 8192 + 5000)
                self.assertEqual(os.pread(new, 20000, 0), pattern(8192, 31) + extra)
        self.assertEqual(self.read('rw', 'follow'), pattern(8192, 31) + extra)
        self.assertEqual(self.size('cow', 'follow'), 8192, 'cow keeps its size until a reset')

    def test_a_window_from_offset_follows_the_file(self):
        with open(self.m.backing('followoff.bin'), 'ab') as f:
            f.write(b'T' * 100)
        self.assertEqual(self.read('ro', 'followoff'), pattern(12288, 32)[4096:] + b'T' * 100)
        self.assertEqual(self.size('ro', 'followoff'), 8192 + 100)

    def test_a_file_shrunk_outside_shows_at_the_next_open(self):
        self.assertEqual(self.size('ro', 'shrink'), 12288)
        os.truncate(self.m.backing('shrink.bin'), 5000)
        self.assertEqual(self.read('ro', 'shrink'), pattern(12288, 33)[:5000])
        self.assertEqual(self.size('ro', 'shrink'), 5000)
        self.assertEqual(self.size('rw', 'shrink'), 5000)

    def test_outside_writes_show_at_the_next_open(self):
        for name, seed in (('coh', 34), ('cohfixed', 35)):
            with Fd(self.p('ro', name)) as old:
                self.assertEqual(os.pread(old, 8192, 0), pattern(12288, seed)[:8192])
                with open(self.m.backing(name + '.bin'), 'r+b') as f:
                    f.seek(4000)
                    f.write(b'outside!')
                with Fd(self.p('ro', name)) as new:
                    self.assertEqual(os.pread(new, 8, 4000), b'outside!', name)


    def test_outside_writes_through_a_shared_mmap_show_at_the_next_open(self):
        """Another process writes the backing file through its own
        MAP_SHARED mapping: the kernel updates the file's mtime only at the
        first write to a clean page, so later writes leave every file time
        as it was. The next open of ro/ must still show them."""
        with open(self.m.backing('cohmap.bin'), 'r+b') as f, mmap.mmap(f.fileno(), 0) as bm:
            for n, word in enumerate((b'first', b'second', b'third!')):
                bm[100:100 + len(word)] = word
                time.sleep(0.3)             # file times old enough to be trusted
                self.assertEqual(self.read('ro', 'cohmap')[100:100 + len(word)], word,
                                 'write %d through the mapping' % (n + 1))
                self.assertEqual(self.read('cow', 'cohmap')[100:100 + len(word)], word,
                                 'write %d through the mapping, cow/' % (n + 1))


# ====================================================================== names

class NamesCached(ViewsCase):
    """An entry's names change only at a reload, which tells the kernel: a
    path walk to a view costs no LOOKUP after the first, while each stat
    still asks for the attributes (sizes stay exact). An instance's names go
    at a drop, which tells the kernel nothing: they are asked for each time."""
    CONFIG = '[n]\npath = n.bin\n'
    FILES = files_of(n=pattern(8192, 41))
    ARGS = ('-d',)                      # libfuse prints one line per request

    def requests(self, opcode):
        return self.m.stderr.count('opcode: %s ' % opcode)

    def walks(self, path, times=20):
        """LOOKUPs and GETATTRs that TIMES stats of PATH made, after a
        first one."""
        os.stat(path)
        lookups, getattrs = self.requests('LOOKUP'), self.requests('GETATTR')
        for _ in range(times):
            os.stat(path)
        return self.requests('LOOKUP') - lookups, self.requests('GETATTR') - getattrs

    def test_a_view_name_is_looked_up_once_its_size_at_every_stat(self):
        for view in ('ro', 'rw', 'cow', 'ctl'):
            lookups, getattrs = self.walks(self.p(view, 'n'))
            self.assertEqual(lookups, 0, '%s/n looked up again' % view)
            if view != 'ctl':
                self.assertEqual(getattrs, 20, '%s/n: a GETATTR per stat' % view)
        self.assertEqual(self.size('ro', 'n'), 8192)
        os.truncate(self.m.backing('n.bin'), 5000)     # outside the mount
        self.assertEqual(self.size('ro', 'n'), 5000)
        self.assertEqual(self.size('rw', 'n'), 5000)

    def test_an_instance_name_is_looked_up_at_every_walk(self):
        self.m.ctl_write('n', 'fork', 'w1\n')
        lookups, _ = self.walks(self.p('cow', 'n@w1'))
        self.assertEqual(lookups, 20)
        os.unlink(self.p('cow', 'n@w1'))
        self.assertEqual(errno_of(os.stat, self.p('cow', 'n@w1')), errno.ENOENT)


# ====================================================================== unmount

class UnmountFlushes(unittest.TestCase):
    CONFIG = '''
[a]
path = a.bin
[b]
path = b.bin
offset = 4096
length = 4096
[c]
path = c.bin
[d]
path = d.bin
resizable = no
'''

    def test_after_unmount_every_rw_write_is_in_the_backing_file(self):
        a, b, c, d = (pattern(3 * PAGE, 41), pattern(4 * PAGE, 42), pattern(PAGE, 43),
                      pattern(2 * PAGE, 44))
        m = Mount(self.CONFIG, files_of(a=a, b=b, c=c, d=d))
        self.addCleanup(m.cleanup)
        m.start()
        with Fd(m.path('rw', 'a'), os.O_RDWR) as fd:
            os.pwrite(fd, b'A' * 5000, 1000)
            os.pwrite(fd, b'end', 3 * PAGE + 10)                 # grows
        with Fd(m.path('rw', 'b'), os.O_RDWR) as fd, mmap.mmap(fd, 0) as mm:
            mm[0:4] = b'BBBB'                                    # through a client mmap
        with Fd(m.path('rw', 'c'), os.O_RDWR) as fd:
            os.ftruncate(fd, 100)
            os.pwrite(fd, b'cc', 98)
        with Fd(m.path('rw', 'd'), os.O_RDWR) as fd:
            os.pwrite(fd, b'D' * 10, 2 * PAGE - 5)               # short
        self.assertEqual(m.stop(), 0, m.stderr)
        self.assertFalse(harness.is_mounted(m.mnt))
        want_a = bytearray(a) + bytes(13)
        want_a[1000:6000] = b'A' * 5000
        want_a[3 * PAGE + 10:] = b'end'
        self.assertEqual(m.read_backing('a.bin'), bytes(want_a))
        self.assertEqual(m.read_backing('b.bin'), b[:4096] + b'BBBB' + b[4100:])
        self.assertEqual(m.read_backing('c.bin'), c[:98] + b'cc')
        self.assertEqual(m.read_backing('d.bin'), d[:-5] + b'D' * 5)
