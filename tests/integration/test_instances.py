"""
SPEC "Cow instances" (issue 13): `fork` makes cow/NAME@TAG and
ctl/NAME@TAG/, a copy of the cow view it is forked from; `drop` and `rm`
remove its names at once while what is open keeps working; `changes`
lists a cow view's own pages; `commit` writes a cow view into the file.
The status keys `forks`, `commits`, `instances`; the errnos of `fork`;
modes; inode numbers never reused; 1,000 instances; a fork's cost; reload;
8 processes on their own instances while cow/NAME commits and resets; the
README's `-- sh -c` example as written.
"""
import errno
import mmap
import multiprocessing
import os
import re
import signal
import stat
import subprocess
import time
import unittest

import harness
from harness import PAGE, pattern, read_file, run_binary

D = pattern(4 * PAGE + 100, 13)


def write_at(path, data, off):
    fd = os.open(path, os.O_WRONLY)
    try:
        return os.pwrite(fd, data, off)
    finally:
        os.close(fd)


class InstanceCase(harness.MountCase):
    """One mount; each test uses entries of its own."""
    NAMES = ('copy', 'drop', 'errs', 'stat', 'changes', 'commit', 'others', 'inos',
             'many', 'status', 'rmdir', 'nested', 'map', 'coher')
    CONFIG = (''.join('[%s]\npath = %s.bin\n' % (n, n) for n in NAMES) +
              '[norw]\npath = norw.bin\nviews = ro, cow\n'
              '[nocow]\npath = nocow.bin\nviews = ro, rw\n'
              '[%s]\npath = long.bin\n' % ('L' * 250))
    FILES = dict({n + '.bin': D for n in NAMES}, **{'norw.bin': D, 'nocow.bin': D,
                                                      'long.bin': D})

    def fork(self, name, tag):
        return self.m.ctl_write(name, 'fork', tag + '\n')

    def status(self, name):
        return self.m.ctl_status(name)

    def cow(self, name):
        return read_file(self.p('cow', name))


