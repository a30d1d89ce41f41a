"""
SPEC "Views" (issue 12): the cow view behaves as a file of its own; EROFS
for namespace changes in ro/; times on rw/; fallocate on rw/ and cow/;
`resizable = no` and `cow_limit` for the cow view. One test per SPEC
sentence, through syscalls (os, mmap, ctypes for fallocate and utimensat),
and a randomized exerciser in the manner of the classic fsx.

Each class mounts once (setUpClass) and each test uses entries of its own,
so that the tests of a class do not depend on their order; the cow_limit
class, whose limit is shared by every cow view, resets its entries before
each test.

MMAPFS_FSX_OPS (default 3000) and MMAPFS_FSX_SEEDS (default 1) set the
exerciser's length; a divergence names its seed, its step and the steps
before it.
"""
import ctypes
import errno
import hashlib
import mmap
import os
import random
import stat
import time
import unittest

import harness
from harness import PAGE, Fd, errno_of, pattern, pread_all, read_file, run_binary

# ---------------------------------------------------------------- syscalls

FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_COLLAPSE_RANGE = 0x08
FALLOC_FL_ZERO_RANGE = 0x10
FALLOC_FL_INSERT_RANGE = 0x20
FALLOC_FL_UNSHARE_RANGE = 0x40

_libc = ctypes.CDLL(None, use_errno=True)
_fallocate = getattr(_libc, 'fallocate64', None) or _libc.fallocate
_fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
_fallocate.restype = ctypes.c_int


def fallocate(fd, mode, offset, length):
    """fallocate(2); raises OSError with the errno."""
    if _fallocate(fd, mode, offset, length) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


class _Timespec(ctypes.Structure):
    _fields_ = [('tv_sec', ctypes.c_long), ('tv_nsec', ctypes.c_long)]


UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2
AT_FDCWD = -100
_libc.utimensat.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(_Timespec),
                            ctypes.c_int]


def utimensat(path, atime_ns, mtime_ns):
    """utimensat(2) of PATH; a time may be UTIME_NOW or UTIME_OMIT (as the
    tv_nsec field, as the kernel takes them) instead of nanoseconds."""
    def ts(t):
        if t in (UTIME_NOW, UTIME_OMIT):
            return _Timespec(0, t)
        return _Timespec(t // 10**9, t % 10**9)
    times = (_Timespec * 2)(ts(atime_ns), ts(mtime_ns))
    if _libc.utimensat(AT_FDCWD, os.fsencode(path), times, 0) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def sha(data):
    return hashlib.sha256(data).hexdigest()


class CowCase(harness.MountCase):
    """A shared mount and the helpers of the tests below."""

    def backing(self, name):
        return self.m.read_backing(name + '.bin')

    def pwrite(self, view, name, data, off):
        with Fd(self.p(view, name), os.O_WRONLY) as fd:
            return os.pwrite(fd, data, off)

    def status(self, name):
        return self.m.ctl_status(name)

    def ctl(self, name, file, text):
        return self.m.ctl_write(name, file, text)

    def assertUntouched(self, name, data):
        """The backing file and the shared views still hold DATA."""
        self.assertEqual(sha(self.backing(name)), sha(data), 'the backing file changed')
        self.assertEqual(self.size('ro', name), len(data), 'the ro view changed size')
        self.assertEqual(sha(self.read('ro', name)), sha(data), 'the ro view changed')

    def assertCow(self, name, want, msg=None):
        """cow/NAME, read afresh, is WANT: size (stat and status) and bytes."""
        self.assertEqual(self.size('cow', name), len(want), msg or 'st_size of the cow view')
        got = self.read('cow', name)
        if got != want:
            first = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]),
                         min(len(got), len(want)))
            self.fail('%scow/%s differs from byte %d on: %d bytes read, %d wanted; '
                      'got %r, want %r' % (msg + ': ' if msg else '', name, first, len(got),
                                           len(want), got[first:first + 16],
                                           want[first:first + 16]))
        self.assertEqual(int(self.status(name)['cow_size']), len(want), 'status cow_size')


def names_config(names, extra=''):
    return ''.join('[%s]\npath = %s.bin\n%s' % (n, n, extra) for n in names)


# A size that is not a multiple of the page size: pages straddle the ends.
D = pattern(3 * PAGE + 1000, 31)
Z = bytes


# ====================================================================== cow/NAME as a file

GROW = ('start', 'gap', 'atend', 'trunc', 'ftrunc', 'otrunc', 'append', 'appendcut',
        'cutgrow', 'cutwrite', 'pastfile', 'straddle', 'rwshrink', 'ctlshrink', 'rwgrow',
        'outside', 'fsync', 'reset')


