"""
Admin and test-author features, through the real binary: `mmapfs --check`,
`--map` entries, SIGHUP reload, mounting through mount.fuse3, `make install`
and `make uninstall`, and the man page (docs/mmapfs.1: OPTIONS, SIGNALS,
FILES, EXIT STATUS; docs/design.md "Reloading").

Reload tests rewrite the config of a running foreground daemon, send it
SIGHUP and poll (up to RELOAD_WAIT seconds) for the effect.
"""
import errno
import mmap
import os
import re
import shutil
import signal
import stat
import subprocess
import threading
import time
import unittest

import harness
from harness import wait_until, write_text
from harness import (MOUNT_FUSE3, PAGE, Mount, TmpDirCase, errno_of, pattern,
                     read_file, run_binary, sha256_hex)

REPO = harness.REPO
RELOAD_WAIT = 5.0


def page_cache_dirty_kb(path):
    """kB of PATH's page-cache pages that are dirty (not yet written back):
    smaps counts a mapped page as dirty when the page itself is, so map the
    file here, touch every page, and read our own smaps."""
    with open(path, 'rb') as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        for off in range(0, len(mm), PAGE):
            mm[off]
        return sum(harness.smaps_dirty(os.getpid(), os.path.realpath(path)).values())


def listing(m):
    """{view: sorted names} of ro, rw, cow and ctl."""
    return {v: sorted(os.listdir(m.path(v))) for v in ('ro', 'rw', 'cow', 'ctl')}


# ====================================================================== --check

def check_line(name, path, offset=0, length='end', views='ro,rw,cow', resizable='yes',
               create='no', advice='normal'):
    return ('%s: path=%s offset=%s length=%s views=%s resizable=%s create=%s advice=%s'
            % (name, path, offset, length, views, resizable, create, advice))


class Check(TmpDirCase):
    """mmapfs --check CONFIG [--map MAP]...: one line per entry and exit 0,
    or every error (as a mount prints them) and exit 1; never mounts, never
    creates a file."""

    def test_demo_config_lists_every_entry(self):
        d = self.tmpdir()
        shutil.copy(os.path.join(REPO, 'conf', 'demo.ini'), d)
        shutil.copy(os.path.join(REPO, 'conf', 'lorem.txt'), d)
        before = sorted(os.listdir(d))
        r = run_binary(['--check', os.path.join(d, 'demo.ini')], cwd='/')
        self.assertEqual(r.status, 0, r)
        self.assertEqual(r.stderr, '')
        lorem = os.path.join(d, 'lorem.txt')
        self.assertEqual(r.stdout.splitlines(), [
            check_line('lorem', lorem),
            check_line('page2', lorem, offset=4096, length=4096, resizable='no',
                       advice='random'),
            check_line('scratch', 'anonymous', length=1048576),
        ])
        self.assertEqual(sorted(os.listdir(d)), before)
        self.assertEqual(harness.fuse_mounts_under(d + '/'), [])

    def test_every_field_and_create_makes_no_file(self):
        d = self.tmpdir()
        self.write(d, 'cfg/data.bin', pattern(5 * PAGE))
        self.write(d, 'cfg/c.ini', 'log_level = debug\n'
                                   'flush_interval = 5\n'
                                   '[win]\n'
                                   'path = data.bin\n'
                                   'offset = 0x1000\n'
                                   'length = 2K\n'
                                   'views = cow, RO\n'
                                   'advice = HugePage\n'
                                   'resizable = NO\n'
                                   '[made]\n'
                                   'path = made.bin\n'
                                   'create = yes\n'
                                   'length = 1M\n'
                                   'offset = 8K\n'
                                   'advice = sequential\n'
                                   '[anon]\n'
                                   'anonymous = yes\n'
                                   'length = 3G\n'
                                   'views = rw cow\n'
                                   'advice = willneed\n')
        r = run_binary(['--check', 'cfg/c.ini'], cwd=d)
        self.assertEqual(r.status, 0, r)
        self.assertEqual(r.stderr, '')
        cfg = os.path.join(d, 'cfg')
        self.assertEqual(r.stdout.splitlines(), [
            check_line('win', os.path.join(cfg, 'data.bin'), offset=4096, length=2048,
                       views='ro,cow', resizable='no', advice='hugepage'),
            check_line('made', os.path.join(cfg, 'made.bin'), offset=8192, length=1048576,
                       create='yes', advice='sequential'),
            check_line('anon', 'anonymous', length=3 << 30, views='rw,cow', advice='willneed'),
        ])
        self.assertFalse(os.path.exists(os.path.join(cfg, 'made.bin')),
                         '--check must not create the file of a create = yes entry')
        self.assertEqual(harness.fuse_mounts_under(d + '/'), [])

    def test_views_list_has_no_stray_comma(self):
        """views=ro,rw,cow is a comma-separated list: `views = ro` is
        views=ro, `views = ro, rw` is views=ro,rw."""
        d = self.tmpdir()
        self.write(d, 'a.bin', b'abc')
        cases = [('ro', 'ro'), ('rw', 'rw'), ('cow', 'cow'), ('ro, rw', 'ro,rw'),
                 ('rw cow', 'rw,cow'), ('cow,ro', 'ro,cow'), ('rw,cow,ro', 'ro,rw,cow')]
        config = ''.join('[v%d]\npath = a.bin\nviews = %s\n' % (i, v)
                         for i, (v, _) in enumerate(cases))
        self.write(d, 'c.ini', config)
        r = run_binary(['--check', 'c.ini'], cwd=d)
        self.assertEqual(r.status, 0, r)
        got = re.findall(r' views=(\S*) ', r.stdout)
        self.assertEqual(got, [want for _, want in cases], r.stdout)

    def test_broken_config_exits_1_with_the_errors_a_mount_prints(self):
        d = self.tmpdir()
        self.write(d, 'a.bin', pattern(2 * PAGE))
        config = ('log_level = loud\n'          # 1
                  '[a]\n'
                  'path = a.bin\n'
                  'offset = 100\n'              # 4
                  '[b]\n'
                  'path = missing.bin\n'        # 6
                  '[new]\n'
                  'path = new.bin\n'
                  'create = yes\n'
                  'length = 4K\n')
        self.write(d, 'bad.ini', config)
        os.mkdir(os.path.join(d, 'mnt'))
        check = run_binary(['--check', 'bad.ini'], cwd=d)
        mount = run_binary(['bad.ini', 'mnt'], cwd=d, mountpoint='mnt')
        self.assertEqual(check.status, 1, check)
        self.assertEqual(mount.status, 1, mount)
        self.assertNothingMounted(mount, os.path.join(d, 'mnt'))
        self.assertEqual(check.stdout, '', 'a bad config lists no entry')
        lines = check.stderr.splitlines()
        self.assertEqual([l.split(': ', 1)[0] for l in lines],
                         ['bad.ini:1', 'bad.ini:4', 'bad.ini:6'], check.stderr)
        self.assertEqual(lines[1], 'bad.ini:4: [a] offset 100 is not a multiple of the '
                                   'page size (%d)' % PAGE)
        self.assertIn('missing.bin', lines[2])
        self.assertEqual(check.stderr, mount.stderr, 'the same lines a mount prints')
        self.assertFalse(os.path.exists(os.path.join(d, 'new.bin')))

    def test_create_in_a_missing_folder_fails_as_a_mount_would(self):
        """--check checks "as a mount would": a config the mount rejects
        (a create = yes file in a folder that does not exist) must not pass."""
        d = self.tmpdir()
        self.write(d, 'c.ini', '[n]\npath = nodir/new.bin\ncreate = yes\nlength = 4K\n')
        os.mkdir(os.path.join(d, 'mnt'))
        mount = run_binary(['c.ini', 'mnt', '-f'], cwd=d, mountpoint='mnt')
        self.assertEqual(mount.status, 1, mount)
        self.assertRegex(mount.stderr, r'^c\.ini:1: \[n\] .*nodir/new\.bin')
        check = run_binary(['--check', 'c.ini'], cwd=d)
        self.assertEqual((check.status, check.stdout, check.stderr),
                         (1, '', mount.stderr), check)

    def test_check_with_maps(self):
        d = self.tmpdir()
        self.write(d, 'cfg/a.bin', pattern(PAGE))
        self.write(d, 'work/m.bin', pattern(3 * PAGE))
        self.write(d, 'cfg/c.ini', '[a]\npath = a.bin\n')
        r = run_binary(['--check', '../cfg/c.ini', '--map', 'm=m.bin,views=cow ro,offset=4K',
                        '--map', 's=anonymous,length=64K,resizable=no'],
                       cwd=os.path.join(d, 'work'))
        self.assertEqual(r.status, 0, r)
        self.assertEqual(r.stderr, '')
        self.assertEqual(r.stdout.splitlines(), [
            check_line('a', os.path.join(d, 'cfg', 'a.bin')),
            check_line('m', os.path.join(d, 'work', 'm.bin'), offset=4096, views='ro,cow'),
            check_line('s', 'anonymous', length=65536, resizable='no'),
        ])
        # --map alone, relative to the current folder
        r = run_binary(['--check', '--map', 'm=m.bin'], cwd=os.path.join(d, 'work'))
        self.assertEqual((r.status, r.stderr), (0, ''), r)
        self.assertEqual(r.stdout, check_line('m', os.path.join(d, 'work', 'm.bin')) + '\n')

    def test_check_with_bad_maps_reports_every_error(self):
        d = self.tmpdir()
        self.write(d, 'a.bin', pattern(PAGE))
        self.write(d, 'c.ini', '[a]\npath = a.bin\nadvice = odd\n')
        r = run_binary(['--check', 'c.ini', '--map', 'x=a.bin,colour=red',
                        '--map', 'a=a.bin'], cwd=d)
        self.assertEqual(r.status, 1, r)
        self.assertEqual(r.stdout, '')
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 3, r.stderr)
        self.assertTrue(lines[0].startswith('c.ini:3: [a] advice'), lines)
        self.assertRegex(r.stderr, r"(?m)^--map 'x=a\.bin,colour=red': \[x\] .*colour")
        self.assertRegex(r.stderr, r"(?m)^--map 'a=a\.bin': \[a\] .*twice")