class Instances(InstanceCase):
    # -- "a new cow view whose bytes and size are cow/NAME's at that moment"
    def test_a_fork_is_a_copy_of_the_cow_view_at_that_moment_then_independent(self):
        n = 'copy'
        self.assertEqual(write_at(self.p('cow', n), b'MAIN', 10), 4)
        os.truncate(self.p('cow', n), len(D) + 50)
        self.assertEqual(self.fork(n, 'a'), 0)
        want = D[:10] + b'MAIN' + D[14:] + bytes(50)
        self.assertEqual(self.cow(n + '@a'), want)
        self.assertEqual(os.stat(self.p('cow', n + '@a')).st_size, len(want))
        # independent from then on
        self.assertEqual(write_at(self.p('cow', n + '@a'), b'INST', 10), 4)
        self.assertEqual(write_at(self.p('cow', n), b'LATE', 100), 4)
        self.assertEqual(self.cow(n + '@a')[10:14], b'INST')
        self.assertEqual(self.cow(n + '@a')[100:104], D[100:104])
        self.assertEqual(self.cow(n)[10:14], b'MAIN')
        self.assertEqual(read_file(self.m.backing(n + '.bin')), D)
        # the file's later changes show on its unwritten pages
        self.assertEqual(write_at(self.p('rw', n), b'FILE', 3 * PAGE), 4)
        self.assertEqual(self.cow(n + '@a')[3 * PAGE:3 * PAGE + 4], b'FILE')
        # names stay flat: a fork of an instance is cow/NAME@B
        self.assertEqual(self.m.ctl_write(n + '@a', 'fork', 'b'), 0)
        self.assertEqual(self.cow(n + '@b')[10:14], b'INST')
        self.assertIn('copy@b', os.listdir(self.p('cow')))

    def test_fork_errors(self):
        n = 'errs'
        for tag in ('.', '..', 'a/b', 'a@b', 'x' * 65, 'two words', ''):
            with self.subTest(tag=tag):
                self.assertEqual(self.fork(n, tag), errno.EINVAL)
        self.assertEqual(self.fork(n, 'x' * 64), 0)
        self.assertEqual(self.fork(n, 'x' * 64), errno.EEXIST)
        self.assertEqual(self.fork(n, 'a.b_c-D9'), 0)
        self.assertEqual(self.fork('L' * 250, 'abcd'), 0)       # 255 bytes
        self.assertEqual(self.fork('L' * 250, 'abcde'), errno.EINVAL)
        self.assertEqual(self.fork('nocow', 'a'), errno.EROFS)
        st = self.status(n)
        self.assertEqual(st['forks'], '2')
        self.assertEqual(int(st['errors']), 8)
        self.assertIn('fork:', st['last_error'])

    # -- "stat of an instance shows cow/NAME's owner, mode and times, its own
    #     size, one link"; the control files' modes
    def test_stat_and_modes(self):
        n = 'stat'
        self.assertEqual(self.fork(n, 's'), 0)
        os.truncate(self.p('cow', n + '@s'), 10)
        main, inst = os.stat(self.p('cow', n)), os.stat(self.p('cow', n + '@s'))
        for key in ('st_uid', 'st_gid', 'st_mode', 'st_mtime_ns', 'st_ctime_ns'):
            self.assertEqual(getattr(inst, key), getattr(main, key), key)
        self.assertEqual(inst.st_size, 10)
        self.assertEqual(inst.st_nlink, 1)
        self.assertNotEqual(inst.st_ino, main.st_ino)
        self.assertEqual(sorted(os.listdir(self.p('ctl', n + '@s'))),
                         ['changes', 'commit', 'drop', 'fork', 'reset', 'status'])
        self.assertNotIn('drop', os.listdir(self.p('ctl', n)))
        modes = {'fork': 0o200, 'drop': 0o200, 'commit': 0o200, 'reset': 0o200,
                 'changes': 0o400, 'status': 0o400}
        for f, mode in modes.items():
            self.assertEqual(stat.S_IMODE(os.stat(self.p('ctl', n + '@s', f)).st_mode), mode, f)
        for f in ('fork', 'commit', 'changes'):
            self.assertTrue(os.path.exists(self.p('ctl', n, f)), f)
        self.assertTrue(stat.S_ISDIR(os.stat(self.p('ctl', n + '@s')).st_mode))

    def test_rmdir_of_a_control_folder_is_eperm(self):
        n = 'rmdir'
        self.assertEqual(self.fork(n, 'r'), 0)
        self.assertErrno(errno.EPERM, os.rmdir, self.p('ctl', n + '@r'))
        self.assertErrno(errno.EPERM, os.rmdir, self.p('ctl', n))
        self.assertErrno(errno.EPERM, os.unlink, self.p('ctl', n + '@r', 'status'))
        self.assertErrno(errno.EPERM, os.unlink, self.p('cow', n))
        self.assertErrno(errno.ENOENT, os.unlink, self.p('cow', n + '@nothere'))

    # -- "rm cow/NAME@TAG or a write of anything to ctl/NAME@TAG/drop removes
    #     it: its names are gone at once ... descriptors ... keep working ...
    #     its control files still open fail with ESTALE"
    def test_drop_with_an_open_descriptor(self):
        n = 'drop'
        self.assertEqual(self.fork(n, 'd'), 0)
        old_ino = os.stat(self.p('cow', n + '@d')).st_ino
        fd = os.open(self.p('cow', n + '@d'), os.O_RDWR)
        status = os.open(self.p('ctl', n + '@d', 'status'), os.O_RDONLY)
        drop = os.open(self.p('ctl', n + '@d', 'drop'), os.O_WRONLY)
        try:
            self.assertEqual(os.write(drop, b'x'), 1)
            self.assertFalse(os.path.exists(self.p('cow', n + '@d')))
            self.assertFalse(os.path.exists(self.p('ctl', n + '@d')))
            self.assertNotIn(n + '@d', os.listdir(self.p('cow')))
            self.assertNotIn(n + '@d', os.listdir(self.p('ctl')))
            self.assertEqual(self.status(n)['instances'], 'none')
            self.assertEqual(os.pwrite(fd, b'still', 0), 5)
            self.assertEqual(os.pread(fd, 5, 0), b'still')
            self.assertEqual(os.fstat(fd).st_size, len(D))
            self.assertErrno(errno.ESTALE, os.pread, status, 100, 0)
            self.assertErrno(errno.ESTALE, os.write, drop, b'x')
            # the TAG may be forked again at once, with a new number
            self.assertEqual(self.fork(n, 'd'), 0)
            self.assertNotEqual(os.stat(self.p('cow', n + '@d')).st_ino, old_ino)
            self.assertEqual(self.cow(n + '@d'), D)
        finally:
            for f in (fd, status, drop):
                os.close(f)
        os.unlink(self.p('cow', n + '@d'))
        self.assertFalse(os.path.exists(self.p('cow', n + '@d')))

    def test_drop_with_a_client_mapping(self):
        n = 'map'
        self.assertEqual(self.fork(n, 'm'), 0)
        fd = os.open(self.p('cow', n + '@m'), os.O_RDWR)
        mm = mmap.mmap(fd, len(D))
        os.close(fd)
        try:
            mm[0:4] = b'MAPD'
            os.unlink(self.p('cow', n + '@m'))
            self.assertFalse(os.path.exists(self.p('cow', n + '@m')))
            mm[PAGE:PAGE + 4] = b'MORE'
            mm.flush()
            self.assertEqual(mm[0:4], b'MAPD')
            self.assertEqual(mm[PAGE:PAGE + 4], b'MORE')
            self.assertEqual(mm[2 * PAGE:2 * PAGE + 8], D[2 * PAGE:2 * PAGE + 8])
        finally:
            mm.close()
        self.assertEqual(read_file(self.m.backing(n + '.bin')), D)

    def test_status_keys(self):
        n = 'status'
        st = self.status(n)
        for key in ('forks', 'commits'):
            self.assertEqual(st[key], '0', key)
        self.assertEqual(st['instances'], 'none')
        for tag in ('b', 'a', 'c'):
            self.assertEqual(self.fork(n, tag), 0)
        self.assertEqual(write_at(self.p('cow', n + '@a'), b'x' * (PAGE + 1), 0), PAGE + 1)
        os.unlink(self.p('cow', n + '@c'))
        st = self.status(n)
        self.assertEqual(st['instances'], 'b a')
        self.assertEqual(st['forks'], '3')
        a = self.status(n + '@a')
        self.assertEqual(a['name'], n + '@a')
        self.assertEqual(a['cow_private_bytes'], str(2 * PAGE))
        self.assertEqual(a['instances'], 'b a')
        self.assertEqual(a['path'], st['path'])
        self.assertEqual(a['forks'], '0')
        self.assertEqual(self.m.ctl_write(n + '@a', 'fork', '..'), errno.EINVAL)
        a = self.status(n + '@a')
        self.assertEqual(a['errors'], '1')
        self.assertIn('fork:', a['last_error'])
        self.assertEqual(self.status(n)['errors'], '0')
        self.assertEqual(self.status(n)['cow_private_bytes'], '0')
        self.assertEqual(self.m.ctl_write(n + '@a', 'reset', 'x'), 0)
        self.assertEqual(self.status(n + '@a')['resets'], '1')
        self.assertEqual(self.cow(n + '@a'), D)

    def test_inode_numbers_are_never_reused(self):
        n = 'inos'
        seen = set()
        for i in range(30):
            self.assertEqual(self.fork(n, 't%d' % (i % 3)), 0)
            for path in (self.p('cow', n + '@t%d' % (i % 3)), self.p('ctl', n + '@t%d' % (i % 3)),
                         self.p('ctl', n + '@t%d' % (i % 3), 'status')):
                ino = os.stat(path).st_ino
                self.assertNotIn(ino, seen, path)
                seen.add(ino)
            os.unlink(self.p('cow', n + '@t%d' % (i % 3)))
        for v in ('ro', 'rw', 'cow', 'ctl'):
            self.assertNotIn(os.stat(self.p(v, n)).st_ino, seen)

    def test_a_thousand_instances_and_no_more(self):
        n = 'many'
        for i in range(1000):
            self.assertEqual(self.fork(n, 'i%d' % i), 0)
        self.assertEqual(self.fork(n, 'more'), errno.ENOSPC)
        names = [x for x in os.listdir(self.p('cow')) if x.startswith(n + '@')]
        self.assertEqual(len(names), 1000)
        self.assertEqual(len(self.status(n)['instances'].split()), 1000)
        fd = os.open(self.p('cow', n + '@i7'), os.O_RDONLY)
        try:
            os.unlink(self.p('cow', n + '@i7'))     # held open: not counted
            self.assertEqual(self.fork(n, 'more'), 0)
        finally:
            os.close(fd)
        for i in range(1000):
            if i != 7:
                os.unlink(self.p('cow', n + '@i%d' % i))
        os.unlink(self.p('cow', n + '@more'))
        self.assertEqual(self.status(n)['instances'], 'none')

    def test_changes(self):
        n = 'changes'
        path = self.p('ctl', n, 'changes')
        self.assertEqual(read_file(path), b'')
        self.assertEqual(write_at(self.p('cow', n), b'a', PAGE + 3), 1)
        self.assertEqual(write_at(self.p('cow', n), b'b', 2 * PAGE), 1)
        self.assertEqual(write_at(self.p('cow', n), b'c', len(D) + 10), 1)  # grows
        want = '%d %d\n%d %d\n' % (PAGE, 2 * PAGE, 4 * PAGE, len(D) + 11 - 4 * PAGE)
        self.assertEqual(read_file(path).decode(), want)
        # SPEC: each open takes one snapshot; a descriptor opened before
        # a reset reads what it took, a new open what is now
        fd = os.open(path, os.O_RDONLY)
        try:
            self.assertEqual(os.pread(fd, 4096, 0).decode(), want)
            self.assertEqual(self.m.ctl_write(n, 'reset', '\n'), 0)
            self.assertEqual(read_file(path), b'')
            self.assertEqual(os.pread(fd, 4096, 0).decode(), want)
        finally:
            os.close(fd)
        self.assertErrno(errno.EACCES, os.open, path, os.O_WRONLY)

    def test_commit(self):
        n = 'commit'
        self.assertEqual(self.fork(n, 'other'), 0)
        self.assertEqual(write_at(self.p('cow', n + '@other'), b'OTHER', 3 * PAGE), 5)
        self.assertEqual(write_at(self.p('cow', n), b'KEEP', 100), 4)
        os.truncate(self.p('cow', n), len(D) + PAGE)
        self.assertEqual(self.m.ctl_write(n, 'commit', '\n'), 0)
        want = D[:100] + b'KEEP' + D[104:] + bytes(PAGE)
        self.assertEqual(read_file(self.m.backing(n + '.bin')), want)
        self.assertEqual(read_file(self.p('ro', n)), want)
        self.assertEqual(self.cow(n), want)
        self.assertEqual(read_file(self.p('ctl', n, 'changes')), b'')
        st = self.status(n)
        self.assertEqual(st['commits'], '1')
        self.assertEqual(st['cow_private_bytes'], '0')
        # the other cow views see it where they have not written
        other = self.cow(n + '@other')
        self.assertEqual(other[100:104], b'KEEP')
        self.assertEqual(other[3 * PAGE:3 * PAGE + 5], b'OTHER')
        self.assertEqual(len(other), len(D))
        # an instance commits too
        self.assertEqual(self.m.ctl_write(n + '@other', 'commit', '\n'), 0)
        self.assertEqual(read_file(self.m.backing(n + '.bin')), other)
        self.assertEqual(self.status(n + '@other')['commits'], '1')
        self.assertEqual(self.m.ctl_write('norw', 'commit', '\n'), errno.EROFS)
        self.assertEqual(self.m.ctl_write('nocow', 'commit', '\n'), errno.EROFS)

    def test_a_commit_changes_what_open_descriptors_read(self):
        n = 'others'
        self.assertEqual(self.fork(n, 'o'), 0)
        fds = [os.open(self.p(v, name), os.O_RDONLY)
               for v, name in (('ro', n), ('cow', n), ('cow', n + '@o'))]
        try:
            for fd in fds:
                self.assertEqual(os.pread(fd, 4, 0), D[:4])
            self.assertEqual(self.fork(n + '@o', 'p'), 0)       # changes nothing
            self.assertEqual(write_at(self.p('cow', n + '@p'), b'NEW!', 0), 4)
            self.assertEqual(self.m.ctl_write(n + '@p', 'commit', '\n'), 0)
            for fd in fds:
                self.assertEqual(os.pread(fd, 4, 0), b'NEW!')
        finally:
            for fd in fds:
                os.close(fd)


    # -- "it follows every rule of cow/NAME (... the file's later changes on
    #     unwritten pages)": through descriptors opened before, too
    def test_rw_writes_show_in_an_open_instance_where_it_has_not_written(self):
        n = 'coher'
        self.assertEqual(self.fork(n, 'c'), 0)
        fd = os.open(self.p('cow', n + '@c'), os.O_RDWR)
        try:
            self.assertEqual(os.pwrite(fd, b'mine', 0), 4)
            self.assertEqual(os.pread(fd, 4, PAGE), D[PAGE:PAGE + 4])     # cached now
            self.assertEqual(write_at(self.p('rw', n), b'RW!!', PAGE), 4)
            self.assertEqual(write_at(self.p('rw', n), b'nope', 0), 4)
            self.assertEqual(harness_wait(lambda: os.pread(fd, 4, PAGE) == b'RW!!', 2), True)
            self.assertEqual(os.pread(fd, 4, 0), b'mine')
            os.truncate(self.p('rw', n), 2 * PAGE)      # cuts its base: zeros past it
            self.assertTrue(harness_wait(lambda: os.pread(fd, 4, 3 * PAGE) == bytes(4), 2))
        finally:
            os.close(fd)


