"""
SPEC "Command line", `mmapfs [CONFIG] MOUNTPOINT [options] -- COMMAND
[ARG...]`: COMMAND runs on the mount with MMAPFS_MOUNT, in the caller's
folder; mmapfs unmounts when it exits (nothing written lost) and exits with
its status (128 + N for signal N, 127 when it cannot be run, 2 instead of
0 when the flush at unmount failed: main.c's rule at every unmount); config and mount errors exit 1 or 2
without running it; SIGINT/SIGTERM sent to mmapfs are passed on, SIGHUP
still reloads; an unmount from elsewhere waits for COMMAND; a mount still
busy when COMMAND has exited is detached and served for at most 10 s.
"""
import os
import re
import signal
import subprocess
import sys
import time
import unittest

from harness import BINARY, PAGE, REPO, Mount, TmpDirCase, is_mounted, run_binary

PYTHON = '/usr/bin/python3' if os.path.exists('/usr/bin/python3') else sys.executable
DATA = bytes(range(256)) * (2 * PAGE // 256)
CONFIG = '[data]\npath = data.bin\n'


class CommandCase(TmpDirCase):
    def setUp(self):
        self.dir = self.tmpdir()
        self.data = self.write(self.dir, 'data.bin', DATA)
        os.mkdir(os.path.join(self.dir, 'mnt'))

    def run_command(self, *command, args=('mnt', '--map', 'data=data.bin'), timeout=20):
        """mmapfs ARGS -- COMMAND in the test's folder; the Result."""
        return run_binary(list(args) + ['--'] + list(command), mountpoint='mnt',
                          cwd=self.dir, timeout=timeout)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def read(self, *parts):
        with open(self.path(*parts), 'rb') as f:
            return f.read()

    def assertGone(self):
        self.assertFalse(is_mounted(self.path('mnt')), 'still mounted after mmapfs exited')


class ExitStatus(CommandCase):
    def test_exit_status_is_commands(self):
        for code in (0, 1, 3, 42, 255):
            with self.subTest(code=code):
                r = self.run_command('sh', '-c', 'cmp -s "$MMAPFS_MOUNT/ro/data" data.bin '
                                     '|| exit 99; exit %d' % code)
                self.assertEqual(r.status, code, r)
                self.assertGone()

    def test_signal_is_128_plus_n(self):
        for sig in (signal.SIGTERM, signal.SIGKILL, signal.SIGINT, signal.SIGUSR1):
            with self.subTest(sig=sig.name):
                r = self.run_command('sh', '-c', 'kill -%d $$' % sig)
                self.assertEqual(r.status, 128 + sig, r)
                self.assertGone()

    def test_cannot_run_is_127(self):
        self.write(self.dir, 'notexec', '#!/bin/sh\n', mode=0o644)
        for command in (['no-such-command-mmapfs'], ['./notexec'], ['/nonexistent/x']):
            with self.subTest(command=command):
                r = self.run_command(*command)
                self.assertEqual(r.status, 127, r)
                self.assertIn('cannot run %s' % command[0], r.stderr)
                self.assertGone()

    def test_config_errors_exit_1_without_running(self):
        marker = self.path('ran')
        for args in (['mnt', '--map', 'data=missing.bin'], ['mnt', '--map', 'data'],
                     ['bad.ini', 'mnt'], ['mnt', '--map', 'data=data.bin', '-o', 'nosuchopt']):
            with self.subTest(args=args):
                self.write(self.dir, 'bad.ini', '[x]\npath = missing.bin\n')
                r = self.run_command('touch', marker, args=args)
                self.assertEqual(r.status, 1, r)
                self.assertFalse(os.path.exists(marker), 'COMMAND ran')
                self.assertFalse(r.mounted)

    def test_mount_errors_exit_2_without_running(self):
        marker = self.path('ran')
        self.write(self.dir, 'file', '')
        for mnt in ('nowhere', 'file'):
            with self.subTest(mnt=mnt):
                r = self.run_command('touch', marker, args=(mnt, '--map', 'data=data.bin'))
                self.assertEqual(r.status, 2, r)
                self.assertFalse(os.path.exists(marker), 'COMMAND ran')

    def test_a_missing_command_is_a_usage_error(self):
        r = run_binary(['mnt', '--map', 'data=data.bin', '--'], mountpoint='mnt', cwd=self.dir)
        self.assertEqual(r.status, 1, r)
        self.assertIn('-- needs a COMMAND', r.stderr)
        self.assertFalse(r.mounted)


class Environment(CommandCase):
    def test_mmapfs_mount_is_the_real_path_and_cwd_the_callers(self):
        os.symlink('mnt', self.path('link'))
        os.mkdir(self.path('work'))
        r = run_binary(['../link', '--map', 'data=../data.bin', '--', 'sh', '-c',
                        'echo "$MMAPFS_MOUNT"; pwd; ls "$MMAPFS_MOUNT/ro"'],
                       mountpoint='../mnt', cwd=self.path('work'))
        self.assertEqual(r.status, 0, r)
        mount, cwd, listing = r.stdout.splitlines()
        self.assertEqual(mount, os.path.realpath(self.path('mnt')))
        self.assertEqual(cwd, os.path.realpath(self.path('work')))
        self.assertEqual(listing, 'data')

    def test_an_inherited_mmapfs_mount_is_replaced(self):
        env = dict(os.environ, MMAPFS_MOUNT='/elsewhere')
        r = run_binary(['mnt', '--map', 'data=data.bin', '--', 'sh', '-c',
                        'env | grep -c ^MMAPFS_MOUNT=; echo "$MMAPFS_MOUNT"'],
                       mountpoint='mnt', cwd=self.dir, env=env)
        self.assertEqual(r.stdout.split(), ['1', os.path.realpath(self.path('mnt'))], r)

    def test_same_session_process_group_and_streams(self):
        script = ('import os, sys; print(os.getsid(0), os.getpgrp(), os.getppid()); '
                  'sys.stderr.write("to stderr\\n"); print(sys.stdin.read())')
        p = subprocess.Popen([BINARY, 'mnt', '--map', 'data=data.bin', '--', PYTHON, '-c',
                              script],
                             cwd=self.dir, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        out, err = p.communicate(b'from stdin', timeout=20)
        self.assertEqual(p.returncode, 0, err)
        sid, pgrp, ppid = (int(x) for x in out.split()[:3])
        self.assertEqual((sid, pgrp, ppid), (os.getsid(0), os.getpgrp(), p.pid))
        self.assertIn(b'from stdin', out)
        self.assertIn(b'to stderr', err)
        self.assertGone()

    def test_ignored_signals_stay_ignored_in_command(self):
        # A shell runs `mmapfs ... &` with SIGINT ignored: so should COMMAND be.
        r = run_binary(['mnt', '--map', 'data=data.bin', '--', PYTHON, '-c',
                        'import signal; print(signal.getsignal(signal.SIGINT) == '
                        'signal.SIG_IGN, signal.getsignal(signal.SIGCHLD) == signal.SIG_DFL)'],
                       mountpoint='mnt', cwd=self.dir,
                       preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        self.assertEqual(r.stdout.split(), ['True', 'True'], r)


class NothingLost(CommandCase):
    def test_writes_and_mapped_writes_reach_the_file(self):
        script = ('import mmap, os\n'
                  'm = os.environ["MMAPFS_MOUNT"]\n'
                  'with open(m + "/rw/data", "r+b") as f:\n'
                  '    f.write(b"written")\n'
                  '    mp = mmap.mmap(f.fileno(), 2 * %d)\n'
                  '    mp[%d:%d + 6] = b"mapped"\n'
                  'os._exit(0)\n' % (PAGE, PAGE, PAGE))   # no msync, no munmap
        r = self.run_command(PYTHON, '-c', script)
        self.assertEqual(r.status, 0, r)
        data = self.read('data.bin')
        self.assertEqual(data[:7], b'written')
        self.assertEqual(data[PAGE:PAGE + 6], b'mapped')


class Signals(CommandCase):
    def start(self, script, config=CONFIG):
        """A Mount of CONFIG running PYTHON -c SCRIPT as COMMAND, in its folder."""
        m = Mount(config, files={'data.bin': DATA}, args=['--', PYTHON, '-c', script])
        self.addCleanup(m.cleanup)
        return m.start()

    def wait_for(self, path, timeout=10):
        deadline = time.monotonic() + timeout
        while not os.path.exists(path):
            if time.monotonic() > deadline:
                self.fail('%s did not appear' % path)
            time.sleep(0.02)

    TRAP = ('import os, signal, sys, time\n'
            'got = []\n'
            'signal.signal(signal.SIG%s, lambda s, f: got.append(s))\n'
            'open("ready", "w").close()\n'
            'while not got: time.sleep(0.01)\n'
            'time.sleep(0.2)\n'
            'with open(os.environ["MMAPFS_MOUNT"] + "/ro/data", "rb") as f:\n'
            '    sys.exit(5 if f.read(4) == bytes(range(4)) else 6)\n')

    def test_sigterm_and_sigint_are_passed_on(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(sig=sig.name):
                m = self.start(self.TRAP % sig.name[3:])
                self.wait_for(os.path.join(m.dir, 'ready'))
                os.kill(m.pid, sig)
                status = m.proc.wait(timeout=15)
                self.assertEqual(status, 5, m.stderr)   # the mount still served it
                self.assertFalse(is_mounted(m.mnt))
                m.stop()

    def test_sighup_still_reloads(self):
        script = ('import os, sys, time\n'
                  'open("ready", "w").close()\n'
                  'deadline = time.monotonic() + 10\n'
                  'while not os.path.exists(os.environ["MMAPFS_MOUNT"] + "/ro/more"):\n'
                  '    if time.monotonic() > deadline: sys.exit(9)\n'
                  '    time.sleep(0.05)\n'
                  'sys.exit(0)\n')
        m = self.start(script)
        self.wait_for(os.path.join(m.dir, 'ready'))
        with open(m.config_path, 'a') as f:
            f.write('[more]\npath = data.bin\n')
        os.kill(m.pid, signal.SIGHUP)
        self.assertEqual(m.proc.wait(timeout=15), 0, m.stderr)
        self.assertIn('reloaded: 1 added', m.stderr)

    def test_an_unmount_from_elsewhere_waits_for_command(self):
        script = ('import os, signal, sys, time\n'
                  'got = []\n'
                  'signal.signal(signal.SIGTERM, lambda s, f: got.append(s))\n'
                  'open("ready", "w").close()\n'
                  'while not os.path.exists("go"): time.sleep(0.02)\n'
                  'sys.exit(4 if got else 8)\n')
        m = self.start(script)
        self.wait_for(os.path.join(m.dir, 'ready'))
        subprocess.run(['fusermount3', '-u', m.mnt], check=True, timeout=10)
        time.sleep(0.3)
        self.assertFalse(is_mounted(m.mnt))
        self.assertIsNone(m.proc.poll(), 'mmapfs exited before COMMAND')
        os.kill(m.pid, signal.SIGTERM)      # still passed on: COMMAND notes it
        time.sleep(0.1)
        self.assertIsNone(m.proc.poll())
        open(os.path.join(m.dir, 'go'), 'w').close()
        self.assertEqual(m.proc.wait(timeout=10), 4, m.stderr)


class BusyAtExit(CommandCase):
    LEFT_BEHIND = ('import mmap, os, sys, time\n'
                   'm = os.environ["MMAPFS_MOUNT"]\n'
                   'f = open(m + "/rw/data", "r+b")\n'
                   'mp = mmap.mmap(f.fileno(), %d)\n'
                   'mp[:4] = b"left"\n'
                   'open("pid", "w").write(str(os.getpid()))\n'
                   'time.sleep(%s)\n'
                   'try:\n'
                   '    with open(m + "/ro/data", "rb") as g: seen = g.read(4)\n'
                   'except OSError as e: seen = b"new open failed"\n'
                   'f.seek(0)\n'
                   'try: got = f.read(4)\n'
                   'except OSError as e: got = str(e.errno).encode()\n'
                   'open("after", "wb").write(seen + b"|" + got)\n'
                   'mp[4:8] = b"late"\n')

    def left_behind(self, seconds):
        """COMMAND: a shell that leaves a process on the mount and exits 6."""
        script = self.LEFT_BEHIND % (PAGE, seconds)
        return ('%s -c \'%s\' </dev/null >/dev/null 2>&1 & '
                'while [ ! -e pid ]; do sleep 0.02; done; exit 6'
                % (PYTHON, script.replace("'", "'\\''")))

    def kill_left_behind(self):
        try:
            os.kill(int(self.read('pid')), signal.SIGKILL)
        except (OSError, ValueError):
            pass

    def test_served_until_its_last_user_leaves(self):
        self.addCleanup(self.kill_left_behind)
        t0 = time.monotonic()
        r = self.run_command('sh', '-c', self.left_behind(1.5))
        took = time.monotonic() - t0
        self.assertEqual(r.status, 6, r)
        self.assertLess(took, 8, 'not ended when the last user left')
        self.assertGreater(took, 1.2)
        self.assertGone()
        deadline = time.monotonic() + 5
        while not os.path.exists(self.path('after')) and time.monotonic() < deadline:
            time.sleep(0.05)
        seen, got = self.read('after').split(b'|', 1)
        self.assertEqual(got, b'left', 'the left-behind process was not served')
        self.assertEqual(self.read('data.bin')[:8], b'leftlate')

    def test_at_most_10_s_then_written_back(self):
        self.addCleanup(self.kill_left_behind)
        t0 = time.monotonic()
        r = self.run_command('sh', '-c', self.left_behind(30), timeout=30)
        took = time.monotonic() - t0
        self.assertEqual(r.status, 6, r)
        self.assertGreater(took, 9)
        self.assertLess(took, 16)
        self.assertIn('still in use 10 s after', r.stderr)
        self.assertGone()
        # its page dirtied through its mapping was written back first
        self.assertEqual(self.read('data.bin')[:4], b'left')


class Readme(CommandCase):
    def test_the_readme_example_runs_as_written(self):
        with open(os.path.join(REPO, 'README.md')) as f:
            readme = f.read()
        section = readme.split('## For test suites', 1)[1]
        block = re.search(r'```sh\n(.*?)```', section, re.S).group(1)
        self.assertIn('mmapfs mnt --map db=fixture.db', block)
        self.write(self.dir, 'fixture.db', b'fixture bytes' * 100)
        bindir = self.path('bin')
        os.mkdir(bindir)
        os.symlink(BINARY, os.path.join(bindir, 'mmapfs'))
        env = dict(os.environ, PATH=bindir + ':' + os.environ.get('PATH', '/usr/bin:/bin'))
        r = run_binary(['-c', block], mountpoint='mnt', cwd=self.dir, env=env,
                       binary='/bin/sh', timeout=30)
        self.assertEqual(r.status, 0, r)
        # The test ran on the mount (a mount polled for could be gone
        # before the poll: the run takes a few ms).
        self.assertRegex(r.stderr, r'Ran 1 test in .*\n\nOK', r)
        self.assertEqual(self.read('fixture.db'), b'fixture bytes' * 100)
        self.assertGone()


if __name__ == '__main__':
    unittest.main()
