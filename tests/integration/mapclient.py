"""
mapclient.py - client processes that hold their own mappings of the views.

SPEC "Views": "Client programs may mmap(2) any view; a MAP_SHARED writable
mapping of rw/NAME (or cow/NAME) writes back through the daemon like any
FUSE file." The tests of those writes need real clients: a process whose
dirty pages the kernel holds (and writes back when it likes, or when the
daemon asks it to) while other processes act. A Helper is such a process: a
small Python interpreter that runs one command at a time, sent by the test
as a JSON line on its stdin, and answers with a JSON line on its stdout.
Each command is done when its answer arrives, so a test orders the client's
own steps (dirty some pages, msync, exit) against everything else exactly,
with no sleeps.

Every answer is awaited with a deadline (CALL_TIMEOUT seconds, or the call's
own): a command stuck in the mount (a deadlocked daemon) fails the test
with HangError instead of hanging it. The test process itself never needs
to touch the mount: control commands and reads of the views go through a
Helper too, and the backing files are read directly.

Commands (arguments as JSON values; data as hex strings):

    map NAME PATH LENGTH      open PATH O_RDWR, mmap LENGTH bytes MAP_SHARED
                              PROT_READ|PROT_WRITE (the descriptor stays
                              open for fd_* commands); answers st_ino
    poke NAME OFF HEX         store bytes through the mapping (no syscall:
                              the kernel only marks the pages dirty)
    peek NAME OFF N           load bytes through the mapping
    msync NAME                msync(MS_SYNC) of the whole mapping
    unmap NAME                munmap and close
    open NAME PATH FLAGS      a descriptor for fd_* commands; answers st_ino
    close NAME
    fd_pread NAME OFF N       pread on the descriptor of NAME (map or open)
    fd_pwrite NAME OFF HEX
    fd_truncate NAME SIZE
    fd_fstat NAME             st_size, st_ino
    write PATH HEX            open O_WRONLY|O_TRUNC, one write, close: a
                              control command as the shell's echo sends it
    read PATH                 open, read everything, close
    stat PATH                 st_size, st_ino
    listdir PATH
    truncate PATH SIZE
    exit

A failed call answers {"ok": false, "errno": N, "error": "..."}.
"""
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time

import harness
from harness import wchans

CALL_TIMEOUT = float(os.environ.get('MMAPFS_CLIENT_TIMEOUT', '10'))

CLIENT = r'''
import json, mmap, os, sys
maps, fds = {}, {}

def fd_of(name):
    return maps[name][0] if name in maps else fds[name]

def run(op, a):
    if op == 'map':
        name, path, length = a
        fd = os.open(path, os.O_RDWR)
        try:
            mm = mmap.mmap(fd, length, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        except BaseException:
            os.close(fd)
            raise
        maps[name] = (fd, mm)
        return {'ino': os.fstat(fd).st_ino}
    if op == 'poke':
        name, off, data = a[0], a[1], bytes.fromhex(a[2])
        maps[name][1][off:off + len(data)] = data
        return {}
    if op == 'peek':
        name, off, n = a
        return {'data': maps[name][1][off:off + n].hex()}
    if op == 'msync':
        maps[a[0]][1].flush()
        return {}
    if op == 'unmap':
        fd, mm = maps.pop(a[0])
        mm.close()
        os.close(fd)
        return {}
    if op == 'open':
        fds[a[0]] = os.open(a[1], a[2])
        return {'ino': os.fstat(fds[a[0]]).st_ino}
    if op == 'close':
        os.close(fds.pop(a[0]))
        return {}
    if op == 'fd_pread':
        fd, off, n = fd_of(a[0]), a[1], a[2]
        out = b''
        while len(out) < n:
            chunk = os.pread(fd, n - len(out), off + len(out))
            if not chunk:
                break
            out += chunk
        return {'data': out.hex()}
    if op == 'fd_pwrite':
        return {'n': os.pwrite(fd_of(a[0]), bytes.fromhex(a[2]), a[1])}
    if op == 'fd_truncate':
        os.ftruncate(fd_of(a[0]), a[1])
        return {}
    if op == 'fd_fstat':
        st = os.fstat(fd_of(a[0]))
        return {'size': st.st_size, 'ino': st.st_ino}
    if op == 'write':
        data = bytes.fromhex(a[1])
        fd = os.open(a[0], os.O_WRONLY | os.O_TRUNC)
        try:
            return {'n': os.write(fd, data)}
        finally:
            os.close(fd)
    if op == 'read':
        with open(a[0], 'rb') as f:
            return {'data': f.read().hex()}
    if op == 'stat':
        st = os.stat(a[0])
        return {'size': st.st_size, 'ino': st.st_ino}
    if op == 'listdir':
        return {'names': sorted(os.listdir(a[0]))}
    if op == 'truncate':
        os.truncate(a[0], a[1])
        return {}
    raise ValueError('unknown command %r' % op)

for line in sys.stdin:
    cmd = json.loads(line)
    if cmd[0] == 'exit':
        break
    try:
        out = run(cmd[0], cmd[1:])
        out['ok'] = True
    except OSError as e:
        out = {'ok': False, 'errno': e.errno, 'error': str(e)}
    sys.stdout.write(json.dumps(out) + '\n')
    sys.stdout.flush()
'''


