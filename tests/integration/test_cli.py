"""
SPEC "Command line" and "Config", through the real binary.

Config errors: exit status 1, one `FILE:LINE: message` line per error on
stderr (FILE exactly as given), every error at once, nothing mounted.
"""
import errno
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

import harness
from harness import line_of
from harness import MOUNT_FUSE3, PAGE, Mount, TmpDirCase, errno_of, run_binary

NOBODY = 65534
CHILD_PYTHON = '/usr/bin/python3' if os.path.exists('/usr/bin/python3') else sys.executable
USAGE = 'usage: mmapfs CONFIG MOUNTPOINT'


# ------------------------------------------------------------------ --help

class HelpAndVersion(TmpDirCase):
    def test_help_exits_0_and_prints_usage_to_stdout(self):
        r = run_binary(['--help'])
        self.assertEqual(r.status, 0, r)
        self.assertTrue(r.stdout.startswith(USAGE), r)
        self.assertIn('mmapfs --help | --version', r.stdout)
        self.assertEqual(r.stderr, '', 'help must go to stdout')

    def test_version_exits_0_and_prints_version_to_stdout(self):
        r = run_binary(['--version'])
        self.assertEqual(r.status, 0, r)
        self.assertRegex(r.stdout, r'(?m)^mmapfs \d+\.\d+\.\d+\S*$')
        self.assertEqual(r.stderr, '', 'version must go to stdout')

    def test_help_with_config_and_mountpoint_mounts_nothing(self):
        d = self.tmpdir()
        self.write(d, 'a.bin', b'x' * 10)
        cfg = self.write(d, 'c.ini', '[a]\npath = a.bin\n')
        mnt = os.path.join(d, 'mnt')
        os.mkdir(mnt)
        r = run_binary([cfg, mnt, '--help'], mountpoint=mnt)
        self.assertEqual(r.status, 0, r)
        self.assertTrue(r.stdout.startswith(USAGE), r)
        self.assertNothingMounted(r, mnt)


# ------------------------------------------------------------------ bad command lines

class BadCommandLine(TmpDirCase):
    @classmethod
    def setUpClass(cls):
        cls.d = harness.new_tmpdir()
        cls.addClassCleanup(shutil.rmtree, cls.d, True)
        with open(os.path.join(cls.d, 'a.bin'), 'wb') as f:
            f.write(b'abc' * 100)
        cls.cfg = os.path.join(cls.d, 'c.ini')
        with open(cls.cfg, 'w') as f:
            f.write('[a]\npath = a.bin\n')
        cls.mnt = os.path.join(cls.d, 'mnt')
        os.mkdir(cls.mnt)

    def check(self, args, usage=True):
        r = run_binary(args, mountpoint=self.mnt)
        self.assertEqual(r.status, 1, r)
        self.assertNothingMounted(r, self.mnt)
        self.assertEqual(r.stdout, '', r)
        self.assertNotEqual(r.stderr.strip(), '', 'a bad command line must say why')
        if usage:
            self.assertIn(USAGE, r.stderr)
        return r

    def test_no_arguments(self):
        self.check([])

    def test_config_only(self):
        self.check([self.cfg])

    def test_unknown_long_option(self):
        r = self.check([self.cfg, self.mnt, '--bogus'], usage=False)
        self.assertIn('--bogus', r.stderr)

    def test_unknown_short_option(self):
        r = self.check([self.cfg, self.mnt, '-x'], usage=False)
        self.assertIn('-x', r.stderr)

    def test_unknown_mount_option(self):
        r = self.check([self.cfg, self.mnt, '-o', 'nosuchoption'], usage=False)
        self.assertIn('nosuchoption', r.stderr)

    def test_extra_argument(self):
        r = self.check([self.cfg, self.mnt, 'extra'])
        self.assertIn('extra', r.stderr)

    def test_missing_config_file(self):
        missing = os.path.join(self.d, 'nope.ini')
        r = run_binary([missing, self.mnt], mountpoint=self.mnt)
        self.assertEqual(r.status, 1, r)
        self.assertNothingMounted(r, self.mnt)
        self.assertIn(missing, r.stderr)


class MountPointErrors(TmpDirCase):
    """Exit status 2 when the mount itself fails (a mount point that is
    missing or not a folder included)."""

    def setUp(self):
        self.d = self.tmpdir()
        self.write(self.d, 'a.bin', b'abc' * 100)
        self.cfg = self.write(self.d, 'c.ini', '[a]\npath = a.bin\n')

    def test_missing_mount_point_exits_2(self):
        mnt = os.path.join(self.d, 'no-such-folder')
        r = run_binary([self.cfg, mnt], mountpoint=mnt)
        self.assertEqual(r.status, 2, r)
        self.assertNothingMounted(r, mnt)
        self.assertIn('no-such-folder', r.stderr)

    def test_missing_mount_point_in_foreground_exits_2(self):
        mnt = os.path.join(self.d, 'no-such-folder')
        r = run_binary([self.cfg, mnt, '-f'], mountpoint=mnt)
        self.assertEqual(r.status, 2, r)
        self.assertNothingMounted(r, mnt)

    def test_mount_point_is_a_regular_file_exits_2(self):
        mnt = self.write(self.d, 'plain-file', b'')
        r = run_binary([self.cfg, mnt], mountpoint=mnt)
        self.assertEqual(r.status, 2, r)
        self.assertFalse(r.mounted, r)
        self.assertIn('plain-file', r.stderr)

    def test_bad_config_is_status_1_even_with_a_good_mount_point(self):
        self.write(self.d, 'c.ini', '[a]\npath = a.bin\nadvice = sideways\n')
        mnt = os.path.join(self.d, 'mnt')
        os.mkdir(mnt)
        r = run_binary([self.cfg, mnt], mountpoint=mnt)
        self.assertEqual(r.status, 1, r)
        self.assertNothingMounted(r, mnt)