class CowFile(CowCase):
    """SPEC cow/NAME: "It behaves as a file of its own"."""
    CONFIG = names_config(GROW)
    FILES = {n + '.bin': D for n in GROW}

    # -- "Its size starts as the region's at mount or reset and then belongs
    #     to the cow view alone."
    def test_its_size_starts_as_the_regions_and_then_belongs_to_the_cow_view(self):
        n = 'start'
        self.assertEqual(self.size('cow', n), len(D))
        self.assertEqual(int(self.status(n)['cow_size']), len(D))
        # the region grows through rw/: the cow view keeps its size
        self.assertEqual(self.pwrite('rw', n, b'RW', len(D)), 2)
        self.assertEqual(self.size('rw', n), len(D) + 2)
        self.assertCow(n, D)
        # the cow view grows: the region keeps its size
        self.assertEqual(self.pwrite('cow', n, b'COW!', len(D) + 10), 4)
        self.assertCow(n, D + Z(10) + b'COW!')
        self.assertEqual(self.size('rw', n), len(D) + 2)
        self.assertEqual(self.backing(n), D + b'RW')

    def test_reset_gives_it_the_regions_current_size(self):
        n = 'reset'
        self.assertEqual(self.pwrite('cow', n, b'C' * 10, len(D) + PAGE), 10)
        self.assertEqual(self.pwrite('rw', n, b'R' * 5, len(D)), 5)   # the region grows
        self.assertEqual(self.ctl(n, 'reset', 'reset\n'), 0)
        self.assertCow(n, D + b'R' * 5, 'after reset the cow view is the region')
        self.assertEqual(self.status(n)['cow_private_bytes'], '0')
        os.truncate(self.p('cow', n), 100)
        self.assertEqual(self.ctl(n, 'reset', 'reset\n'), 0)
        self.assertCow(n, D + b'R' * 5, 'a reset maps all of the file again (its base)')

    # -- "A write past the end grows it (a gap reads as zeros)"
    def test_a_write_past_the_end_grows_it_and_a_gap_reads_as_zeros(self):
        n = 'gap'
        off = len(D) + 2 * PAGE + 77
        self.assertEqual(self.pwrite('cow', n, b'TAIL', off), 4)
        want = D + Z(off - len(D)) + b'TAIL'
        self.assertCow(n, want)
        with Fd(self.p('cow', n)) as fd:
            self.assertEqual(os.fstat(fd).st_size, len(want))
            self.assertEqual(os.pread(fd, 100, len(D) - 10), D[-10:] + Z(90))
            self.assertEqual(os.pread(fd, 100, off), b'TAIL', 'reads stop at its size')
        self.assertUntouched(n, D)
        self.assertEqual(self.size('rw', n), len(D))

    def test_a_write_at_the_end_grows_it_and_a_write_crossing_it_is_whole(self):
        n = 'atend'
        self.assertEqual(self.pwrite('cow', n, b'A' * 100, len(D)), 100)
        self.assertEqual(self.pwrite('cow', n, b'B' * (3 * PAGE), len(D) + 50), 3 * PAGE)
        self.assertCow(n, D + b'A' * 50 + b'B' * (3 * PAGE))
        self.assertUntouched(n, D)

    # -- "truncate(2), ftruncate(2), O_TRUNC and fallocate(2) ... change it"
    def test_truncate_changes_its_size(self):
        n = 'trunc'
        os.truncate(self.p('cow', n), PAGE + 5)
        self.assertCow(n, D[:PAGE + 5])
        os.truncate(self.p('cow', n), 5 * PAGE)
        self.assertCow(n, D[:PAGE + 5] + Z(4 * PAGE - 5))
        os.truncate(self.p('cow', n), 0)
        self.assertCow(n, b'')
        self.assertUntouched(n, D)
        self.assertEqual(self.size('rw', n), len(D))

    def test_ftruncate_changes_its_size(self):
        n = 'ftrunc'
        with Fd(self.p('cow', n), os.O_RDWR) as fd:
            os.ftruncate(fd, 2 * PAGE)
            self.assertEqual(os.fstat(fd).st_size, 2 * PAGE)
            os.ftruncate(fd, 2 * PAGE + 3)
            self.assertEqual(os.fstat(fd).st_size, 2 * PAGE + 3)
            self.assertEqual(os.pread(fd, 10, 2 * PAGE - 5), D[2 * PAGE - 5:2 * PAGE] + Z(3))
        self.assertCow(n, D[:2 * PAGE] + Z(3))
        self.assertUntouched(n, D)

    def test_o_trunc_changes_its_size(self):
        """`cp x MNT/cow/NAME` opens with O_TRUNC."""
        n = 'otrunc'
        with Fd(self.p('cow', n), os.O_WRONLY | os.O_TRUNC) as fd:
            self.assertEqual(os.fstat(fd).st_size, 0)
            self.assertEqual(os.write(fd, b'replaced'), 8)
        self.assertCow(n, b'replaced')
        self.assertUntouched(n, D)

    # -- "O_APPEND writes land at its end"
    def test_o_append_writes_land_at_its_end(self):
        n = 'append'
        with Fd(self.p('cow', n), os.O_WRONLY | os.O_APPEND) as fd:
            self.assertEqual(os.write(fd, b'one'), 3)
            os.lseek(fd, 0, os.SEEK_SET)
            self.assertEqual(os.write(fd, b'two'), 3)
            self.assertEqual(os.pwrite(fd, b'three', 0), 5)   # Linux: O_APPEND wins
        self.assertCow(n, D + b'onetwothree')
        self.assertUntouched(n, D)
        self.assertEqual(self.size('rw', n), len(D))

    def test_o_append_lands_at_its_end_after_another_descriptor_cut_it(self):
        n = 'appendcut'
        with Fd(self.p('cow', n), os.O_WRONLY | os.O_APPEND) as app:
            self.assertEqual(os.write(app, b'end1'), 4)
            os.truncate(self.p('cow', n), 100)
            self.assertEqual(os.write(app, b'end2'), 4)
        self.assertCow(n, D[:100] + b'end2')
        self.assertUntouched(n, D)

    # -- "bytes past the base (grown, cut off and grown again, or past where
    #     the file was shorter) read as zeros until written, never as file data"
    def test_bytes_cut_off_and_grown_again_read_as_zeros(self):
        n = 'cutgrow'
        os.truncate(self.p('cow', n), 100)
        os.truncate(self.p('cow', n), len(D))
        self.assertCow(n, D[:100] + Z(len(D) - 100), 'the file data must not come back')

    def test_a_write_after_a_cut_leaves_zeros_between(self):
        n = 'cutwrite'
        with Fd(self.p('cow', n), os.O_RDWR) as fd:
            os.ftruncate(fd, PAGE + 10)
            self.assertEqual(os.pwrite(fd, b'X', 3 * PAGE), 1)
        self.assertCow(n, D[:PAGE + 10] + Z(2 * PAGE - 10) + b'X')
        self.assertUntouched(n, D)

    def test_bytes_past_the_base_never_show_file_data_even_after_the_file_grows(self):
        n = 'pastfile'
        os.truncate(self.p('cow', n), 6 * PAGE)               # grown past the file
        more = pattern(4 * PAGE, 32)
        self.assertEqual(self.pwrite('rw', n, more, len(D)), len(more))   # the file grows
        self.assertEqual(self.backing(n), D + more)
        self.assertCow(n, D + Z(6 * PAGE - len(D)), 'the grown part is the cow view\'s own')

    def test_past_where_the_file_was_shorter_reads_zeros_even_in_the_straddling_page(self):
        n = 'straddle'
        cut = PAGE + 7
        os.truncate(self.p('rw', n), cut)                     # the base is cut to PAGE+7
        self.assertEqual(self.size('cow', n), len(D))
        again = pattern(len(D), 33)
        self.assertEqual(self.pwrite('rw', n, again, 0), len(again))   # and grows again
        want = again[:cut] + Z(len(D) - cut)
        self.assertCow(n, want, 'bytes past where the file was shorter')
        self.assertEqual(self.backing(n), again)

    # -- "A change of the file's size made through the mount ... never changes
    #     the cow view's size nor its written pages; a shrink only cuts the base."
    def written_pages_then(self, n, shrink):
        self.assertEqual(self.pwrite('cow', n, b'page0', 10), 5)
        self.assertEqual(self.pwrite('cow', n, b'page3', 3 * PAGE + 20), 5)
        page3 = D[3 * PAGE:3 * PAGE + 20] + b'page3' + D[3 * PAGE + 25:]
        shrink()
        self.assertEqual(self.size('ro', n), PAGE + 7)
        want = (D[:10] + b'page0' + D[15:PAGE + 7] + Z(2 * PAGE - 7) + page3)
        self.assertCow(n, want, 'a shrink made through the mount')
        with Fd(self.p('cow', n)) as fd, mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as mm:
            self.assertEqual(len(mm), len(want))
            self.assertEqual(mm[:], want, 'through a client mmap of cow/')

    def test_a_shrink_through_rw_never_changes_its_size_nor_its_written_pages(self):
        self.written_pages_then('rwshrink', lambda: os.truncate(self.p('rw', 'rwshrink'),
                                                                PAGE + 7))

    def test_a_shrink_by_ctl_resize_never_changes_its_size_nor_its_written_pages(self):
        self.written_pages_then('ctlshrink', lambda: self.assertEqual(
            self.ctl('ctlshrink', 'resize', '%d\n' % (PAGE + 7)), 0))

    def test_growth_of_the_file_through_the_mount_never_changes_its_size(self):
        n = 'rwgrow'
        self.assertEqual(self.pwrite('cow', n, b'mine', 0), 4)
        os.truncate(self.p('rw', n), 10 * PAGE)
        self.assertCow(n, b'mine' + D[4:], 'after a truncate through rw/')
        self.assertEqual(self.ctl(n, 'resize', '64K\n'), 0)
        self.assertCow(n, b'mine' + D[4:], 'after ctl resize')
        with Fd(self.p('rw', n), os.O_WRONLY) as fd:
            fallocate(fd, 0, 0, 20 * PAGE)
        self.assertEqual(self.size('ro', n), 20 * PAGE)
        self.assertCow(n, b'mine' + D[4:])

    # -- "A truncation by another process ...: the cow view keeps its size and
    #     those bytes read as zeros from then on"
    def test_a_truncation_by_another_process_keeps_its_size_and_reads_zeros_past_it(self):
        n = 'outside'
        self.assertEqual(self.pwrite('cow', n, b'kept', 10), 4)
        self.assertEqual(self.pwrite('cow', n, b'lost', 3 * PAGE + 20), 4)
        os.truncate(self.m.backing(n + '.bin'), PAGE + 7)
        # the daemon notices at the next stat or open (SPEC Lifecycle and faults)
        os.stat(self.p('ro', n))
        os.close(os.open(self.p('ro', n), os.O_RDONLY))
        self.assertEqual(self.size('ro', n), PAGE + 7)
        want = D[:10] + b'kept' + D[14:PAGE + 7] + Z(len(D) - PAGE - 7)
        self.assertCow(n, want, 'after an outside truncation')

    # -- "fsync succeeds and does nothing."
    def test_fsync_and_fdatasync_succeed_on_a_grown_cow_view(self):
        n = 'fsync'
        with Fd(self.p('cow', n), os.O_RDWR) as fd:
            self.assertEqual(os.pwrite(fd, b'inside', 0), 6)
            self.assertIsNone(os.fsync(fd))
            self.assertIsNone(os.fdatasync(fd))
            self.assertEqual(os.pwrite(fd, b'grown', len(D) + PAGE), 5)
            self.assertIsNone(os.fsync(fd))
            self.assertIsNone(os.fdatasync(fd))
        self.assertCow(n, b'inside' + D[6:] + Z(PAGE) + b'grown')
        self.assertUntouched(n, D)