class LimitAndCost(harness.TmpDirCase):
    def test_a_dropped_instance_counts_toward_cow_limit_until_its_last_close(self):
        d = self.tmpdir()
        self.write(d, 'a.bin', D)
        m = self.mount('cow_limit = %d\n[a]\npath = %s\n' % (4 * PAGE, os.path.join(d, 'a.bin')))
        self.assertEqual(write_at(m.path('cow', 'a'), b'x' * (2 * PAGE), 0), 2 * PAGE)
        self.assertEqual(m.ctl_write('a', 'fork', 'b'), 0)          # 4 pages now
        self.assertEqual(m.ctl_write('a', 'fork', 'c'), errno.ENOSPC)
        fd = os.open(m.path('cow', 'a@b'), os.O_RDONLY)
        os.unlink(m.path('cow', 'a@b'))
        self.assertEqual(m.ctl_write('a', 'fork', 'c'), errno.ENOSPC)
        self.assertEqual(os.pread(fd, 2, 0), b'xx')
        os.close(fd)
        ok = harness_wait(lambda: m.ctl_write('a', 'fork', 'c') == 0)
        self.assertTrue(ok, 'the memory of a closed, dropped instance was not freed')
        self.stop(m)

    def test_a_forks_cost_grows_with_what_was_written_not_with_the_file(self):
        d = self.tmpdir()
        big = os.path.join(d, 'big.bin')
        with open(big, 'wb') as f:
            f.truncate(1 << 30)
        m = self.mount('[big]\npath = %s\n' % big)
        self.assertEqual(write_at(m.path('cow', 'big'), b'one page', 5 * PAGE), 8)
        t0 = time.monotonic()
        self.assertEqual(m.ctl_write('big', 'fork', 'f'), 0)
        took = time.monotonic() - t0
        self.assertLess(took, 0.5, 'a fork of one written page over 1 GiB took %.3f s' % took)
        st = m.ctl_status('big@f')
        self.assertEqual(st['cow_private_bytes'], str(PAGE))
        self.assertEqual(st['cow_size'], str(1 << 30))
        fd = os.open(m.path('cow', 'big@f'), os.O_RDONLY)
        try:
            self.assertEqual(os.pread(fd, 8, 5 * PAGE), b'one page')
            self.assertEqual(os.pread(fd, 8, (1 << 30) - 8), bytes(8))
        finally:
            os.close(fd)
        self.stop(m)


    def test_changes_of_many_runs_is_whole(self):
        d = self.tmpdir()
        path = os.path.join(d, 'runs.bin')
        with open(path, 'wb') as f:
            f.truncate(30000 * PAGE)
        m = self.mount('[runs]\npath = %s\n' % path)
        fd = os.open(m.path('cow', 'runs'), os.O_WRONLY)
        try:
            for p in range(0, 30000, 2):
                os.pwrite(fd, b'x', p * PAGE)
        finally:
            os.close(fd)
        text = read_file(m.path('ctl', 'runs', 'changes')).decode()
        self.assertGreater(len(text), 128 * 1024)
        self.assertEqual(text, ''.join('%d %d\n' % (p * PAGE, PAGE) for p in range(0, 30000, 2)))
        self.stop(m)