# ------------------------------------------------------------------ running

class Foreground(TmpDirCase):
    CONFIG = '[a]\npath = a.bin\n'
    FILES = {'a.bin': b'hello, foreground\n'}

    def test_f_stays_in_foreground_logs_to_stderr_and_exits_0_on_unmount(self):
        m = Mount(self.CONFIG, self.FILES)
        self.addCleanup(m.cleanup)
        m.start()
        self.assertIsNone(m.proc.poll(), 'with -f the daemon is the process we started')
        info = m.mountinfo()
        self.assertEqual(info['fstype'], 'fuse.mmapfs')
        self.assertIn('default_permissions', info['super_options'])
        with open(m.path('ro', 'a'), 'rb') as f:
            self.assertEqual(f.read(), b'hello, foreground\n')
        self.assertIn('mounted on %s' % m.mnt, m.stderr)
        self.assertEqual(m.stop(), 0, m.stderr)
        self.assertFalse(harness.is_mounted(m.mnt))

    def test_sigterm_unmounts_and_exits_0(self):
        m = Mount(self.CONFIG, self.FILES)
        self.addCleanup(m.cleanup)
        m.start()
        with open(m.path('rw', 'a'), 'r+b') as f:
            f.write(b'HELLO')
        os.kill(m.pid, signal.SIGTERM)
        self.assertEqual(m.proc.wait(timeout=10), 0, m.stderr)
        self.assertFalse(harness.is_mounted(m.mnt))
        self.assertEqual(m.read_backing('a.bin'), b'HELLO, foreground\n')
        m.stop()

    def test_sigint_unmounts_and_exits_0(self):
        m = Mount(self.CONFIG, self.FILES)
        self.addCleanup(m.cleanup)
        m.start()
        os.kill(m.pid, signal.SIGINT)
        self.assertEqual(m.proc.wait(timeout=10), 0, m.stderr)
        self.assertFalse(harness.is_mounted(m.mnt))
        m.stop()

    def test_umount_exits_0(self):
        m = Mount(self.CONFIG, self.FILES)
        self.addCleanup(m.cleanup)
        m.start()
        subprocess.run(['umount', m.mnt], check=True, timeout=10)
        self.assertEqual(m.proc.wait(timeout=10), 0, m.stderr)
        m.stop()


# A client that dirties every page of FILE through its own MAP_SHARED
# mapping, says so, and keeps the mapping until its stdin closes.
DIRTYING_CLIENT = r'''
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, int(sys.argv[2]), mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
for i in range(len(m) // 4096):
    m[i * 4096:(i + 1) * 4096] = bytes([65 + i % 26]) * 4096
print('dirty', flush=True)
sys.stdin.read()
'''


