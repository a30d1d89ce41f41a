"""
harness.py - mounts and runs mmapfs for the integration tests.

Mount        writes a config (and its data files) into a fresh folder under
             /tmp, starts the daemon (in the foreground by default), waits
             until the mount point shows in /proc/self/mountinfo, and on
             stop() unmounts it and returns the daemon's exit status.
run_binary   runs the binary once (command-line and config errors) and
             returns its exit status, stdout and stderr.
TestCase, TmpDirCase, MountCase
             bases of the test classes; the helpers after them
             (pattern, read_file, pread_all, smaps_dirty, errno_of...)
             serve the tests and tests/stress/stress.py alike.

Nothing may outlive the run: every Mount and every run_binary call is
registered while it is live, and an atexit hook and SIGTERM/SIGINT/SIGHUP
handlers abort their FUSE connections, kill their daemons and unmount them
lazily (emergency_cleanup). The signal handlers work even when the main
thread is blocked in a hung FUSE request (see install_handlers). Under
run.py, every folder, mount and command is also written to the supervisor's
registry (MMAPFS_IT_STATE) before it exists: the supervisor's watchdog
cleans up even when this process is frozen (a hung page fault holds the GIL).
Only processes and mounts this process started are ever touched: other runs
may share the machine.

Only the Python standard library is used.
"""
import atexit
import ctypes
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BINARY = os.path.abspath(os.environ.get('MMAPFS_BINARY') or
                         os.path.join(REPO, 'build', 'mmapfs'))
FUSERMOUNT = shutil.which('fusermount3') or 'fusermount3'
MOUNT_FUSE3 = shutil.which('mount.fuse3') or '/sbin/mount.fuse3'
PAGE = os.sysconf('SC_PAGE_SIZE')
START_TIMEOUT = 10.0      # seconds until the mount must show
STOP_TIMEOUT = 10.0       # seconds until the daemon must exit after unmount
TMP_ROOT = '/tmp'


def set_binary(path):
    """Points the harness at the daemon binary (run.py --binary)."""
    global BINARY
    BINARY = os.path.abspath(path)
    os.environ['MMAPFS_BINARY'] = BINARY


class MountError(Exception):
    pass


# ---------------------------------------------------------------- mountinfo

def _unescape(field):
    return re.sub(r'\\([0-7]{3})', lambda m: chr(int(m.group(1), 8)), field)


def mountinfo():
    """Every mount of this namespace: dicts with mount point, dev, type."""
    out = []
    with open('/proc/self/mountinfo') as f:
        for line in f:
            left, _, right = line.partition(' - ')
            a, b = left.split(), right.split()
            major, minor = a[2].split(':')
            out.append({'id': int(a[0]), 'major': int(major), 'minor': int(minor),
                        'mountpoint': _unescape(a[4]), 'options': a[5],
                        'fstype': b[0], 'source': _unescape(b[1]) if len(b) > 1 else '',
                        'super_options': b[2] if len(b) > 2 else ''})
    return out


def find_mount(path):
    """The topmost mount on PATH, or None."""
    path = os.path.realpath(path) if os.path.isabs(path) else os.path.abspath(path)
    found = None
    for m in mountinfo():
        if m['mountpoint'] == path:
            found = m
    return found


def is_mounted(path):
    m = find_mount(path)
    return m is not None and m['fstype'].startswith('fuse')


def left_behind():
    """Mount points of this process's mounts that are still mounted, and
    its daemons still running (other runs may share the machine)."""
    mounts = sorted({p for p in _created if is_mounted(p)})
    procs = sorted({pid for p in _created for pid in pids_matching(
        lambda argv, p=p: os.path.basename(argv[0]) == os.path.basename(BINARY) and p in argv)})
    return mounts, procs


def fuse_mounts_under(prefix):
    return [m for m in mountinfo()
            if m['fstype'].startswith('fuse') and m['mountpoint'].startswith(prefix)]


# ---------------------------------------------------------------- processes

