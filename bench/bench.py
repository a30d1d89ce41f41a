#!/usr/bin/env python3
"""
bench.py - `make bench`: mmapfs against direct access to its backing files,
libfuse's passthrough_ll and Debian's fuse-overlayfs, in one run.

Every figure is a ratio measured in this run: the machine is shared and
noisy, so each figure is the median of several repetitions, and within a
repetition the things compared run back to back (in an order that rotates
from one repetition to the next). The ratio shown is the median of the
per-repetition ratios; the values shown are the medians of each side.
Every timed pass is preceded by a warm-up (fio's --ramp_time, or an
untimed run of the same operation).

Prints one table and writes it, with the command, the date and the machine,
between the markers of docs/performance.md (the text around them is kept).

Data lives under build/bench/run/ and is removed at the end; every mount
and every process this script starts is unmounted and ended, also on
failure or Ctrl-C. Needs root (mounts, the mounts' readahead in sysfs,
apt-get for fio, libfuse3-dev's examples and fuse-overlayfs when missing).
Only the Python standard library is used.
"""
import argparse
import datetime
import json
import mmap
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PAGE = os.sysconf('SC_PAGE_SIZE')
KiB, MiB, GiB, TiB = 1 << 10, 1 << 20, 1 << 30, 1 << 40
EXAMPLES = '/usr/share/doc/libfuse3-dev/examples'
BEGIN = '<!-- bench:begin (written by bench/bench.py; edit outside the markers) -->'
END = '<!-- bench:end -->'

T0 = time.monotonic()


def log(msg):
    print('[%5.1fs] %s' % (time.monotonic() - T0, msg), file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs) if xs else float('nan')


# ------------------------------------------------------------ formatting

def fmt_bw(bps):
    return '%.0f MiB/s' % (bps / MiB)


def fmt_iops(iops):
    return '%.1fk IOPS' % (iops / 1000)


def fmt_t(sec):
    if sec >= 1:
        return '%.2f s' % sec
    if sec >= 1e-3:
        return '%.1f ms' % (sec * 1e3) if sec < 0.1 else '%.0f ms' % (sec * 1e3)
    return '%.0f µs' % (sec * 1e6)


def fmt_ratio(r):
    if r != r:
        return 'n/a'
    if r >= 10:
        return '%.0fx' % r
    if r >= 0.01:
        return '%.2fx' % r
    return '1/%.0f' % (1 / r)


def fmt_size(n):
    for unit, size in (('GiB', GiB), ('MiB', MiB), ('KiB', KiB)):
        if n >= size:
            return '%.1f %s' % (n / size, unit)
    return '%d B' % n


class Row:
    """One line of the table. ratio: per the figure's own direction (the
    target says which); spread: (min, max) of the per-repetition ratios."""

    def __init__(self, figure, value='', comparison='', ratio=float('nan'), target='',
                 passed=None, spread=None, peer='', note=None):
        self.figure, self.value, self.comparison = figure, value, comparison
        self.ratio, self.target, self.passed = ratio, target, passed
        self.spread, self.peer, self.note = spread, peer, note

    def cells(self):
        result = {True: 'PASS', False: 'MISS', None: 'info'}[self.passed]
        spread = ('%s–%s' % (fmt_ratio(self.spread[0]), fmt_ratio(self.spread[1]))
                  if self.spread else '')
        return [self.figure, self.value, self.comparison, fmt_ratio(self.ratio),
                spread, self.target, result, self.peer]


HEADER = ['figure', 'mmapfs', 'comparison (what: value)', 'ratio', 'ratio range',
          'target', 'result', 'peer: passthrough_ll (ratio)']


def table(rows):
    lines = ['| ' + ' | '.join(HEADER) + ' |', '|' + '---|' * len(HEADER)]
    for r in rows:
        lines.append('| ' + ' | '.join(c.replace('|', '/') for c in r.cells()) + ' |')
    return '\n'.join(lines)


def paired(a, b, fn):
    """Per-repetition ratios fn(a[i], b[i]): their median and range."""
    rs = [fn(x, y) for x, y in zip(a, b)]
    return median(rs), (min(rs), max(rs)) if rs else None


# ------------------------------------------------------------ mounts

def mountpoints():
    out = set()
    with open('/proc/self/mountinfo') as f:
        for line in f:
            mp = line.split()[4]
            out.add(re.sub(r'\\([0-7]{3})', lambda m: chr(int(m.group(1), 8)), mp))
    return out


class Mounts:
    """Every mount and process this run started; stop_all() ends them."""

    def __init__(self, logdir):
        self.logdir = logdir
        self.live = []          # (mountpoint, Popen or None)
        self.started = []       # every Popen, for the final check

    def start(self, argv, mnt, name, timeout=15.0):
        """Runs ARGV in the foreground (it must mount MNT) and waits for
        the mount."""
        mnt = os.path.realpath(mnt)
        os.makedirs(mnt, exist_ok=True)
        errlog = open(os.path.join(self.logdir, name + '.log'), 'wb')
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=errlog,
                                stderr=subprocess.STDOUT)
        errlog.close()
        self.started.append(proc)
        self.live.append((mnt, proc))
        end = time.monotonic() + timeout
        while mnt not in mountpoints():
            if proc.poll() is not None:
                raise RuntimeError('%s exited %s before mounting %s: %s' % (
                    name, proc.returncode, mnt, self.tail(name)))
            if time.monotonic() > end:
                raise RuntimeError('%s did not mount %s in %.0f s' % (name, mnt, timeout))
            time.sleep(0.01)
        os.stat(mnt)
        return proc

    def adopt(self, mnt):
        """A mount made by a command that daemonized (its process is found
        at stop by its mount point in its command line)."""
        self.live.append((os.path.realpath(mnt), None))

    def tail(self, name):
        try:
            with open(os.path.join(self.logdir, name + '.log'), 'rb') as f:
                return f.read()[-600:].decode(errors='replace')
        except OSError:
            return ''

    def stop(self, mnt):
        mnt = os.path.realpath(mnt)
        for i, (m, proc) in enumerate(self.live):
            if m == mnt:
                del self.live[i]
                unmount(m, proc)
                return

    def stop_all(self):
        while self.live:
            m, proc = self.live.pop()
            try:
                unmount(m, proc)
            except Exception as e:  # keep going: everything must be ended
                log('cleanup of %s: %s' % (m, e))
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def own_daemons(mnt):
    """PIDs of daemonized processes whose command line names MNT (the ones
    this run started: the mount points are this run's own folders)."""
    pids = []
    for d in os.listdir('/proc'):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open('/proc/%s/cmdline' % d, 'rb') as f:
                argv = f.read().split(b'\0')
        except OSError:
            continue
        if mnt.encode() in argv:     # exact: never resolve others' paths
            pids.append(int(d))
    return pids


