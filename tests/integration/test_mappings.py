"""
Writes made through clients' own MAP_SHARED mappings of rw/NAME and
cow/NAME (issue 10). SPEC "Views":

    Client programs may mmap(2) any view; a MAP_SHARED writable mapping of
    rw/NAME (or cow/NAME) writes back through the daemon like any FUSE file.
    What a client writes through its own mapping is never lost nor
    misplaced: the pages the kernel writes back later land in the region
    they were written to, before any control command, resize, truncate,
    reset, commit, reload or unmount that comes after the client's write
    takes effect; and a page written back from a client's mapping never
    changes a view's size.

and "Lifecycle and faults" (unmount, SIGTERM and SIGINT included, first
writes back what clients dirtied, then flushes; a reload that changes an
entry's path first writes back and flushes what clients wrote to the old
region, and gives the entry new inode numbers: old descriptors get ESTALE).

Each test has a real client: a process (mapclient.Helper) that maps a view
MAP_SHARED writable and stores into it, so that the kernel holds dirty
pages that nobody has written back yet (checked in the client's smaps
before the step under test: the control of each test). Then another
process acts (a control command, a signal, a reload), and only then does
the client msync or exit: the order is exact, without sleeps. Every step
has a deadline (mapclient.CALL_TIMEOUT), so a deadlock fails the test
instead of hanging it; the test process never touches the mount itself
(views and control files are read through a helper, backing files
directly).

The same tests run with the daemon single-threaded (-s), where a command
whose request thread waits for the writebacks that only a request thread
can serve would deadlock (or, as today, give up after 1 s and log
"replying before the kernel dropped stale pages": a reply sent before the
change was complete, which the SPEC does not allow either).
"""
import errno
import mmap
import os
import signal
import subprocess
import time
import unittest

import harness
from harness import write_text
from harness import PAGE, TmpDirCase, is_mounted, pattern
from mapclient import CALL_TIMEOUT, Helpers, dirty_kb, rss_kb, wchans

K = 1024
M = K * K
LATE = 'replying before'     # the daemon's log when it gave up waiting
RELOAD_WAIT = 10.0


def page_cache_dirty_kb(path):
    """kB of PATH's page-cache pages that are dirty (not yet written back):
    smaps counts a mapped page as dirty when the page itself is, so map the
    file here (the backing file, not the mount), touch every page, and read
    our own smaps."""
    with open(path, 'rb') as f:
        if os.fstat(f.fileno()).st_size == 0:
            return 0
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            for off in range(0, len(mm), PAGE):
                mm[off]
            return sum(harness.smaps_dirty(os.getpid(), os.path.realpath(path)).values())