def _argv_of(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            raw = f.read()
        with open('/proc/%d/stat' % pid) as f:
            state = f.read().rsplit(')', 1)[1].split()[0]
    except OSError:
        return None
    if state in ('Z', 'X') or not raw:
        return None
    return [os.fsdecode(a) for a in raw.rstrip(b'\0').split(b'\0')]


def pids_matching(pred):
    out = []
    for name in os.listdir('/proc'):
        if name.isdigit() and int(name) != os.getpid():
            argv = _argv_of(int(name))
            if argv and pred(argv):
                out.append(int(name))
    return out


def daemon_pids(*needles):
    """Live mmapfs processes whose command line holds every one of NEEDLES
    (at least one, e.g. a config path of our own temporary folder)."""
    if not needles:
        raise ValueError('daemon_pids() needs a needle: it would match every daemon')
    base = os.path.basename(BINARY)

    def pred(argv):
        return os.path.basename(argv[0]) == base and all(n in argv for n in needles)
    return pids_matching(pred)


def _start_time(pid):
    """Start time of PID in clock ticks since boot, or None."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return int(f.read().rsplit(')', 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid):
    return _argv_of(pid) is not None


def _wait_gone(pids, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.02)
    return not any(_alive(p) for p in pids)


def _kill(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except OSError:
        pass


# ---------------------------------------------------------------- unmounting

_fusectl_lock = threading.Lock()


def abort_connection(mountpoint):
    """Writes 1 to the FUSE connection's abort file: every pending and future
    request of that mount fails at once (ENOTCONN), which unblocks any
    thread stuck in it. Returns True if it was written."""
    m = find_mount(mountpoint)
    if m is None or not m['fstype'].startswith('fuse'):
        return False
    conns = '/sys/fs/fuse/connections'
    path = os.path.join(conns, str(m['minor']), 'abort')
    mounted_here = False
    with _fusectl_lock:
        if not os.path.exists(path) and os.geteuid() == 0 and os.path.isdir(conns) \
                and not os.listdir(conns):
            # fusectl is not mounted: mount it for the abort, then remove it.
            r = subprocess.run(['mount', '-t', 'fusectl', 'fusectl', conns],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=10)
            mounted_here = r.returncode == 0
        try:
            with open(path, 'w') as f:
                f.write('1')
            return True
        except OSError:
            return False
        finally:
            if mounted_here:
                subprocess.run(['umount', conns], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=10)


def fusermount(mountpoint, lazy=False, timeout=10.0):
    args = [FUSERMOUNT, '-uz' if lazy else '-u', mountpoint]
    try:
        r = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=timeout)
        return r.returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _wait_unmounted(mountpoint, timeout):
    deadline = time.monotonic() + timeout
    while is_mounted(mountpoint):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def force_unmount(mountpoint, pids=()):
    """The last resort: abort, kill, lazy unmount."""
    if is_mounted(mountpoint):
        abort_connection(mountpoint)
    for p in pids:
        _kill(p)
    if is_mounted(mountpoint):
        fusermount(mountpoint, lazy=True)
    _wait_gone(pids, 5)
    _wait_unmounted(mountpoint, 5)


# ---------------------------------------------------------------- registry

_lock = threading.RLock()
_live = []               # objects with .emergency() and .cleanup()
_created = []            # every mount point this process mounted or tried to
_extra_cleanups = []     # callables, e.g. removing a test's /dev/log socket
_emergency_hooks = []    # fn(why) before an emergency clean-up; may return a
                         # callable to run after it, just before the exit
_emergency_lock = threading.Lock()


def _record(**entry):
    """Tells run.py's supervisor (if any) about a folder, mount or command
    before it exists, so that it can clean up after a hung child."""
    state = os.environ.get('MMAPFS_IT_STATE')
    if not state:
        return
    try:
        with open(os.path.join(state, 'registry'), 'a') as f:
            f.write(json.dumps(entry) + '\n')
    except OSError:
        pass


def _register(obj):
    with _lock:
        if obj not in _live:
            _live.append(obj)


def _discard(items, item):
    """Removes ITEM from the registry list ITEMS if it is there."""
    with _lock:
        if item in items:
            items.remove(item)


def _unregister(obj):
    _discard(_live, obj)


def add_cleanup(fn):
    with _lock:
        _extra_cleanups.append(fn)


def remove_cleanup(fn):
    _discard(_extra_cleanups, fn)


def add_emergency_hook(fn):
    _emergency_hooks.append(fn)


def live_mounts():
    with _lock:
        return list(_live)


def _run_extra_cleanups():
    with _lock:
        fns = list(_extra_cleanups)
        _extra_cleanups.clear()
    for fn in fns:
        try:
            fn()
        except Exception:
            pass


def emergency_cleanup():
    """Aborts every live connection, kills every daemon, lazily unmounts.
    Safe from any thread; used by the watchdog and the signal handlers."""
    for o in live_mounts():
        try:
            o.emergency()
        except Exception as e:  # keep going: nothing may be left behind
            sys.stderr.write('harness: emergency cleanup of %r: %s\n' % (o, e))
    _run_extra_cleanups()


def cleanup_all():
    """Stops every live mount the graceful way (atexit)."""
    for o in live_mounts():
        try:
            o.cleanup()
        except Exception:
            try:
                o.emergency()
            except Exception:
                pass
    _run_extra_cleanups()


def silence_stderr():
    """Sends fd 2 to /dev/null: after an emergency, the main thread (woken
    by the abort) must not print after the run's last line."""
    try:
        sys.stderr.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except Exception:
        pass


def emergency_started():
    return _emergency_lock.locked()


def wait_if_emergency():
    """Blocks forever if an emergency exit is under way (it will exit)."""
    if _emergency_lock.locked():
        _wait_for_exit()


def _wait_for_exit():
    """Another thread is cleaning up and will exit the process: start
    nothing new meanwhile."""
    while True:
        time.sleep(3600)


def emergency_exit(why, status, message=''):
    """Aborts every connection, kills every daemon, unmounts lazily, runs
    the emergency hooks and exits with STATUS. Once per process: a second
    caller waits for the first one's exit."""
    if not _emergency_lock.acquire(blocking=False):
        _wait_for_exit()
    try:
        if message:
            sys.stderr.write(message)
        sys.stderr.flush()
    except Exception:
        pass
    after = []
    for hook in _emergency_hooks:       # before the clean-up: a snapshot
        try:
            fn = hook(why)
            if callable(fn):
                after.append(fn)
        except Exception:
            pass
    silence_stderr()
    emergency_cleanup()
    for fn in after:
        try:
            fn()
        except Exception:
            pass
    try:
        sys.stdout.flush()
    except Exception:
        pass
    os._exit(status)


def _emergency_exit(signum):
    emergency_exit('signal %d' % signum, 128 + signum,
                   '\nharness: caught signal %d: aborting FUSE connections, '
                   'killing daemons, unmounting\n' % signum)


_handlers_installed = False


_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def install_handlers():
    """atexit + SIGTERM/SIGINT/SIGHUP handlers; main thread only.

    A thread blocked in a hung FUSE request sleeps in the kernel (killable
    only) and never returns to user space to run a signal handler. So the
    main thread blocks these signals, which makes the kernel deliver them to
    a helper thread started before the block; Python's C handler runs there
    and writes the signal number to the wakeup fd, which that thread reads.
    Children unblock them again (_child_setup)."""
    global _handlers_installed
    if _handlers_installed or threading.current_thread() is not threading.main_thread():
        return
    _handlers_installed = True
    atexit.register(cleanup_all)
    rd, wr = socket.socketpair()
    rd.setblocking(True)
    wr.setblocking(False)
    _keep.extend([rd, wr])

    def on_signal(signum, frame):
        _emergency_exit(signum)

    for sig in _SIGNALS:
        signal.signal(sig, on_signal)
    signal.set_wakeup_fd(wr.fileno(), warn_on_full_buffer=False)

    def watcher():
        while True:
            try:
                data = rd.recv(16)
            except InterruptedError:
                continue
            except OSError:
                return
            for signum in data:
                if signum in _SIGNALS:
                    _emergency_exit(signum)

    threading.Thread(target=watcher, name='harness-signals', daemon=True).start()
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)