# ====================================================================== --map

class MapMount(Mount):
    """A Mount whose command line is `mmapfs [CONFIG] MNT --map ...` (no -f:
    the command returns once mounted), started from CWD."""

    def __init__(self, maps, files=None, config=None, extra=()):
        super().__init__(config or '', files)
        self.maps = list(maps)
        self.with_config = config is not None
        self.extra = list(extra)

    def start(self, cwd=None, env=None):
        argv = [harness.BINARY] + ([self.config_path] if self.with_config else [])
        argv.append(self.mnt)
        for mp in self.maps:
            argv += ['--map', mp]
        super().start(launcher=argv + self.extra, cwd=cwd, env=env)
        self._pids = self._all_pids()
        return self

    def _all_pids(self):
        return sorted(set(super()._all_pids()) | set(harness.daemon_pids(self.mnt)))


class MapEntries(harness.TestCase):
    """Several --map entries alone, with relative paths from the command's
    current folder: they behave like config entries."""

    @classmethod
    def setUpClass(cls):
        cls.data = pattern(4 * PAGE, 1)
        cls.win_data = pattern(3 * PAGE, 2)
        m = MapMount(['data=data.bin',
                      'win=sub/win.bin,offset=4K,length=4K,resizable=no,advice=random',
                      'only=data.bin,views=ro',
                      'données été=sub/win.bin,views=ro cow',
                      'scratch=anonymous,length=1M'],
                     files={'work/data.bin': cls.data, 'work/sub/win.bin': cls.win_data})
        cls.addClassCleanup(m.cleanup)
        cls.m = m
        m.start(cwd=m.backing('work'))
        cls.work = m.backing('work')

    def test_listing(self):
        got = listing(self.m)
        self.assertEqual(got['ro'], sorted(['data', 'win', 'only', 'données été', 'scratch']))
        self.assertEqual(got['rw'], sorted(['data', 'win', 'scratch']))
        self.assertEqual(got['cow'], sorted(['data', 'win', 'données été', 'scratch']))
        self.assertEqual(got['ctl'], got['ro'])
        self.assertEqual(self.m.mountinfo()['fstype'], 'fuse.mmapfs')

    def test_relative_paths_start_at_the_current_folder(self):
        st = self.m.ctl_status('data')
        self.assertEqual(st['path'], os.path.join(self.work, 'data.bin'))
        self.assertEqual(self.m.ctl_status('win')['path'],
                         os.path.join(self.work, 'sub', 'win.bin'))
        self.assertEqual(self.m.ctl_status('scratch')['path'], 'anonymous')
        self.assertEqual(read_file(self.m.path('ro', 'data')),
                         read_file(os.path.join(self.work, 'data.bin')))
        self.assertEqual(read_file(self.m.path('ro', 'data'))[PAGE:], self.data[PAGE:])

    def test_rw_writes_reach_the_file_and_ro(self):
        with open(self.m.path('rw', 'data'), 'r+b') as f:
            f.seek(100)
            f.write(b'MAPPED')
        want = self.data[:100] + b'MAPPED' + self.data[106:]
        self.assertEqual(read_file(self.m.path('ro', 'data')), want)
        self.assertEqual(read_file(self.m.path('ro', 'only')), want)
        self.assertEqual(read_file(os.path.join(self.work, 'data.bin')), want)

    def test_ro_refuses_writes(self):
        self.assertErrno(errno.EACCES, os.open, self.m.path('ro', 'only'), os.O_WRONLY)
        self.assertErrno(errno.ENOENT, os.stat, self.m.path('rw', 'only'))
        self.assertErrno(errno.ENOENT, os.stat, self.m.path('cow', 'only'))

    def test_cow_is_private(self):
        before = read_file(os.path.join(self.work, 'sub', 'win.bin'))
        with open(self.m.path('cow', 'données été'), 'r+b') as f:
            f.write(b'PRIVATE')
        self.assertEqual(read_file(self.m.path('cow', 'données été'))[:7], b'PRIVATE')
        self.assertEqual(read_file(self.m.path('ro', 'données été')), before)
        self.assertEqual(read_file(os.path.join(self.work, 'sub', 'win.bin')), before)

    def test_window_keys(self):
        self.assertEqual(os.stat(self.m.path('ro', 'win')).st_size, PAGE)
        self.assertEqual(read_file(self.m.path('cow', 'win')), self.win_data[PAGE:2 * PAGE])
        st = self.m.ctl_status('win')
        self.assertEqual((st['offset'], st['size'], st['resizable']), (str(PAGE), str(PAGE), 'no'))
        fd = os.open(self.m.path('rw', 'win'), os.O_RDWR)
        try:
            self.assertErrno(errno.EPERM, os.ftruncate, fd, 100)
        finally:
            os.close(fd)

    def test_anonymous(self):
        self.assertEqual(os.stat(self.m.path('ro', 'scratch')).st_size, 1 << 20)
        with open(self.m.path('rw', 'scratch'), 'r+b') as f:
            f.seek(5000)
            f.write(b'anon')
        with open(self.m.path('ro', 'scratch'), 'rb') as f:
            f.seek(4998)
            self.assertEqual(f.read(8), b'\0\0anon\0\0')