class HangError(AssertionError):
    """A helper did not answer in time: the mount (or the daemon) hangs."""


def _helper_setup():
    """preexec_fn of a helper: the signals the harness blocks unblocked,
    and death with the test process."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, (signal.SIGTERM, signal.SIGINT, signal.SIGHUP))
    harness._libc.prctl(harness.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Helper:
    """One client process. MOUNT (a harness.Mount) is what a stuck helper
    is freed from: its FUSE connection is aborted when a plain SIGKILL does
    not end the helper."""

    def __init__(self, name, mount=None, timeout=None):
        self.name = name
        self.mount = mount
        self.timeout = CALL_TIMEOUT if timeout is None else timeout
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, '-c', CLIENT], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err,
                                     preexec_fn=_helper_setup)
        self.buf = b''
        self.dead = False

    def __repr__(self):
        return '<Helper %s pid %d>' % (self.name, self.proc.pid)

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode('utf-8', 'replace')[-3000:]

    def call(self, *cmd, timeout=None):
        """Sends CMD; returns its answer (a dict with 'ok'). HangError past
        the deadline; AssertionError if the helper died."""
        if self.dead:
            raise AssertionError('%r is gone' % self)
        what = ' '.join(str(c) if not isinstance(c, str) or len(c) < 40 else c[:20] + '...'
                        for c in cmd)
        try:
            self.proc.stdin.write((json.dumps(list(cmd)) + '\n').encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.dead = True
            raise AssertionError('%r died before %s: %s' % (self, what, self.stderr()))
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        fd = self.proc.stdout.fileno()
        while b'\n' not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                daemon = ''
                if self.mount is not None and self.mount.pid:
                    daemon = '; daemon threads (tid:wchan): %s' % wchans(self.mount.pid)
                raise HangError('%s: no answer to "%s" within %.0f s: the mount hangs '
                                '(a deadlock?); client threads: %s%s'
                                % (self.name, what, limit, wchans(self.proc.pid), daemon))
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    self.dead = True
                    status = self.proc.wait()
                    raise AssertionError('%s died (status %s) in "%s": %s'
                                         % (self.name, status, what, self.stderr()))
                self.buf += chunk
        line, _, self.buf = self.buf.partition(b'\n')
        return json.loads(line)

    def ok(self, *cmd, timeout=None):
        """call(), which must succeed."""
        out = self.call(*cmd, timeout=timeout)
        if not out['ok']:
            raise AssertionError('%s: %s failed: %s' % (self.name, cmd[0], out['error']))
        return out

    def errno_of(self, *cmd, timeout=None):
        """0, or the errno the command failed with."""
        out = self.call(*cmd, timeout=timeout)
        return 0 if out['ok'] else out['errno']

    # -- the usual commands
    def data(self, *cmd, timeout=None):
        return bytes.fromhex(self.ok(*cmd, timeout=timeout)['data'])

    def command(self, path, text, timeout=None):
        """A control command: 0 or the errno."""
        return self.errno_of('write', path, text.encode().hex(), timeout=timeout)

    def poke(self, name, off, data):
        self.ok('poke', name, off, data.hex())

    def read(self, path, timeout=None):
        return self.data('read', path, timeout=timeout)

    # -- the end
    def exit(self, timeout=None):
        """Asks the helper to exit (its mappings go, its pages stay in the
        page cache) and waits for it; HangError if it does not."""
        if self.dead:
            return
        try:
            self.proc.stdin.write(b'["exit"]\n')
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass
        limit = self.timeout if timeout is None else timeout
        try:
            self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            raise HangError('%s did not exit within %.0f s (unmapping or closing hangs); '
                            'threads: %s' % (self.name, limit, wchans(self.proc.pid)))
        finally:
            if self.proc.poll() is not None:
                self._closed()

    def _closed(self):
        self.dead = True
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        self.err.close()

    def kill(self):
        """SIGKILL and wait; a helper stuck in a hung request whom that does
        not free is freed by aborting the mount's FUSE connection."""
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                if self.mount is not None:
                    harness.abort_connection(self.mount.mnt)
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    sys.stderr.write('mapclient: %r does not die\n' % self)
        self._closed()


class Helpers:
    """Mixin for unittest cases: self.helper(name, mount) starts a Helper
    that is killed at the end of the test (before the mount is cleaned up,
    when the mount was made before it)."""

    def helper(self, name, mount=None, timeout=None):
        h = Helper(name, mount, timeout)
        self.addCleanup(h.kill)
        return h


def rss_kb(helper, path):
    """kB of HELPER's mapping of PATH (a view) that is resident."""
    return harness.smaps_rss(helper.proc.pid, path)


def dirty_kb(helper, path):
    """kB of HELPER's mapping of PATH (a view) that smaps counts as dirty."""
    return sum(harness.smaps_dirty(helper.proc.pid, path).values())