_keep = []

# PR_SET_PDEATHSIG: a daemon whose test process dies unmounts itself.
_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _child_setup():
    """preexec_fn of every daemon: the test signals unblocked again, and
    SIGTERM (a clean unmount) when the process that started it dies."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


child_setup = _child_setup


def as_user(uid, gid):
    """A preexec_fn that drops to UID/GID (for tests of permissions)."""
    def drop():
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    return drop


# ---------------------------------------------------------------- Mount

def new_tmpdir(prefix='mmapfs-it-'):
    d = tempfile.mkdtemp(prefix=prefix, dir=TMP_ROOT)
    os.chmod(d, 0o755)       # other users (nobody) may have to reach the mount
    _record(dir=d)
    return d


class Mount:
    """One mmapfs mount of CONFIG (an INI text) over data FILES.

    files: {relative name: bytes, or (bytes, mode), or (bytes, mode, uid, gid)}
    args:  extra command-line arguments, e.g. ['-s'] or ['-o', 'allow_other']
    foreground: add -f (the default); otherwise the daemon forks and the
        command returns once mounted.
    """

    def __init__(self, config, files=None, args=(), foreground=True,
                 config_name='mmapfs.ini', start_timeout=START_TIMEOUT):
        install_handlers()
        self.dir = new_tmpdir()
        self.mnt = os.path.join(self.dir, 'mnt')
        os.mkdir(self.mnt)
        self.config_path = os.path.join(self.dir, config_name)
        os.makedirs(os.path.dirname(self.config_path), exist_ok=True)
        self.args = list(args)
        self.foreground = foreground
        self.start_timeout = start_timeout
        self.proc = None
        self.status = None
        self.stopped = False
        self._pids = []
        self._stderr_path = os.path.join(self.dir, 'daemon.stderr')
        self._stderr_file = None
        for name, spec in (files or {}).items():
            self.write_file(name, spec)
        with open(self.config_path, 'w') as f:
            f.write(config)
        _register(self)          # its folder goes even if it never starts

    def __repr__(self):
        return '<Mount %s>' % self.mnt

    # -- files
    def write_file(self, name, spec):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if not isinstance(spec, tuple):
            spec = (spec,)
        with open(path, 'wb') as f:
            f.write(spec[0])
            os.fsync(f.fileno())    # clean pages: tests watch dirty pages
        if len(spec) > 1:
            os.chmod(path, spec[1])
        if len(spec) > 3:
            os.chown(path, spec[2], spec[3])
        return path

    def backing(self, name):
        """Path of a backing file in the mount's folder."""
        return os.path.join(self.dir, name)

    def path(self, *parts):
        """Path under the mount point: m.path('ro', 'x')."""
        return os.path.join(self.mnt, *parts)

    def read_backing(self, name):
        return read_file(self.backing(name))

    def ctl_status(self, name):
        """ctl/NAME/status as {key: value}; a line that is not 'key: value'
        fails the test."""
        out = {}
        with open(self.path('ctl', name, 'status')) as f:
            for line in f.read().splitlines():
                key, sep, value = line.partition(': ')
                if not sep:
                    raise AssertionError('not a key: value line: %r' % line)
                out[key] = value
        return out

    def ctl_write(self, name, file, data, offset=0, flags=os.O_WRONLY):
        """One write of DATA (bytes or str) at OFFSET to ctl/NAME/FILE opened
        with FLAGS; returns 0 or the errno. A short write fails the test."""
        fd = os.open(self.path('ctl', name, file), flags)
        try:
            n = os.pwrite(fd, data if isinstance(data, bytes) else data.encode(), offset)
            if n != len(data):
                raise AssertionError('a command write returns its full length: %d, not %d'
                                     % (n, len(data)))
            return 0
        except OSError as e:
            return e.errno
        finally:
            os.close(fd)

    def env_with_binary_on_path(self):
        """os.environ with DIR/bin first on the PATH, holding the binary as
        `mmapfs`: how mount.fuse3 finds it."""
        bindir = os.path.join(self.dir, 'bin')
        os.mkdir(bindir)
        os.symlink(BINARY, os.path.join(bindir, 'mmapfs'))
        return dict(os.environ, PATH=bindir + ':' + os.environ.get('PATH', '/usr/bin:/bin'))

    @property
    def stderr(self):
        try:
            with open(self._stderr_path, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    @property
    def pid(self):
        if self.foreground:
            return self.proc.pid if self.proc else None
        return self._pids[0] if self._pids else None

    def mountinfo(self):
        return find_mount(self.mnt)

    # -- life cycle
    def start(self, launcher=None, env=None, cwd=None):
        """Starts the daemon and waits until mounted. LAUNCHER replaces the
        command (e.g. mount --fstab ...); it must return once mounted, as
        the daemon does without -f."""
        if launcher:
            argv = list(launcher)
            self.foreground = False
        else:
            argv = [BINARY, self.config_path, self.mnt]
            if self.foreground:
                argv.append('-f')
            argv += self.args
        if _emergency_lock.locked():
            _wait_for_exit()
        self._stderr_file = open(self._stderr_path, 'wb')
        _register(self)
        self.stopped = False
        _created.append(self.mnt)
        _record(mnt=self.mnt, config=self.config_path, dir=self.dir)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self._stderr_file, stderr=self._stderr_file,
                                     cwd=cwd or self.dir, env=env, preexec_fn=_child_setup)
        deadline = time.monotonic() + self.start_timeout
        while True:
            if is_mounted(self.mnt):
                if not self.foreground:
                    # The command returns only once mounted.
                    try:
                        self.status = self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        pass
                    self._pids = daemon_pids(self.config_path, self.mnt)
                return self
            rc = self.proc.poll()
            if rc is not None and self.foreground:
                self.status = rc
                self._fail('mmapfs exited with status %d before mounting:\n%s'
                           % (rc, self.stderr))
            if rc is not None and not self.foreground:
                self.status = rc
                if rc != 0:
                    self._fail('mmapfs exited with status %d:\n%s' % (rc, self.stderr))
                if not is_mounted(self.mnt):
                    self._pids = daemon_pids(self.config_path, self.mnt)
                    self._fail('mmapfs exited 0 but %s is not mounted' % self.mnt)
            if time.monotonic() > deadline:
                self._pids = daemon_pids(self.config_path, self.mnt)
                self._fail('%s did not show in /proc/self/mountinfo within %.0f s:\n%s'
                           % (self.mnt, self.start_timeout, self.stderr))
            time.sleep(0.01)

    def _fail(self, message):
        """A failed start: leaves nothing behind, then raises."""
        self.emergency()
        self.remove_dir()
        raise MountError(message)

    def _all_pids(self):
        pids = set(self._pids)
        if self.proc and self.proc.poll() is None:
            pids.add(self.proc.pid)
        pids.update(daemon_pids(self.config_path, self.mnt))
        return sorted(pids)

    def stop(self, timeout=STOP_TIMEOUT):
        """Unmounts (fusermount3 -u) and waits for the daemon to exit; kills
        it and unmounts lazily if it does not. Returns the exit status of a
        foreground daemon; for a daemon that forked (not our child), the
        status of the command that started it."""
        if self.stopped:
            return self.status
        if is_mounted(self.mnt):
            ok = fusermount(self.mnt)
            deadline = time.monotonic() + 2
            while not ok and is_mounted(self.mnt) and time.monotonic() < deadline:
                time.sleep(0.1)   # busy: a test may still be closing files
                ok = fusermount(self.mnt)
            if not ok and is_mounted(self.mnt):
                sys.stderr.write('harness: %s busy, unmounting lazily\n' % self.mnt)
                fusermount(self.mnt, lazy=True)
        pids = self._all_pids()
        if self.foreground and self.proc:
            try:
                self.status = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                sys.stderr.write('harness: mmapfs %d did not exit within %.0f s after '
                                 'unmount: killing it\n' % (self.proc.pid, timeout))
                force_unmount(self.mnt, pids)
                self.status = self.proc.wait(timeout=10)
        elif not _wait_gone(pids, timeout):
            sys.stderr.write('harness: daemon %s did not exit: killing it\n' % pids)
            force_unmount(self.mnt, pids)
        if is_mounted(self.mnt):
            force_unmount(self.mnt, self._all_pids())
        self._finish()
        return self.status

    def _finish(self):
        self.stopped = True
        if self._stderr_file:
            self._stderr_file.close()
            self._stderr_file = None
        _unregister(self)

    def emergency(self):
        """Abort, kill, lazy unmount: for hung mounts."""
        pids = self._all_pids()
        force_unmount(self.mnt, pids)
        if self.proc:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            if self.status is None and self.foreground:
                self.status = self.proc.returncode
        self._finish()
        if not is_mounted(self.mnt):
            self.remove_dir()

    def remove_dir(self):
        if self.dir and not fuse_mounts_under(self.dir + '/'):
            shutil.rmtree(self.dir, ignore_errors=True)

    def cleanup(self):
        """stop() if needed, then remove the folder."""
        try:
            if not self.stopped:
                self.stop()
        finally:
            if self.stopped and not is_mounted(self.mnt):
                self.remove_dir()

    close = cleanup

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False