class MapWithConfig(TmpDirCase):
    def test_config_and_maps_together(self):
        m = Mount('[a]\npath = a.bin\n', {'a.bin': pattern(PAGE, 3), 'w/b.bin': pattern(PAGE, 4)},
                  args=['--map', 'b=b.bin,views=ro rw', '--map', 'c=anonymous,length=8K'])
        self.addCleanup(m.cleanup)
        m.start(cwd=m.backing('w'))
        got = listing(m)
        self.assertEqual(got['ro'], ['a', 'b', 'c'])
        self.assertEqual(got['cow'], ['a', 'c'])
        self.assertEqual(read_file(m.path('ro', 'b')), pattern(PAGE, 4))
        with open(m.path('rw', 'b'), 'r+b') as f:
            f.write(b'BBBB')
        self.assertEqual(m.read_backing('w/b.bin')[:4], b'BBBB')
        self.assertEqual(os.stat(m.path('rw', 'c')).st_size, 8192)
        self.assertEqual(self.stop(m), 0, m.stderr)

    def test_map_entries_survive_a_reload(self):
        """SIGHUP reads the config and the --map arguments again."""
        m = Mount('[a]\npath = a.bin\n', {'a.bin': pattern(PAGE, 3), 'b.bin': pattern(PAGE, 4)},
                  args=['--map', 'b=b.bin'])
        self.addCleanup(m.cleanup)
        m.start()
        ino = os.stat(m.path('ro', 'b')).st_ino
        write_text(m.config_path, '[a]\npath = a.bin\n[z]\nanonymous = yes\nlength = 4K\n')
        os.kill(m.pid, signal.SIGHUP)
        self.assertTrue(wait_until(lambda: 'z' in os.listdir(m.path('ro'))), m.stderr)
        self.assertEqual(listing(m)['ro'], ['a', 'b', 'z'])
        self.assertEqual(os.stat(m.path('ro', 'b')).st_ino, ino)
        self.assertEqual(read_file(m.path('ro', 'b')), pattern(PAGE, 4))
        self.assertEqual(self.stop(m), 0, m.stderr)


class MapErrors(TmpDirCase):
    """Every bad --map: exit 1, a message that quotes the argument, nothing
    mounted."""

    @classmethod
    def setUpClass(cls):
        cls.d = harness.new_tmpdir()
        cls.addClassCleanup(shutil.rmtree, cls.d, True)
        with open(os.path.join(cls.d, 'a.bin'), 'wb') as f:
            f.write(pattern(2 * PAGE))
        with open(os.path.join(cls.d, 'c.ini'), 'w') as f:
            f.write('[a]\npath = a.bin\n')
        os.mkdir(os.path.join(cls.d, 'mnt'))

    def run_maps(self, maps, config=False):
        argv = (['c.ini'] if config else []) + ['mnt']
        for mp in maps:
            argv += ['--map', mp]
        r = run_binary(argv + ['-f'], cwd=self.d, mountpoint='mnt')
        self.assertEqual(r.status, 1, r)
        self.assertNothingMounted(r, os.path.join(self.d, 'mnt'))
        self.assertEqual(r.stdout, '')
        return r

    def assertNames(self, r, arg, regex):
        self.assertRegex(r.stderr, r"(?m)^--map '%s': %s" % (re.escape(arg), regex))

    def test_name_in_config_and_map(self):
        r = self.run_maps(['a=a.bin'], config=True)
        self.assertNames(r, 'a=a.bin', r'\[a\] .*twice.*c\.ini:1')

    def test_name_in_two_maps(self):
        r = self.run_maps(['b=a.bin', 'b=anonymous,length=4K'])
        self.assertNames(r, 'b=anonymous,length=4K', r"\[b\] .*twice.*--map 'b=a\.bin'")
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)

    def test_unknown_key(self):
        r = self.run_maps(['x=a.bin,colour=red'])
        self.assertNames(r, 'x=a.bin,colour=red', r"\[x\] unknown key 'colour'")

    def test_missing_equals(self):
        r = self.run_maps(['xa.bin'])
        self.assertNames(r, 'xa.bin', r'expected NAME=PATH')

    def test_key_without_value(self):
        r = self.run_maps(['x=a.bin,length'])
        self.assertNames(r, 'x=a.bin,length', r"\[x\] .*length")

    def test_bad_size(self):
        r = self.run_maps(['x=a.bin,length=12Q'])
        self.assertNames(r, 'x=a.bin,length=12Q', r"\[x\] length '12Q'")

    def test_anonymous_without_length(self):
        r = self.run_maps(['x=anonymous'])
        self.assertNames(r, 'x=anonymous', r'\[x\] .*length')

    def test_missing_file(self):
        r = self.run_maps(['x=nope.bin'])
        self.assertNames(r, 'x=nope.bin', r'\[x\] %s' % re.escape(os.path.join(self.d, 'nope.bin')))

    def test_bad_map_with_config_reports_both(self):
        with open(os.path.join(self.d, 'bad.ini'), 'w') as f:
            f.write('[a]\npath = a.bin\nadvice = odd\n')
        r = run_binary(['bad.ini', 'mnt', '--map', 'x=a.bin,offset=1'], cwd=self.d,
                       mountpoint='mnt')
        self.assertEqual(r.status, 1, r)
        self.assertNothingMounted(r, os.path.join(self.d, 'mnt'))
        self.assertRegex(r.stderr, r'(?m)^bad\.ini:3: \[a\] advice')
        self.assertNames(r, 'x=a.bin,offset=1', r'\[x\] offset 1 is not a multiple')


# ====================================================================== SIGHUP