def alive(pid):
    """Whether PID runs; a zombie does not (a daemonized process is reaped
    by init, which may take its time)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rpartition(')')[2].split()[0] not in ('Z', 'X')
    except OSError:
        return False


def unmount(mnt, proc=None, timeout=10.0):
    t0 = time.monotonic()
    try:
        _unmount(mnt, proc, timeout)
    finally:
        if time.monotonic() - t0 > 1:
            log('unmounting %s and ending its daemon took %.1f s' % (
                mnt, time.monotonic() - t0))


def _unmount(mnt, proc, timeout):
    daemons = [] if proc else own_daemons(mnt)
    for attempt in range(20):
        if mnt not in mountpoints():
            break
        r = subprocess.run(['fusermount3', '-u', mnt], capture_output=True)
        if r.returncode == 0:
            break
        time.sleep(0.1)
    else:
        subprocess.run(['fusermount3', '-uz', mnt], capture_output=True)
    end = time.monotonic() + timeout
    if proc is not None:
        try:
            proc.wait(timeout=max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return
    for pid in daemons:
        while time.monotonic() < end and alive(pid):
            time.sleep(0.01)
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# ------------------------------------------------------------ packages

def apt_install(package, command):
    """COMMAND's path (None: just install PACKAGE), installing Debian's
    PACKAGE with apt-get when it is missing."""
    if command and shutil.which(command):
        return shutil.which(command)
    log('installing %s with apt-get' % package)
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    cmd = ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', package]
    if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
        subprocess.run(['apt-get', 'update', '-qq'], env=env, capture_output=True)
        subprocess.run(cmd, env=env, capture_output=True)
    return shutil.which(command) if command else None


# ------------------------------------------------------------ fio

def fio(filename, rw, bs, *extra, runtime_ms=None, ramp_ms=None):
    """One fio pass; returns (bytes/s, IOPS) of its reads or its writes."""
    cmd = ['fio', '--name=bench', '--filename=' + filename, '--rw=' + rw, '--bs=' + bs,
           '--ioengine=psync', '--group_reporting', '--fallocate=none', '--allow_file_create=0',
           '--output-format=json'] + list(extra)
    if runtime_ms:
        cmd += ['--time_based', '--runtime=%dms' % runtime_ms]
    if ramp_ms:
        cmd += ['--ramp_time=%dms' % ramp_ms]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError('fio failed on %s: %s' % (filename, (r.stderr or r.stdout)[-400:]))
    out = r.stdout
    job = json.loads(out[out.index('{'):])['jobs'][0]
    side = job['write'] if 'write' in rw else job['read']
    if side['io_bytes'] == 0:
        raise RuntimeError('fio moved no data on %s: %s' % (filename, r.stderr[-400:]))
    return side['bw_bytes'], side['iops']


# ------------------------------------------------------------ the bench

class Bench:
    def __init__(self, args):
        self.args = args
        self.binary = os.path.abspath(args.binary)
        self.work = os.path.abspath(args.workdir)
        self.data = os.path.join(self.work, 'data')      # backing files
        self.plain = os.path.join(self.work, 'plain')    # in-process comparisons
        self.mnt = os.path.join(self.work, 'mnt')
        self.pt_bin = os.path.join(os.path.dirname(self.work), 'passthrough_ll')
        self.reps = args.reps
        self.run_ms = args.runtime_ms
        self.ramp_ms = args.ramp_ms
        self.rows = []
        self.notes = []
        self.mounts = None
        self.block = os.urandom(MiB)
        self.quick = args.quick
        # Quick mode (--quick or BENCH_QUICK=1): every row runs, once, on
        # small sizes; its figures check the rows, not the product.
        self.big = 512 * MiB if self.quick else 4 * GiB
        self.cow_seq = 128 * MiB if self.quick else GiB
        self.sql_rows = 5000 if self.quick else 50000

    # ---- setup

    def prepare(self):
        if os.geteuid() != 0:
            sys.exit('bench.py: run as root (mounts, sysfs readahead, apt-get)')
        if not os.access(self.binary, os.X_OK):
            sys.exit('bench.py: no binary at %s (make all)' % self.binary)
        if os.path.isdir(self.work):
            for mp in sorted(mountpoints(), reverse=True):
                if mp.startswith(self.work + '/'):
                    log('stale mount from an earlier run: %s' % mp)
                    unmount(mp)
            shutil.rmtree(self.work)
        for d in (self.data, self.plain, self.mnt, os.path.join(self.work, 'logs')):
            os.makedirs(d)
        self.mounts = Mounts(os.path.join(self.work, 'logs'))
        if not apt_install('fio', 'fio'):
            sys.exit('bench.py: fio is missing and apt-get could not install it')
        if not os.path.exists(os.path.join(EXAMPLES, 'passthrough_ll.c')):
            apt_install('libfuse3-dev', None)
        self.build_passthrough()
        self.sqlite3 = apt_install('sqlite3', 'sqlite3')
        if not self.sqlite3:
            sys.exit('bench.py: sqlite3 is missing and apt-get could not install it')
        self.overlayfs = apt_install('fuse-overlayfs', 'fuse-overlayfs')
        if not self.overlayfs:
            self.notes.append('fuse-overlayfs could not be installed: no cow peer.')

    def build_passthrough(self):
        src = os.path.join(EXAMPLES, 'passthrough_ll.c')
        if (os.path.exists(self.pt_bin) and
                os.path.getmtime(self.pt_bin) >= os.path.getmtime(src)):
            return
        flags = subprocess.run(['pkg-config', '--cflags', '--libs', 'fuse3'],
                               capture_output=True, text=True, check=True).stdout.split()
        log('building %s' % self.pt_bin)
        subprocess.run(['cc', '-O2', '-I' + EXAMPLES, '-o', self.pt_bin, src] + flags,
                       check=True)

    def write_file(self, path, size, sparse=False):
        with open(path, 'wb') as f:
            if sparse:
                f.truncate(size)
            else:
                for _ in range(size // MiB):
                    f.write(self.block)
            f.flush()
            os.fsync(f.fileno())

    def make_data(self):
        log('writing the data files')
        d, p = self.data, self.plain
        self.write_file(os.path.join(d, 'read.bin'), GiB)
        self.write_file(os.path.join(d, 'write.bin'), 512 * MiB)
        # The same bytes written 4 KiB at a time: its page cache is made of
        # small folios (docs/performance.md, "Warm reads").
        with open(os.path.join(d, 'read4k.bin'), 'wb') as f:
            for _ in range(GiB // MiB):
                for off in range(0, MiB, 4 * KiB):
                    f.write(self.block[off:off + 4 * KiB])
            f.flush()
            os.fsync(f.fileno())
        self.write_file(os.path.join(d, 'move.bin'), 512 * MiB)
        self.write_file(os.path.join(p, 'move.bin'), 512 * MiB)
        self.write_file(os.path.join(d, 'flush.bin'), 256 * MiB)
        self.write_file(os.path.join(p, 'flush.bin'), 256 * MiB)
        self.write_file(os.path.join(d, 'resize.bin'), GiB, sparse=True)
        self.write_file(os.path.join(p, 'resize.bin'), GiB, sparse=True)
        self.write_file(os.path.join(d, 'big.bin'), self.big, sparse=True)
        self.write_file(os.path.join(d, 'cowseq.bin'), GiB)
        self.make_sqlite()
        with open(os.path.join(self.work, 'main.ini'), 'w') as f:
            for name in ('read', 'write', 'move', 'flush', 'resize', 'big', 'cowseq'):
                f.write('[%s]\npath = data/%s.bin\n\n' % (name, name))
            f.write('[sql]\npath = data/sql.db\n\n[sqlw]\npath = data/sqlw.db\n\n')
            # The same file again, for the passes that drop their view's
            # cache: ro/read keeps its pages for the warm passes.
            f.write('[cold]\npath = data/read.bin\n')
        with open(os.path.join(self.work, 'read.ini'), 'w') as f:
            f.write('[read]\npath = data/read.bin\n[cold]\npath = data/read.bin\n')
        # mmapfs trusts the backing file's times for keep_cache only once
        # they are older than a tick (src/fs.c): let them age.
        time.sleep(0.2)

    def mount_all(self):
        m = self.mounts
        self.m = os.path.join(self.mnt, 'mmapfs')
        self.m128 = os.path.join(self.mnt, 'mmapfs-ra128k')
        self.pt = os.path.join(self.mnt, 'passthrough_ll')
        # -o kernel_cache: the promise that nobody else writes the backing
        # files, under which opens keep the kernel's cached pages (without
        # it every open drops them: close-to-open). Older binaries lack it.
        opts = ['-o', 'kernel_cache']
        try:
            self.daemon = m.start([self.binary, os.path.join(self.work, 'main.ini'), self.m,
                                   '-f'] + opts, self.m, 'mmapfs')
        except RuntimeError as e:
            log('mounting with -o kernel_cache failed, mounting without: %s' % e)
            self.notes.append('This binary refused -o kernel_cache: mounted without it.')
            opts = []
            self.daemon = m.start([self.binary, os.path.join(self.work, 'main.ini'), self.m,
                                   '-f'], self.m, 'mmapfs')
        self.mount_opts = ' '.join(opts)
        m.start([self.binary, os.path.join(self.work, 'read.ini'), self.m128, '-f',
                 '-o', 'readahead=128K'] + opts, self.m128, 'mmapfs-ra128k')
        m.start([self.pt_bin, '-f', '-o', 'source=' + self.data, '-o', 'cache=always',
                 self.pt], self.pt, 'passthrough_ll')
        self.readahead = {}
        for label, mp in (('mmapfs', self.m), ('mmapfs-ra128k', self.m128),
                          ('passthrough_ll', self.pt)):
            st = os.stat(mp)
            try:
                with open('/sys/class/bdi/%d:%d/read_ahead_kb' % (
                        os.major(st.st_dev), os.minor(st.st_dev))) as f:
                    self.readahead[label] = int(f.read())
            except OSError:
                self.readahead[label] = None
        self.notes.append('Readahead of the mounts (KiB, from sysfs): ' + ', '.join(
            '%s %s' % kv for kv in self.readahead.items()) + '.')

    def cleanup(self):
        if self.mounts:
            self.mounts.stop_all()
        if not self.args.keep_data and os.path.isdir(self.work):
            for mp in mountpoints():
                if mp.startswith(self.work + '/'):
                    log('still mounted, not removing data: %s' % mp)
                    return
            shutil.rmtree(self.work, ignore_errors=True)

    # ---- helpers

    def rotate(self, items, rep):
        k = rep % len(items)
        return items[k:] + items[:k]

    def fio_reps(self, label, targets, runtime_ms=None):
        """targets: {key: (filename, rw, bs, extra args, mode)}; each repetition
        runs every target once, back to back, in a rotating order. mode True:
        time-based, after fio's ramp as the warm-up; 'ramp': one pass of the
        file, the ramp's part of it untimed."""
        out = {k: [] for k in targets}
        keys = list(targets)
        for rep in range(self.reps):
            log('%s: repetition %d/%d' % (label, rep + 1, self.reps))
            for k in self.rotate(keys, rep):
                if k == 'mm_warm':
                    log('ro/read reads before the pass: %d' % self.status('read')['reads'])
                filename, rw, bs, extra, mode = targets[k]
                if mode is True:
                    v = fio(filename, rw, bs, *extra, runtime_ms=runtime_ms or self.run_ms,
                            ramp_ms=self.ramp_ms)
                else:
                    v = fio(filename, rw, bs, *extra, ramp_ms=self.ramp_ms)
                out[k].append(v)
        return out

    def peer_cell(self, values, base, idx=0):
        if not values:
            return ''
        r, _ = paired([v[idx] for v in values], [v[idx] for v in base], lambda a, b: a / b)
        unit = fmt_bw if idx == 0 else fmt_iops
        return '%s (%s)' % (unit(median([v[idx] for v in values])), fmt_ratio(r))

    def ratio_row(self, figure, mine, base, what, target, peer=None, idx=0, note=None,
                  peer_target=1.0):
        """A row of MINE against BASE (WHAT) with TARGET, a ratio to BASE or
        None; with PEER (passthrough_ll in the same repetitions), the row
        passes only if MINE is also PEER_TARGET times PEER or more (issue 14:
        every row passthrough_ll runs, mmapfs >= passthrough_ll)."""
        r, spread = paired([v[idx] for v in mine], [v[idx] for v in base], lambda a, b: a / b)
        unit = fmt_bw if idx == 0 else fmt_iops
        goals, passed = [], True
        if target is not None:
            goals.append('>= %.2fx' % target)
            passed = r >= target
        if peer:
            rp, _ = paired([v[idx] for v in mine], [v[idx] for v in peer], lambda a, b: a / b)
            goals.append('>= %.2fx passthrough_ll (%s)' % (peer_target, fmt_ratio(rp)))
            passed = passed and rp >= peer_target
        row = Row(figure, unit(median([v[idx] for v in mine])),
                  '%s: %s' % (what, unit(median([v[idx] for v in base]))), r,
                  ' and '.join(goals), passed, spread,
                  self.peer_cell(peer, base, idx) if peer else '', note)
        self.rows.append(row)
        return row

    # ---- rows

    def reads(self):
        """Sequential reads, warm and daemon-served, and the readahead
        comparison, against warm buffered reads of the backing file."""
        direct = os.path.join(self.data, 'read.bin')
        ro = os.path.join(self.m, 'ro', 'read')
        ro128 = os.path.join(self.m128, 'ro', 'read')
        cold = os.path.join(self.m, 'ro', 'cold')
        cold128 = os.path.join(self.m128, 'ro', 'cold')
        pt = os.path.join(self.pt, 'read.bin')
        direct4k = os.path.join(self.data, 'read4k.bin')
        for f in (direct, ro, pt, direct4k):    # fill the page caches once
            with open(f, 'rb') as fh:
                while fh.read(8 * MiB):
                    pass
        warm = ['--invalidate=0']
        odirect = ['--direct=1']
        drop = ['--invalidate=1']   # fadvise(DONTNEED) of the FUSE file only
        # Two rounds: an O_DIRECT read through a FUSE file drops that
        # file's cached pages, so no daemon-served pass may come between
        # the warm ones.
        t = {
            'direct': (direct, 'read', '1M', warm, True),
            'mm_warm': (ro, 'read', '1M', warm, True),
            'pt_warm': (pt, 'read', '1M', warm, True),
            'direct4k': (direct4k, 'read', '1M', warm, True),
        }
        before = self.status('read')['reads']
        log('daemon-served reads of ro/read after the fill: %d' % before)
        v = self.fio_reps('sequential reads, warm', t)
        self.notes.append('Read requests the daemon served during the warm passes of '
                          'ro/read: %d (0: every byte came from the kernel\'s cache).'
                          % (self.status('read')['reads'] - before))
        t = {
            'direct': (direct, 'read', '1M', warm, True),
            'mm_odirect': (ro, 'read', '1M', odirect, True),
            'pt_odirect': (pt, 'read', '1M', odirect, True),
            'mm128_odirect': (ro128, 'read', '1M', odirect, True),
            'mm_cold': (cold, 'read', '1M', drop, 'ramp'),
            'mm128_cold': (cold128, 'read', '1M', drop, 'ramp'),
        }
        v2 = self.fio_reps('sequential reads, daemon-served', t)
        self.ratio_row('ro/NAME sequential read 1 MiB, warm (page cache kept across opens: '
                       '%s)' % (self.mount_opts or 'no -o kernel_cache'),
                       v['mm_warm'], v['direct'], 'direct, warm', 0.95, peer=v['pt_warm'])
        r, spread = paired([x[0] for x in v['mm_warm']], [x[0] for x in v['direct4k']],
                           lambda a, b: a / b)
        self.rows.append(Row('info: the same warm passes of ro/NAME against a backing file '
                             'whose cache was filled by 4 KiB writes (small folios)',
                             fmt_bw(median([x[0] for x in v['mm_warm']])),
                             'direct, warm, written 4 KiB at a time: %s' % fmt_bw(
                                 median([x[0] for x in v['direct4k']])), r, '—', None, spread))
        v = v2
        self.ratio_row('ro/NAME sequential read 1 MiB, daemon-served (O_DIRECT)',
                       v['mm_odirect'], v['direct'], 'direct, warm', 0.30,
                       peer=v['pt_odirect'])
        for key, figure in (
                ('mm_cold', 'info: ro/NAME sequential read, FUSE cache dropped, buffered '
                            '(readahead requests), -o readahead=1M (default)'),
                ('mm128_cold', 'info: the same, -o readahead=128K'),
                ('mm128_odirect', 'info: ro/NAME daemon-served (O_DIRECT), '
                                  '-o readahead=128K')):
            r, spread = paired([x[0] for x in v[key]], [x[0] for x in v['direct']],
                               lambda a, b: a / b)
            self.rows.append(Row(figure, fmt_bw(median([x[0] for x in v[key]])),
                                 'direct, warm: %s' % fmt_bw(median([x[0] for x in v['direct']])),
                                 r, '—', None, spread))
        # What a plain `fio` run (its defaults) measures: --invalidate=1
        # drops the page cache of the file named before each pass. For
        # direct that is the backing file (its reads go to the disk); for
        # the view only the FUSE file's cache, the daemon's mapping keeps
        # the backing pages (a mapped page is not dropped): daemon-served.
        t = {
            'direct_inv': (direct, 'read', '1M', ['--invalidate=1'], 'ramp'),
            'mm_inv': (ro, 'read', '1M', ['--invalidate=1'], 'ramp'),
        }
        v3 = self.fio_reps('sequential reads, fio defaults (cache dropped)', t)
        r, spread = paired([x[0] for x in v3['mm_inv']], [x[0] for x in v3['direct_inv']],
                           lambda a, b: a / b)
        self.rows.append(Row('info: ro/NAME sequential read 1 MiB with fio\'s default '
                             '--invalidate=1 (each side\'s cache dropped before the pass)',
                             fmt_bw(median([x[0] for x in v3['mm_inv']])),
                             'direct, its page cache dropped: %s' % fmt_bw(
                                 median([x[0] for x in v3['direct_inv']])),
                             r, '—', None, spread))
        for f in (direct, ro):                  # warm again for the rows after
            with open(f, 'rb') as fh:
                while fh.read(8 * MiB):
                    pass
        self.notes.append('passthrough_ll opens its backing file with the caller\'s flags: '
                          'under O_DIRECT its reads go to the disk, not the page cache.')

    def random_reads(self):
        direct = os.path.join(self.data, 'read.bin')
        common = ['--numjobs=2', '--norandommap', '--randrepeat=0']
        t = {
            'direct': (direct, 'randread', '4k', common + ['--invalidate=0'], True),
            'mm': (os.path.join(self.m, 'ro', 'read'), 'randread', '4k',
                   common + ['--direct=1'], True),
            'pt': (os.path.join(self.pt, 'read.bin'), 'randread', '4k',
                   common + ['--direct=1'], True),
        }
        v = self.fio_reps('random 4 KiB reads', t, runtime_ms=self.run_ms * 3 // 2)
        self.ratio_row('ro/NAME random 4 KiB reads, daemon-served (O_DIRECT), 2 jobs',
                       v['mm'], v['direct'], 'direct, warm, 2 jobs', 0.18, peer=v['pt'], idx=1)

    def two_readers(self):
        ro = os.path.join(self.m, 'ro', 'read')
        one = ['--direct=1', '--size=512M', '--numjobs=1']
        two = ['--direct=1', '--size=512M', '--numjobs=2', '--offset_increment=512M']
        direct = os.path.join(self.data, 'read.bin')
        warm = ['--invalidate=0', '--size=512M']
        t = {
            'mm1': (ro, 'read', '1M', one, True),
            'mm2': (ro, 'read', '1M', two, True),
            'd1': (direct, 'read', '1M', warm + ['--numjobs=1'], True),
            'd2': (direct, 'read', '1M', warm + ['--numjobs=2', '--offset_increment=512M'],
                   True),
        }
        v = self.fio_reps('two readers', t, runtime_ms=self.run_ms * 3 // 2)
        row = self.ratio_row('ro/NAME two readers on two cores, daemon-served (O_DIRECT 1 MiB, '
                             'each its own half)', v['mm2'], v['mm1'], 'one reader', 1.6)
        r, _ = paired([x[0] for x in v['d2']], [x[0] for x in v['d1']], lambda a, b: a / b)
        row.comparison += ' (the machine: direct warm reads scale %s in the same passes)' % (
            fmt_ratio(r))


    def writes(self):
        """Two rounds of repetitions, each running every target back to back
        in a rotating order: 1 MiB writes; then 1 MiB writes each followed
        by fsync, and, right after them on the same target (its warm-up),
        128 MiB of writes with one fsync at the end."""
        files = {'direct': os.path.join(self.data, 'write.bin'),
                 'mm': os.path.join(self.m, 'rw', 'write'),
                 'pt': os.path.join(self.pt, 'write.bin')}
        base = ['--invalidate=0', '--size=512M']
        t = {k: (f, 'write', '1M', base, True) for k, f in files.items()}
        w = self.fio_reps('sequential writes', t)
        self.ratio_row('rw/NAME sequential 1 MiB writes', w['mm'], w['direct'],
                       'direct (buffered)', 0.30, peer=w['pt'])
        rnd = ['--invalidate=0', '--size=512M', '--numjobs=1', '--norandommap',
               '--randrepeat=0']
        t = {k: (f, 'randwrite', '4k', rnd, True) for k, f in files.items()}
        w = self.fio_reps('random 4 KiB writes', t)
        self.ratio_row('rw/NAME random 4 KiB writes (psync, 1 job)', w['mm'], w['direct'],
                       'direct (buffered)', 0.15, peer=w['pt'], idx=1, peer_target=1.2)
        sync = {k: [] for k in files}
        end = {k: [] for k in files}
        for rep in range(self.reps):
            log('write + fsync: repetition %d/%d' % (rep + 1, self.reps))
            for k in self.rotate(list(files), rep):
                sync[k].append(fio(files[k], 'write', '1M', *base, '--fsync=1',
                                   runtime_ms=self.run_ms, ramp_ms=self.ramp_ms))
                end[k].append(fio(files[k], 'write', '1M', '--invalidate=0', '--size=128M',
                                  '--end_fsync=1'))
        self.ratio_row('rw/NAME write + fsync (fsync after every 1 MiB write)',
                       sync['mm'], sync['direct'], 'direct', None, peer=sync['pt'],
                       peer_target=1.5)
        self.ratio_row('rw/NAME 128 MiB of 1 MiB writes, then one fsync (--end_fsync=1)',
                       end['mm'], end['direct'], 'direct', None, peer=end['pt'],
                       peer_target=1.5)

    def cow_first_write(self):
        log('cow: first writes')
        mnt = os.path.join(self.mnt, 'cow')
        cfg = os.path.join(self.work, 'cow.ini')
        with open(cfg, 'w') as f:
            f.write('[big]\npath = data/read.bin\n')
        self.mounts.start([self.binary, cfg, mnt, '-f'], mnt, 'mmapfs-cow')
        times = []
        try:
            fd = os.open(os.path.join(mnt, 'cow', 'big'), os.O_RDWR)
            try:
                page = b'c' * 4096
                os.pwrite(fd, page, 0)                  # warm-up: another page
                stride = GiB // 64
                for i in range(1, 51):
                    off = i * stride + (i % 7) * PAGE
                    t = time.perf_counter()
                    os.pwrite(fd, page, off)
                    times.append(time.perf_counter() - t)
            finally:
                os.close(fd)
            with open(os.path.join(mnt, 'ctl', 'big', 'status')) as f:
                priv = re.search(r'cow_private_bytes: (\d+)', f.read()).group(1)
        finally:
            self.mounts.stop(mnt)
        mine = median(times)
        over = self.overlay_copy_up() if self.overlayfs else []
        ov = median(over) if over else float('nan')
        self.rows.append(Row(
            'cow/NAME first 4 KiB write into a 1 GiB entry (median of 50 pages)',
            fmt_t(mine),
            'fuse-overlayfs, open O_RDWR + 4 KiB write (copy-up): %s' % (
                fmt_t(ov) if over else 'n/a'),
            mine / ov if over else float('nan'), '<= 0.5 ms', mine <= 0.5e-3,
            (min(times) / ov, max(times) / ov) if over else None))
        self.notes.append('cow: the daemon held %s private bytes after the 51 writes '
                          '(pages, not a copy of the file).' % priv)

    def overlay_copy_up(self):
        base = os.path.join(self.work, 'overlay')
        lower = os.path.join(base, 'lower')
        os.makedirs(lower)
        os.link(os.path.join(self.data, 'read.bin'), os.path.join(lower, 'big'))
        out = []
        for rep in range(4):                    # the first one is the warm-up
            log('fuse-overlayfs copy-up %d/4' % (rep + 1))
            upper, work, merged = (os.path.join(base, d + str(rep))
                                   for d in ('upper', 'work', 'merged'))
            for d in (upper, work, merged):
                os.makedirs(d)
            self.mounts.start([self.overlayfs, '-f', '-o', 'lowerdir=%s,upperdir=%s,workdir=%s'
                               % (lower, upper, work), merged], merged, 'fuse-overlayfs')
            try:
                path = os.path.join(merged, 'big')
                with open(path, 'rb') as f:     # warm: lookup, open, a read
                    f.read(4096)
                t = time.perf_counter()
                fd = os.open(path, os.O_RDWR)
                os.pwrite(fd, b'o' * 4096, 512 * MiB)
                dt = time.perf_counter() - t
                os.close(fd)
            finally:
                self.mounts.stop(merged)
            shutil.rmtree(upper)
            shutil.rmtree(work, ignore_errors=True)
            if rep:
                out.append(dt)
        shutil.rmtree(base, ignore_errors=True)
        return out

    def cow_sequential(self):
        """1 MiB writes into unwritten pages of cow/NAME of a 1 GiB entry
        (ctl reset before each pass), against a memcpy into a fresh
        MAP_PRIVATE mapping of the same file in this process."""
        log('cow: sequential 1 MiB writes into unwritten pages')
        path = os.path.join(self.m, 'cow', 'cowseq')
        backing = os.path.join(self.data, 'cowseq.bin')
        with open(backing, 'rb') as f:              # the file's pages: warm
            while f.read(8 * MiB):
                pass
        size = self.cow_seq
        mine, plain = [], []
        for rep in range(self.reps + 1):            # the first one is the warm-up
            for who in self.rotate(['mm', 'plain'], rep):
                if who == 'mm':
                    self.ctl('cowseq', 'reset', '\n')
                    fd = os.open(path, os.O_WRONLY)
                    try:
                        t = time.perf_counter()
                        for off in range(0, size, MiB):
                            os.pwrite(fd, self.block, off)
                        dt = time.perf_counter() - t
                    finally:
                        os.close(fd)
                    self.ctl('cowseq', 'reset', '\n')
                else:
                    fd = os.open(backing, os.O_RDONLY)
                    try:
                        mm = mmap.mmap(fd, GiB, flags=mmap.MAP_PRIVATE,
                                       prot=mmap.PROT_READ | mmap.PROT_WRITE)
                        t = time.perf_counter()
                        for off in range(0, size, MiB):
                            mm[off:off + MiB] = self.block
                        dt = time.perf_counter() - t
                        mm.close()
                    finally:
                        os.close(fd)
                if rep:
                    (mine if who == 'mm' else plain).append(size / dt)
        r, spread = paired(mine, plain, lambda a, b: a / b)
        self.rows.append(Row('cow/NAME sequential 1 MiB writes into unwritten pages of a '
                             '1 GiB entry (%s written)' % fmt_size(size), fmt_bw(median(mine)),
                             'memcpy into a fresh MAP_PRIVATE mapping of the file, in-process: '
                             '%s' % fmt_bw(median(plain)), r, '>= 0.50x', r >= 0.5, spread))

    def make_sqlite(self):
        """The SQLite fixture (about 50 MB; 5 MB in quick mode): one table of
        rows with a 1 KB payload and an index."""
        log('building the SQLite fixture')
        db = os.path.join(self.data, 'sql.db')
        script = ('PRAGMA page_size = 4096;\n'
                  'CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, payload BLOB);\n'
                  'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n '
                  'WHERE i < %d)\n'
                  'INSERT INTO t SELECT i, (i * 7919) %% 1000, randomblob(1000) FROM n;\n'
                  'CREATE INDEX t_k ON t (k);\n' % self.sql_rows)
        subprocess.run([self.sqlite3, '-batch', '-bail', db], input=script, text=True,
                       check=True, capture_output=True)
        for copy in (os.path.join(self.data, 'sqlw.db'), os.path.join(self.plain, 'sql.db'),
                     os.path.join(self.plain, 'sqlw.db')):
            shutil.copyfile(db, copy)
        for f in (db, os.path.join(self.data, 'sqlw.db')):
            fd = os.open(f, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
        self.sql_size = os.path.getsize(db)

    def sql_run(self, db, script, readonly=False):
        argv = [self.sqlite3, '-batch', '-bail'] + (['-readonly'] if readonly else []) + [db]
        t = time.perf_counter()
        r = subprocess.run(argv, input=script, text=True, capture_output=True)
        dt = time.perf_counter() - t
        if r.returncode != 0:
            raise RuntimeError('sqlite3 %s: %s' % (db, (r.stderr or r.stdout)[-300:]))
        return dt

    def sqlite(self):
        """Real client: Debian's sqlite3, a read-heavy query on ro/ and a
        transaction of 10,000 INSERTs on cow/ and rw/ (journal_mode=MEMORY:
        no journal file can be made next to a view), against the same on a
        plain copy of the file. Each figure: the sqlite3 process, start to
        exit, the ratio mmapfs time / plain time."""
        log('sqlite3')
        read_sql = ('SELECT k, count(*), sum(length(payload)) FROM t GROUP BY k '
                    'ORDER BY 2 DESC LIMIT 3;\n'
                    'SELECT count(*) FROM t WHERE k BETWEEN 100 AND 300 AND '
                    'substr(payload, 1, 1) < x\'80\';\n') * 3
        ins = ('PRAGMA journal_mode = MEMORY;\nBEGIN;\n' +
               ''.join("INSERT INTO t (k, payload) VALUES (%d, randomblob(200));\n"
                       % (i % 1000) for i in range(10000)) + 'COMMIT;\n')
        cases = [
            ('read', 'ro/NAME: a read-heavy query (GROUP BY over every row, an index range)',
             os.path.join(self.m, 'ro', 'sql'), os.path.join(self.plain, 'sql.db'),
             read_sql, True, 1.25),
            ('cow', 'cow/NAME: a transaction of 10,000 INSERTs (journal_mode=MEMORY)',
             os.path.join(self.m, 'cow', 'sql'), os.path.join(self.plain, 'sql.db'),
             ins, False, 1.8),
            ('rw', 'rw/NAME: a transaction of 10,000 INSERTs (journal_mode=MEMORY)',
             os.path.join(self.m, 'rw', 'sqlw'), os.path.join(self.plain, 'sqlw.db'),
             ins, False, 1.8),
        ]
        for key, figure, mine_db, plain_db, script, ro, target in cases:
            mine, plain = [], []
            for rep in range(self.reps + 1):        # the first one is the warm-up
                for who in self.rotate(['mm', 'plain'], rep):
                    if who == 'mm':
                        dt = self.sql_run(mine_db, script, ro)
                        if key == 'cow':
                            self.ctl('sql', 'reset', '\n')
                    else:
                        dt = self.sql_run(plain_db, script, ro)
                    if rep:
                        (mine if who == 'mm' else plain).append(dt)
            r, spread = paired(mine, plain, lambda a, b: a / b)
            self.rows.append(Row('SQLite %s (%s fixture)' % (figure, fmt_size(self.sql_size)),
                                 fmt_t(median(mine)),
                                 'the same on the plain file: %s' % fmt_t(median(plain)), r,
                                 '<= %.2fx' % target, r <= target, spread))

    def fork_commit(self):
        """ctl/NAME/fork of a cow view with 1 MiB written over a 1 GiB file,
        and commit of 1 MiB of changes; only where the binary has them."""
        ctl = os.path.join(self.m, 'ctl', 'cowseq')
        have = {c: os.path.exists(os.path.join(ctl, c)) for c in ('fork', 'commit')}
        for c, figure in (('fork', 'ctl fork of a cow view with 1 MiB written over a 1 GiB file'),
                          ('commit', 'ctl commit of 1 MiB of changes (1 GiB file)')):
            if not have[c]:
                self.rows.append(Row(figure, 'not built', 'ctl/NAME/%s is absent' % c))
                continue
            times, direct = [], []
            for rep in range(self.reps + 1):
                self.ctl('cowseq', 'reset', '\n')
                fd = os.open(os.path.join(self.m, 'cow', 'cowseq'), os.O_WRONLY)
                try:
                    os.pwrite(fd, self.block, 64 * MiB)
                finally:
                    os.close(fd)
                dt = self.ctl('cowseq', c, ('f%d\n' % rep) if c == 'fork' else '\n')
                if c == 'fork':
                    os.unlink(os.path.join(self.m, 'cow', 'cowseq@f%d' % rep))
                if rep:
                    times.append(dt)
                    if c == 'commit':
                        direct.append(self.pwrite_fsync(os.path.join(self.data, 'cowseq.bin'),
                                                        64 * MiB))
            self.ctl('cowseq', 'reset', '\n')
            m = median(times)
            if c == 'fork':
                self.rows.append(Row(figure + ' (median of %d)' % len(times), fmt_t(m),
                                     'target 1 ms', m / 1e-3, '<= 1 ms', m <= 1e-3))
            else:
                r, spread = paired(times, direct, lambda a, b: a / b)
                self.rows.append(Row(figure + ' (median of %d)' % len(times), fmt_t(m),
                                     'pwrite + fsync of the same 1 MiB: %s'
                                     % fmt_t(median(direct)), r, '<= 1.50x', r <= 1.5, spread))

    def pwrite_fsync(self, path, off):
        """Seconds for a pwrite of the bench's 1 MiB block at OFF of PATH and
        an fsync: what a commit of 1 MiB of changes has to do at least."""
        fd = os.open(path, os.O_WRONLY)
        try:
            t = time.perf_counter()
            os.pwrite(fd, self.block, off)
            os.fsync(fd)
            return time.perf_counter() - t
        finally:
            os.close(fd)

    def status(self, name):
        with open(os.path.join(self.m, 'ctl', name, 'status')) as f:
            return {k: int(v) if v.strip().isdigit() else v.strip()
                    for k, _, v in (line.partition(':') for line in f)}

    def ctl(self, name, cmd, text):
        path = os.path.join(self.m, 'ctl', name, cmd)
        t = time.perf_counter()
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
        return time.perf_counter() - t

    def resize(self):
        log('resize')
        up, down = [], []
        for i in range(11):                     # the first pair is the warm-up
            u = self.ctl('resize', 'resize', '1T\n')
            d = self.ctl('resize', 'resize', '1G\n')
            if i:
                up.append(u)
                down.append(d)
        with open(os.path.join(self.m, 'ctl', 'resize', 'resize')) as f:
            assert int(f.read()) == GiB
        pup, pdown = [], []
        fd = os.open(os.path.join(self.plain, 'resize.bin'), os.O_RDWR)
        try:
            mm = mmap.mmap(fd, GiB)
            for i in range(11):
                t = time.perf_counter()
                mm.resize(TiB)
                t1 = time.perf_counter()
                mm.resize(GiB)
                t2 = time.perf_counter()
                if i:
                    pup.append(t1 - t)
                    pdown.append(t2 - t1)
            mm.close()
        finally:
            os.close(fd)
        for figure, mine, plain in (('ctl resize 1 GiB -> 1 TiB (sparse), through the mount',
                                     up, pup),
                                    ('ctl resize 1 TiB -> 1 GiB, through the mount',
                                     down, pdown)):
            m = median(mine)
            self.rows.append(Row(
                figure + ' (median of 10)', fmt_t(m),
                'Python mmap.resize (ftruncate + mremap) in-process: %s' % fmt_t(median(plain)),
                m / median(plain), '<= 1 ms', m <= 1e-3))

    def move(self):
        log('move')
        fd = os.open(os.path.join(self.plain, 'move.bin'), os.O_RDWR)
        mm = mmap.mmap(fd, 512 * MiB)
        mine, plain = [], []
        try:
            for rep in range(self.reps + 1):    # the first one is the warm-up
                order = ('mm', 'plain') if rep % 2 else ('plain', 'mm')
                for who in order:
                    if who == 'mm':
                        dt = self.ctl('move', 'move', '0 256M 256M\n')
                        if rep:
                            mine.append(dt)
                    else:
                        t = time.perf_counter()
                        mm.move(0, 256 * MiB, 256 * MiB)
                        if rep:
                            plain.append(time.perf_counter() - t)
        finally:
            mm.close()
            os.close(fd)
        r, spread = paired(plain, mine, lambda p, m: p / m)
        self.rows.append(Row('ctl move of 256 MiB', fmt_t(median(mine)),
                             'Python mmap.move (memmove) of a 512 MiB file mapping: %s'
                             % fmt_t(median(plain)), r, '>= 0.80x', r >= 0.8, spread))

    def flush(self):
        log('flush')
        size = 256 * MiB
        fd = os.open(os.path.join(self.plain, 'flush.bin'), os.O_RDWR)
        mm = mmap.mmap(fd, size)
        rw = os.open(os.path.join(self.m, 'rw', 'flush'), os.O_WRONLY)
        mine, plain = [], []
        try:
            for rep in range(self.reps + 1):    # the first one is the warm-up
                order = ('mm', 'plain') if rep % 2 else ('plain', 'mm')
                for who in order:
                    if who == 'mm':
                        for off in range(0, size, MiB):
                            os.pwrite(rw, self.block, off)
                        dt = self.ctl('flush', 'flush', '\n')
                        if rep:
                            mine.append(dt)
                    else:
                        for off in range(0, size, MiB):
                            mm[off:off + MiB] = self.block
                        t = time.perf_counter()
                        mm.flush()
                        if rep:
                            plain.append(time.perf_counter() - t)
        finally:
            os.close(rw)
            mm.close()
            os.close(fd)
        r, spread = paired(mine, plain, lambda m, p: m / p)
        self.rows.append(Row('ctl flush of 256 MiB dirty (dirtied through rw/NAME)',
                             fmt_t(median(mine)),
                             'Python mmap.flush (msync MS_SYNC) of 256 MiB dirty: %s'
                             % fmt_t(median(plain)), r, '<= 1.20x', r <= 1.2, spread))

    def rss(self):
        log('RssAnon while streaming %s through ro, rw and cow' % fmt_size(self.big))
        pid = self.daemon.pid

        def sample():
            vals = {}
            with open('/proc/%d/status' % pid) as f:
                for line in f:
                    k, _, v = line.partition(':')
                    if k in ('RssAnon', 'RssFile'):
                        vals[k] = int(v.split()[0]) * KiB
            return vals

        idle = max(sample()['RssAnon'] for _ in range(5))
        peak = {'RssAnon': 0, 'RssFile': 0}
        stop = threading.Event()

        def sampler():
            while not stop.is_set():
                for k, v in sample().items():
                    peak[k] = max(peak[k], v)
                stop.wait(0.05)

        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        buf = bytearray(MiB)
        t = time.perf_counter()
        try:
            for view in ('ro', 'rw', 'cow'):
                fd = os.open(os.path.join(self.m, view, 'big'), os.O_RDONLY)
                try:
                    off = 0
                    while True:
                        n = os.readv(fd, [buf])
                        if n <= 0:
                            break
                        off += n
                        if off % (256 * MiB) == 0:  # keep the FUSE cache small
                            os.posix_fadvise(fd, off - 256 * MiB, 256 * MiB,
                                             os.POSIX_FADV_DONTNEED)
                    assert off == self.big, (view, off)
                finally:
                    os.close(fd)
        finally:
            stop.set()
            th.join()
        secs = time.perf_counter() - t
        fd = os.open(os.path.join(self.data, 'big.bin'), os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
        lim = 16 * MiB
        self.rows.append(Row('daemon RssAnon, peak while streaming a %s entry through '
                             'ro, rw and cow (sampled every 50 ms)' % fmt_size(self.big),
                             fmt_size(peak['RssAnon']),
                             'idle daemon before: %s (RssFile peak %s; %s read at %s)' % (
                                 fmt_size(idle), fmt_size(peak['RssFile']),
                                 fmt_size(3 * self.big), fmt_bw(3 * self.big / secs)),
                             peak['RssAnon'] / idle, '<= 16 MiB', peak['RssAnon'] <= lim))

    def config_1000(self):
        log('config of 1,000 entries')
        base = os.path.join(self.work, 'cfg')
        files = os.path.join(base, 'files')
        os.makedirs(files)
        page = b'x' * 4096
        with open(os.path.join(base, 'big.ini'), 'w') as cfg:
            for i in range(1000):
                name = 'e%04d' % i
                with open(os.path.join(files, name + '.bin'), 'wb') as f:
                    f.write(page)
                cfg.write('[%s]\npath = files/%s.bin\n' % (name, name))
        with open(os.path.join(base, 'one.ini'), 'w') as cfg:
            cfg.write('[e0000]\npath = files/e0000.bin\n')
        mnt = os.path.realpath(os.path.join(self.mnt, 'cfg'))
        os.makedirs(mnt)
        quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def mount(cfg):
            t = time.perf_counter()
            r = subprocess.run([self.binary, os.path.join(base, cfg), mnt], **quiet)
            dt = time.perf_counter() - t
            self.mounts.adopt(mnt)
            if r.returncode != 0:
                raise RuntimeError('mmapfs %s exited %d' % (cfg, r.returncode))
            return dt

        def ls(path):
            subprocess.run(['ls', '-l', path], check=True, **quiet)    # warm-up
            t = time.perf_counter()
            subprocess.run(['ls', '-l', path], check=True, **quiet)
            return time.perf_counter() - t

        start, start1, lsm, lsd, stops = [], [], [], [], []
        for rep in range(4):                    # the first one is the warm-up
            dt = mount('big.ini')
            try:
                n = len(os.listdir(os.path.join(mnt, 'ro')))
                assert n == 1000, n
                dl = ls(os.path.join(mnt, 'ro'))
            finally:
                t = time.perf_counter()
                self.mounts.stop(mnt)
                stops.append(time.perf_counter() - t)
            d1 = mount('one.ini')
            self.mounts.stop(mnt)
            dd = ls(files)
            if rep:
                start.append(dt)
                lsm.append(dl)
                start1.append(d1)
                lsd.append(dd)
        self.notes.append('Unmounting the 1,000-entry mount: %s until the daemon exited '
                          '(median of 4; it flushes every rw region on the way out).'
                          % fmt_t(median(stops)))
        m = median(start)
        self.rows.append(Row('config of 1,000 entries: start to mounted (daemon mode, '
                             'median of 3)', fmt_t(m),
                             'the same with 1 entry: %s' % fmt_t(median(start1)),
                             m / median(start1), '<= 200 ms', m <= 0.2))
        m = median(lsm)
        self.rows.append(Row('config of 1,000 entries: ls -l ro/ (median of 3)', fmt_t(m),
                             'ls -l of the 1,000 backing files: %s' % fmt_t(median(lsd)),
                             m / median(lsd), '<= 50 ms', m <= 0.05))

    # ---- run

    def run(self):
        steps = [('reads', self.reads), ('random', self.random_reads),
                 ('two-readers', self.two_readers), ('writes', self.writes),
                 ('cow', self.cow_first_write), ('cow-seq', self.cow_sequential),
                 ('sqlite', self.sqlite), ('fork-commit', self.fork_commit),
                 ('resize', self.resize),
                 ('move', self.move), ('flush', self.flush), ('rss', self.rss),
                 ('config', self.config_1000)]
        only = set(self.args.only.split(',')) if self.args.only else None
        self.prepare()
        self.make_data()
        self.mount_all()
        for name, fn in steps:
            if only and name not in only:
                continue
            try:
                fn()
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as e:
                log('%s failed: %r' % (name, e))
                self.rows.append(Row('%s: failed' % name, 'error', str(e)[:200]))
                self.failed = True

    def report(self):
        now = datetime.datetime.now().astimezone()
        kernel = platform.release()
        cpu = ''
        try:
            with open('/proc/cpuinfo') as f:
                cpu = re.search(r'model name\s*:\s*(.*)', f.read()).group(1)
        except (OSError, AttributeError):
            pass
        mem = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
        misses = [r.figure for r in self.rows if r.passed is False]
        self.fio_version = (subprocess.run(['fio', '--version'], capture_output=True,
                                           text=True).stdout.strip()
                            if shutil.which('fio') else 'no fio')
        head = [
            '- command: `%s`' % self.command,
            '- date: %s' % now.strftime('%Y-%m-%d %H:%M %Z'),
            '- machine: nproc %d, kernel %s, %s, %s RAM, load average at the start %s'
            % (os.cpu_count(), kernel, cpu, fmt_size(mem), self.load),
            '- mmapfs: %s' % self.provenance,
            '- fio %s; each figure: %d repetitions (fio: %d ms timed after a %d ms warm-up)'
            % (self.fio_version, self.reps, self.run_ms, self.ramp_ms),
            '- whole run: %.0f s' % (time.monotonic() - T0),
        ]
        text = '\n'.join(head) + '\n\n' + table(self.rows) + '\n'
        text += '\n' + '\n'.join('- ' + n for n in self.notes) + '\n'
        text += '\n%d PASS, %d MISS%s\n' % (
            sum(r.passed is True for r in self.rows), len(misses),
            (': ' + '; '.join(misses)) if misses else '')
        print(text)
        if not self.args.no_docs:
            write_docs(os.path.join(REPO, 'docs', 'performance.md'), text)
        return text


def provenance(binary):
    """Which build ran: the binary's time and the work tree's commit."""
    built = datetime.datetime.fromtimestamp(os.path.getmtime(binary)).astimezone()
    git = lambda *a: subprocess.run(['git', '-C', REPO] + list(a), capture_output=True,
                                    text=True).stdout.strip()
    head = git('log', '-1', '--format=%h %cd', '--date=format:%Y-%m-%d %H:%M')
    dirty = git('status', '--porcelain', '--', 'src', 'include', 'Makefile')
    return '%s built %s; HEAD %s%s' % (
        os.path.relpath(binary, REPO), built.strftime('%Y-%m-%d %H:%M'), head or '?',
        ', src/include changed since' if dirty else '')


def write_docs(path, text):
    block = BEGIN + '\n' + text + END + '\n'
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        if BEGIN in old and END in old:
            new = old[:old.index(BEGIN)] + block + old[old.index(END) + len(END) + 1:]
        else:
            new = old.rstrip('\n') + '\n\n' + block
    else:
        new = ('# mmapfs performance\n\n`make bench` (bench/bench.py) measured, in one run:'
               '\n\n' + block + '\n## Misses\n\n(explain each MISS here)\n')
    with open(path, 'w') as f:
        f.write(new)
    log('wrote %s' % path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--binary', default=os.path.join(REPO, 'build', 'mmapfs'))
    ap.add_argument('--workdir', default=os.path.join(REPO, 'build', 'bench', 'run'))
    ap.add_argument('--reps', type=int, default=5, help='repetitions of each figure')
    ap.add_argument('--runtime-ms', type=int, default=1000, help='timed part of a fio pass')
    ap.add_argument('--ramp-ms', type=int, default=300, help='fio warm-up before it')
    ap.add_argument('--only', help='comma-separated steps: reads,random,two-readers,writes,'
                                   'cow,cow-seq,sqlite,fork-commit,resize,move,flush,rss,'
                                   'config')
    ap.add_argument('--quick', action='store_true',
                    default=os.environ.get('BENCH_QUICK', '') not in ('', '0'),
                    help='every row once on small sizes (also BENCH_QUICK=1): checks the rows')
    ap.add_argument('--keep-data', action='store_true', help='leave build/bench/run/')
    ap.add_argument('--no-docs', action='store_true', help='do not touch docs/performance.md')
    args = ap.parse_args()
    if args.quick:
        args.reps, args.runtime_ms, args.ramp_ms = 1, 300, 100

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)

    # SIGINT too: a shell starts background jobs with it ignored.
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, on_signal)
    b = Bench(args)
    b.command = ' '.join(['python3', os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:])
    b.load = '%.1f' % os.getloadavg()[0]
    b.failed = False
    b.provenance = provenance(b.binary) if os.path.exists(b.binary) else '?'
    try:
        b.run()
    finally:
        log('cleaning up')
        b.cleanup()
    b.report()
    sys.exit(1 if b.failed else 0)


if __name__ == '__main__':
    main()