class SignalsWriteBackClientMappings(TmpDirCase):
    """Lifecycle: at SIGTERM or SIGINT every page that clients dirtied
    through their own mappings is written back into its region, then
    flushed, and the daemon exits 0; with -s too."""
    SIZE = 256 * 1024

    def check(self, sig, args=()):
        m = Mount('[a]\npath = a.bin\n', {'a.bin': bytes(self.SIZE)}, args=args)
        self.addCleanup(m.cleanup)
        m.start()
        client = subprocess.Popen([CHILD_PYTHON, '-c', DIRTYING_CLIENT, m.path('rw', 'a'),
                                   str(self.SIZE)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: client.poll() is None and (client.kill(), client.wait()))
        self.assertEqual(client.stdout.readline(), 'dirty\n')
        os.kill(m.pid, sig)
        self.assertEqual(m.proc.wait(timeout=20), 0, m.stderr)
        self.assertFalse(harness.is_mounted(m.mnt))
        client.stdin.close()
        client.wait(timeout=10)
        pages = [bytes([65 + i % 26]) * PAGE for i in range(self.SIZE // PAGE)]
        self.assertEqual(m.read_backing('a.bin'), b''.join(pages))
        m.stop()

    def test_sigterm(self):
        self.check(signal.SIGTERM)

    def test_sigterm_single_threaded(self):
        self.check(signal.SIGTERM, ['-s'])

    def test_sigint_single_threaded(self):
        self.check(signal.SIGINT, ['-s'])


class DaemonMode(TmpDirCase):
    CONFIG = '[x]\npath = x.bin\n'
    FILES = {'x.bin': b'daemon mode data\n'}

    def test_returns_0_only_once_mounted(self):
        m = Mount(self.CONFIG, self.FILES, foreground=False)
        self.addCleanup(m.cleanup)     # a Mount is cleaned up even if never started
        argv = [harness.BINARY, m.config_path, m.mnt]
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=20,
                           preexec_fn=harness.child_setup)
        m._pids = harness.daemon_pids(m.config_path, m.mnt)
        self.assertEqual(r.returncode, 0, r)
        # Right after the command returns: mounted and serving.
        self.assertTrue(harness.is_mounted(m.mnt))
        with open(m.path('ro', 'x'), 'rb') as f:
            self.assertEqual(f.read(), b'daemon mode data\n')
        self.assertEqual(len(m._pids), 1, 'one daemon process left running')
        pid = m._pids[0]
        self.assertTrue(harness.fusermount(m.mnt))
        self.assertTrue(harness._wait_gone([pid], 10), 'the daemon must exit after unmount')
        m.stop()

    def test_logs_to_syslog_not_stderr(self):
        """In the foreground it logs to stderr; as a daemon, to syslog."""
        dev_log = '/dev/log'
        if os.path.exists(dev_log):
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                probe.connect(dev_log)
                self.skipTest('a syslog daemon owns /dev/log')
            except OSError:
                os.unlink(dev_log)      # stale socket of an interrupted run
            finally:
                probe.close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(dev_log)
        except OSError as e:
            sock.close()
            self.skipTest('cannot listen on /dev/log: %s' % e)

        def remove():
            sock.close()
            try:
                os.unlink(dev_log)
            except OSError:
                pass
        harness.add_cleanup(remove)
        self.addCleanup(harness.remove_cleanup, remove)
        self.addCleanup(remove)
        sock.settimeout(0.2)

        def drain(seconds):
            msgs, end = [], time.monotonic() + seconds
            while time.monotonic() < end:
                try:
                    msgs.append(sock.recv(65536).decode('utf-8', 'replace'))
                except socket.timeout:
                    pass
            return msgs

        m = Mount(self.CONFIG, self.FILES, foreground=False)
        self.addCleanup(m.cleanup)
        m.start()
        msgs = drain(1.0)
        mounted = [s for s in msgs if 'mounted on %s' % m.mnt in s]
        self.assertEqual(len(mounted), 1, msgs)
        # <PRI>TIMESTAMP mmapfs[PID]: message; LOG_DAEMON | LOG_INFO = 30.
        self.assertRegex(mounted[0], r'^<30>.*\bmmapfs\[%d\]: mounted on ' % m.pid)
        self.assertEqual(m.stderr, '', 'a daemon has no stderr to log to')
        m.stop()

        fg = Mount(self.CONFIG, self.FILES)
        self.addCleanup(fg.cleanup)
        fg.start()
        self.assertIn('mounted on %s' % fg.mnt, fg.stderr)
        msgs = drain(0.5)
        self.assertEqual([s for s in msgs if fg.mnt in s], [],
                         'in the foreground nothing goes to syslog')
        self.assertEqual(fg.stop(), 0)


class Fstab(TmpDirCase):
    """Works from /etc/fstab: mount.fuse3 runs `mmapfs CONFIG MNT -o ...`."""
    CONFIG = '[t]\npath = t.bin\n'
    FILES = {'t.bin': b'from fstab\n'}

    def test_mount_with_an_fstab_line(self):
        m = Mount(self.CONFIG, self.FILES)
        self.addCleanup(m.cleanup)
        fstab = os.path.join(m.dir, 'fstab')
        # The program#source form of type fuse: mount(8) finds mount.fuse3
        # itself and passes `-o rw,...`, as for type fuse.mmapfs.
        with open(fstab, 'w') as f:
            f.write('%s#%s %s fuse defaults 0 0\n' % (harness.BINARY, m.config_path, m.mnt))
        m.start(launcher=['mount', '--fstab', fstab, m.mnt])
        self.assertEqual(m.status, 0, m.stderr)
        self.assertEqual(m.mountinfo()['fstype'], 'fuse.mmapfs')
        with open(m.path('ro', 't'), 'rb') as f:
            self.assertEqual(f.read(), b'from fstab\n')
        argv = harness._argv_of(m.pid)
        self.assertEqual(argv[1:3], [m.config_path, m.mnt])
        self.assertEqual(argv[3], '-o', argv)
        m.stop()
        self.assertFalse(harness.is_mounted(m.mnt))

    def test_mount_fuse3_with_type_mmapfs(self):
        """What `... fuse.mmapfs defaults 0 0` runs: mount.fuse3 CONFIG MNT
        -t mmapfs -o rw, which starts `mmapfs CONFIG MNT -o rw,...`."""
        if not os.path.exists(MOUNT_FUSE3):
            self.skipTest('no mount.fuse3')
        m = Mount(self.CONFIG, self.FILES)
        self.addCleanup(m.cleanup)
        m.start(launcher=[MOUNT_FUSE3, m.config_path, m.mnt, '-t', 'mmapfs', '-o', 'rw'],
                env=m.env_with_binary_on_path())
        self.assertEqual(m.status, 0, m.stderr)
        with open(m.path('ro', 't'), 'rb') as f:
            self.assertEqual(f.read(), b'from fstab\n')
        m.stop()
        self.assertFalse(harness.is_mounted(m.mnt))


class FuseOptions(TmpDirCase):
    CONFIG = '[a]\npath = a.bin\n[b]\nanonymous = yes\nlength = 64K\n'
    FILES = {'a.bin': bytes(range(256)) * 256}

    def _threads_after_concurrent_reads(self, m):
        import threading
        stop = time.monotonic() + 1.0
        errors = []

        def reader():
            fd = os.open(m.path('ro', 'a'), os.O_RDONLY)
            try:
                while time.monotonic() < stop:
                    os.pread(fd, 65536, 0)
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            except OSError as e:
                errors.append(e)
            finally:
                os.close(fd)
        threads = [threading.Thread(target=reader) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(errors, [])
        return harness.thread_count(m.pid)

    def test_multithreaded_by_default_single_with_s(self):
        mt = Mount(self.CONFIG, self.FILES)
        st = Mount(self.CONFIG, self.FILES, args=['-s'])
        self.addCleanup(mt.cleanup)
        self.addCleanup(st.cleanup)
        mt.start()
        st.start()
        n_mt = self._threads_after_concurrent_reads(mt)
        n_st = self._threads_after_concurrent_reads(st)
        self.assertLess(n_st, n_mt, 'with -s no worker threads; by default several')
        self.assertEqual(mt.stop(), 0, mt.stderr)
        self.assertEqual(st.stop(), 0, st.stderr)

    def test_d_prints_the_fuse_debug_trace(self):
        """-d is a standard FUSE option that passes through: libfuse's debug
        output (one line per request) on stderr."""
        m = Mount(self.CONFIG, self.FILES, args=['-d'])
        self.addCleanup(m.cleanup)
        m.start()
        os.stat(m.path('ro', 'a'))
        self.assertEqual(m.stop(), 0)
        self.assertRegex(m.stderr, r'opcode: (LOOKUP|GETATTR)')

    def test_d_with_log_level_debug_prints_the_fuse_debug_trace(self):
        m = Mount('log_level = debug\n' + self.CONFIG, self.FILES, args=['-d'])
        self.addCleanup(m.cleanup)
        m.start()
        os.stat(m.path('ro', 'a'))
        self.assertEqual(m.stop(), 0)
        self.assertRegex(m.stderr, r'opcode: (LOOKUP|GETATTR)')

    def test_o_ro_passes_through(self):
        m = Mount(self.CONFIG, self.FILES, args=['-o', 'ro'])
        self.addCleanup(m.cleanup)
        m.start()
        self.assertIn('ro', m.mountinfo()['options'].split(','))
        self.assertEqual(errno_of(os.open, m.path('rw', 'a'), os.O_WRONLY), errno.EROFS)
        self.assertEqual(m.stop(), 0)


NOBODY_PROBE = r'''
import json, os, sys
mnt = sys.argv[1]
out = {}
def probe(name, fn):
    try:
        v = fn()
        out[name] = ['ok', v.decode() if isinstance(v, bytes) else None]
    except OSError as e:
        out[name] = ['err', e.errno]
def read(p):
    with open(os.path.join(mnt, p), 'rb') as f:
        return f.read()
def open_w(p):
    os.close(os.open(os.path.join(mnt, p), os.O_WRONLY))
def open_r(p):
    os.close(os.open(os.path.join(mnt, p), os.O_RDONLY))
probe('stat_ro_pub', lambda: os.stat(os.path.join(mnt, 'ro/pub')) and None)
probe('read_ro_pub', lambda: read('ro/pub'))
probe('read_rw_pub', lambda: read('rw/pub'))
probe('read_cow_pub', lambda: read('cow/pub'))
probe('write_rw_pub', lambda: open_w('rw/pub'))
probe('write_cow_pub', lambda: open_w('cow/pub'))
probe('read_ro_anon', lambda: open_r('ro/anon'))
probe('read_rw_anon', lambda: open_r('rw/anon'))
probe('read_rw_private', lambda: open_r('rw/private'))
print(json.dumps(out))
'''


class AllowOther(TmpDirCase):
    """-o allow_other lets other users in; default_permissions then makes
    the kernel check the views' modes for them."""
    CONFIG = ('[pub]\npath = pub.bin\n'
              '[private]\npath = private.bin\n'
              '[anon]\nanonymous = yes\nlength = 4K\n')
    FILES = {'pub.bin': (b'public bytes\n', 0o644), 'private.bin': (b'secret\n', 0o600)}

    def probe_as_nobody(self, m):
        r = subprocess.run([CHILD_PYTHON, '-c', NOBODY_PROBE, m.mnt], capture_output=True,
                           timeout=30, preexec_fn=harness.as_user(NOBODY, NOBODY), cwd='/')
        self.assertEqual(r.returncode, 0, r.stderr)
        return {k: tuple(v) for k, v in json.loads(r.stdout).items()}

    def test_allow_other_and_default_permissions(self):
        m = Mount(self.CONFIG, self.FILES, args=['-o', 'allow_other'])
        self.addCleanup(m.cleanup)
        m.start()
        self.assertIn('allow_other', m.mountinfo()['super_options'])
        got = self.probe_as_nobody(m)
        want = {
            'stat_ro_pub': ('ok', None),
            'read_ro_pub': ('ok', 'public bytes\n'),           # 0444
            'read_rw_pub': ('ok', 'public bytes\n'),           # 0644
            'read_cow_pub': ('ok', 'public bytes\n'),          # 0644
            'write_rw_pub': ('err', errno.EACCES),             # 0644, not the owner
            'write_cow_pub': ('err', errno.EACCES),            # owner's write bit only
            'read_ro_anon': ('err', errno.EACCES),             # 0400 root
            'read_rw_anon': ('err', errno.EACCES),             # 0600 root
            'read_rw_private': ('err', errno.EACCES),          # 0600 root
        }
        self.assertEqual(got, want)
        self.assertEqual(m.stop(), 0)

    def test_without_allow_other_other_users_are_kept_out(self):
        m = Mount(self.CONFIG, self.FILES)
        self.addCleanup(m.cleanup)
        m.start()
        got = self.probe_as_nobody(m)
        self.assertEqual(got['stat_ro_pub'], ('err', errno.EACCES))
        self.assertEqual(got['read_ro_pub'], ('err', errno.EACCES))
        self.assertEqual(m.stop(), 0)


# ------------------------------------------------------------------ config errors

DATA = b'0123456789abcdef' * 512          # 8192 bytes


def _case(config, expected, files=None, dirs=()):
    """EXPECTED: [(needle of the line at fault, or a line number, regex the
    message must match)]."""
    return {'config': config, 'expected': expected, 'files': files or {'f.bin': DATA},
            'dirs': dirs}


CONFIG_ERRORS = {
    'size_that_does_not_parse': _case(
        '[a]\npath = f.bin\nlength = 12Q\n', [('length = 12Q', r'\[a\].*length.*12Q')]),
    'size_past_2_to_the_64': _case(
        '[a]\npath = f.bin\nlength = 18446744073709551616\n',
        [('length = 1844', r'length')]),
    'size_with_a_sign': _case(
        '[a]\npath = f.bin\nlength = +4096\n', [('length = +4096', r'length')]),
    'size_with_a_fraction': _case(
        '[a]\npath = f.bin\noffset = 1.5K\n', [('offset = 1.5K', r'offset')]),
    'size_with_two_suffixes': _case(
        '[a]\npath = f.bin\nlength = 4KK\n', [('length = 4KK', r'length')]),
    'offset_not_a_page_multiple': _case(
        '[a]\npath = f.bin\noffset = 100\n',
        [('offset = 100', r'^\[a\] offset 100 is not a multiple of the page size \(%d\)$' % PAGE)]),
    'unknown_advice': _case(
        '[a]\npath = f.bin\nadvice = sideways\n', [('advice =', r'advice.*sideways')]),
    'unknown_log_level': _case(
        'log_level = loud\n[a]\npath = f.bin\n', [('log_level', r'log_level.*loud')]),
    'flush_interval_that_does_not_parse': _case(
        'flush_interval = soon\n[a]\npath = f.bin\n', [('flush_interval', r'flush_interval')]),
    'unknown_view': _case(
        '[a]\npath = f.bin\nviews = ro, rx\n', [('views =', r'views.*rx|rx.*view')]),
    'anonymous_not_yes_or_no': _case(
        '[a]\npath = f.bin\nanonymous = maybe\n', [('anonymous =', r'anonymous.*maybe')]),
    'create_not_yes_or_no': _case(
        '[a]\npath = f.bin\ncreate = 1\nlength = 4K\n', [('create =', r'create')]),
    'resizable_not_yes_or_no': _case(
        '[a]\npath = f.bin\nresizable = true\n', [('resizable =', r'resizable.*true')]),
    'key_twice_in_a_section': _case(
        '[a]\npath = f.bin\nlength = 4K\npath = f.bin\n', [(4, r'path')]),
    'offset_twice_in_a_section': _case(
        '[a]\npath = f.bin\noffset = 0\noffset = 4K\n', [(4, r'offset')]),
    'global_key_twice': _case(
        'log_level = info\nlog_level = debug\n[a]\npath = f.bin\n', [(2, r'log_level')]),
    'path_then_anonymous': _case(
        '[a]\npath = f.bin\nlength = 4K\nanonymous = yes\n', [(4, r'path|anonymous')]),
    'anonymous_then_path': _case(
        '[a]\nanonymous = yes\nlength = 4K\npath = f.bin\n', [(4, r'path|anonymous')]),
    'empty_name': _case('[]\npath = f.bin\n', [(1, r'name')]),
    'name_dot': _case('[ok]\npath = f.bin\n[.]\npath = f.bin\n', [(3, r'name')]),
    'name_dotdot': _case('[..]\npath = f.bin\n', [(1, r'name')]),
    'name_with_a_slash': _case('[a/b]\npath = f.bin\n', [(1, r'name|/')]),
    'name_over_255_bytes': _case('[%s]\npath = f.bin\n' % ('n' * 256), [(1, r'name|255')]),
    'name_over_255_bytes_in_utf8': _case('[%s]\npath = f.bin\n' % ('\u00e9' * 128),
                                         [(1, r'name|255')]),
    'section_named_twice': _case(
        '[a]\npath = f.bin\n[b]\npath = f.bin\n[a]\npath = f.bin\n', [(5, r'\ba\b|twice')]),
    'unknown_entry_key': _case(
        '[a]\npath = f.bin\ncolour = red\n', [('colour', r'colour')]),
    'unknown_global_key': _case(
        'verbose = yes\n[a]\npath = f.bin\n', [('verbose', r'verbose')]),
    'no_path_and_not_anonymous': _case('[a]\nlength = 4K\n', [(1, r'path')]),
    'anonymous_without_length': _case('[a]\nanonymous = yes\n', [(1, r'length')]),
    'create_without_length': _case(
        '[a]\npath = new.bin\ncreate = yes\n', [(1, r'length')]),
    'missing_file_without_create': _case(
        '[a]\nlength = 4K\npath = nothere.bin\n', [('path =', r'nothere\.bin')]),
    'path_is_a_folder': _case(
        '[a]\npath = sub\n', [('path =', r'sub')], dirs=('sub',)),
    'path_is_a_device': _case('[a]\npath = /dev/null\n', [('path =', r'/dev/null')]),
    'offset_plus_length_past_the_end': _case(
        '[a]\npath = f.bin\noffset = 4K\nlength = 4097\n', [('length =', r'length|end')]),
    'length_then_offset_past_the_end': _case(
        '[a]\npath = f.bin\nlength = 4097\noffset = 4K\n', [('offset =', r'length|end')]),
    'length_past_the_end': _case(
        '[a]\nlength = 8193\npath = f.bin\n', [('length =', r'length|end')]),
    'offset_past_the_end': _case(
        '[a]\npath = f.bin\noffset = 12K\n', [('offset =', r'offset|end')]),
    'create_over_a_file_too_short': _case(
        '[a]\npath = f.bin\ncreate = yes\nlength = 16K\n', [('length =', r'length|end')]),
}


class ConfigErrors(TmpDirCase):
    """Each case: exit status 1, exactly the expected FILE:LINE: lines,
    nothing mounted, no file created."""

    def run_config(self, config, files, dirs=(), as_given=None, cwd=None, preexec_fn=None,
                   mnt_name='mnt'):
        d = self.tmpdir()
        for name, data in files.items():
            self.write(d, name, data, 0o644)
        for name in dirs:
            os.makedirs(os.path.join(d, name))
        path = self.write(d, 'cfg/bad.ini', config, 0o644)
        mnt = os.path.join(d, mnt_name)
        if not os.path.exists(mnt):
            os.mkdir(mnt)
        before = self.tree(d)
        given = as_given if as_given is not None else path
        r = run_binary([given, mnt], mountpoint=mnt, cwd=cwd or d, preexec_fn=preexec_fn)
        self.assertFalse(r.timed_out, r)
        self.assertEqual(self.tree(d), before, 'a bad config must create no file')
        return d, given, mnt, r

    @staticmethod
    def tree(d):
        return sorted(os.path.join(root, n) for root, dirs, files in os.walk(d)
                      for n in dirs + files)

    def assertErrors(self, r, given, config, expected, mnt):
        self.assertEqual(r.status, 1, r)
        self.assertNothingMounted(r, mnt)
        got = []
        for line in r.stderr.splitlines():
            m = re.match(re.escape(given) + r':(\d+): (.+)$', line)
            self.assertIsNotNone(m, 'not a "%s:LINE: message" line: %r\n%s'
                                 % (given, line, r.stderr))
            got.append((int(m.group(1)), m.group(2)))
        want = []
        for where, pattern in expected:
            want.append((where if isinstance(where, int) else line_of(config, where), pattern))
        self.assertEqual(sorted(n for n, _ in got), sorted(n for n, _ in want),
                         'line numbers of the errors\n' + r.stderr)
        for n, pattern in want:
            msgs = [msg for line, msg in got if line == n]
            self.assertTrue(any(re.search(pattern, msg) for msg in msgs),
                            'line %d: no message matches %r: %r' % (n, pattern, msgs))

    @classmethod
    def make(cls, name, case):
        def test(self):
            config = case['config']
            files = {'cfg/' + k if not k.startswith('/') else k: v
                     for k, v in case['files'].items()}
            d, given, mnt, r = self.run_config(config, files, ['cfg/' + x for x in case['dirs']])
            self.assertErrors(r, given, config, case['expected'], mnt)
        test.__name__ = 'test_' + name
        test.__doc__ = None
        setattr(cls, test.__name__, test)

    def test_spec_example_exactly(self):
        config = ('; demo config\n'
                  'log_level = info\n'
                  '\n'
                  '[data]\n'
                  'path = data.bin\n'
                  'length = 4K\n'
                  'offset = 100\n')
        d = self.tmpdir()
        self.write(d, 'data.bin', b'd' * 16384)
        self.write(d, 'demo.ini', config)
        os.mkdir(os.path.join(d, 'mnt'))
        r = run_binary(['demo.ini', 'mnt'], mountpoint='mnt', cwd=d)
        self.assertEqual(r.status, 1, r)
        self.assertNothingMounted(r, os.path.join(d, 'mnt'))
        self.assertEqual(r.stderr, 'demo.ini:7: [data] offset 100 is not a multiple of the '
                                   'page size (%d)\n' % PAGE)

    def test_file_is_named_exactly_as_given_relative(self):
        config = '[a]\npath = f.bin\nadvice = odd\n'
        given = './cfg/../cfg//bad.ini'
        d, given, mnt, r = self.run_config(config, {'cfg/f.bin': DATA}, as_given=given)
        self.assertErrors(r, given, config, [('advice', r'advice')], mnt)

    def test_file_is_named_exactly_as_given_absolute(self):
        config = '[a]\npath = f.bin\nadvice = odd\n'
        d, given, mnt, r = self.run_config(config, {'cfg/f.bin': DATA})
        self.assertTrue(os.path.isabs(given))
        self.assertErrors(r, given, config, [('advice', r'advice')], mnt)

    def test_every_error_at_once(self):
        config = ('log_level = loud\n'           # 1 bad value
                  'flush_interval = 1\n'
                  'flush_interval = 2\n'         # 3 given twice
                  'colour = red\n'               # 4 unknown global key
                  '[a]\n'                        # 5
                  'path = f.bin\n'
                  'offset = 100\n'               # 7 not a page multiple
                  'size = 4K\n'                  # 8 unknown key
                  '[b]\n'                        # 9 no path
                  'length = 4K\n'
                  '[c]\n'
                  'path = missing.bin\n'         # 12 missing file
                  '[d]\n'
                  'anonymous = yes\n'
                  'length = 4K\n'
                  'path = f.bin\n'               # 16 path with anonymous
                  '[e]\n'
                  'path = f.bin\n'
                  'length = 8K\n'
                  'offset = 4K\n'                # 20 offset + length past the end
                  '[a]\n'                        # 21 named twice
                  'path = f.bin\n'
                  '[new]\n'                      # a good entry that creates a file
                  'path = new.bin\n'
                  'create = yes\n'
                  'length = 4K\n'
                  '[f]\n'
                  'path = f.bin\n'
                  'advice = Sideways\n'          # 29 bad advice
                  'views = ro, cow, disk\n')     # 30 bad view
        d, given, mnt, r = self.run_config(config, {'cfg/f.bin': DATA})
        self.assertErrors(r, given, config, [
            (1, 'log_level'), (3, 'flush_interval'), (4, 'colour'), (7, 'offset'),
            (8, 'size'), (9, 'path'), (12, 'missing'), (16, 'path|anonymous'),
            (20, 'length|offset|end'), (21, 'a|twice'), (29, 'advice'), (30, 'view|disk'),
        ], mnt)
        self.assertFalse(os.path.exists(os.path.join(d, 'cfg', 'new.bin')),
                         'nothing happens with a bad config: new.bin must not be created')

    def test_same_key_in_two_sections_is_fine(self):
        """Positive control for the 'given twice' cases: a good config gets
        past the config checks to the mount point (a regular file: 2)."""
        config = '[a]\npath = f.bin\n[b]\npath = f.bin\noffset = 4K\n'
        d = self.tmpdir()
        self.write(d, 'f.bin', DATA)
        cfg = self.write(d, 'c.ini', config)
        plain = self.write(d, 'plain', b'')
        r = run_binary([cfg, plain], mountpoint=plain)
        self.assertEqual(r.status, 2, r)
        self.assertNotIn(cfg + ':', r.stderr)


def binary_for_nobody(d):
    """A copy of the binary in D (a folder nobody can enter), for runs as
    nobody: the checkout may live under a folder that nobody cannot enter
    (a clone under `mktemp -d`, mode 0700)."""
    bindir = os.path.join(d, 'bin')
    os.makedirs(bindir, exist_ok=True)
    os.chmod(bindir, 0o755)
    copy = os.path.join(bindir, os.path.basename(harness.BINARY))
    shutil.copy(harness.BINARY, copy)
    os.chmod(copy, 0o755)
    return copy


class UnwritableFiles(TmpDirCase):
    """An rw view on a file the daemon cannot open for writing is an error at
    the section's header; ro and cow need only read access. Run as nobody
    over root's 0444 file. A good config then fails at the mount point (a
    regular file: status 2), which proves the config passed."""

    def run_as_nobody(self, config):
        d = self.tmpdir()
        self.write(d, 'cfg/ro.bin', DATA, 0o444)
        self.write(d, 'cfg/c.ini', config, 0o644)
        os.chmod(os.path.join(d, 'cfg'), 0o755)
        not_a_dir = self.write(d, 'plain', b'', 0o644)
        given = os.path.join(d, 'cfg', 'c.ini')
        r = run_binary([given, not_a_dir], mountpoint=not_a_dir, cwd='/',
                       preexec_fn=harness.as_user(NOBODY, NOBODY),
                       binary=binary_for_nobody(d))
        return given, not_a_dir, r

    def test_rw_view_on_an_unwritable_file_is_an_error_at_the_header(self):
        config = '[ok]\npath = ro.bin\nviews = ro\n[w]\npath = ro.bin\nlength = 4K\n'
        given, mnt, r = self.run_as_nobody(config)
        self.assertEqual(r.status, 1, r)
        self.assertFalse(r.mounted)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertRegex(r.stderr, r'^%s:4: .*ro\.bin' % re.escape(given))

    def test_ro_and_cow_need_only_read_access(self):
        config = '[a]\npath = ro.bin\nviews = ro, cow\n[b]\npath = ro.bin\nviews = cow\n'
        given, mnt, r = self.run_as_nobody(config)
        self.assertEqual(r.status, 2, r)
        self.assertNotIn(given + ':', r.stderr)
        self.assertIn('not a folder', r.stderr)


class UnwritableFilesWhereverTheCheckoutLives(TmpDirCase):
    """Issue 11, 14: UnwritableFiles passes when the binary lives under a
    folder that nobody cannot enter, as in a clone under `mktemp -d`."""

    def test_unwritable_files_tests_pass_with_the_binary_under_a_0700_folder(self):
        d = self.tmpdir()
        private = os.path.join(d, 'private')        # the 0700 folder of the clone
        os.makedirs(os.path.join(private, 'checkout', 'build'))
        os.chmod(private, 0o700)
        hidden = os.path.join(private, 'checkout', 'build', 'mmapfs')
        shutil.copy(harness.BINARY, hidden)
        os.chmod(hidden, 0o755)
        # control: nobody cannot run the binary where it lives
        with self.assertRaises(PermissionError):
            run_binary(['--version'], cwd='/', binary=hidden,
                       preexec_fn=harness.as_user(NOBODY, NOBODY))
        saved = harness.BINARY, os.environ.get('MMAPFS_BINARY')
        harness.set_binary(hidden)
        try:
            result = unittest.TestResult()
            unittest.defaultTestLoader.loadTestsFromTestCase(UnwritableFiles).run(result)
        finally:
            harness.BINARY = saved[0]
            if saved[1] is None:
                os.environ.pop('MMAPFS_BINARY', None)
            else:
                os.environ['MMAPFS_BINARY'] = saved[1]
        self.assertEqual(result.testsRun, 2)
        problems = result.failures + result.errors
        if problems:
            self.fail('UnwritableFiles with the binary under a 0700 folder:\n'
                      + '\n'.join(text for _, text in problems))


for _name, _c in CONFIG_ERRORS.items():
    ConfigErrors.make(_name, _c)


# ------------------------------------------------------------------ good configs

BIG = bytes((i * 7 + i // 4096) % 251 for i in range(64 * 1024))


class ConfigAccepted(unittest.TestCase):
    """Sizes, keywords in any case, comments, relative paths, defaults."""
    CONFIG = '''; a comment
# another comment
log_level = INFO
flush_interval = 0

[hex]
path = ../data/big.bin
offset = 0x1000
length = 0x2000

[kilo]
path = ../data/big.bin
offset = 4K
length = 8K

[decimal]
path = ../data/big.bin
offset = 8192
length = 4096

[mega]
anonymous = YES
length = 1M
advice = WillNeed

[giga]
anonymous = Yes
length = 1G
views = RO, Rw

[tera]
anonymous = yes
length = 1T
views = ro,rw

[seq]
path = ../data/seq.bin
advice = SEQUENTIAL
resizable = NO
create = No

[rand]
path = ../data/rand.bin
advice = Random

[huge]
path = ../data/huge.bin
advice = HugePage

[norm]
path = ../data/norm.bin
advice = normal

[defaults]
path = ../data/small.bin

[absolute]
path = ABSOLUTE

[spaced name]
path = ../data/small.bin
views = cow
'''

    @classmethod
    def setUpClass(cls):
        files = {'data/big.bin': BIG, 'data/small.bin': b'small\n'}
        for n in ('seq', 'rand', 'huge', 'norm'):
            files['data/%s.bin' % n] = BIG
        cls.m = Mount('', files, config_name='conf/mmapfs.ini')
        cls.addClassCleanup(cls.m.cleanup)
        with open(cls.m.config_path, 'w') as f:
            f.write(cls.CONFIG.replace('ABSOLUTE', cls.m.backing('data/small.bin')))
        # The daemon's working folder is not the config's: relative paths
        # must be taken from the config file's folder.
        cls.m.start(cwd='/')

    def size(self, view, name):
        return os.stat(self.m.path(view, name)).st_size

    def read(self, view, name):
        with open(self.m.path(view, name), 'rb') as f:
            return f.read()

    def test_hex_sizes(self):
        self.assertEqual(self.size('ro', 'hex'), 0x2000)
        self.assertEqual(self.read('ro', 'hex'), BIG[0x1000:0x3000])

    def test_k_suffix(self):
        self.assertEqual(self.size('ro', 'kilo'), 8192)
        self.assertEqual(self.read('rw', 'kilo'), BIG[4096:12288])

    def test_decimal_sizes(self):
        self.assertEqual(self.read('cow', 'decimal'), BIG[8192:12288])

    def test_m_g_t_suffixes(self):
        self.assertEqual(self.size('ro', 'mega'), 1 << 20)
        self.assertEqual(self.size('rw', 'giga'), 1 << 30)
        self.assertEqual(self.size('ro', 'tera'), 1 << 40)
        with open(self.m.path('ro', 'tera'), 'rb') as f:
            self.assertEqual(os.pread(f.fileno(), 16, (1 << 40) - 16), b'\0' * 16)

    def test_keywords_are_case_insensitive(self):
        self.assertEqual(sorted(os.listdir(self.m.path('cow'))),
                         sorted(['hex', 'kilo', 'decimal', 'mega', 'seq', 'rand', 'huge', 'norm',
                                 'defaults', 'absolute', 'spaced name']))
        # views = RO, Rw
        self.assertTrue(os.path.exists(self.m.path('rw', 'giga')))
        self.assertFalse(os.path.exists(self.m.path('cow', 'giga')))
        # resizable = NO
        fd = os.open(self.m.path('rw', 'seq'), os.O_RDWR)
        try:
            self.assertEqual(errno_of(os.ftruncate, fd, 100), errno.EPERM)
        finally:
            os.close(fd)

    def test_relative_paths_start_at_the_config_folder(self):
        self.assertEqual(self.read('ro', 'defaults'), b'small\n')
        self.assertEqual(self.read('ro', 'absolute'), b'small\n')

    def test_defaults(self):
        """views ro, rw, cow; resizable yes; offset 0; length 0 (whole file)."""
        for view in ('ro', 'rw', 'cow'):
            self.assertEqual(self.read(view, 'defaults'), b'small\n')
        self.assertTrue(os.path.isdir(self.m.path('ctl', 'defaults')))

    def test_names_with_spaces(self):
        self.assertEqual(self.read('cow', 'spaced name'), b'small\n')
        self.assertFalse(os.path.exists(self.m.path('ro', 'spaced name')))


    def test_advice_reaches_madvise(self):
        """The daemon's mappings carry the madvise(2) flags (VmFlags of
        /proc/PID/smaps: sr sequential, rr random, hg hugepage)."""
        flags = {n: harness.smaps_vmflags(self.m.pid, self.m.backing('data/%s.bin' % n))
                 for n in ('seq', 'rand', 'huge', 'norm')}
        for n in flags:
            self.assertEqual(sorted(flags[n]), ['r--s', 'rw-p', 'rw-s'], (n, flags[n]))
        for perms, f in flags['seq'].items():
            self.assertIn('sr', f, perms)
        for perms, f in flags['rand'].items():
            self.assertIn('rr', f, perms)
        for perms, f in flags['norm'].items():
            self.assertFalse({'sr', 'rr', 'hg'} & f, (perms, f))
        if os.path.exists('/sys/kernel/mm/transparent_hugepage/enabled'):
            for perms, f in flags['huge'].items():
                self.assertIn('hg', f, perms)

    def test_willneed_entry_works(self):
        with open(self.m.path('rw', 'mega'), 'r+b') as f:
            f.write(b'willneed')
        self.assertEqual(self.read('ro', 'mega')[:8], b'willneed')


class GlobalKeys(unittest.TestCase):
    FILES = {'a.bin': b'A' * 16384}

    def start(self, globals_text, **kw):
        m = Mount(globals_text + '[a]\npath = a.bin\n', self.FILES, **kw)
        self.addCleanup(m.cleanup)
        return m.start()

    def test_log_level_default_is_info(self):
        m = self.start('')
        self.assertIn('mounted on', m.stderr)

    def test_log_level_error_and_warn_drop_info(self):
        for level in ('error', 'warn', 'ERROR', 'Warn'):
            m = self.start('log_level = %s\n' % level)
            with open(m.path('ro', 'a'), 'rb') as f:
                self.assertEqual(f.read(4), b'AAAA')
            self.assertEqual(m.stop(), 0)
            self.assertNotIn('mounted on', m.stderr, level)

    def test_log_level_info_and_debug_keep_info(self):
        for level in ('info', 'debug', 'Debug'):
            m = self.start('log_level = %s\n' % level)
            self.assertEqual(m.stop(), 0)
            self.assertIn('mounted on', m.stderr, level)

    def test_flush_interval(self):
        """flush_interval = N flushes every rw region every N seconds: the
        daemon's shared writable mapping has no dirty pages left (smaps).
        The control (flush_interval = 0) keeps them dirty, unless something
        else on the machine ran sync(2) meanwhile: then the round says
        nothing about the check and is tried again."""
        auto = self.start('flush_interval = 1\n')
        never = self.start('flush_interval = 0\n')
        for attempt in range(3):
            for m in (auto, never):
                with open(m.path('rw', 'a'), 'r+b') as f:
                    f.write(bytes([65 + attempt]) * 8192)
                self.assertGreater(
                    harness.smaps_dirty(m.pid, m.backing('a.bin')).get('rw-s', 0), 0)
            time.sleep(2.5)
            self.assertEqual(harness.smaps_dirty(auto.pid, auto.backing('a.bin'))['rw-s'], 0,
                             'flush_interval = 1: still dirty after 2.5 s')
            if harness.smaps_dirty(never.pid, never.backing('a.bin'))['rw-s'] > 0:
                return          # the control held: the check can tell
        self.skipTest('a sync(2) elsewhere cleaned the control three times')


class LongNames(unittest.TestCase):
    """A name is an error only over 255 bytes: 255 bytes is a valid NAME."""

    def test_names_up_to_255_bytes_are_valid(self):
        names = ['a' * 100, 'b' * 200, 'c' * 255, '\u00e9' * 127]      # the last: 254 bytes
        config = ''.join('[%s]\npath = f.bin\n' % n for n in names)
        with Mount(config, {'f.bin': b'long name\n'}) as m:
            self.assertEqual(sorted(os.listdir(m.path('ro'))), sorted(names))
            for n in names:
                with open(m.path('ro', n), 'rb') as f:
                    self.assertEqual(f.read(), b'long name\n')