# ====================================================================== resizable = no

class ResizableNo(CowCase):
    """SPEC cow/NAME: "With `resizable = no` it keeps its size"; rw/NAME the
    same for fallocate."""
    CONFIG = (names_config(('cross', 'trunc', 'same', 'otrunc', 'falloc', 'rwfalloc'),
                           'resizable = no\n') +
              '[empty]\npath = empty.bin\nresizable = no\n')
    FILES = dict({n + '.bin': D for n in ('cross', 'trunc', 'same', 'otrunc', 'falloc',
                                         'rwfalloc')}, **{'empty.bin': b''})

    def test_a_write_crossing_the_end_is_short_one_at_or_past_it_fails_with_enospc(self):
        n = 'cross'
        with Fd(self.p('cow', n), os.O_RDWR) as fd:
            self.assertEqual(os.pwrite(fd, b'E' * 100, len(D) - 30), 30)
            self.assertErrno(errno.ENOSPC, os.pwrite, fd, b'E' * 100, len(D))
            self.assertErrno(errno.ENOSPC, os.pwrite, fd, b'E', len(D) + PAGE)
        with Fd(self.p('cow', n), os.O_WRONLY | os.O_APPEND) as fd:
            self.assertErrno(errno.ENOSPC, os.write, fd, b'appended')
        self.assertCow(n, D[:-30] + b'E' * 30)
        self.assertUntouched(n, D)

    def test_a_truncate_to_another_size_fails_with_eperm(self):
        n = 'trunc'
        self.assertErrno(errno.EPERM, os.truncate, self.p('cow', n), 100)
        self.assertErrno(errno.EPERM, os.truncate, self.p('cow', n), 2 * len(D))
        with Fd(self.p('cow', n), os.O_RDWR) as fd:
            self.assertErrno(errno.EPERM, os.ftruncate, fd, 0)
            self.assertErrno(errno.EPERM, os.ftruncate, fd, len(D) + 1)
        self.assertCow(n, D)
        self.assertUntouched(n, D)

    def test_a_truncate_to_the_same_size_succeeds(self):
        """LMDB with writemap=True ftruncates to the size the file has."""
        n = 'same'
        self.assertEqual(self.pwrite('cow', n, b'mine', 0), 4)
        self.assertIsNone(os.truncate(self.p('cow', n), len(D)))
        with Fd(self.p('cow', n), os.O_RDWR) as fd:
            self.assertIsNone(os.ftruncate(fd, len(D)))
        self.assertCow(n, b'mine' + D[4:])
        self.assertUntouched(n, D)

    def test_o_trunc_fails_with_eperm_unless_the_size_is_0(self):
        self.assertErrno(errno.EPERM, os.open, self.p('cow', 'otrunc'), os.O_WRONLY | os.O_TRUNC)
        self.assertCow('otrunc', D)
        os.close(os.open(self.p('cow', 'empty'), os.O_WRONLY | os.O_TRUNC))
        self.assertCow('empty', b'')
        self.assertErrno(errno.ENOSPC, self.pwrite, 'cow', 'empty', b'x', 0)
        self.assertCow('empty', b'')

    def test_cow_fallocate_to_another_size_fails_with_eperm(self):
        n = 'falloc'
        with Fd(self.p('cow', n), os.O_RDWR) as fd:
            self.assertErrno(errno.EPERM, fallocate, fd, 0, len(D) - 10, 100)
            self.assertErrno(errno.EPERM, fallocate, fd, FALLOC_FL_ZERO_RANGE, len(D), PAGE)
            self.assertIsNone(fallocate(fd, 0, 0, len(D)))
            self.assertIsNone(fallocate(fd, FALLOC_FL_ZERO_RANGE, 10, 20))
        self.assertCow(n, D[:10] + Z(20) + D[30:])
        self.assertUntouched(n, D)

    def test_rw_fallocate_to_another_size_fails_with_eperm(self):
        n = 'rwfalloc'
        with Fd(self.p('rw', n), os.O_RDWR) as fd:
            self.assertErrno(errno.EPERM, fallocate, fd, 0, len(D) - 10, 100)
            self.assertErrno(errno.EPERM, fallocate, fd, FALLOC_FL_ZERO_RANGE, len(D), PAGE)
            self.assertIsNone(fallocate(fd, 0, 0, len(D)))
            self.assertIsNone(os.ftruncate(fd, len(D)))     # the same size
        self.assertEqual(self.size('rw', n), len(D))
        self.assertEqual(self.backing(n), D)


# ====================================================================== cow_limit

LIM_PAGES = 8
E = pattern(16 * PAGE, 34)