def first_difference(got, want):
    """Where GOT and WANT first differ, in words."""
    if got == want:
        return 'equal'
    n = min(len(got), len(want))
    at = next((i for i in range(n) if got[i] != want[i]), n)
    pages = sorted({i // PAGE for i in range(n) if got[i] != want[i]})
    return ('%d bytes, expected %d; first difference at %d (got %r, expected %r); '
            'pages differing: %s' % (len(got), len(want), at, got[at:at + 16],
                                     want[at:at + 16], pages[:20]))


class Mappings(Helpers, TmpDirCase):
    """The five reproductions of issue 10, and the sizes rule."""

    ARGS = ()

    # -- helpers
    def start(self, config, files):
        return self.mount(config, files, args=list(self.ARGS))

    def assertBytes(self, got, want, what):
        self.assertTrue(got == want, '%s: %s' % (what, first_difference(got, want)))

    def mapped_dirty(self, client, m, view, name, kb):
        """The control: CLIENT's mapping of VIEW/NAME holds at least KB kB
        of dirty pages that the kernel has not written back."""
        got = dirty_kb(client, m.path(view, name))
        self.assertGreaterEqual(got, kb, 'control: the client mapping of %s/%s holds %d kB '
                                'dirty, not the %d kB it stored (written back already?)'
                                % (view, name, got, kb))

    def status(self, admin, m, name):
        text = admin.read(m.path('ctl', name, 'status')).decode()
        return dict(line.split(': ', 1) for line in text.splitlines())

    def finish(self, m, helpers, check=None):
        """The helpers exit, the mount is unmounted: the daemon exits 0,
        never logged that it replied early; then CHECK() once more."""
        for h in helpers:
            h.exit()
        status = m.stop()
        self.assertEqual(status, 0, m.stderr[-3000:])
        self.assertNotIn(LATE, m.stderr, 'a reply went out before the change was complete')
        if check:
            check()

    # -- 1. unmount by signal
    def signal_case(self, sig):
        """A client dirties all 64 pages of a 256 KiB entry and keeps its
        mapping; SIGNAL to the daemon: it writes them back, flushes,
        unmounts and exits 0."""
        data, new = pattern(256 * K, 1), pattern(256 * K, 2)
        m = self.start('[x]\npath = x.bin\n', {'x.bin': data})
        c = self.helper('client', m)
        c.ok('map', 'x', m.path('rw', 'x'), len(data))
        c.poke('x', 0, new)
        self.mapped_dirty(c, m, 'rw', 'x', 256)
        self.assertBytes(m.read_backing('x.bin'), data, 'control: x.bin before the signal')
        os.kill(m.pid, sig)
        try:
            status = m.proc.wait(timeout=CALL_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail('the daemon did not exit within %.0f s of %s (a deadlock?); threads: %s'
                      % (CALL_TIMEOUT, signal.Signals(sig).name, wchans(m.pid)))
        self.assertEqual(status, 0, m.stderr[-3000:])
        self.assertFalse(is_mounted(m.mnt), 'still mounted after the daemon exited')
        got = m.read_backing('x.bin')
        lost = [p for p in range(len(data) // PAGE)
                if got[p * PAGE:(p + 1) * PAGE] != new[p * PAGE:(p + 1) * PAGE]]
        self.assertEqual(len(lost), 0, '%s: %d of the 64 pages the client dirtied before the unmount '
                         'are not in x.bin (pages %s)' % (signal.Signals(sig).name, len(lost),
                                                           lost[:8]))
        self.assertBytes(got, new, 'x.bin after %s' % signal.Signals(sig).name)
        self.assertEqual(page_cache_dirty_kb(m.backing('x.bin')), 0,
                         'the region is flushed at unmount: no dirty page left in x.bin')
        self.assertNotIn(LATE, m.stderr)
        c.kill()        # its mapping outlived the mount: what it does now is not checked
        self.assertEqual(m.stop(), 0)

    def test_sigterm_writes_back_what_clients_dirtied_then_flushes(self):
        self.signal_case(signal.SIGTERM)

    def test_sigint_writes_back_what_clients_dirtied_then_flushes(self):
        self.signal_case(signal.SIGINT)

    # -- 2. move
    def test_a_move_is_not_overwritten_by_a_later_writeback(self):
        """The client dirties byte PAGE + 100; `move PAGE 0 10`; the client
        msyncs: the move came after the client's write, so the region holds
        both, the moved bytes and the client's byte."""
        data = b'ABCDEFGHIJ' + b'.' * (4 * PAGE - 10)
        m = self.start('[x]\npath = x.bin\n', {'x.bin': data})
        c, admin = self.helper('client', m), self.helper('admin', m)
        c.ok('map', 'x', m.path('rw', 'x'), len(data))
        c.poke('x', PAGE + 100, b'Z')
        self.mapped_dirty(c, m, 'rw', 'x', 4)
        self.assertEqual(admin.command(m.path('ctl', 'x', 'move'), '%d 0 10\n' % PAGE), 0)
        c.ok('msync', 'x')
        want = bytearray(data)
        want[PAGE:PAGE + 10] = b'ABCDEFGHIJ'
        want[PAGE + 100] = ord('Z')
        want = bytes(want)
        got = m.read_backing('x.bin')
        self.assertEqual((got[PAGE:PAGE + 10], got[PAGE + 100:PAGE + 101]), (b'ABCDEFGHIJ', b'Z'),
                         'x.bin after the move and the msync: bytes %d..%d and %d'
                         % (PAGE, PAGE + 10, PAGE + 100))
        self.assertBytes(got, want, 'x.bin')
        self.assertBytes(admin.read(m.path('ro', 'x')), want, 'ro/x')
        self.assertBytes(admin.read(m.path('rw', 'x')), want, 'rw/x')
        self.assertBytes(c.data('peek', 'x', 0, len(want)), want, "the client's own mapping")
        self.assertEqual(self.status(admin, m, 'x')['moves'], '1')
        self.finish(m, [c, admin], lambda: self.assertBytes(m.read_backing('x.bin'), want,
                                                            'x.bin after unmount'))

    def test_a_cow_move_is_not_overwritten_by_a_later_writeback(self):
        """The same through a client's MAP_SHARED mapping of cow/x and
        `move cow`: the cow view holds both; the file neither."""
        data = b'ABCDEFGHIJ' + b'.' * (4 * PAGE - 10)
        m = self.start('[x]\npath = x.bin\n', {'x.bin': data})
        c, admin = self.helper('client', m), self.helper('admin', m)
        c.ok('map', 'x', m.path('cow', 'x'), len(data))
        c.poke('x', PAGE + 100, b'Z')
        self.mapped_dirty(c, m, 'cow', 'x', 4)
        self.assertEqual(admin.command(m.path('ctl', 'x', 'move'), 'cow %d 0 10\n' % PAGE), 0)
        c.ok('msync', 'x')
        want = bytearray(data)
        want[PAGE:PAGE + 10] = b'ABCDEFGHIJ'
        want[PAGE + 100] = ord('Z')
        want = bytes(want)
        self.assertBytes(admin.read(m.path('cow', 'x')), want, 'cow/x after the move and msync')
        self.assertBytes(c.data('peek', 'x', 0, len(want)), want, "the client's own mapping")
        self.assertBytes(m.read_backing('x.bin'), data, 'x.bin (cow writes never reach it)')
        self.assertBytes(admin.read(m.path('ro', 'x')), data, 'ro/x')
        self.finish(m, [c, admin])

    # -- 3. shrinking resize
    def test_a_shrinking_resize_is_not_undone_by_a_later_writeback(self):
        """The client dirties the last page of a 1 MiB entry; `resize 4096`;
        the client msyncs: the client's page landed before the resize, which
        then cut it: the file is the first 4096 bytes, nothing else."""
        data = pattern(1 * M, 3)
        m = self.start('[x]\npath = x.bin\n', {'x.bin': data})
        c, admin = self.helper('client', m), self.helper('admin', m)
        c.ok('map', 'x', m.path('rw', 'x'), len(data))
        c.poke('x', len(data) - PAGE, pattern(PAGE, 4))
        self.mapped_dirty(c, m, 'rw', 'x', 4)
        self.assertEqual(admin.command(m.path('ctl', 'x', 'resize'), '4096\n'), 0)
        c.call('msync', 'x')    # nothing is left for it to write back; its result is free
        want = data[:PAGE]
        self.assertEqual(os.path.getsize(m.backing('x.bin')), PAGE,
                         'x.bin after the resize and the msync')
        self.assertBytes(m.read_backing('x.bin'), want, 'x.bin')
        self.assertEqual(admin.read(m.path('ctl', 'x', 'resize')), b'4096\n')
        self.assertBytes(admin.read(m.path('ro', 'x')), want, 'ro/x')
        self.assertBytes(admin.read(m.path('rw', 'x')), want, 'rw/x')
        self.finish(m, [c, admin], lambda: self.assertBytes(m.read_backing('x.bin'), want,
                                                            'x.bin after unmount'))

    # -- 4. reset
    def test_reset_drops_cow_writes_made_through_a_clients_mapping(self):
        """The client dirties a page through its mapping of cow/x; `reset`;
        the client msyncs and exits: its write came before the reset, which
        dropped it: cow/x reads the file, no private page."""
        data = pattern(4 * PAGE, 5)
        m = self.start('[x]\npath = x.bin\n', {'x.bin': data})
        c, admin = self.helper('client', m), self.helper('admin', m)
        c.ok('map', 'x', m.path('cow', 'x'), len(data))
        c.poke('x', 0, b'COW THROUGH MAPPING')
        self.mapped_dirty(c, m, 'cow', 'x', 4)
        self.assertEqual(admin.command(m.path('ctl', 'x', 'reset'), '\n'), 0)
        c.call('msync', 'x')
        seen = c.data('peek', 'x', 0, len(data))
        c.exit()
        st = self.status(admin, m, 'x')
        self.assertBytes(admin.read(m.path('cow', 'x')), data, 'cow/x after the reset, the '
                         "client's msync and its exit")
        self.assertEqual((st['cow_private_bytes'], st['cow_size']), ('0', str(len(data))),
                         'status after the reset: cow_private_bytes, cow_size')
        self.assertBytes(seen, data, "the client's own mapping after the reset")
        self.assertBytes(m.read_backing('x.bin'), data, 'x.bin')
        self.finish(m, [admin])

    # -- 5. reload
    def test_a_reload_that_changes_path_writes_back_to_the_old_file(self):
        """The client dirties rw/x while x is A.bin; the config says B.bin;
        SIGHUP: the client's bytes are written back (and flushed) into A.bin
        first, B.bin never sees them; the entry's views and control files
        get new inode numbers, and descriptors opened before (the client's
        too) fail with ESTALE."""
        a, b = pattern(4 * PAGE, 6), pattern(4 * PAGE, 7)
        late = b'LATE WRITE THROUGH THE MAPPING'
        m = self.start('[x]\npath = A.bin\n', {'A.bin': a, 'B.bin': b})
        c, admin = self.helper('client', m), self.helper('admin', m)
        # The old descriptors first: an open of rw/x drops (so writes back)
        # the kernel's cached pages of rw/x.
        admin.ok('open', 'ro', m.path('ro', 'x'), os.O_RDONLY)
        admin.ok('open', 'rw', m.path('rw', 'x'), os.O_RDWR)
        admin.ok('open', 'status', m.path('ctl', 'x', 'status'), os.O_RDONLY)
        names = [('ro', 'x'), ('rw', 'x'), ('cow', 'x')] + [
            ('ctl', 'x', f) for f in admin.ok('listdir', m.path('ctl', 'x'))['names']]
        before = {n: admin.ok('stat', m.path(*n))['ino'] for n in names}
        c.ok('map', 'x', m.path('rw', 'x'), len(a))
        c.poke('x', PAGE + 7, late)
        self.mapped_dirty(c, m, 'rw', 'x', 4)
        self.assertBytes(m.read_backing('A.bin'), a, 'control: A.bin before the reload')

        reloads = m.stderr.count('reloaded:')
        write_text(m.config_path, '[x]\npath = B.bin\n')
        os.kill(m.pid, signal.SIGHUP)
        deadline = time.monotonic() + RELOAD_WAIT
        while m.stderr.count('reloaded:') <= reloads:
            self.assertLess(time.monotonic(), deadline, 'no "reloaded:" in the log within '
                            '%.0f s:\n%s' % (RELOAD_WAIT, m.stderr[-3000:]))
            time.sleep(0.02)

        want_a = bytearray(a)
        want_a[PAGE + 7:PAGE + 7 + len(late)] = late
        want_a = bytes(want_a)
        self.assertBytes(m.read_backing('B.bin'), b, 'B.bin (the new file) after the reload')
        self.assertBytes(m.read_backing('A.bin'), want_a, 'A.bin (the old file) after the reload')
        self.assertEqual(page_cache_dirty_kb(m.backing('A.bin')), 0,
                         'the old region is flushed at the reload')
        after = {n: admin.ok('stat', m.path(*n))['ino'] for n in names}
        same = ['/'.join(n) for n in names if after[n] == before[n]]
        self.assertEqual(same, [], 'a changed entry gets new inode numbers')
        self.assertFalse(set(after.values()) & set(before.values()), 'inode numbers are never reused')
        self.assertEqual(admin.errno_of('fd_pread', 'ro', 0, 100), errno.ESTALE, 'old ro/x')
        self.assertEqual(admin.errno_of('fd_pwrite', 'rw', 0, b'old'.hex()), errno.ESTALE,
                         'old rw/x')
        self.assertEqual(admin.errno_of('fd_pread', 'status', 0, 4096), errno.ESTALE,
                         'old ctl/x/status')
        self.assertEqual(c.errno_of('fd_pread', 'x', 0, 100), errno.ESTALE,
                         "the client's descriptor")
        c.call('msync', 'x')    # the old inode: whatever it does, it never reaches B.bin
        self.assertBytes(m.read_backing('B.bin'), b, "B.bin after the client's msync")
        self.assertBytes(m.read_backing('A.bin'), want_a, "A.bin after the client's msync")
        self.assertBytes(admin.read(m.path('ro', 'x')), b, 'ro/x now')
        self.assertBytes(admin.read(m.path('rw', 'x')), b, 'rw/x now')

        def files():
            self.assertBytes(m.read_backing('A.bin'), want_a, 'A.bin after unmount')
            self.assertBytes(m.read_backing('B.bin'), b, 'B.bin after unmount')
        self.finish(m, [c, admin], files)

    def test_a_reload_that_takes_rw_away_writes_back_first(self):
        """The client dirties rw/x; the config drops rw from x's views;
        SIGHUP: the client's bytes are written back into x.bin and flushed
        before rw/x goes; ro/x keeps its inode number and shows them."""
        data = pattern(4 * PAGE, 9)
        late = b'WRITTEN THROUGH THE MAPPING'
        m = self.start('[x]\npath = x.bin\n', {'x.bin': data})
        c, admin = self.helper('client', m), self.helper('admin', m)
        ino = admin.ok('stat', m.path('ro', 'x'))['ino']
        c.ok('map', 'x', m.path('rw', 'x'), len(data))
        c.poke('x', PAGE + 7, late)
        self.mapped_dirty(c, m, 'rw', 'x', 4)
        self.assertBytes(m.read_backing('x.bin'), data, 'control: x.bin before the reload')

        reloads = m.stderr.count('reloaded:')
        write_text(m.config_path, '[x]\npath = x.bin\nviews = ro, cow\n')
        os.kill(m.pid, signal.SIGHUP)
        deadline = time.monotonic() + RELOAD_WAIT
        while m.stderr.count('reloaded:') <= reloads:
            self.assertLess(time.monotonic(), deadline, 'no "reloaded:" in the log within '
                            '%.0f s:\n%s' % (RELOAD_WAIT, m.stderr[-3000:]))
            time.sleep(0.02)

        want = bytearray(data)
        want[PAGE + 7:PAGE + 7 + len(late)] = late
        want = bytes(want)
        self.assertBytes(m.read_backing('x.bin'), want, 'x.bin after the reload')
        self.assertEqual(page_cache_dirty_kb(m.backing('x.bin')), 0,
                         'the rw region is flushed as rw/x goes')
        self.assertEqual(admin.errno_of('stat', m.path('rw', 'x')), errno.ENOENT, 'rw/x')
        self.assertEqual(admin.ok('stat', m.path('ro', 'x'))['ino'], ino, 'ro/x')
        self.assertBytes(admin.read(m.path('ro', 'x')), want, 'ro/x after the reload')

        def files():
            self.assertBytes(m.read_backing('x.bin'), want, 'x.bin after unmount')
        self.finish(m, [c, admin], files)

    # -- sizes
    def sizes(self, admin, m, want, when):
        got = {'rw/x': admin.ok('stat', m.path('rw', 'x'))['size'],
               'ro/x': admin.ok('stat', m.path('ro', 'x'))['size'],
               'ctl/x/resize': int(admin.read(m.path('ctl', 'x', 'resize'))),
               'status size': int(self.status(admin, m, 'x')['size']),
               'x.bin': os.path.getsize(m.backing('x.bin'))}
        self.assertEqual(got, dict.fromkeys(got, want), 'sizes %s' % when)

    def test_a_page_written_back_never_changes_a_views_size(self):
        """The client dirties the last page of 1 MiB; `resize 4096`; the
        size stays 4096 through the msync, the client's exit and the
        unmount."""
        data = pattern(1 * M, 8)
        m = self.start('[x]\npath = x.bin\n', {'x.bin': data})
        c, admin = self.helper('client', m), self.helper('admin', m)
        c.ok('map', 'x', m.path('rw', 'x'), len(data))
        c.poke('x', len(data) - PAGE, pattern(PAGE, 9))
        self.mapped_dirty(c, m, 'rw', 'x', 4)
        self.assertEqual(admin.command(m.path('ctl', 'x', 'resize'), '4096\n'), 0)
        self.sizes(admin, m, PAGE, 'right after the resize')
        c.call('msync', 'x')
        self.sizes(admin, m, PAGE, "after the client's msync")
        c.exit()
        self.sizes(admin, m, PAGE, "after the client's exit")
        self.finish(m, [admin], lambda: self.assertEqual(
            os.path.getsize(m.backing('x.bin')), PAGE, 'x.bin after unmount'))

    def test_a_page_written_back_past_the_end_of_a_file_cut_outside_never_grows_it(self):
        """A following entry (no length) of 1 MiB; the client dirties its
        last page; another process cuts the file to 4096 bytes; an open
        makes the daemon take the new size, and the kernel, which still
        believes 1 MiB, writes the page back past the region's end: it is
        cut there (or fails), the size stays 4096."""
        data = pattern(1 * M, 10)
        m = self.start('[x]\npath = x.bin\n', {'x.bin': data})
        c, admin = self.helper('client', m), self.helper('admin', m)
        c.ok('map', 'x', m.path('rw', 'x'), len(data))
        c.poke('x', len(data) - PAGE, pattern(PAGE, 11))
        self.mapped_dirty(c, m, 'rw', 'x', 4)
        os.truncate(m.backing('x.bin'), PAGE)          # not through the mount
        self.assertBytes(admin.read(m.path('ro', 'x')), data[:PAGE], 'ro/x after the cut')
        self.sizes(admin, m, PAGE, 'after the cut and an open')
        c.call('msync', 'x')
        self.sizes(admin, m, PAGE, "after the client's msync")
        c.exit()
        self.sizes(admin, m, PAGE, "after the client's exit")
        self.assertBytes(m.read_backing('x.bin'), data[:PAGE], 'x.bin')
        self.finish(m, [admin], lambda: self.assertEqual(
            os.path.getsize(m.backing('x.bin')), PAGE, 'x.bin after unmount'))

    # -- flush
    def test_flush_first_writes_back_what_clients_dirtied(self):
        """`flush` (not `async`) is a command that comes after the client's
        write: the client's page is in the file, and on disk, when it
        returns, though the client never msynced."""
        data = pattern(8 * PAGE, 12)
        m = self.start('[x]\npath = x.bin\n', {'x.bin': data})
        c, admin = self.helper('client', m), self.helper('admin', m)
        c.ok('map', 'x', m.path('rw', 'x'), len(data))
        c.poke('x', 3 * PAGE + 1, b'FLUSHED')
        self.mapped_dirty(c, m, 'rw', 'x', 4)
        self.assertEqual(admin.command(m.path('ctl', 'x', 'flush'), '\n'), 0)
        want = bytearray(data)
        want[3 * PAGE + 1:3 * PAGE + 8] = b'FLUSHED'
        self.assertBytes(m.read_backing('x.bin'), bytes(want), 'x.bin after the flush')
        self.assertEqual(page_cache_dirty_kb(m.backing('x.bin')), 0, 'x.bin is on disk')
        self.finish(m, [c, admin])

    def test_a_command_leaves_the_mapped_pages_it_does_not_change(self):
        """The write-back before a command writes back the client's dirty
        pages and nothing more: the pages of its mapping that the command
        does not change stay mapped (a reader of a big mapping does not
        fault it all in again after each command), and the moved page
        shows the move."""
        data = pattern(64 * PAGE, 13)
        m = self.start('[x]\npath = x.bin\n', {'x.bin': data})
        c, admin = self.helper('client', m), self.helper('admin', m)
        c.ok('map', 'x', m.path('rw', 'x'), len(data))
        c.ok('peek', 'x', 0, len(data))           # every page mapped
        c.poke('x', 10 * PAGE, b'DIRTY')
        self.mapped_dirty(c, m, 'rw', 'x', 4)
        before = rss_kb(c, m.path('rw', 'x'))
        self.assertGreaterEqual(before, 64 * PAGE // K, 'control: every page is mapped')
        for _ in range(3):
            self.assertEqual(admin.command(m.path('ctl', 'x', 'move'), '0 %d 16' % PAGE), 0)
        after = rss_kb(c, m.path('rw', 'x'))
        self.assertGreaterEqual(after, before - 2 * PAGE // K,
                                'the moves dropped %d of the client\'s %d kB mapped'
                                % (before - after, before))
        got = c.data('peek', 'x', 0, 16)
        self.assertBytes(got, data[PAGE:PAGE + 16], 'page 0 after the move')
        want = bytearray(data)
        want[:16] = data[PAGE:PAGE + 16]
        want[10 * PAGE:10 * PAGE + 5] = b'DIRTY'
        self.assertBytes(m.read_backing('x.bin'), bytes(want), 'x.bin after the moves')
        self.finish(m, [c, admin])

    def test_unmount_right_after_the_client_exits(self):
        """A command while a client maps a view keeps nothing open on the
        mount: once the client is gone, the first fusermount3 -u succeeds
        (no EBUSY), the daemon exits 0, and the client's bytes are in the
        file."""
        data = pattern(16 * PAGE, 14)
        m = self.start('[x]\npath = x.bin\n', {'x.bin': data})
        c, admin = self.helper('client', m), self.helper('admin', m)
        c.ok('map', 'x', m.path('rw', 'x'), len(data))
        c.poke('x', 5 * PAGE, b'LATE')
        self.assertEqual(admin.command(m.path('ctl', 'x', 'flush'), '\n'), 0)
        c.poke('x', 6 * PAGE, b'LATER')
        admin.exit()
        c.exit()
        r = subprocess.run(['fusermount3', '-u', m.mnt], capture_output=True, text=True,
                           timeout=CALL_TIMEOUT)
        self.assertEqual(r.returncode, 0, 'the first unmount after the client exited: %s'
                         % r.stderr)
        self.assertEqual(m.proc.wait(timeout=CALL_TIMEOUT), 0, m.stderr[-3000:])
        want = bytearray(data)
        want[5 * PAGE:5 * PAGE + 4] = b'LATE'
        want[6 * PAGE:6 * PAGE + 5] = b'LATER'
        self.assertBytes(m.read_backing('x.bin'), bytes(want), 'x.bin after the unmount')
        self.assertEqual(m.stop(), 0)


class MappingsSingleThreaded(Mappings):
    """The same with -s: one thread serves every request, the writebacks
    that a command causes included."""

    ARGS = ('-s',)


if __name__ == '__main__':
    unittest.main()