class Reload(TmpDirCase):
    """SIGHUP: read CONFIG again; new entries appear, removed ones go (ESTALE
    for descriptors still open), changed ones keep their names and inode
    numbers; a config with errors changes nothing."""

    BASE = '[a]\npath = a.bin\n\n[b]\npath = b.bin\n'
    FILES = {'a.bin': pattern(2 * PAGE, 10), 'b.bin': pattern(3 * PAGE, 11)}

    def start(self, config=None, files=None):
        return self.mount(config or self.BASE, dict(self.FILES, **(files or {})))

    def hup(self, m, config):
        write_text(m.config_path, config)
        n = m.stderr.count('SIGHUP')
        os.kill(m.pid, signal.SIGHUP)
        return n

    def wait_log(self, m, needle, count=1):
        ok = wait_until(lambda: m.stderr.count(needle) >= count)
        self.assertTrue(ok, 'no %r in the log within %.0f s:\n%s' % (needle, RELOAD_WAIT, m.stderr))

    def inodes(self, m, name, views=('ro', 'rw', 'cow', 'ctl')):
        return {v: os.stat(m.path(v, name)).st_ino for v in views}

    def test_added_entries_appear_and_work(self):
        m = self.start()
        ino_a = self.inodes(m, 'a')
        self.hup(m, self.BASE + '[c]\npath = c.bin\ncreate = yes\nlength = 8K\n'
                                '[d]\nanonymous = yes\nlength = 64K\nviews = ro, rw\n')
        self.assertTrue(wait_until(lambda: 'c' in os.listdir(m.path('ro'))), m.stderr)
        self.wait_log(m, 'reloaded: 2 added, 0 removed, 0 changed')
        got = listing(m)
        self.assertEqual(got, {'ro': ['a', 'b', 'c', 'd'], 'rw': ['a', 'b', 'c', 'd'],
                               'cow': ['a', 'b', 'c'], 'ctl': ['a', 'b', 'c', 'd']})
        self.assertEqual(self.inodes(m, 'a'), ino_a)
        self.assertEqual(os.stat(m.backing('c.bin')).st_size, 8192)
        with open(m.path('rw', 'c'), 'r+b') as f:
            f.write(b'new entry')
        self.assertEqual(read_file(m.path('ro', 'c'))[:9], b'new entry')
        self.assertEqual(m.read_backing('c.bin')[:9], b'new entry')
        with open(m.path('rw', 'd'), 'r+b') as f:
            f.write(b'anon')
        self.assertEqual(read_file(m.path('ro', 'd'))[:5], b'anon\0')
        self.assertEqual(m.ctl_status('d')['name'], 'd')
        self.assertEqual(m.ctl_status('d')['size'], '65536')
        new_inos = set(self.inodes(m, 'c').values()) | set(
            self.inodes(m, 'd', ('ro', 'rw', 'ctl')).values())
        self.assertFalse(new_inos & set(ino_a.values()), 'inode numbers are never reused')
        self.assertEqual(self.stop(m), 0, m.stderr)

    def test_removed_entry_disappears_its_descriptors_get_estale(self):
        m = self.start()
        with open(m.path('rw', 'b'), 'r+b') as f:
            f.write(b'WRITTEN BEFORE')
        ro = self.opened(m.path('ro', 'b'), os.O_RDONLY)
        rw = self.opened(m.path('rw', 'b'), os.O_RDWR)
        st = self.opened(m.path('ctl', 'b', 'status'), os.O_RDONLY)
        self.hup(m, '[a]\npath = a.bin\n')
        self.assertTrue(wait_until(lambda: 'b' not in os.listdir(m.path('ro'))), m.stderr)
        self.wait_log(m, 'reloaded: 0 added, 1 removed, 0 changed')
        self.assertEqual(listing(m), {v: ['a'] for v in ('ro', 'rw', 'cow', 'ctl')})
        for v in ('ro', 'rw', 'cow', 'ctl'):
            self.assertErrno(errno.ENOENT, os.stat, m.path(v, 'b'))
        self.assertErrno(errno.ENOENT, os.open, m.path('ctl', 'b', 'status'), os.O_RDONLY)
        self.assertEqual(m.read_backing('b.bin'),
                         b'WRITTEN BEFORE' + self.FILES['b.bin'][14:])
        self.assertErrno(errno.ESTALE, os.pread, ro, 100, 0)
        self.assertErrno(errno.ESTALE, os.pwrite, rw, b'late', 0)
        self.assertErrno(errno.ESTALE, os.pread, st, 4096, 0)
        self.assertEqual(m.read_backing('b.bin')[:14], b'WRITTEN BEFORE')
        self.assertEqual(read_file(m.path('ro', 'a')), self.FILES['a.bin'])
        self.assertIsNone(m.proc.poll())

    def test_removed_entry_is_flushed(self):
        """Removed entries are flushed: the file's pages in the page cache are
        clean afterwards (written back), not merely present."""
        big = pattern(64 * PAGE, 12)
        m = self.start(files={'b.bin': big})
        with open(m.path('rw', 'b'), 'r+b') as f:
            f.write(b'F' * len(big))
        self.assertGreater(page_cache_dirty_kb(m.backing('b.bin')), 0,
                           'control: the rw write leaves dirty pages')
        self.hup(m, '[a]\npath = a.bin\n')
        self.wait_log(m, 'reloaded: 0 added, 1 removed, 0 changed')
        self.assertEqual(page_cache_dirty_kb(m.backing('b.bin')), 0)
        self.assertEqual(m.read_backing('b.bin'), b'F' * len(big))
        self.assertEqual(self.stop(m), 0, m.stderr)

    def test_changed_views_keep_inode_numbers(self):
        m = self.start()
        before = self.inodes(m, 'b')
        ro = self.opened(m.path('ro', 'b'), os.O_RDONLY)
        with open(m.path('cow', 'b'), 'r+b') as f:
            f.write(b'COW WRITE')
        self.assertEqual(m.ctl_status('b')['views'], 'ro rw cow')
        self.hup(m, '[a]\npath = a.bin\n\n[b]\npath = b.bin\nviews = ro, cow\n')
        self.assertTrue(wait_until(lambda: 'b' not in os.listdir(m.path('rw'))), m.stderr)
        self.wait_log(m, 'reloaded: 0 added, 0 removed, 1 changed')
        self.assertErrno(errno.ENOENT, os.stat, m.path('rw', 'b'))
        self.assertEqual(listing(m)['rw'], ['a'])
        self.assertEqual(listing(m)['ro'], ['a', 'b'])
        after = self.inodes(m, 'b', ('ro', 'cow', 'ctl'))
        self.assertEqual(after, {v: before[v] for v in ('ro', 'cow', 'ctl')})
        st = m.ctl_status('b')
        self.assertEqual((st['name'], st['views']), ('b', 'ro cow'))
        self.assertEqual(os.pread(ro, 3 * PAGE + 10, 0), self.FILES['b.bin'])
        self.assertEqual(read_file(m.path('cow', 'b')),
                         b'COW WRITE' + self.FILES['b.bin'][9:],
                         'cow/b keeps its written pages while cow stays listed')
        # resize now needs the missing rw view
        fd = os.open(m.path('ctl', 'b', 'resize'), os.O_WRONLY)
        try:
            self.assertErrno(errno.EROFS, os.write, fd, b'4096')
        finally:
            os.close(fd)
        # and back: rw/b under its old inode number
        self.hup(m, self.BASE)
        self.wait_log(m, 'reloaded: 0 added, 0 removed, 1 changed', 2)
        self.assertEqual(self.inodes(m, 'b'), before)
        self.assertEqual(read_file(m.path('cow', 'b'))[:9], b'COW WRITE')
        self.assertEqual(self.stop(m), 0, m.stderr)

    def with_views(self, views):
        """BASE with b's views set to VIEWS."""
        return self.BASE + 'views = %s\n' % views

    def changes_of(self, m, name):
        return read_file(m.path('ctl', name, 'changes'))

    def test_changed_views_keep_the_cow_view_whole(self):
        """SPEC SIGHUP: while cow stays listed, cow/b keeps its written pages,
        its own size and its `changes` through ro, rw, cow -> ro, cow ->
        rw, cow -> ro, rw, cow, for a descriptor opened before as for a new
        one; the views listed keep their inode numbers."""
        m = self.start()
        before = self.inodes(m, 'b')
        cow = self.opened(m.path('cow', 'b'), os.O_RDWR)
        os.pwrite(cow, b'FIRST', 10)
        os.pwrite(cow, b'GROWN', 5 * PAGE)         # past the region: the view grows
        want = bytearray(self.FILES['b.bin'] + bytes(2 * PAGE + 5))
        want[10:15] = b'FIRST'
        want[5 * PAGE:] = b'GROWN'
        want = bytes(want)
        self.assertEqual(read_file(m.path('cow', 'b')), want, 'control: cow/b before')
        keys = ('cow_size', 'cow_private_bytes')
        status = {k: m.ctl_status('b')[k] for k in keys}
        self.assertEqual(status['cow_size'], str(5 * PAGE + 5))
        changes = self.changes_of(m, 'b')
        for n, views in enumerate(('ro, cow', 'rw, cow', 'ro, rw, cow'), 1):
            self.hup(m, self.with_views(views))
            self.wait_log(m, 'reloaded: 0 added, 0 removed, 1 changed', n)
            listed = [v.strip() for v in views.split(',')] + ['ctl']
            self.assertEqual(self.inodes(m, 'b', listed), {v: before[v] for v in listed},
                             views)
            self.assertEqual(m.ctl_status('b')['views'], ' '.join(listed[:-1]))
            self.assertEqual(read_file(m.path('cow', 'b')), want, 'cow/b at %s' % views)
            self.assertEqual(harness.pread_all(cow, len(want) + 10, 0), want,
                             'the old descriptor of cow/b at %s' % views)
            self.assertEqual({k: m.ctl_status('b')[k] for k in keys}, status, views)
            self.assertEqual(self.changes_of(m, 'b'), changes, views)
        self.assertEqual(m.read_backing('b.bin'), self.FILES['b.bin'])
        self.assertEqual(self.stop(m), 0, m.stderr)

    def test_changed_views_drop_the_instances(self):
        """SPEC Cow instances: a reload that changes `views` drops the
        instances as drop does: their names vanish, their open views go on
        until closed, their control files still open fail with ESTALE;
        cow/b keeps its own writes."""
        m = self.start()
        self.assertEqual(m.ctl_write('b', 'fork', 'k'), 0)
        with open(m.path('cow', 'b@k'), 'r+b') as f:
            f.write(b'KEPT')
        with open(m.path('cow', 'b'), 'r+b') as f:
            f.write(b'MINE')
        inst = self.opened(m.path('cow', 'b@k'), os.O_RDWR)
        reset = self.opened(m.path('ctl', 'b@k', 'reset'), os.O_WRONLY)
        self.assertEqual(m.ctl_status('b')['instances'], 'k')
        self.hup(m, self.with_views('ro, cow'))
        self.wait_log(m, 'reloaded: 0 added, 0 removed, 1 changed')
        self.assertErrno(errno.ENOENT, os.stat, m.path('cow', 'b@k'))
        self.assertErrno(errno.ENOENT, os.stat, m.path('ctl', 'b@k'))
        self.assertEqual(m.ctl_status('b')['instances'], 'none')
        self.assertEqual(listing(m)['cow'], ['a', 'b'])
        self.assertEqual(os.pread(inst, 4, 0), b'KEPT')
        self.assertEqual(os.pwrite(inst, b'more', 4), 4)
        self.assertEqual(os.pread(inst, 8, 0), b'KEPTmore')
        self.assertErrno(errno.ESTALE, os.write, reset, b'x')
        self.assertEqual(read_file(m.path('cow', 'b'))[:4], b'MINE')
        self.assertEqual(m.ctl_write('b', 'fork', 'k'), 0)     # the TAG is free again
        self.assertEqual(read_file(m.path('cow', 'b@k'))[:4], b'MINE')
        self.assertEqual(self.stop(m), 0, m.stderr)

    def test_rw_leaving_is_flushed_and_its_descriptors_get_estale(self):
        """rw/b leaves the views: its name vanishes, a descriptor still open
        on it fails with ESTALE, and what it wrote is in the file, flushed
        (as a removed entry is); ro/b and cow/b go on."""
        big = pattern(64 * PAGE, 12)
        m = self.start(files={'b.bin': big})
        before = self.inodes(m, 'b')
        rw = self.opened(m.path('rw', 'b'), os.O_RDWR)
        self.assertEqual(os.pwrite(rw, b'F' * len(big), 0), len(big))
        self.assertGreater(page_cache_dirty_kb(m.backing('b.bin')), 0,
                           'control: the rw write leaves dirty pages')
        self.hup(m, self.with_views('ro, cow'))
        self.wait_log(m, 'reloaded: 0 added, 0 removed, 1 changed')
        self.assertErrno(errno.ENOENT, os.stat, m.path('rw', 'b'))
        self.assertEqual(listing(m)['rw'], ['a'])
        self.assertErrno(errno.ESTALE, os.pwrite, rw, b'late', 0)
        self.assertErrno(errno.ESTALE, os.pread, rw, 4, 0)
        self.assertEqual(page_cache_dirty_kb(m.backing('b.bin')), 0)
        self.assertEqual(m.read_backing('b.bin'), b'F' * len(big))
        self.assertEqual(read_file(m.path('ro', 'b')), b'F' * len(big))
        self.assertEqual(read_file(m.path('cow', 'b')), b'F' * len(big))
        self.assertEqual(self.inodes(m, 'b', ('ro', 'cow', 'ctl')),
                         {v: before[v] for v in ('ro', 'cow', 'ctl')})
        self.assertEqual(self.stop(m), 0, m.stderr)

    def test_cow_leaving_drops_its_writes_and_comes_back_afresh(self):
        """cow/b leaves the views: its name vanishes, a descriptor still open
        on it fails with ESTALE, its writes are gone (cow_private_bytes 0);
        listed again, it starts afresh from the file, under its old inode
        number (design.md, Decisions)."""
        m = self.start()
        before = self.inodes(m, 'b')
        cow = self.opened(m.path('cow', 'b'), os.O_RDWR)
        self.assertEqual(os.pwrite(cow, b'PRIVATE', 0), 7)
        self.assertEqual(m.ctl_status('b')['cow_private_bytes'], str(PAGE))
        self.hup(m, self.with_views('ro, rw'))
        self.wait_log(m, 'reloaded: 0 added, 0 removed, 1 changed')
        self.assertErrno(errno.ENOENT, os.stat, m.path('cow', 'b'))
        self.assertErrno(errno.ESTALE, os.pread, cow, 7, 0)
        st = m.ctl_status('b')
        self.assertEqual((st['views'], st['cow_private_bytes']), ('ro rw', '0'))
        self.hup(m, self.BASE)
        self.wait_log(m, 'reloaded: 0 added, 0 removed, 1 changed', 2)
        self.assertEqual(self.inodes(m, 'b'), before)
        self.assertEqual(read_file(m.path('cow', 'b')), self.FILES['b.bin'])
        self.assertEqual(os.pread(cow, 7, 0), self.FILES['b.bin'][:7],
                         'the old descriptor: the same inode again, on the fresh view')
        st = m.ctl_status('b')
        self.assertEqual((st['cow_private_bytes'], st['cow_size']), ('0', str(3 * PAGE)))
        self.assertEqual(self.stop(m), 0, m.stderr)

    def test_rw_added_maps_the_file_writable(self):
        """An entry mounted without rw (its file opened read-only) gets rw/b
        at a reload: writes reach the file and the other views at once;
        anonymous entries too."""
        m = self.start(self.with_views('ro, cow') + '[d]\nanonymous = yes\nlength = 8K\n'
                       'views = ro\n')
        before = self.inodes(m, 'b', ('ro', 'cow', 'ctl'))
        self.hup(m, self.BASE + '[d]\nanonymous = yes\nlength = 8K\nviews = ro, rw\n')
        self.wait_log(m, 'reloaded: 0 added, 0 removed, 2 changed')
        self.assertEqual(self.inodes(m, 'b', ('ro', 'cow', 'ctl')), before)
        with open(m.path('rw', 'b'), 'r+b') as f:
            f.write(b'NOW WRITABLE')
        self.assertEqual(m.read_backing('b.bin')[:12], b'NOW WRITABLE')
        self.assertEqual(read_file(m.path('ro', 'b'))[:12], b'NOW WRITABLE')
        self.assertEqual(read_file(m.path('cow', 'b'))[:12], b'NOW WRITABLE')
        with open(m.path('rw', 'd'), 'r+b') as f:
            f.write(b'anonymous')
        self.assertEqual(read_file(m.path('ro', 'd'))[:9], b'anonymous')
        self.assertEqual(self.stop(m), 0, m.stderr)

    def test_rw_added_on_a_file_the_daemon_cannot_write_changes_nothing(self):
        """SPEC Config: an rw view on a file the daemon cannot open for
        writing is an error, at a reload too. The file is the daemon's own
        running executable, which no one, root included, may open for
        writing (ETXTBSY)."""
        m = self.start('[x]\npath = %s\nviews = ro, cow\n' % harness.BINARY)
        with open(m.path('cow', 'x'), 'r+b') as f:
            f.write(b'cow write')
        self.broken_reload(m, '[x]\npath = %s\nviews = ro, rw, cow\n' % harness.BINARY)
        self.assertRegex(m.stderr, r'\[x\] the rw view needs %s writable: Text file busy'
                         % re.escape(harness.BINARY))
        self.assertEqual(read_file(m.path('cow', 'x'))[:9], b'cow write')
        self.assertEqual(self.stop(m), 0, m.stderr)

    def test_changed_resizable_and_length(self):
        """SPEC SIGHUP: an entry whose `length` changed is a new entry under
        the same name, with new inode numbers for its views and ctl/ files;
        descriptors opened before fail with ESTALE and never reach it."""
        m = self.start('[w]\npath = b.bin\nlength = 4K\n')
        before = self.inodes(m, 'w')
        ro = self.opened(m.path('ro', 'w'), os.O_RDONLY)
        rw = self.opened(m.path('rw', 'w'), os.O_RDWR)
        self.assertEqual(os.pread(ro, 3 * PAGE, 0), self.FILES['b.bin'][:PAGE])
        self.hup(m, '[w]\npath = b.bin\nlength = 8K\nresizable = no\n')
        self.wait_log(m, 'reloaded: 0 added, 0 removed, 1 changed')
        self.assertEqual(os.stat(m.path('ro', 'w')).st_size, 2 * PAGE)
        after = self.inodes(m, 'w')
        for v in before:
            self.assertNotEqual(after[v], before[v], '%s/w kept its inode number' % v)
        st = m.ctl_status('w')
        self.assertEqual((st['size'], st['resizable']), ('8192', 'no'))
        self.assertErrno(errno.ESTALE, os.pread, ro, 3 * PAGE, 0)
        self.assertErrno(errno.ESTALE, os.pwrite, rw, b'via old fd', 10)
        self.assertEqual(m.read_backing('b.bin'), self.FILES['b.bin'])
        new_rw = self.opened(m.path('rw', 'w'), os.O_RDWR)
        self.assertErrno(errno.EPERM, os.ftruncate, new_rw, 100)
        self.assertEqual(os.pwrite(new_rw, b'via new fd', 10), 10)
        self.assertEqual(m.read_backing('b.bin')[10:20], b'via new fd')
        self.assertEqual(os.path.getsize(m.backing('b.bin')), 3 * PAGE)
        self.assertEqual(self.stop(m), 0, m.stderr)

    def test_changed_advice_and_resizable_keep_the_inode_numbers(self):
        """SPEC SIGHUP: an entry whose other keys changed keeps its inode
        numbers and takes the new settings."""
        m = self.start('[w]\npath = b.bin\n')
        before = self.inodes(m, 'w')
        rw = self.opened(m.path('rw', 'w'), os.O_RDWR)
        with open(m.path('cow', 'w'), 'r+b') as f:
            f.write(b'kept cow write')
        self.hup(m, '[w]\npath = b.bin\nresizable = no\nadvice = random\n')
        self.wait_log(m, 'reloaded: 0 added, 0 removed, 1 changed')
        self.assertEqual(self.inodes(m, 'w'), before)
        # "cow/NAME keeps its written pages while cow stays listed"
        self.assertEqual(read_file(m.path('cow', 'w'))[:14], b'kept cow write')
        self.assertEqual(m.ctl_status('w')['resizable'], 'no')
        self.assertErrno(errno.EPERM, os.ftruncate, rw, 100)
        self.assertEqual(os.pwrite(rw, b'via old fd', 10), 10)
        self.assertEqual(m.read_backing('b.bin')[10:20], b'via old fd')
        self.assertEqual(self.stop(m), 0, m.stderr)

    def broken_reload(self, m, config):
        snap = self.snapshot(m)
        n = m.stderr.count('reload failed')
        self.hup(m, config)
        self.wait_log(m, 'reload failed', n + 1)
        time.sleep(0.1)
        self.assertEqual(self.snapshot(m), snap, 'a failed reload changed the mount')
        self.assertIsNone(m.proc.poll())

    def snapshot(self, m):
        out = {'listing': listing(m)}
        for v in ('ro', 'rw', 'cow', 'ctl'):
            for name in os.listdir(m.path(v)):
                p = m.path(v, name)
                out[v, name, 'ino'] = os.stat(p).st_ino
                if v != 'ctl':
                    out[v, name] = sha256_hex(read_file(p))
                else:
                    st = m.ctl_status(name)
                    out[v, name] = {k: st[k] for k in ('path', 'views', 'offset', 'size',
                                                      'cow_size', 'resizable')}
        return out

    def test_config_with_errors_changes_nothing(self):
        m = self.start()
        config = ('[a]\npath = a.bin\nviews = ro\n'         # a change, not applied
                  '[new]\nanonymous = yes\nlength = 4K\n'   # an addition, not applied
                  '[b]\npath = b.bin\n'
                  'advice = sideways\n')                     # line 9: the error
        self.broken_reload(m, config)
        self.assertRegex(m.stderr, r'(?m)^mmapfs: %s:9: \[b\] advice .*sideways'
                         % re.escape(m.config_path))
        self.assertRegex(m.stderr, r'(?m)reload failed')
        self.assertNotIn('reloaded:', m.stderr)
        # The daemon still reloads a good config afterwards.
        self.hup(m, self.BASE + '[c]\nanonymous = yes\nlength = 4K\n')
        self.wait_log(m, 'reloaded: 1 added, 0 removed, 0 changed')
        self.assertEqual(listing(m)['ro'], ['a', 'b', 'c'])
        self.assertEqual(self.stop(m), 0, m.stderr)

    def test_failure_while_opening_changes_nothing(self):
        """A create = yes in a folder that is gone passes the config checks
        and fails when the region is opened: still nothing changes."""
        m = self.start()
        config = ('[a]\npath = a.bin\nviews = ro\n'
                  '[b]\npath = b.bin\n'
                  '[new]\npath = gone/new.bin\ncreate = yes\nlength = 4K\n')
        self.broken_reload(m, config)
        self.assertIn('gone/new.bin', m.stderr)
        self.assertTrue(os.path.exists(m.path('rw', 'a')))
        self.assertEqual(self.stop(m), 0, m.stderr)

    def test_missing_config_changes_nothing(self):
        m = self.start()
        snap = self.snapshot(m)
        os.rename(m.config_path, m.config_path + '.away')
        os.kill(m.pid, signal.SIGHUP)
        self.wait_log(m, 'reload failed')
        self.assertIn(m.config_path, m.stderr)
        self.assertEqual(self.snapshot(m), snap)
        self.assertEqual(self.stop(m), 0, m.stderr)

    def test_file_renamed_over_is_remapped_at_sighup(self):
        m = self.start()
        old, new = self.FILES['b.bin'], pattern(5 * PAGE, 13)
        ino = self.inodes(m, 'b')
        self.assertEqual(read_file(m.path('ro', 'b')), old)
        tmp = m.backing('b.tmp')
        with open(tmp, 'wb') as f:
            f.write(new)
        os.rename(tmp, m.backing('b.bin'))
        for v in ('ro', 'rw', 'cow'):
            self.assertEqual(read_file(m.path(v, 'b')), old,
                             '%s/b: the old file until SIGHUP' % v)
        os.kill(m.pid, signal.SIGHUP)
        self.assertTrue(wait_until(lambda: read_file(m.path('ro', 'b')) == new), m.stderr)
        for v in ('rw', 'cow'):
            self.assertEqual(read_file(m.path(v, 'b')), new, v)
        after = self.inodes(m, 'b')
        for v in ino:     # SPEC: another file under the path is a new entry
            self.assertNotEqual(after[v], ino[v], '%s/b kept its inode number' % v)
        self.assertEqual(m.ctl_status('b')['size'], str(len(new)))
        with open(m.path('rw', 'b'), 'r+b') as f:
            f.write(b'to the new file')
        self.assertEqual(m.read_backing('b.bin')[:15], b'to the new file')
        self.assertEqual(read_file(m.path('ro', 'a')), self.FILES['a.bin'])
        self.assertEqual(self.stop(m), 0, m.stderr)

    def test_unchanged_config_changes_nothing(self):
        m = self.start()
        with open(m.path('cow', 'a'), 'r+b') as f:
            f.write(b'kept cow write')
        snap = self.snapshot(m)
        self.hup(m, self.BASE)
        self.wait_log(m, 'reloaded: 0 added, 0 removed, 0 changed')
        self.assertEqual(self.snapshot(m), snap)
        self.assertEqual(read_file(m.path('cow', 'a'))[:14], b'kept cow write')
        self.assertEqual(self.stop(m), 0, m.stderr)

    def test_log_level_takes_its_new_value(self):
        """log_level changes at reload: the "reloaded:" line and the reason of
        a failed command are info lines, dropped at level error."""
        m = self.start()
        ctl = m.path('ctl', 'a', 'resize')

        def failed_command(text):
            fd = os.open(ctl, os.O_WRONLY)
            try:
                self.assertEqual(errno_of(os.write, fd, text.encode()), errno.EINVAL)
            finally:
                os.close(fd)
        failed_command('garbage1')
        self.wait_log(m, "'garbage1' is not a number")
        self.hup(m, 'log_level = error\n' + self.BASE)
        self.wait_log(m, 'SIGHUP')                  # logged at the old level
        time.sleep(0.3)
        failed_command('garbage2')
        self.hup(m, 'log_level = error\nflush_interval = 1\n' + self.BASE)
        time.sleep(0.3)
        self.assertEqual(m.stderr.count('SIGHUP'), 1, m.stderr)
        self.assertNotIn('reloaded:', m.stderr)
        self.assertNotIn('garbage2', m.stderr)
        self.assertEqual(m.ctl_status('a')['last_error'],
                         "resize: 'garbage2' is not a number (decimal or 0x hex, "
                         "optional K/M/G/T suffix)")
        self.hup(m, 'log_level = info\n' + self.BASE)
        self.wait_log(m, 'reloaded: 0 added, 0 removed, 0 changed')
        failed_command('garbage3')
        self.wait_log(m, "'garbage3' is not a number")
        self.assertEqual(self.stop(m), 0, m.stderr)

    def test_twenty_quick_sighups_while_reading(self):
        m = self.start(self.BASE + '[c]\npath = a.bin\nadvice = random\n')
        stop = threading.Event()
        problems = []
        reads = [0]

        def reader(view, name, want):
            fd = os.open(m.path(view, name), os.O_RDONLY)
            try:
                while not stop.is_set():
                    got = os.pread(fd, len(want) + 10, 0)
                    if got != want:
                        problems.append((view, name, len(got)))
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    reads[0] += 1
            except OSError as e:
                problems.append((view, name, e))
            finally:
                os.close(fd)

        def reopener():
            try:
                while not stop.is_set():
                    self.assertEqual(read_file(m.path('ro', 'a')), self.FILES['a.bin'])
                    os.listdir(m.path('ro'))
            except Exception as e:
                problems.append(('reopen', e))

        threads = [threading.Thread(target=reader, args=('ro', 'a', self.FILES['a.bin'])),
                   threading.Thread(target=reader, args=('ro', 'c', self.FILES['a.bin'])),
                   threading.Thread(target=reader, args=('cow', 'b', self.FILES['b.bin'])),
                   threading.Thread(target=reopener)]
        for t in threads:
            t.start()
        try:
            for i in range(20):
                advice = ('random', 'sequential')[i % 2]     # c changes every time
                extra = '[d%d]\nanonymous = yes\nlength = 4K\n' % i if i % 3 else ''
                self.hup(m, self.BASE + '[c]\npath = a.bin\nadvice = %s\n' % advice + extra)
                time.sleep(0.01)
            time.sleep(0.3)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertEqual(problems, [])
        self.assertGreater(reads[0], 20)
        self.assertIsNone(m.proc.poll(), 'the daemon died:\n' + m.stderr)
        # The last config wins (i = 19: advice sequential, d19).
        self.assertTrue(wait_until(lambda: listing(m)['ro'] == ['a', 'b', 'c', 'd19']),
                        (listing(m), m.stderr))
        self.assertIn('reloaded:', m.stderr)
        self.assertNotIn('reload failed', m.stderr)
        self.assertEqual(self.stop(m), 0, m.stderr)