# ---------------------------------------------------------------- run_binary

class Result:
    def __init__(self, status, stdout, stderr, mounted, timed_out):
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.mounted = mounted      # the mount point was mounted at some time
        self.timed_out = timed_out

    def __repr__(self):
        return ('Result(status=%r, mounted=%r, timed_out=%r,\n stdout=%r,\n stderr=%r)'
                % (self.status, self.mounted, self.timed_out, self.stdout, self.stderr))


class _Run:
    """A run_binary call in flight, registered for emergencies."""

    def __init__(self, argv, mountpoint, cwd):
        self.argv = argv
        self.mountpoint = mountpoint
        self.cwd = cwd
        self.proc = None
        self.t0 = None

    def _pids(self):
        """Our process, and daemons it forked: the same command line,
        started after it (never another run's daemons)."""
        want, base = self.argv[1:], os.path.basename(self.argv[0])
        pids = set()
        if self.t0 is not None:
            pids.update(p for p in pids_matching(
                lambda argv: os.path.basename(argv[0]) == base and argv[1:] == want)
                if (_start_time(p) or 0) >= self.t0)
        if self.proc and self.proc.poll() is None:
            pids.add(self.proc.pid)
        return sorted(pids)

    def emergency(self):
        if self.mountpoint:
            force_unmount(self.mountpoint, self._pids())
        for p in self._pids():
            _kill(p)

    def cleanup(self):
        if self.mountpoint and is_mounted(self.mountpoint):
            fusermount(self.mountpoint) or fusermount(self.mountpoint, lazy=True)
        pids = self._pids()
        if not _wait_gone(pids, STOP_TIMEOUT):
            self.emergency()