def harness_wait(pred, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def _worker(mnt, tag, rounds, out):
    """Writes its own bytes into cow/p@TAG and reads them back."""
    path = os.path.join(mnt, 'cow', 'p@' + tag)
    mine = pattern(PAGE, hash(tag) & 0xffff)
    try:
        fd = os.open(path, os.O_RDWR)
        for r in range(rounds):
            off = (r % 8) * PAGE
            os.pwrite(fd, mine, off)
            if os.pread(fd, PAGE, off) != mine:
                out.put((tag, 'read back other bytes at %d' % off))
                return
        for r in range(8):
            if os.pread(fd, PAGE, r * PAGE) != mine:
                out.put((tag, 'page %d lost its bytes' % r))
                return
        os.close(fd)
        out.put((tag, None))
    except OSError as e:
        out.put((tag, str(e)))


class Parallel(harness.TmpDirCase):
    def test_eight_processes_on_their_instances_while_cow_commits_and_resets(self):
        d = self.tmpdir()
        self.write(d, 'p.bin', pattern(8 * PAGE, 5))
        m = self.mount('[p]\npath = %s\n' % os.path.join(d, 'p.bin'))
        tags = ['w%d' % i for i in range(8)]
        for t in tags:
            self.assertEqual(m.ctl_write('p', 'fork', t), 0)
        out = multiprocessing.Queue()
        procs = [multiprocessing.Process(target=_worker, args=(m.mnt, t, 300, out))
                 for t in tags]
        for p in procs:
            p.start()
        for i in range(20):
            self.assertEqual(write_at(m.path('cow', 'p'), b'C%02d' % i, (i % 8) * PAGE), 3)
            self.assertEqual(m.ctl_write('p', 'commit' if i % 2 else 'reset', '\n'), 0)
        results = dict(out.get(timeout=60) for _ in procs)
        for p in procs:
            p.join(10)
        self.assertEqual(results, {t: None for t in tags})
        self.stop(m)


class Reload(harness.TmpDirCase):
    def test_reload_keeps_or_drops_instances(self):
        m = self.mount('[r]\npath = r.bin\n[s]\npath = s.bin\n', {'r.bin': D, 's.bin': D})
        for n in ('r', 's'):
            self.assertEqual(m.ctl_write(n, 'fork', 'k'), 0)
            self.assertEqual(write_at(m.path('cow', n + '@k'), b'KEPT', 0), 4)
        fd = self.opened(m.path('cow', 's@k'), os.O_RDWR)
        with open(m.config_path, 'w') as f:
            f.write('[r]\npath = r.bin\nadvice = random\n[s]\npath = s.bin\nviews = ro, cow\n')
        os.kill(m.pid, signal.SIGHUP)
        self.assertTrue(harness_wait(lambda: not os.path.exists(m.path('cow', 's@k'))),
                        'a changed views key keeps the instances')
        # dropped as drop does: what is open on it goes on
        self.assertEqual(os.pread(fd, 4, 0), b'KEPT')
        self.assertEqual(os.pwrite(fd, b'more', 4), 4)
        self.assertEqual(os.pread(fd, 8, 0), b'KEPTmore')
        self.assertEqual(read_file(m.path('cow', 'r@k'))[:4], b'KEPT')
        self.assertEqual(m.ctl_status('r')['instances'], 'k')
        self.assertEqual(m.ctl_status('s')['instances'], 'none')
        self.assertEqual(m.ctl_write('s', 'fork', 'k'), 0)     # the TAG is free again
        self.assertEqual(read_file(m.path('cow', 's@k'))[:8], D[:8])
        self.stop(m)


class ReadmeExample(harness.TmpDirCase):
    def test_the_readme_example_runs_as_written(self):
        d = self.tmpdir()
        self.write(d, 'fixture.db', D)
        self.write(d, 'bin/run-tests', '#!/bin/sh\n# run-tests --db PATH: writes a page\n'
                   'printf "worker" | dd of="$2" bs=1 seek=4096 conv=notrunc 2>/dev/null\n',
                   mode=0o755)
        os.mkdir(os.path.join(d, 'MNT'))
        with open(os.path.join(harness.REPO, 'README.md')) as f:
            section = f.read().split('## For test suites', 1)[1]
        block = [b for b in re.findall(r'```sh\n(.*?)```', section, re.S)
                 if '/ctl/db/fork' in b][0]
        env = dict(os.environ, PATH=os.path.join(d, 'bin') + ':' + os.environ['PATH'])
        os.symlink(harness.BINARY, os.path.join(d, 'bin', 'mmapfs'))
        r = subprocess.run(['sh', '-c', block], cwd=d, env=env, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(r.stdout, '%d %d\n' % (PAGE, PAGE), r)
        self.assertEqual(read_file(os.path.join(d, 'fixture.db')), D)


if __name__ == '__main__':
    unittest.main()