# ====================================================================== mount.fuse3

@unittest.skipUnless(os.path.exists(MOUNT_FUSE3), 'no mount.fuse3')
class MountFuse3(TmpDirCase):
    """mount.fuse3 starts `mmapfs CONFIG MNT -o ...` with mmapfs found on
    the PATH; mount(8)-only options are ignored."""
    CONFIG = '[t]\npath = t.bin\n'
    FILES = {'t.bin': b'through mount.fuse3\n'}
    OPTIONS = 'defaults,allow_other,noauto,_netdev,x-systemd.automount'

    def launch(self, argv_of):
        m = Mount(self.CONFIG, self.FILES)
        self.addCleanup(m.cleanup)
        m.start(launcher=argv_of(m), env=m.env_with_binary_on_path(), cwd='/')
        self.assertEqual(m.status, 0, m.stderr)
        info = m.mountinfo()
        self.assertEqual(info['fstype'], 'fuse.mmapfs')
        self.assertIn('allow_other', info['super_options'].split(','))
        self.assertIn('default_permissions', info['super_options'].split(','))
        self.assertEqual(read_file(m.path('ro', 't')), self.FILES['t.bin'])
        with open(m.path('rw', 't'), 'r+b') as f:
            f.write(b'THROUGH')
        self.assertEqual(m.read_backing('t.bin'), b'THROUGH mount.fuse3\n')
        pids = m._all_pids()
        self.assertEqual(len(pids), 1, pids)
        argv = harness._argv_of(pids[0])
        self.assertEqual(argv[:3], ['mmapfs', m.config_path, m.mnt], argv)
        r = subprocess.run(['umount', m.mnt], capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(harness.is_mounted(m.mnt))
        self.assertTrue(harness._wait_gone(pids, 10), 'the daemon must exit after umount')
        m.stop()

    def test_program_hash_source_form(self):
        self.launch(lambda m: [MOUNT_FUSE3, 'mmapfs#' + m.config_path, m.mnt,
                               '-o', self.OPTIONS])

    def test_type_option_form(self):
        self.launch(lambda m: [MOUNT_FUSE3, m.config_path, m.mnt, '-t', 'mmapfs',
                               '-o', self.OPTIONS])


# ====================================================================== make install

INSTALLED = ['usr/local/bin/mmapfs',
             'usr/local/lib/systemd/system/mmapfs@.service',
             'usr/local/share/doc/mmapfs/examples/demo.ini',
             'usr/local/share/doc/mmapfs/examples/lorem.txt',
             'usr/local/share/man/man1/mmapfs.1']


def files_under(d):
    return sorted(os.path.relpath(os.path.join(root, n), d)
                  for root, dirs, files in os.walk(d) for n in files
                  if not os.path.isdir(os.path.join(root, n)))


class Install(TmpDirCase):
    def make(self, target, destdir):
        return subprocess.run(['make', '-s', target, 'DESTDIR=' + destdir, 'PREFIX=/usr/local'],
                              cwd=REPO, capture_output=True, text=True, timeout=300)

    def test_install_and_uninstall(self):
        d = self.tmpdir()
        r = self.make('install', d)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(files_under(d), INSTALLED)
        binary = os.path.join(d, 'usr/local/bin/mmapfs')
        self.assertTrue(os.access(binary, os.X_OK))
        self.assertEqual(stat.S_IMODE(os.stat(binary).st_mode), 0o755)
        self.assertEqual(read_file(binary), read_file(os.path.join(REPO, 'build', 'mmapfs')))
        for installed, source in [('usr/local/share/man/man1/mmapfs.1', 'docs/mmapfs.1'),
                                  ('usr/local/share/doc/mmapfs/examples/demo.ini',
                                   'conf/demo.ini'),
                                  ('usr/local/share/doc/mmapfs/examples/lorem.txt',
                                   'conf/lorem.txt')]:
            self.assertEqual(read_file(os.path.join(d, installed)),
                             read_file(os.path.join(REPO, source)), installed)
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(d, installed)).st_mode), 0o644)
        unit = read_file(os.path.join(d, 'usr/local/lib/systemd/system/mmapfs@.service'))
        unit = unit.decode()
        lines = [l.strip() for l in unit.splitlines()]
        start = [l for l in lines if l.startswith('ExecStart=')]
        self.assertEqual(len(start), 1, unit)
        self.assertRegex(start[0], r'^ExecStart=/usr/local/bin/mmapfs /etc/mmapfs/%i\.ini ')
        reload = [l for l in lines if l.startswith('ExecReload=')]
        self.assertEqual(len(reload), 1, unit)
        self.assertRegex(reload[0], r'^ExecReload=\S*kill -HUP \$MAINPID$')
        self.assertIn('Type=forking', lines)
        self.assertNotIn('@BINDIR@', unit)
        self.assertNotIn('@', unit.replace('mmapfs@', '').replace('%i', ''),
                         'every @PLACEHOLDER@ is replaced')

        r = self.make('uninstall', d)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(files_under(d), [])

    def test_other_prefix(self):
        d = self.tmpdir()
        r = subprocess.run(['make', '-s', 'install', 'DESTDIR=' + d, 'PREFIX=/opt/mm'],
                           cwd=REPO, capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(files_under(d), [p.replace('usr/local', 'opt/mm') for p in INSTALLED])
        unit = read_file(os.path.join(d, 'opt/mm/lib/systemd/system/mmapfs@.service')).decode()
        self.assertRegex(unit, r'(?m)^ExecStart=/opt/mm/bin/mmapfs ')
        r = subprocess.run(['make', '-s', 'uninstall', 'DESTDIR=' + d, 'PREFIX=/opt/mm'],
                           cwd=REPO, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(files_under(d), [])

    @unittest.skipUnless(shutil.which('systemd-analyze'), 'no systemd-analyze')
    def test_systemd_analyze_verify(self):
        d = self.tmpdir()
        r = self.make('install', d)
        self.assertEqual(r.returncode, 0, r.stderr)
        unit = os.path.join(d, 'mmapfs@demo.service')
        shutil.copy(os.path.join(d, 'usr/local/lib/systemd/system/mmapfs@.service'), unit)
        r = subprocess.run(['systemd-analyze', 'verify', unit], capture_output=True, text=True,
                           timeout=60, cwd=d)
        # Only what is missing on this machine (the binary is not installed
        # under /usr/local, nor the man page) may be reported.
        other = [l for l in (r.stdout + r.stderr).splitlines() if l.strip() and not (
            '/usr/local/bin/mmapfs is not executable' in l or
            "Command 'man mmapfs(1)' failed" in l)]
        self.assertEqual(other, [], r.stdout + r.stderr)


# ====================================================================== man page

SECTIONS = ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'CONFIGURATION', 'VIEWS',
            'CONTROL FILES', 'SIGNALS', 'FILES', 'EXIT STATUS', 'EXAMPLES', 'SEE ALSO']
CONFIG_KEYS = ['log_level', 'flush_interval', 'path', 'anonymous', 'offset', 'length',
               'create', 'views', 'resizable', 'advice']


@unittest.skipUnless(shutil.which('groff'), 'no groff')
class ManPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        r = subprocess.run(['groff', '-man', '-Tutf8', '-ww', 'docs/mmapfs.1'], cwd=REPO,
                           capture_output=True, timeout=60)
        cls.r = r
        text = r.stdout.decode('utf-8', 'replace')
        text = re.sub(r'.\x08', '', text)                 # overstrike bold/underline
        text = re.sub(r'\x1b\[[0-9;]*m', '', text)        # or SGR escapes
        cls.text = text
        # words hyphenated at line ends, joined again
        cls.joined = re.sub(r'[\u2010-]\n\s*', '', text)

    def test_no_warnings(self):
        self.assertEqual(self.r.returncode, 0)
        self.assertEqual(self.r.stderr.decode(), '')

    def test_every_section(self):
        got = [l for l in self.text.splitlines() if re.match(r'^[A-Z][A-Z ]+$', l)]
        self.assertEqual(sorted(got), sorted(SECTIONS))
        self.assertEqual((got[0], got[-1]), ('NAME', 'SEE ALSO'))

    def test_every_config_key(self):
        for key in CONFIG_KEYS:
            self.assertRegex(self.joined, r'(?m)^\s+%s = ' % key, key)

    def test_signals_and_exit_status(self):
        for needle in ('SIGHUP', 'SIGTERM', 'SIGINT', 'ESTALE', '--check', '--map'):
            self.assertIn(needle, self.joined)


if __name__ == '__main__':
    unittest.main()