def run_binary(args, mountpoint=None, timeout=10.0, cwd=None, preexec_fn=None,
               env=None, binary=None):
    """Runs BINARY ARGS and returns a Result. MOUNTPOINT (resolved against
    CWD) is watched: if the run mounted it, it is unmounted again and every
    process left is killed, so that a test can assert that nothing was
    mounted without leaving anything behind."""
    install_handlers()
    argv = [binary or BINARY] + list(args)
    mp = None
    if mountpoint is not None:
        mp = os.path.normpath(os.path.join(cwd or os.getcwd(), mountpoint))
    if _emergency_lock.locked():
        _wait_for_exit()
    run = _Run(argv, mp, cwd)
    _register(run)
    if mp:
        _created.append(mp)
        _record(mnt=mp, config=os.path.abspath(os.path.join(cwd or os.getcwd(), args[0]))
                if args else None)
    mounted = timed_out = False
    try:
        def setup():
            _child_setup()
            if preexec_fn:
                preexec_fn()
        run.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, cwd=cwd, env=env,
                                    preexec_fn=setup)
        run.t0 = _start_time(run.proc.pid)
        out, err = b'', b''
        deadline = time.monotonic() + timeout
        # Watch the mount point while it runs (a foreground daemon blocks).
        while True:
            try:
                out, err = run.proc.communicate(timeout=0.05)
                break
            except subprocess.TimeoutExpired:
                if mp and is_mounted(mp):
                    mounted = True
                if time.monotonic() > deadline:
                    timed_out = True
                    run.emergency()
                    out, err = run.proc.communicate(timeout=10)
                    break
        if mp and is_mounted(mp):
            mounted = True
        status = run.proc.returncode
        run.cleanup()
        return Result(status, out.decode('utf-8', 'replace'), err.decode('utf-8', 'replace'),
                      mounted, timed_out)
    finally:
        _unregister(run)