class CowLimit(CowCase):
    """SPEC cow/NAME: "Its private pages count toward `cow_limit`"."""
    CONFIG = 'cow_limit = %dK\n' % (LIM_PAGES * PAGE // 1024) + names_config(('a', 'b'))
    FILES = {'a.bin': E, 'b.bin': E}

    def setUp(self):
        for n in ('a', 'b'):     # the limit is shared: every test starts from nothing
            self.assertEqual(self.ctl(n, 'reset', 'reset\n'), 0)

    def private(self, n):
        return int(self.status(n)['cow_private_bytes'])

    def test_a_write_needing_pages_past_the_limit_fails_with_enospc_changing_nothing(self):
        self.assertEqual(self.pwrite('cow', 'a', b'A' * (LIM_PAGES * PAGE), 0), LIM_PAGES * PAGE)
        self.assertEqual(self.private('a'), LIM_PAGES * PAGE)
        self.assertErrno(errno.ENOSPC, self.pwrite, 'cow', 'b', b'B', 0)
        self.assertErrno(errno.ENOSPC, self.pwrite, 'cow', 'a', b'A', LIM_PAGES * PAGE)
        self.assertErrno(errno.ENOSPC, self.pwrite, 'cow', 'b', b'B', len(E) + 100)
        self.assertCow('b', E)
        self.assertEqual(self.private('b'), 0)
        # a write into pages it holds takes no new ones
        self.assertEqual(self.pwrite('cow', 'a', b'again', 100), 5)
        self.assertCow('a', b'A' * 100 + b'again' + b'A' * (LIM_PAGES * PAGE - 105) +
                       E[LIM_PAGES * PAGE:])
        self.assertUntouched('a', E)
        self.assertUntouched('b', E)

    def test_a_write_that_partly_fits_is_short(self):
        self.assertEqual(self.pwrite('cow', 'a', b'A' * ((LIM_PAGES - 2) * PAGE), 0),
                         (LIM_PAGES - 2) * PAGE)
        self.assertEqual(self.pwrite('cow', 'b', b'B' * (4 * PAGE), PAGE), 2 * PAGE)
        self.assertCow('b', E[:PAGE] + b'B' * (2 * PAGE) + E[3 * PAGE:])
        self.assertEqual(self.private('b'), 2 * PAGE)
        self.assertEqual(self.ctl('b', 'reset', 'x'), 0)
        # one page left; a write from the middle of a page into the next
        self.assertEqual(self.pwrite('cow', 'a', b'A', (LIM_PAGES - 2) * PAGE), 1)
        self.assertEqual(self.pwrite('cow', 'b', b'B' * PAGE, PAGE // 2), PAGE // 2)
        self.assertCow('b', E[:PAGE // 2] + b'B' * (PAGE // 2) + E[PAGE:])
        self.assertUntouched('b', E)

    def test_growth_past_the_limit_grows_by_exactly_the_bytes_written(self):
        self.assertEqual(self.pwrite('cow', 'a', b'A' * ((LIM_PAGES - 2) * PAGE), 0),
                         (LIM_PAGES - 2) * PAGE)
        self.assertEqual(self.pwrite('cow', 'b', b'G' * (4 * PAGE), len(E)), 2 * PAGE)
        self.assertCow('b', E + b'G' * (2 * PAGE))
        self.assertErrno(errno.ENOSPC, self.pwrite, 'cow', 'b', b'G', len(E) + 2 * PAGE)
        with Fd(self.p('cow', 'b'), os.O_WRONLY | os.O_APPEND) as fd:
            self.assertErrno(errno.ENOSPC, os.write, fd, b'more')
        self.assertCow('b', E + b'G' * (2 * PAGE))
        self.assertUntouched('b', E)

    def test_a_reset_gives_the_pages_back(self):
        self.assertEqual(self.pwrite('cow', 'a', b'A' * (LIM_PAGES * PAGE), 0), LIM_PAGES * PAGE)
        self.assertErrno(errno.ENOSPC, self.pwrite, 'cow', 'b', b'B', 0)
        self.assertEqual(self.ctl('a', 'reset', 'x'), 0)
        self.assertEqual(self.pwrite('cow', 'b', b'B' * (LIM_PAGES * PAGE), 0), LIM_PAGES * PAGE)

    def test_punch_hole_and_zero_range_count_as_writes_of_zeros(self):
        self.assertEqual(self.pwrite('cow', 'a', b'A' * ((LIM_PAGES - 1) * PAGE), 0),
                         (LIM_PAGES - 1) * PAGE)
        with Fd(self.p('cow', 'b'), os.O_RDWR) as fd:
            self.assertIsNone(fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, 100))
            self.assertErrno(errno.ENOSPC, fallocate, fd, FALLOC_FL_ZERO_RANGE, PAGE, 100)
            self.assertErrno(errno.ENOSPC, fallocate, fd,
                             FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2 * PAGE, PAGE)
        self.assertCow('b', Z(100) + E[100:])
        self.assertUntouched('b', E)


class CowLimitKey(harness.TmpDirCase):
    """SPEC Config: `cow_limit` is a size; 0 = no limit."""

    def check(self, text):
        d = self.tmpdir()
        self.write(d, 'f.bin', D)
        cfg = self.write(d, 'c.ini', text)
        return run_binary(['--check', cfg], cwd=d)

    def test_cow_limit_parses_sizes(self):
        for value in ('32768', '32K', '32k', '0x8000', '1M', '2G', '1T', '0'):
            with self.subTest(value=value):
                r = self.check('cow_limit = %s\n[a]\npath = f.bin\n' % value)
                self.assertEqual(r.status, 0, r)

    def test_cow_limit_that_does_not_parse_is_an_error(self):
        for value in ('12Q', '-1', '1.5M', 'lots', '4KK', '18446744073709551616'):
            with self.subTest(value=value):
                r = self.check('log_level = info\ncow_limit = %s\n[a]\npath = f.bin\n' % value)
                self.assertEqual(r.status, 1, r)
                self.assertRegex(r.stderr, r'(?m)^\S*c\.ini:2: .*cow_limit', r)

    def test_cow_limit_twice_or_in_an_entry_is_an_error(self):
        r = self.check('cow_limit = 1M\ncow_limit = 2M\n[a]\npath = f.bin\n')
        self.assertEqual(r.status, 1, r)
        self.assertRegex(r.stderr, r'(?m)^\S*c\.ini:2: .*cow_limit', r)
        r = self.check('[a]\npath = f.bin\ncow_limit = 1M\n')
        self.assertEqual(r.status, 1, r)
        self.assertRegex(r.stderr, r'(?m)^\S*c\.ini:3: .*cow_limit', r)

    def test_cow_limit_0_is_no_limit(self):
        big = 2 * 1024 * 1024
        m = self.mount('cow_limit = 0\n[a]\npath = f.bin\n', {'f.bin': D})
        with Fd(m.path('cow', 'a'), os.O_WRONLY) as fd:
            self.assertEqual(os.pwrite(fd, b'z' * big, 0), big)
        self.assertEqual(m.ctl_status('a')['cow_private_bytes'], str(big))
        self.assertEqual(read_file(m.backing('f.bin')), D)


# ====================================================================== namespace changes

NS = ('a', 'b', 'c')


class NamespaceChanges(CowCase):
    """SPEC Views: "in ro/, creating, removing, renaming and linking fail
    with EROFS ...; in rw/, cow/ and ctl/ they fail with EPERM"."""
    CONFIG = names_config(NS)
    FILES = {n + '.bin': D for n in NS}

    def listing(self):
        return {d: sorted(os.listdir(self.m.path(d)))
                for d in ('', 'ro', 'rw', 'cow', 'ctl', 'ctl/a')}

    def check_all(self, ops, want):
        before = self.listing()
        for what, fn in ops.items():
            with self.subTest(what):
                got = errno_of(fn)
                self.assertEqual(got, want, '%s: %s' % (what, harness.errname(got)))
        self.assertEqual(self.listing(), before)
        for n in NS:
            self.assertEqual(self.backing(n), D)
            self.assertEqual(self.read('ro', n), D)

    def test_in_ro_creating_removing_renaming_and_linking_fail_with_erofs(self):
        p = self.p
        self.check_all({
            'O_CREAT|O_WRONLY': lambda: os.open(p('ro', 'new'), os.O_CREAT | os.O_WRONLY, 0o644),
            'O_CREAT|O_RDWR (an LMDB lock file)':
                lambda: os.open(p('ro', 'a-lock'), os.O_CREAT | os.O_RDWR, 0o664),
            'O_CREAT|O_RDONLY': lambda: os.open(p('ro', 'new'), os.O_CREAT | os.O_RDONLY, 0o644),
            'O_CREAT|O_EXCL': lambda: os.open(p('ro', 'new'),
                                              os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644),
            'mknod': lambda: os.mknod(p('ro', 'node'), 0o600 | stat.S_IFREG),
            'mkfifo': lambda: os.mkfifo(p('ro', 'fifo')),
            'mkdir': lambda: os.mkdir(p('ro', 'dir')),
            'symlink': lambda: os.symlink('a', p('ro', 'sym')),
            'unlink': lambda: os.unlink(p('ro', 'a')),
            'rename': lambda: os.rename(p('ro', 'a'), p('ro', 'renamed')),
            'rename over a view': lambda: os.rename(p('ro', 'a'), p('ro', 'b')),
            'link': lambda: os.link(p('ro', 'a'), p('ro', 'hard')),
        }, errno.EROFS)

    def test_in_rw_cow_and_ctl_namespace_changes_fail_with_eperm(self):
        p = self.p
        ops = {}
        for d in ('rw', 'cow', 'ctl', 'ctl/a'):
            q = lambda *parts, d=d: p(d, *parts)
            existing = 'a' if d in ('rw', 'cow', 'ctl') else 'status'
            ops.update({
                '%s: O_CREAT' % d: lambda q=q: os.open(q('new'), os.O_CREAT | os.O_WRONLY, 0o644),
                '%s: mknod' % d: lambda q=q: os.mknod(q('node'), 0o600 | stat.S_IFREG),
                '%s: mkfifo' % d: lambda q=q: os.mkfifo(q('fifo')),
                '%s: mkdir' % d: lambda q=q: os.mkdir(q('dir')),
                '%s: symlink' % d: lambda q=q: os.symlink('a', q('sym')),
                '%s: unlink' % d: lambda q=q, e=existing, d=d:
                    (os.rmdir if d == 'ctl' else os.unlink)(q(e)),
                '%s: rename' % d: lambda q=q, e=existing: os.rename(q(e), q('renamed')),
                '%s: link' % d: lambda q=q, e=existing: os.link(q(e), q('hard')),
            })
        self.check_all(ops, errno.EPERM)

    def test_chmod_and_chown_fail_with_eperm_in_every_view(self):
        ops = {}
        for v in ('ro', 'rw', 'cow'):
            ops['chmod %s/' % v] = lambda v=v: os.chmod(self.p(v, 'c'), 0o600)
            ops['chown %s/' % v] = lambda v=v: os.chown(self.p(v, 'c'), 1, 1)
        self.check_all(ops, errno.EPERM)


# ====================================================================== times

TIMES = ('set', 'fd', 'now', 'omit', 'views', 'ro', 'cow')
T_A = 981173106 * 10**9 + 123456789          # 2001-02-03 04:05:06.123456789 UTC
T_M = 1012615506 * 10**9 + 987654321         # 2002-02-02 02:05:06.987654321 UTC


class Times(CowCase):
    """SPEC Views: "Setting times (utimensat, `touch`) on rw/NAME sets the
    backing file's atime and mtime, which every view shows; on ro/ it fails
    with EROFS, on cow/ with EPERM."."""
    CONFIG = names_config(TIMES)
    FILES = {n + '.bin': D for n in TIMES}

    @staticmethod
    def utime_ns(target):
        os.utime(target, ns=(T_A, T_M))

    def file_times(self, n):
        st = os.stat(self.m.backing(n + '.bin'))
        return st.st_atime_ns, st.st_mtime_ns

    def test_utimensat_on_rw_sets_the_backing_files_atime_and_mtime(self):
        n = 'set'
        os.utime(self.p('rw', n), ns=(T_A, T_M))
        self.assertEqual(self.file_times(n), (T_A, T_M))
        st = os.stat(self.p('rw', n))
        self.assertEqual((st.st_atime_ns, st.st_mtime_ns), (T_A, T_M))
        self.assertEqual(self.backing(n), D)

    def test_futimens_on_an_rw_descriptor_sets_the_backing_files_times(self):
        n = 'fd'
        with Fd(self.p('rw', n), os.O_RDWR) as fd:
            os.utime(fd, ns=(T_A, T_M))
            st = os.fstat(fd)
            self.assertEqual((st.st_atime_ns, st.st_mtime_ns), (T_A, T_M))
        self.assertEqual(self.file_times(n), (T_A, T_M))

    def test_utimensat_now_on_rw_sets_the_backing_files_times_to_now(self):
        n = 'now'
        os.utime(self.m.backing(n + '.bin'), ns=(T_A, T_M))
        before = time.time_ns()
        os.utime(self.p('rw', n))
        a, m = self.file_times(n)
        after = time.time_ns()
        for t in (a, m):
            self.assertGreaterEqual(t, before - 2 * 10**9)   # the file system's clock ticks
            self.assertLessEqual(t, after + 10**9)

    def test_utime_omit_leaves_that_time_as_it_was(self):
        n = 'omit'
        os.utime(self.m.backing(n + '.bin'), ns=(T_A, T_A))
        utimensat(self.p('rw', n), UTIME_OMIT, T_M)
        self.assertEqual(self.file_times(n), (T_A, T_M))
        utimensat(self.p('rw', n), T_M, UTIME_OMIT)
        self.assertEqual(self.file_times(n), (T_M, T_M))

    def test_every_view_shows_the_times_set_through_rw(self):
        n = 'views'
        for v in ('ro', 'rw', 'cow'):
            os.stat(self.p(v, n))                             # cached attributes
        os.utime(self.p('rw', n), ns=(T_A, T_M))
        for v in ('ro', 'rw', 'cow'):
            with self.subTest(view=v):
                self.assertEqual(os.stat(self.p(v, n)).st_mtime_ns, T_M)
                self.assertEqual(os.stat(self.p(v, n)).st_atime_ns, T_A)

    def test_setting_times_on_ro_fails_with_erofs(self):
        n = 'ro'
        before = self.file_times(n)
        self.assertErrno(errno.EROFS, self.utime_ns, self.p('ro', n))
        self.assertErrno(errno.EROFS, os.utime, self.p('ro', n))
        self.assertErrno(errno.EROFS, utimensat, self.p('ro', n), UTIME_OMIT, T_M)
        with Fd(self.p('ro', n)) as fd:
            self.assertErrno(errno.EROFS, self.utime_ns, fd)
        self.assertEqual(self.file_times(n), before)

    def test_setting_times_on_cow_fails_with_eperm(self):
        n = 'cow'
        before = self.file_times(n)
        self.assertErrno(errno.EPERM, self.utime_ns, self.p('cow', n))
        self.assertErrno(errno.EPERM, os.utime, self.p('cow', n))
        with Fd(self.p('cow', n), os.O_RDWR) as fd:
            self.assertErrno(errno.EPERM, self.utime_ns, fd)
        self.assertEqual(self.file_times(n), before)


# ====================================================================== fallocate

FA_RW = ('alloc', 'grow', 'keep', 'punch', 'zero', 'zerogrow', 'othermodes')
FA_COW = ('cgrow', 'ckeep', 'cpunch', 'czero', 'czerogrow', 'cothermodes')
OTHER_MODES = {
    'PUNCH_HOLE without KEEP_SIZE': FALLOC_FL_PUNCH_HOLE,
    'COLLAPSE_RANGE': FALLOC_FL_COLLAPSE_RANGE,
    'INSERT_RANGE': FALLOC_FL_INSERT_RANGE,
    'UNSHARE_RANGE': FALLOC_FL_UNSHARE_RANGE,
    'PUNCH_HOLE|ZERO_RANGE': FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
}


class Fallocate(CowCase):
    """SPEC rw/NAME and cow/NAME: fallocate(2)."""
    CONFIG = (names_config(FA_RW[1:] + FA_COW) +
              '[alloc]\npath = alloc.bin\ncreate = yes\nlength = 256K\n')
    FILES = {n + '.bin': D for n in FA_RW[1:] + FA_COW}

    def falloc(self, view, n, mode, off, length):
        with Fd(self.p(view, n), os.O_RDWR) as fd:
            return fallocate(fd, mode, off, length)

    # -- rw/
    def test_rw_mode_0_allocates_the_range_in_the_backing_file(self):
        path = self.m.backing('alloc.bin')
        self.assertLess(os.stat(path).st_blocks * 512, 64 * 1024, 'made sparse')
        self.falloc('rw', 'alloc', 0, 0, 128 * 1024)
        self.assertGreaterEqual(os.stat(path).st_blocks * 512, 128 * 1024)
        self.assertEqual(os.stat(path).st_size, 256 * 1024)
        self.assertEqual(self.read('ro', 'alloc'), Z(256 * 1024))

    def test_rw_mode_0_past_the_end_grows_the_region(self):
        n = 'grow'
        self.falloc('rw', n, 0, len(D) - 10, 2 * PAGE)
        want = D + Z(2 * PAGE - 10)
        self.assertEqual(self.backing(n), want)
        self.assertGreaterEqual(os.stat(self.m.backing('grow.bin')).st_blocks * 512, len(want))
        self.assertEqual(self.size('rw', n), len(want))
        self.assertEqual(self.read('ro', n), want)
        self.assertCow(n, D, 'a change of the file\'s size through the mount')

    def test_rw_keep_size_allocates_without_growing(self):
        n = 'keep'
        self.falloc('rw', n, FALLOC_FL_KEEP_SIZE, 0, len(D) + 64 * 1024)
        self.assertGreaterEqual(os.stat(self.m.backing('keep.bin')).st_blocks * 512,
                                len(D) + 64 * 1024, 'the range is allocated in the file')
        self.assertEqual(self.size('rw', n), len(D))
        self.assertEqual(self.backing(n), D)

    def test_rw_punch_hole_zeroes_the_range_in_the_file_which_every_view_shows(self):
        n = 'punch'
        with Fd(self.p('ro', n)) as ro, Fd(self.p('cow', n)) as cow:
            self.assertEqual(os.pread(ro, len(D), 0), D)            # cached
            self.assertEqual(os.pread(cow, len(D), 0), D)
            self.falloc('rw', n, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PAGE - 10, PAGE + 20)
            want = D[:PAGE - 10] + Z(PAGE + 20) + D[2 * PAGE + 10:]
            self.assertEqual(os.pread(ro, len(D) + 10, 0), want)
            self.assertEqual(os.pread(cow, len(D) + 10, 0), want, 'unwritten cow pages')
        self.assertEqual(self.backing(n), want)
        self.assertEqual(self.read('rw', n), want)
        # past the end: nothing grows
        self.falloc('rw', n, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, len(D) - 5, PAGE)
        self.assertEqual(self.backing(n), want[:-5] + Z(5))

    def test_rw_zero_range_zeroes_the_range_in_the_file(self):
        n = 'zero'
        with Fd(self.p('ro', n)) as ro:
            self.assertEqual(os.pread(ro, len(D), 0), D)
            self.falloc('rw', n, FALLOC_FL_ZERO_RANGE, 100, 2 * PAGE)
            want = D[:100] + Z(2 * PAGE) + D[2 * PAGE + 100:]
            self.assertEqual(os.pread(ro, len(D) + 10, 0), want)
        self.assertEqual(self.backing(n), want)
        self.falloc('rw', n, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, len(D) - 3, PAGE)
        self.assertEqual(self.backing(n), want[:-3] + Z(3))
        self.assertEqual(self.size('rw', n), len(D))

    def test_rw_zero_range_past_the_end_grows_the_region(self):
        n = 'zerogrow'
        self.falloc('rw', n, FALLOC_FL_ZERO_RANGE, len(D) - 100, PAGE)
        want = D[:-100] + Z(PAGE)
        self.assertEqual(self.backing(n), want)
        self.assertEqual(self.size('ro', n), len(want))
        self.assertEqual(self.read('ro', n), want)
        self.assertCow(n, D[:-100] + Z(100), 'its size kept, its unwritten pages the file\'s')

    def test_rw_other_modes_fail_with_eopnotsupp(self):
        n = 'othermodes'
        for what, mode in OTHER_MODES.items():
            with self.subTest(what):
                self.assertErrno(errno.EOPNOTSUPP, self.falloc, 'rw', n, mode, 0, PAGE)
        self.assertEqual(self.backing(n), D)

    def test_ro_descriptors_fail_as_the_kernel_decides(self):
        with Fd(self.p('ro', 'othermodes')) as fd:
            self.assertErrno(errno.EBADF, fallocate, fd, 0, 0, PAGE)

    # -- cow/
    def test_cow_mode_0_past_the_end_grows_it(self):
        n = 'cgrow'
        self.falloc('cow', n, 0, len(D) - 10, 2 * PAGE)
        self.assertCow(n, D + Z(2 * PAGE - 10))
        self.falloc('cow', n, 0, 0, PAGE)                     # inside: nothing changes
        self.assertCow(n, D + Z(2 * PAGE - 10))
        self.assertUntouched(n, D)
        self.assertEqual(self.size('rw', n), len(D))

    def test_cow_keep_size_changes_nothing(self):
        n = 'ckeep'
        self.falloc('cow', n, FALLOC_FL_KEEP_SIZE, 0, len(D) + 64 * 1024)
        self.assertCow(n, D)
        self.assertUntouched(n, D)

    def test_cow_punch_hole_writes_zeros_privately(self):
        n = 'cpunch'
        self.falloc('cow', n, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PAGE - 10, PAGE + 20)
        self.assertCow(n, D[:PAGE - 10] + Z(PAGE + 20) + D[2 * PAGE + 10:])
        self.assertEqual(int(self.status(n)['cow_private_bytes']), 3 * PAGE)
        self.falloc('cow', n, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, len(D) - 5, PAGE)
        self.assertEqual(self.read('cow', n)[-6:], D[-6:-5] + Z(5))
        self.assertEqual(self.size('cow', n), len(D))
        self.assertUntouched(n, D)

    def test_cow_zero_range_writes_zeros_privately(self):
        n = 'czero'
        self.falloc('cow', n, FALLOC_FL_ZERO_RANGE, 100, 2 * PAGE)
        want = D[:100] + Z(2 * PAGE) + D[2 * PAGE + 100:]
        self.assertCow(n, want)
        self.falloc('cow', n, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, len(D) - 3, PAGE)
        self.assertCow(n, want[:-3] + Z(3))
        self.assertUntouched(n, D)

    def test_cow_zero_range_past_the_end_grows_it(self):
        n = 'czerogrow'
        self.falloc('cow', n, FALLOC_FL_ZERO_RANGE, len(D) - 100, PAGE)
        self.assertCow(n, D[:-100] + Z(PAGE))
        self.assertUntouched(n, D)

    def test_cow_other_modes_fail_with_eopnotsupp(self):
        n = 'cothermodes'
        for what, mode in OTHER_MODES.items():
            with self.subTest(what):
                self.assertErrno(errno.EOPNOTSUPP, self.falloc, 'cow', n, mode, 0, PAGE)
        self.assertCow(n, D)


# ====================================================================== the exerciser

FSX_OPS = int(os.environ.get('MMAPFS_FSX_OPS', '3000'))
FSX_SEEDS = [int(s) for s in os.environ.get('MMAPFS_FSX_SEEDS', '1').split(',')]
FSX_DATA = pattern(64 * 1024 + 123, 35)
FSX_MAX = 256 * 1024


class FsxFailure(AssertionError):
    pass


class Fsx:
    """fsx in the small: random operations on PATH (a cow view, or a plain
    file for the self-test) checked against an in-memory model of its bytes.

    Operations: pwrite (often near or past the end), pread, ftruncate,
    truncate(2), O_APPEND write, mmap read, mmap write (MAP_SHARED, msync),
    fstat, and with FALLOCATE the modes of the SPEC; RESET, a callable,
    drops every write (ctl/NAME/reset) and the model is the original again.
    Every read is compared; the whole file every 64 steps and at the end."""

    def __init__(self, path, original, seed, reset=None, falloc=False):
        self.path = path
        self.original = bytes(original)
        self.model = bytearray(original)
        self.rng = random.Random(seed)
        self.seed = seed
        self.reset_fn = reset
        self.falloc = falloc
        self.log = []
        self.step = 0
        ops = [('write', 30), ('read', 18), ('ftruncate', 8), ('truncate', 3),
               ('append', 5), ('mapread', 8), ('mapwrite', 6), ('stat', 3)]
        if falloc:
            ops += [('falloc', 4), ('keepsize', 2), ('punch', 4), ('zero', 4)]
        if reset:
            ops += [('reset', 1)]
        self.ops = [name for name, w in ops for _ in range(w)]

    # -- the model's helpers
    def _extend(self, size):
        if size > len(self.model):
            self.model.extend(bytes(size - len(self.model)))

    def _offset(self):
        size = len(self.model)
        r = self.rng.random()
        if r < 0.3:                                 # near the end, either side
            return max(0, size + self.rng.randint(-2 * PAGE, 2 * PAGE))
        if r < 0.4:                                 # page-aligned
            return self.rng.randrange(0, max(size, PAGE) + PAGE, PAGE)
        return self.rng.randrange(0, max(size, 1) + PAGE)

    def _length(self):
        r = self.rng.random()
        if r < 0.5:
            return self.rng.randint(1, 200)
        if r < 0.9:
            return self.rng.randint(1, 3 * PAGE)
        return self.rng.randint(1, 8 * PAGE)

    def fail(self, what):
        raise FsxFailure('fsx seed %d, step %d: %s\nlast steps:\n  %s'
                         % (self.seed, self.step, what, '\n  '.join(self.log[-25:])))

    def expect(self, got, want, what):
        if got != want:
            if isinstance(got, (bytes, bytearray)) and isinstance(want, (bytes, bytearray)):
                n = min(len(got), len(want))
                first = next((i for i in range(n) if got[i] != want[i]), n)
                self.fail('%s: %d bytes, %d wanted, first difference at %d: %r, want %r'
                          % (what, len(got), len(want), first, bytes(got[first:first + 16]),
                             bytes(want[first:first + 16])))
            self.fail('%s: got %r, want %r' % (what, got, want))

    def call(self, what, fn, *args):
        try:
            return fn(*args)
        except OSError as e:
            err = e
        self.fail('%s: %s' % (what, err))

    # -- the run
    def run(self, steps):
        self.open()
        try:
            self.expect(os.fstat(self.fd).st_size, len(self.model), 'size at the start')
            for self.step in range(steps):
                op = self.rng.choice(self.ops)
                getattr(self, 'op_' + op)()
                if self.step % 64 == 63:
                    self.check_all()
            self.check_all()
        finally:
            os.close(self.fd)
            os.close(self.app)
        return steps

    def open(self):
        self.fd = os.open(self.path, os.O_RDWR)
        self.app = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    def check_all(self):
        size = len(self.model)
        self.expect(os.fstat(self.fd).st_size, size, 'st_size')
        self.expect(pread_all(self.fd, size + PAGE, 0), self.model, 'the whole file')

    def op_write(self):
        off, n = self._offset(), self._length()
        data = self.rng.randbytes(n)
        self.log.append('pwrite %d+%d (size %d)' % (off, n, len(self.model)))
        got = self.call('pwrite', os.pwrite, self.fd, data, off)
        self.expect(got, n, 'pwrite %d+%d returned' % (off, n))
        self._extend(off + n)
        self.model[off:off + n] = data

    def op_append(self):
        data = self.rng.randbytes(self._length())
        self.log.append('append %d (size %d)' % (len(data), len(self.model)))
        got = self.call('O_APPEND write', os.write, self.app, data)
        self.expect(got, len(data), 'O_APPEND write returned')
        self.model += data

    def op_read(self):
        off, n = self._offset(), self._length()
        self.log.append('pread %d+%d (size %d)' % (off, n, len(self.model)))
        got = self.call('pread', os.pread, self.fd, n, off)
        self.expect(got, bytes(self.model[off:off + n]), 'pread %d+%d' % (off, n))

    def _new_size(self):
        r = self.rng.random()
        size = len(self.model)
        if r < 0.4:
            return max(0, size + self.rng.randint(-3 * PAGE, 3 * PAGE))
        if r < 0.5:
            return self.rng.randrange(0, FSX_MAX, PAGE)
        return self.rng.randrange(0, FSX_MAX)

    def _truncate_model(self, size):
        del self.model[size:]
        self._extend(size)

    def op_ftruncate(self):
        size = self._new_size()
        self.log.append('ftruncate %d (size %d)' % (size, len(self.model)))
        self.call('ftruncate %d' % size, os.ftruncate, self.fd, size)
        self._truncate_model(size)
        self.expect(os.fstat(self.fd).st_size, size, 'st_size after ftruncate')

    def op_truncate(self):
        size = self._new_size()
        self.log.append('truncate %d (size %d)' % (size, len(self.model)))
        self.call('truncate %d' % size, os.truncate, self.path, size)
        self._truncate_model(size)

    def op_stat(self):
        self.log.append('stat (size %d)' % len(self.model))
        self.expect(os.stat(self.path).st_size, len(self.model), 'stat st_size')

    def _range_inside(self):
        size = len(self.model)
        off = self.rng.randrange(0, size)
        return off, self.rng.randint(1, min(size - off, 3 * PAGE))

    def op_mapread(self):
        size = len(self.model)
        if not size:
            return
        off, n = self._range_inside()
        self.log.append('mapread %d+%d (size %d)' % (off, n, size))
        with mmap.mmap(self.fd, size, access=mmap.ACCESS_READ) as mm:
            self.expect(mm[off:off + n], bytes(self.model[off:off + n]),
                        'mmap read %d+%d' % (off, n))

    def op_mapwrite(self):
        size = len(self.model)
        if not size:
            return
        off, n = self._range_inside()
        data = self.rng.randbytes(n)
        self.log.append('mapwrite %d+%d (size %d)' % (off, n, size))
        with mmap.mmap(self.fd, size, access=mmap.ACCESS_WRITE) as mm:
            mm[off:off + n] = data
            mm.flush()
        self.model[off:off + n] = data
        self.expect(os.fstat(self.fd).st_size, size, 'st_size after a mmap write')

    def _falloc(self, name, mode, grows, zeros):
        off, n = self._offset(), self._length()
        self.log.append('fallocate %s %d+%d (size %d)' % (name, off, n, len(self.model)))
        self.call('fallocate %s %d+%d' % (name, off, n), fallocate, self.fd, mode, off, n)
        end = off + n
        if zeros:
            stop = min(end, len(self.model))
            if stop > off:
                self.model[off:stop] = bytes(stop - off)
        if grows:
            self._extend(end)

    def op_falloc(self):
        self._falloc('0', 0, True, False)

    def op_keepsize(self):
        self._falloc('KEEP_SIZE', FALLOC_FL_KEEP_SIZE, False, False)

    def op_punch(self):
        self._falloc('PUNCH_HOLE', FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, False, True)

    def op_zero(self):
        keep = self.rng.random() < 0.3
        self._falloc('ZERO_RANGE' + ('|KEEP_SIZE' if keep else ''),
                     FALLOC_FL_ZERO_RANGE | (FALLOC_FL_KEEP_SIZE if keep else 0), not keep, True)

    def op_reset(self):
        """ctl/NAME/reset, then the descriptors opened again (close-to-open)."""
        self.log.append('reset (size %d)' % len(self.model))
        os.close(self.fd)
        os.close(self.app)
        self.reset_fn()
        self.model = bytearray(self.original)
        self.open()


class Exerciser(harness.TmpDirCase):
    """The fsx-like run on cow/NAME: thousands of random steps, sizes
    changing; the backing file's checksum is unchanged afterwards."""

    def run_on_cow(self, seed, falloc):
        m = self.mount('[x]\npath = x.bin\n', {'x.bin': FSX_DATA})
        want = sha(FSX_DATA)
        fsx = Fsx(m.path('cow', 'x'), FSX_DATA, seed, falloc=falloc,
                  reset=lambda: self.assertEqual(m.ctl_write('x', 'reset', 'reset\n'), 0))
        self.assertEqual(fsx.run(FSX_OPS), FSX_OPS)
        self.assertEqual(sha(read_file(m.backing('x.bin'))), want, 'the backing file changed')
        self.assertEqual(sha(read_file(m.path('ro', 'x'))), want)
        self.assertEqual(os.stat(m.path('rw', 'x')).st_size, len(FSX_DATA))
        self.assertEqual(m.stop(), 0)
        self.assertEqual(sha(read_file(m.backing('x.bin'))), want, 'changed at unmount')

    def test_fsx_read_write_truncate_mmap_on_cow(self):
        for seed in FSX_SEEDS:
            with self.subTest(seed=seed):
                self.run_on_cow(seed, falloc=False)

    def test_fsx_with_fallocate_on_cow(self):
        for seed in FSX_SEEDS:
            with self.subTest(seed=seed):
                self.run_on_cow(seed + 1000, falloc=True)

    def test_fsx_on_rw_the_backing_file_follows_the_model(self):
        """The control: the same steps (fallocate aside) on rw/, where the
        backing file must end as the model."""
        m = self.mount('[x]\npath = x.bin\n', {'x.bin': FSX_DATA})
        for seed in FSX_SEEDS:
            with self.subTest(seed=seed):
                with open(m.backing('x.bin'), 'r+b') as f:
                    f.truncate(0)
                    f.write(FSX_DATA)
                fsx = Fsx(m.path('rw', 'x'), FSX_DATA, seed + 2000)
                self.assertEqual(fsx.run(FSX_OPS), FSX_OPS)
                self.assertEqual(sha(read_file(m.backing('x.bin'))), sha(fsx.model))
                self.assertEqual(sha(read_file(m.path('ro', 'x'))), sha(fsx.model))

    def test_the_exercisers_model_agrees_with_a_plain_file(self):
        """The exerciser itself, on a file of the local file system (reset
        rewrites it): a divergence here is a bug of the test, not of mmapfs."""
        d = self.tmpdir()
        path = self.write(d, 'plain.bin', FSX_DATA)

        def reset():
            with open(path, 'r+b') as f:
                f.truncate(0)
                f.write(FSX_DATA)
        for seed in FSX_SEEDS:
            reset()
            self.assertEqual(Fsx(path, FSX_DATA, seed, reset=reset, falloc=True).run(FSX_OPS),
                             FSX_OPS)


if __name__ == '__main__':
    unittest.main()