# ---------------------------------------------------------------- test cases

class TestCase(unittest.TestCase):
    """unittest.TestCase with the assertions the test modules share."""

    def assertErrno(self, expected, fn, *args):
        got = errno_of(fn, *args)
        self.assertEqual(got, expected, '%s%r: expected %s, got %s'
                         % (getattr(fn, '__name__', fn), args, errname(expected),
                            errname(got)))


class TmpDirCase(TestCase):
    """Tests that make their own folders and files (removed at the end)."""

    def tmpdir(self):
        d = new_tmpdir()
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def write(self, d, name, data, mode=None):
        path = os.path.join(d, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb' if isinstance(data, bytes) else 'w') as f:
            f.write(data)
        if mode is not None:
            os.chmod(path, mode)
        return path

    def mount(self, config, files=None, **kw):
        """A started Mount, cleaned up at the end of the test."""
        m = Mount(config, files, **kw)
        self.addCleanup(m.cleanup)
        return m.start()

    def opened(self, path, flags):
        """os.open, closed by self.stop() (an open file keeps the mount busy)
        or at the end of the test."""
        fd = os.open(path, flags)
        fds = self.__dict__.setdefault('_fds', [])
        if not fds:
            self.addCleanup(self.close_fds)
        fds.append(fd)
        return fd

    def close_fds(self):
        for fd in self.__dict__.pop('_fds', []):
            os.close(fd)

    def stop(self, m):
        """Stops M once the descriptors self.opened() are closed."""
        self.close_fds()
        return m.stop()

    def assertNothingMounted(self, r, mnt=None):
        """R, a run_binary Result, ended by itself and mounted nothing (on
        MNT, when given)."""
        self.assertFalse(r.timed_out, r)
        if mnt is not None:
            self.assertFalse(r.mounted, 'the run mounted %s: %r' % (mnt, r))
            self.assertFalse(is_mounted(mnt))


class MountCase(TestCase):
    """Tests that share one mount of CONFIG, FILES and ARGS, started once
    for the class; self.m is the Mount."""
    CONFIG = ''
    FILES = {}
    ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.m = Mount(cls.CONFIG, cls.FILES, args=cls.ARGS)
        cls.addClassCleanup(cls.m.cleanup)
        cls.m.start()

    def p(self, *parts):
        """Path under the mount point: self.p('ro', 'x')."""
        return self.m.path(*parts)

    def read(self, view, name):
        """The whole of VIEW/NAME."""
        return read_file(self.p(view, name))

    def size(self, view, name):
        return os.stat(self.p(view, name)).st_size


class Fd:
    """os.open as a context manager."""

    def __init__(self, path, flags=os.O_RDONLY, mode=0o644):
        self.fd = os.open(path, flags, mode)

    def __enter__(self):
        return self.fd

    def __exit__(self, *exc):
        os.close(self.fd)


# ---------------------------------------------------------------- helpers

def wchans(pid):
    """'tid:wchan ...' of PID's threads: where a hung daemon sleeps."""
    out = []
    try:
        for tid in sorted(os.listdir('/proc/%d/task' % pid), key=int):
            try:
                with open('/proc/%d/task/%s/wchan' % (pid, tid)) as f:
                    out.append('%s:%s' % (tid, f.read().strip() or '-'))
            except OSError:
                pass
    except OSError:
        pass
    return ' '.join(out)


def wait_until(pred, timeout=5.0, step=0.02):
    """Polls PRED until it returns a true value; returns that value or the
    last false one."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


def write_text(path, text):
    """Writes PATH whole at once (a temporary file renamed over it), as
    editors and config managers do: a reload never reads half a file."""
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.rename(tmp, path)


def line_of(text, needle, nth=1):
    """1-based number of the NTH line of TEXT that holds NEEDLE."""
    seen = 0
    for i, line in enumerate(text.split('\n'), 1):
        if needle in line:
            seen += 1
            if seen == nth:
                return i
    raise AssertionError('%r not in %r' % (needle, text))


def pattern(n, seed=0):
    """N deterministic bytes, different for each SEED."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b'%d/%d' % (seed, i)).digest()
        i += 1
    return bytes(out[:n])


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def read_file(path):
    with open(path, 'rb') as f:
        return f.read()


def pread_all(fd, n, off):
    """Up to N bytes of FD at OFF, in as many preads as it takes: fewer only
    at the end of the file."""
    out = bytearray()
    while len(out) < n:
        chunk = os.pread(fd, n - len(out), off + len(out))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def _smaps_lines(pid, path):
    """(perms, line) for each line /proc/PID/smaps shows about a mapping of
    file PATH."""
    perms = None
    with open('/proc/%d/smaps' % pid) as f:
        for line in f:
            m = re.match(r'^[0-9a-f]+-[0-9a-f]+ (\S{4}) \S+ \S+ \S+\s*(.*)$', line)
            if m:
                perms = m.group(1) if m.group(2) == path else None
            elif perms:
                yield perms, line


def smaps_dirty(pid, path):
    """{perms: dirty kB} of PID's mappings of file PATH, from /proc/PID/smaps
    (rw-s is the shared writable mapping behind rw/NAME)."""
    out = {}
    for perms, line in _smaps_lines(pid, path):
        if line.startswith('Shared_Dirty:') or line.startswith('Private_Dirty:'):
            out[perms] = out.get(perms, 0) + int(line.split()[1])
    return out


def smaps_rss(pid, path):
    """kB of PID's mappings of file PATH that are resident (mapped now)."""
    return sum(int(line.split()[1]) for _, line in _smaps_lines(pid, path)
               if line.startswith('Rss:'))


def smaps_vmflags(pid, path):
    """{perms: set of VmFlags} of PID's mappings of file PATH."""
    out = {}
    for perms, line in _smaps_lines(pid, path):
        if line.startswith('VmFlags:'):
            out.setdefault(perms, set()).update(line.split()[1:])
    return out


def thread_count(pid):
    return len(os.listdir('/proc/%d/task' % pid))


def errno_of(fn, *args, **kw):
    """Calls FN; returns 0 on success or the errno of the OSError it raised."""
    try:
        fn(*args, **kw)
        return 0
    except OSError as e:
        return e.errno


def errname(n):
    return errno.errorcode.get(n, str(n)) if n else 'OK'
