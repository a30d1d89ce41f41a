#!/usr/bin/env python3
"""
stress.py - every view of every kind of entry under load at once.

    python3 tests/stress/stress.py --binary build/mmapfs --seconds 60 [--seed N]

Mounts three file entries (4, 6 and 8 MiB), a window (offset 1M, length 3M
of a 5 MiB file) and an anonymous entry (2 MiB), then for SECONDS runs, each
in its own process so that both cores are busy:

  readers      pread of ro/, rw/ and cow/ of every entry at random offsets
  mapper       reads through client mmaps of ro/
  rw writers   writer K owns range K of every entry's rw view and writes it
               over and over with records (owner id, pass number)
  cow writers  the same on ranges of the cow views (not of f3, which the
               admin resets)
  map writers  writer K owns mapping range K of every entry and stores the
               records through its own MAP_SHARED writable mapping of rw/
               (SPEC "Views": "Client programs may mmap(2) any view"); the
               first msyncs after each pass over a range, the second only
               after some, so that its dirty pages wait in the kernel across
               the admin's commands, resizes and flushes (issue 10), and it
               leaves its last passes unsynced when it exits
  admin        resize (never below the ranges above), move in scratch
               ranges nobody else touches (rw and cow), flush, status, and
               reset of f3 only; it keeps a model of both scratch ranges;
               after a whole flush, each mapping range of the file holds no
               pass older than the last one stored before the flush began

Every region is laid out alike (offsets within the region):

  [0, 384K)         rw ranges, 128 KiB per rw writer
  [384K, 640K)      cow ranges, 128 KiB per cow writer
  [640K, 896K)      mapping ranges, 128 KiB per map writer
  [896K, 1M)        cow scratch: `move cow` of the admin only
  [1M, 1.25M)       rw scratch: `move` of the admin only
  [1.25M, ...)      what resize cuts and grows; the floor of every resize

Each record of the ranges carries the id of the range's owner from the
start (the file's initial bytes) to the end, so every read checks that no
foreign bytes show anywhere, and that no cow write shows through ro/ or rw/.
After each pass over a range, its writer reads it back through descriptors
opened before the load (ro/ and cow/ for an rw writer, cow/ for a cow
writer): SPEC "Coherence" wants the pass there as soon as its writes
returned; a map writer reads each pass it msynced back through ro/ (the
msync wrote its pages back through the daemon, SPEC "Coherence" again).
The daemon's log must not say that it ever replied before the
kernel dropped the stale pages (its bounded wait for the invalidations
timed out).

A watchdog fails the run when any worker makes no progress for 20 s (or
dies): it aborts the FUSE connection, so nothing blocks forever; the main
process's own checks have a deadline too. At the end the daemon must be
alive, every range must hold its owner's last pattern through the views that
should show it and in the backing file (a mapping range: through rw/ its
last pass, through ro/ and the file any pass from the last one it msynced
on, and in the file after unmount its last pass, which the unmount wrote
back: SPEC "Lifecycle and faults"), no cow write may have reached a
backing file, the scratch ranges must match the admin's model, sizes its
last resizes; then the daemon must exit 0 at unmount. It prints the
operations done per kind (with their mean and worst latency) and the
daemon's VmRSS, RssAnon, descriptors and threads after mount and at the end.
The last line is

    stress: N passed, M failed

and the exit status is 1 on any failure.
"""
import argparse
import array
import ctypes
import mmap
import multiprocessing
import os
import pickle
import random
import signal
import struct
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, 'tests', 'integration'))
import harness  # noqa: E402
from harness import PAGE, Mount, pread_all, wchans  # noqa: E402

K = 1024
M = K * K
RANGE = 128 * K            # bytes per writer range
NRW = 3                    # rw writers
NCOW = 2                   # cow writers
NMAP = 2                   # map writers (through their own mappings of rw/)
MAP_SYNC = (1.0, 0.3)      # how often each msyncs after a pass over a range
N_READERS = 3
REC = 8                    # a record: (owner id, pass), little endian
INIT_SEQ = 0xFFFFFFFF      # the pass number of the initial records
HANG = 20.0                # seconds without progress that make a hang
MAX_ERRORS = 200           # a worker stops after that many errors

KINDS = ['reads', 'mmap reads', 'rw writes', 'cow writes', 'resizes', 'moves',
         'flushes', 'resets', 'status reads', 'map stores', 'msyncs']
(READS, MMAP_READS, RW_WRITES, COW_WRITES, RESIZES, MOVES, FLUSHES, RESETS, STATUS,
 MAP_STORES, MSYNCS) = range(11)
VIEWS = ('ro', 'rw', 'cow')
STATUS_KEYS = ('name', 'path', 'views', 'offset', 'size', 'cow_size', 'file_size',
               'resizable', 'resident_bytes', 'cow_private_bytes', 'reads', 'writes',
               'flushes', 'resizes', 'moves', 'resets', 'errors', 'last_error')

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def records(wid, seq, n=RANGE):
    return struct.pack('<II', wid, seq) * (n // REC)


class Entry:
    """One entry of the config and its layout."""

    def __init__(self, idx, name, size, max_size, rnd, file_off=0, file_size=None,
                 anonymous=False, cow_writers=True):
        self.idx = idx
        self.name = name
        self.size = size                  # at mount
        self.max_size = max_size          # the admin's resizes stay in [floor, max_size]
        self.file_off = file_off
        self.anonymous = anonymous
        self.cow_writers = cow_writers
        self.Z = (NRW + NCOW + NMAP) * RANGE     # end of the writers' ranges
        self.cs0, self.cs1 = self.Z, self.Z + 128 * K           # cow scratch
        self.ms0, self.ms1 = self.cs1, self.cs1 + 256 * K       # rw scratch
        self.floor = self.ms1
        assert self.floor <= size <= max_size
        # The region's bytes at mount, over [0, max_size) for a window (what
        # its file holds after the window's first length).
        ranges = b''.join(records(self.wid(r), INIT_SEQ) for r in range(NRW + NCOW + NMAP))
        if anonymous:
            self.file = None
            self.init = ranges + rnd.randbytes(size - len(ranges))
        else:
            file_size = file_size or size
            self.file = bytearray(rnd.randbytes(file_size))
            self.file[file_off:file_off + len(ranges)] = ranges
            self.file = bytes(self.file)
            self.init = self.file[file_off:file_off + max_size]
        # Parts of the region that keep their initial bytes through the
        # given views whatever the load does, and the check a difference
        # fails.
        self.static = [(self.cs0, self.cs1, ('ro', 'rw'), 'general')]
        if file_off:     # a window: resizes never cut its file
            self.static.append((self.floor, max_size, VIEWS, 'window'))

    def wid(self, r):
        return self.idx * 256 + r

    def rw_range(self, k):
        return k * RANGE

    def cow_range(self, k):
        return (NRW + k) * RANGE

    def map_range(self, k):
        return (NRW + NCOW + k) * RANGE

    def config(self):
        if self.anonymous:
            return '[%s]\nanonymous = yes\nlength = %d\n' % (self.name, self.size)
        text = '[%s]\npath = %s.bin\n' % (self.name, self.name)
        if self.file_off:
            text += 'offset = %d\nlength = %d\n' % (self.file_off, self.size)
        return text


def make_entries(rnd):
    return [Entry(0, 'f1', 4 * M, 5 * M, rnd),
            Entry(1, 'f2', 6 * M, 7 * M + 123, rnd),
            Entry(2, 'f3', 8 * M, 10 * M, rnd, cow_writers=False),
            Entry(3, 'win', 3 * M, 3 * M + 512 * K, rnd, file_off=1 * M, file_size=5 * M),
            Entry(4, 'anon', 2 * M, 2 * M + 512 * K, rnd, anonymous=True)]


def verify(e, view, off, data):
    """None, or what is wrong with DATA read from VIEW/E at OFF: (message,
    the category of Worker.error)."""
    end = off + len(data)
    pos = (off + REC - 1) // REC * REC
    hi = min(end, e.Z) // REC * REC
    while pos < hi:
        r = pos // RANGE
        stop = min((r + 1) * RANGE, hi)
        ints = array.array('I')
        ints.frombytes(data[pos - off:stop - off])
        wids = set(ints[0::2])
        if wids != {e.wid(r)}:
            return ('%s/%s: foreign records in %d..%d: ids %s, owner %d'
                    % (view, e.name, pos, stop, sorted(wids)[:5], e.wid(r)), 'general')
        if view != 'cow' and NRW <= r < NRW + NCOW:
            seqs = set(ints[1::2])
            if seqs != {INIT_SEQ}:
                return ('%s/%s: cow writes show in %d..%d (passes %s)'
                        % (view, e.name, pos, stop, sorted(seqs)[:5]), 'general')
        pos = stop
    for a, b, views, category in e.static:
        s, t = max(a, off), min(b, end)
        if view in views and s < t and data[s - off:t - off] != e.init[s:t]:
            got, want = data[s - off:t - off], e.init[s:t]
            first = next(i for i in range(t - s) if got[i] != want[i])
            diff = [i for i in range(first, t - s) if got[i] != want[i]]
            zeros = sum(1 for i in diff if got[i] == 0)
            if category == 'window' and zeros == len(diff):
                # A read the kernel sent before a shrink and the daemon
                # answered after it is short; the kernel, still holding the
                # old size, fills the rest with zeros (docs/design.md,
                # "Known limits"). Zeros only, never other bytes.
                return ('%s/%s: %d zeros at %d..%d' % (view, e.name, zeros, off, end),
                        'window-zeros')
            return ('%s/%s: bytes %d..%d read, which nothing writes, differ from the file '
                    'from %d on: %d bytes differ, %d of them read as zeros'
                    % (view, e.name, off, end, s + first, len(diff), zeros), category)
    return None


def read_range(path, off, n):
    fd = os.open(path, os.O_RDONLY)
    try:
        return pread_all(fd, n, off)
    finally:
        os.close(fd)


def proc_status(pid):
    out = {}
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                k, _, v = line.partition(':')
                out[k] = v.strip()
    except OSError:
        pass
    return out


def daemon_figures(pid):
    st = proc_status(pid)
    try:
        fds = len(os.listdir('/proc/%d/fd' % pid))
    except OSError:
        fds = -1
    try:
        pipes = sum(1 for f in os.listdir('/proc/%d/fd' % pid)
                    if os.readlink('/proc/%d/fd/%s' % (pid, f)).startswith('pipe:'))
    except OSError:
        pipes = -1
    # libfuse gives each worker thread a pipe (2 fds) for splice: the fd
    # count follows the number of threads.
    return {'VmRSS': st.get('VmRSS', '?'), 'RssAnon': st.get('RssAnon', '?'), 'fds': fds,
            'fds (pipes)': pipes, 'threads': st.get('Threads', '?')}


# ---------------------------------------------------------------- shared state
# Set up by main() before the workers fork; they inherit it.

class Shared:
    pass


S = Shared()


def setup_shared(n_workers, entries, mnt, errdir):
    S.n = n_workers
    S.entries = entries
    S.mnt = mnt
    S.errdir = errdir
    S.stop = multiprocessing.RawValue('i', 0)
    S.hb = multiprocessing.RawArray('d', n_workers)
    S.count = multiprocessing.RawArray('q', n_workers * len(KINDS))
    S.state = multiprocessing.RawArray('i', n_workers)        # 0 running, 1 done, 2 gave up
    S.nerr = multiprocessing.RawArray('i', n_workers)
    S.doing = multiprocessing.RawArray('i', n_workers)        # the kind under way
    S.busy = multiprocessing.RawArray('d', n_workers * len(KINDS))    # seconds in each kind
    S.worst = multiprocessing.RawArray('d', n_workers * len(KINDS))   # the longest one
    S.last_rw = multiprocessing.RawArray('q', [-1] * (NRW * len(entries)))
    S.last_cow = multiprocessing.RawArray('q', [-1] * (NCOW * len(entries)))
    S.synced_map = multiprocessing.RawArray('q', [-1] * (NMAP * len(entries)))   # msynced
    S.last_map = multiprocessing.RawArray('q', [-1] * (NMAP * len(entries)))     # stored


def path(*parts):
    return os.path.join(S.mnt, *parts)


class GiveUp(Exception):
    pass


class Worker:
    def __init__(self, w, name):
        self.w = w
        self.name = name
        self.errfile = os.path.join(S.errdir, 'worker%d.%%s.err' % w)
        self.t0 = time.monotonic()

    def bump(self, kind, n=1):
        now = time.monotonic()
        i = self.w * len(KINDS) + kind
        S.count[i] += n
        S.busy[i] += now - self.t0
        S.worst[i] = max(S.worst[i], now - self.t0)
        S.hb[self.w] = now

    def doing(self, kind):
        S.doing[self.w] = kind
        self.t0 = time.monotonic()

    def error(self, msg, category='general'):
        """Notes a failure; CATEGORY picks the check it fails."""
        if category == 'window-zeros':      # the known race: counted, not failed
            with open(self.errfile % category, 'a') as f:
                f.write('%s: %s\n' % (self.name, msg))
            return
        if category == 'flush':     # its own check; the admin goes on with its model
            self.flush_errors = getattr(self, 'flush_errors', 0) + 1
            with open(self.errfile % category, 'a') as f:
                f.write('%s: %s\n' % (self.name, msg) if self.flush_errors <= 10 else
                        '%s: %d such flushes in all\n' % (self.name, self.flush_errors)
                        if self.flush_errors in (100, 1000, 10000) else '')
            return
        S.nerr[self.w] += 1
        n = S.nerr[self.w]
        if n <= 10:
            with open(self.errfile % category, 'a') as f:
                f.write('%s: %s\n' % (self.name, msg))
        if n >= MAX_ERRORS:
            raise GiveUp()
        S.hb[self.w] = time.monotonic()

    @property
    def stopping(self):
        return S.stop.value != 0


def child_init():
    """In a forked worker: the harness's signal set-up of the parent undone,
    and death with the parent."""
    try:
        signal.set_wakeup_fd(-1)
    except ValueError:
        pass
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, (signal.SIGTERM, signal.SIGINT, signal.SIGHUP))
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def run_worker(w, name, fn, arg):
    child_init()
    wk = Worker(w, name)
    S.hb[w] = time.monotonic()
    try:
        fn(wk, arg)
        S.state[w] = 1
    except GiveUp:
        S.state[w] = 2
    except BaseException:
        S.nerr[w] += 1
        with open(wk.errfile % 'general', 'a') as f:
            f.write('%s: %s\n' % (name, traceback.format_exc()))
        S.state[w] = 2
    sys.stdout.flush()
    os._exit(0)


# ---------------------------------------------------------------- workers

def reader(wk, seed):
    rnd = random.Random(seed)
    fds = {}
    try:
        while not wk.stopping:
            e = rnd.choice(S.entries)
            view = rnd.choice(VIEWS)
            key = (e.name, view)
            try:
                if key not in fds or rnd.random() < 0.01:      # opens too
                    if key in fds:
                        os.close(fds.pop(key))
                    fds[key] = os.open(path(view, e.name), os.O_RDONLY)
                if rnd.random() < 0.75:
                    off = rnd.randrange(0, e.floor)
                else:
                    off = rnd.randrange(0, e.max_size)
                n = rnd.randint(1, 128 * K)
                wk.doing(READS)
                data = os.pread(fds[key], n, off)
                wk.bump(READS)
                if off + n <= e.floor and len(data) != n:
                    wk.error('%s/%s: short read of %d bytes at %d: %d'
                             % (view, e.name, n, off, len(data)))
                bad = verify(e, view, off, data)
                if bad:
                    wk.error(*bad)
            except OSError as err:
                wk.error('%s/%s: %s' % (view, e.name, err))
    finally:
        for fd in fds.values():
            os.close(fd)


def mapper(wk, seed):
    rnd = random.Random(seed)
    maps = {}
    try:
        while not wk.stopping:
            e = rnd.choice(S.entries)
            try:
                if e.name not in maps or rnd.random() < 0.002:
                    if e.name in maps:
                        maps.pop(e.name).close()
                    fd = os.open(path('ro', e.name), os.O_RDONLY)
                    try:
                        # Only [0, floor) is mapped: no resize cuts it.
                        maps[e.name] = mmap.mmap(fd, e.floor, access=mmap.ACCESS_READ)
                    finally:
                        os.close(fd)
                off = rnd.randrange(0, e.floor)
                n = rnd.randint(1, 64 * K)
                wk.doing(MMAP_READS)
                data = maps[e.name][off:off + n]
                wk.bump(MMAP_READS)
                bad = verify(e, 'ro', off, data)
                if bad:
                    wk.error('mmap: ' + bad[0], bad[1])
            except OSError as err:
                wk.error('mmap of ro/%s: %s' % (e.name, err))
    finally:
        for mm in maps.values():
            mm.close()


def writer(wk, arg):
    view, k, seed = arg
    rnd = random.Random(seed)
    cow = view == 'cow'
    entries = [e for e in S.entries if e.cow_writers or not cow]
    kind = COW_WRITES if cow else RW_WRITES
    last = S.last_cow if cow else S.last_rw
    fds = {e.name: os.open(path(view, e.name), os.O_WRONLY) for e in entries}
    # Descriptors of the views that must show each pass at once (SPEC
    # "Coherence"), opened before the load: the writer reads its range back
    # through them after each pass. ro/ and the cow view's unwritten pages
    # for an rw writer; cow/ itself for a cow writer.
    back = {e.name: [(v, os.open(path(v, e.name), os.O_RDONLY))
                     for v in (('cow',) if cow else ('ro', 'cow'))] for e in entries}
    seq = 0
    try:
        while not wk.stopping:
            for e in entries:
                if wk.stopping:
                    break
                base = e.cow_range(k) if cow else e.rw_range(k)
                block = records(e.wid(base // RANGE), seq)
                off = 0
                try:
                    while off < RANGE:           # in chunks of random sizes
                        n = min(RANGE - off, rnd.randint(1, 32 * K))
                        wk.doing(kind)
                        done = os.pwrite(fds[e.name], block[off:off + n], base + off)
                        if done != n:
                            wk.error('%s/%s: short write %d of %d at %d'
                                     % (view, e.name, done, n, base + off))
                            break
                        off += n
                        wk.bump(kind)
                    else:
                        last[k * len(S.entries) + e.idx] = seq
                        for v, fd in back[e.name]:
                            wk.doing(READS)
                            got = pread_all(fd, RANGE, base)
                            wk.bump(READS)
                            if got != block:
                                i = next((i for i in range(0, min(len(got), RANGE), REC)
                                          if got[i:i + REC] != block[i:i + REC]), len(got))
                                wk.error('%s/%s: pass %d of %s/%s not seen at %d after its '
                                         'writes returned: record %r'
                                         % (v, e.name, seq, view, e.name, base + i,
                                            struct.unpack('<II', got[i:i + REC])
                                            if i + REC <= len(got) else got[i:]),
                                         'coherence')
                    if rnd.random() < 0.01:
                        wk.doing(FLUSHES)
                        os.fsync(fds[e.name])     # rw: msync + fsync; cow: nothing
                        wk.bump(FLUSHES)
                except OSError as err:
                    wk.error('%s/%s: %s at %d' % (view, e.name, err, base + off))
            seq += 1
    finally:
        for fd in fds.values():
            os.close(fd)
        for fd in [fd for lst in back.values() for _, fd in lst]:
            os.close(fd)


def map_writer(wk, arg):
    """Stores passes of records into mapping range K of every entry through
    a MAP_SHARED writable mapping of rw/ (of [0, floor), which no resize
    cuts). After a pass over a range it msyncs that range with probability
    SYNC, then reads the range back through ro/: the pass must be there."""
    k, seed, sync = arg
    rnd = random.Random(seed)
    maps, back = {}, {}
    try:
        for e in S.entries:
            fd = os.open(path('rw', e.name), os.O_RDWR)
            try:
                maps[e.name] = mmap.mmap(fd, e.floor, mmap.MAP_SHARED,
                                         mmap.PROT_READ | mmap.PROT_WRITE)
            finally:
                os.close(fd)
            back[e.name] = os.open(path('ro', e.name), os.O_RDONLY)
        seq = 0
        while not wk.stopping:
            for e in S.entries:
                if wk.stopping:
                    break
                base, mm, i = e.map_range(k), maps[e.name], k * len(S.entries) + e.idx
                block = records(e.wid(base // RANGE), seq)
                off = 0
                while off < RANGE:           # stores of random sizes
                    n = min(RANGE - off, rnd.randint(1, 32 * K))
                    wk.doing(MAP_STORES)
                    mm[base + off:base + off + n] = block[off:off + n]
                    wk.bump(MAP_STORES)
                    off += n
                S.last_map[i] = seq
                if rnd.random() >= sync:
                    continue
                try:
                    wk.doing(MSYNCS)
                    mm.flush(base, RANGE)
                    wk.bump(MSYNCS)
                except OSError as err:
                    wk.error('msync of rw/%s at %d: %s' % (e.name, base, err))
                    continue
                S.synced_map[i] = seq
                wk.doing(READS)
                got = pread_all(back[e.name], RANGE, base)
                wk.bump(READS)
                if got != block:
                    at = next((j for j in range(0, min(len(got), RANGE), REC)
                               if got[j:j + REC] != block[j:j + REC]), len(got))
                    wk.error('ro/%s: pass %d stored through a mapping of rw/%s and msynced '
                             'not seen at %d: record %r'
                             % (e.name, seq, e.name, base + at,
                                struct.unpack('<II', got[at:at + REC])
                                if at + REC <= len(got) else got[at:]), 'coherence')
            seq += 1
    finally:
        for mm in maps.values():
            mm.close()        # unsynced stores stay dirty in the page cache
        for fd in back.values():
            os.close(fd)


def ctl_write(e, name, text):
    fd = os.open(path('ctl', e.name, name), os.O_WRONLY)
    try:
        data = text.encode()
        n = os.write(fd, data)
        if n != len(data):
            raise OSError(0, 'short write %d of %d to ctl/%s/%s' % (n, len(data), e.name, name))
    finally:
        os.close(fd)


def ctl_read(e, name):
    fd = os.open(path('ctl', e.name, name), os.O_RDONLY)
    try:
        out = b''
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return out.decode()
            out += chunk
    finally:
        os.close(fd)


def parse_status(text):
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition(': ')
        if sep:
            out[k] = v
    return out


def admin(wk, seed):
    rnd = random.Random(seed)
    sizes = {e.name: e.size for e in S.entries}
    ms = {e.name: bytearray(e.init[e.ms0:e.ms1]) for e in S.entries}     # rw scratch
    cs = {e.name: bytearray(e.init[e.cs0:e.cs1]) for e in S.entries}     # cow scratch
    reset_ok = [e for e in S.entries if not e.cow_writers]
    ops = ['resize'] * 25 + ['move'] * 25 + ['flush'] * 15 + ['status'] * 20 + ['reset'] * 15
    while not wk.stopping:
        op = rnd.choice(ops)
        e = rnd.choice(reset_ok if op == 'reset' else S.entries)
        try:
            if op == 'resize':
                size = rnd.randint(e.floor, e.max_size)
                if rnd.random() < 0.5:
                    size = size // PAGE * PAGE
                wk.doing(RESIZES)
                ctl_write(e, 'resize', '%d\n' % size)
                sizes[e.name] = size
                got = ctl_read(e, 'resize')
                if got != '%d\n' % size:
                    wk.error('ctl/%s/resize reads %r after a resize to %d' % (e.name, got, size))
                st = os.stat(path('ro', e.name)).st_size
                if st != size:
                    wk.error('ro/%s: st_size %d after a resize to %d' % (e.name, st, size))
                wk.bump(RESIZES)
            elif op == 'move':
                cow = rnd.random() < 0.4
                a, b, model, view = ((e.cs0, e.cs1, cs, 'cow') if cow
                                     else (e.ms0, e.ms1, ms, 'ro'))
                count = rnd.choice([0, 1, 7, PAGE, rnd.randint(0, b - a)])
                src = rnd.randint(a, b - count)
                dest = rnd.randint(a, b - count)
                wk.doing(MOVES)
                ctl_write(e, 'move', '%s%d %d %d' % ('cow ' if cow else '', dest, src, count))
                m = model[e.name]
                m[dest - a:dest - a + count] = m[src - a:src - a + count]
                wk.bump(MOVES)
                got = read_range(path(view, e.name), a, b - a)
                if got != bytes(m):
                    bad = next(i for i in range(min(len(got), len(m))) if got[i] != m[i]) \
                        if len(got) == len(m) else -1
                    wk.error('%s/%s: scratch differs from the model after move %s%d %d %d '
                             '(first at %d, read %d bytes)'
                             % (view, e.name, 'cow ' if cow else '', dest, src, count,
                                a + bad, len(got)))
                    model[e.name] = bytearray(got)    # report each difference once
            elif op == 'flush':
                size = sizes[e.name]
                if rnd.random() < 0.5:
                    text = '\n'    # as echo writes it: a write of 0 bytes never reaches a file system
                else:
                    off = rnd.randrange(0, size)
                    text = '%d %d' % (off, rnd.randint(0, size - off))
                # Passes stored through the mappings before the flush began
                # are in the file when it returns (SPEC: flush writes back,
                # unlike `async`, what clients hold dirty; "Views": a
                # client's pages land before any later command).
                before = [S.last_map[k * len(S.entries) + e.idx] for k in range(NMAP)]
                wk.doing(FLUSHES)
                ctl_write(e, 'flush', text)
                wk.bump(FLUSHES)
                if text == '\n' and not e.anonymous:
                    with open(os.path.join(S.errdir, '%s.bin' % e.name), 'rb') as f:
                        data = f.read()[e.file_off:]
                    for k in range(NMAP):
                        i = k * len(S.entries) + e.idx
                        got = data[e.map_range(k):e.map_range(k) + RANGE]
                        ints = array.array('I')
                        ints.frombytes(got[:len(got) // REC * REC])
                        old = sorted(q for q in set(ints[1::2])
                                     if q < before[k] or q == INIT_SEQ) if before[k] >= 0 else []
                        if old:
                            wk.error('%s.bin after ctl/%s/flush: mapping range %d holds passes '
                                     '%s, older than pass %d, which map-writer%d had stored '
                                     'before the flush began (synced: %d)'
                                     % (e.name, e.name, k, old[:3], before[k], k,
                                        S.synced_map[i]), 'flush')
            elif op == 'status':
                wk.doing(STATUS)
                st = parse_status(ctl_read(e, 'status'))
                missing = [k for k in STATUS_KEYS if k not in st]
                if missing:
                    wk.error('ctl/%s/status lacks %s' % (e.name, missing))
                elif st['name'] != e.name or int(st['size']) != sizes[e.name] \
                        or st['errors'] != '0' or st['last_error'] != 'none':
                    wk.error('ctl/%s/status: name %s size %s (want %d) errors %s last_error %s'
                             % (e.name, st['name'], st['size'], sizes[e.name], st['errors'],
                                st['last_error']))
                wk.bump(STATUS)
            elif op == 'reset':
                wk.doing(RESETS)
                ctl_write(e, 'reset', '\n')
                cs[e.name] = bytearray(e.init[e.cs0:e.cs1])
                st = parse_status(ctl_read(e, 'status'))
                if st.get('cow_private_bytes') != '0' or st.get('cow_size') != str(sizes[e.name]):
                    wk.error('ctl/%s/status after reset: cow_private_bytes %s, cow_size %s '
                             '(size %d)' % (e.name, st.get('cow_private_bytes'),
                                            st.get('cow_size'), sizes[e.name]))
                wk.bump(RESETS)
        except OSError as err:
            wk.error('%s of %s: %s' % (op, e.name, err))
    with open(os.path.join(S.errdir, 'admin.pickle'), 'wb') as f:
        pickle.dump({'sizes': sizes, 'ms': {k: bytes(v) for k, v in ms.items()},
                     'cs': {k: bytes(v) for k, v in cs.items()}}, f)


# ---------------------------------------------------------------- main

class Checks:
    def __init__(self):
        self.results = []

    def check(self, name, ok, detail=''):
        self.results.append((name, bool(ok), detail))
        line = '%s %s' % ('ok  ' if ok else 'FAIL', name)
        if not ok and detail:
            line += ':\n      ' + str(detail).replace('\n', '\n      ')
        print(line)
        sys.stdout.flush()
        return ok

    @property
    def passed(self):
        return sum(1 for r in self.results if r[1])

    @property
    def failed(self):
        return sum(1 for r in self.results if not r[1])


class Deadline:
    """Bounds the main process's own FUSE calls: past the deadline, every
    connection is aborted and the run fails (harness.emergency_exit)."""

    def __init__(self, checks):
        self.checks = checks
        self.until = None
        self.what = ''
        self.cond = threading.Condition()
        threading.Thread(target=self._run, name='stress-deadline', daemon=True).start()

    def arm(self, seconds, what):
        with self.cond:
            self.until = time.monotonic() + seconds
            self.what = what
            self.cond.notify()

    def disarm(self):
        with self.cond:
            self.until = None
            self.cond.notify()

    def _run(self):
        with self.cond:
            while True:
                if self.until is None:
                    self.cond.wait()
                    continue
                left = self.until - time.monotonic()
                if left > 0:
                    self.cond.wait(left)
                    continue
                break
        what = self.what
        self.checks.check('no hang: %s' % what, False, 'still blocked after the deadline')
        harness.emergency_exit('stress: hang in %s' % what, 1,
                               'stress: hung in %s: aborting the FUSE connection\n' % what)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[1].strip())
    ap.add_argument('--binary', default=os.path.join(REPO, 'build', 'mmapfs'))
    ap.add_argument('--seconds', type=float, default=60.0)
    ap.add_argument('--seed', type=int, default=None)
    opts = ap.parse_args()
    seed = opts.seed if opts.seed is not None else int(time.time()) % 100000
    t_start = time.monotonic()
    checks = Checks()
    if not os.access(opts.binary, os.X_OK):
        checks.check('binary', False, '%s is not an executable' % opts.binary)
        print('stress: 0 passed, 1 failed')
        return 1
    harness.set_binary(opts.binary)
    harness.install_handlers()
    ctx = multiprocessing.get_context('fork')
    procs = []
    figures = {}

    def kill_workers():
        for p in procs:
            if p.is_alive():
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except OSError:
                    pass

    def summary():
        print('stress: %d passed, %d failed' % (checks.passed, checks.failed))
        sys.stdout.flush()

    def on_emergency(why):
        kill_workers()
        return summary
    harness.add_emergency_hook(on_emergency)
    deadline = Deadline(checks)

    rnd = random.Random(seed)
    entries = make_entries(rnd)
    config = 'log_level = info\n' + '\n'.join(e.config() for e in entries)
    files = {'%s.bin' % e.name: e.file for e in entries if not e.anonymous}
    print('stress: %.0f s, seed %d, %s' % (opts.seconds, seed, opts.binary))
    m = Mount(config, files)
    deadline.arm(30, 'mount and initial checks')
    m.start()
    pid = m.pid

    # The anonymous entry starts as zeros: give it its initial bytes.
    for e in entries:
        if e.anonymous:
            with open(m.path('rw', e.name), 'r+b') as f:
                f.write(e.init[:e.size])
    bad = []
    for e in entries:
        for view in VIEWS:
            data = read_range(m.path(view, e.name), 0, e.size)
            if data != e.init[:e.size]:
                bad.append('%s/%s' % (view, e.name))
    checks.check('initial contents through every view', not bad, bad)
    figures['start'] = daemon_figures(pid)
    deadline.disarm()

    # The workers.
    layout = [('reader%d' % i, reader, seed * 100 + i) for i in range(N_READERS)]
    layout += [('mapper', mapper, seed * 100 + 10)]
    layout += [('rw-writer%d' % k, writer, ('rw', k, seed * 100 + 20 + k)) for k in range(NRW)]
    layout += [('cow-writer%d' % k, writer, ('cow', k, seed * 100 + 30 + k)) for k in range(NCOW)]
    layout += [('map-writer%d' % k, map_writer, (k, seed * 100 + 50 + k, MAP_SYNC[k]))
               for k in range(NMAP)]
    layout += [('admin', admin, seed * 100 + 40)]
    names = [x[0] for x in layout]
    setup_shared(len(layout), entries, m.mnt, m.dir)
    now = time.monotonic()
    for w in range(len(layout)):
        S.hb[w] = now
    for w, (name, fn, arg) in enumerate(layout):
        p = ctx.Process(target=run_worker, args=(w, name, fn, arg), name=name, daemon=True)
        p.start()
        procs.append(p)

    def stuck():
        """Workers that made no progress for HANG seconds, or died."""
        now = time.monotonic()
        out = []
        for w, p in enumerate(procs):
            if S.state[w] != 0:
                continue
            if not p.is_alive():
                out.append('%s died (exit status %s) in %s' % (names[w], p.exitcode,
                                                               KINDS[S.doing[w]]))
            elif now - S.hb[w] > HANG:
                out.append('%s made no progress for %.0f s, in %s (kernel: %s)'
                           % (names[w], now - S.hb[w], KINDS[S.doing[w]], wchans(p.pid)))
        return out

    load_end = time.monotonic() + opts.seconds
    hung = []
    while not hung and time.monotonic() < load_end:
        time.sleep(min(0.25, max(0.0, load_end - time.monotonic())))
        hung = stuck()
    S.stop.value = 1
    while not hung and any(p.is_alive() for p in procs):
        time.sleep(0.05)
        hung = stuck()
    elapsed = time.monotonic() - (load_end - opts.seconds)

    if hung:
        detail = '\n'.join(hung) + '\ndaemon threads (tid:wchan): ' + wchans(pid)
        checks.check('no hang (every worker progressed within %.0f s)' % HANG, False, detail)
        harness.abort_connection(m.mnt)
        kill_workers()
        for p in procs:
            p.join(5)
    else:
        checks.check('no hang (every worker progressed within %.0f s)' % HANG, True)
    for p in procs:
        p.join(5)

    def total(arr, k, fn=sum):
        return fn(arr[w * len(KINDS) + k] for w in range(len(procs)))
    totals = [total(S.count, k) for k in range(len(KINDS))]
    errors = {'general': [], 'coherence': [], 'window': [], 'window-zeros': [], 'flush': []}
    for w in range(len(procs)):
        for cat, lst in errors.items():
            try:
                with open(os.path.join(m.dir, 'worker%d.%s.err' % (w, cat))) as f:
                    lst.append(f.read().rstrip())
            except OSError:
                pass
        if S.nerr[w] > 10:
            errors['general'].append('%s: %d errors in all (10 shown)' % (names[w], S.nerr[w]))
    checks.check('daemon alive after the load', m.proc.poll() is None,
                 'exit status %s\n%s' % (m.proc.poll(), m.stderr[-3000:]))

    if not hung and m.proc.poll() is None:
        deadline.arm(60, 'final checks')
        checks.check('no errors in the workers (reads, writes, commands, contents)',
                     not errors['general'], '\n'.join(errors['general'])[:6000])
        checks.check('read-after-write: each pass shows through ro/ and unwritten cow/ pages '
                     'as soon as its writes returned (SPEC "Coherence")',
                     not errors['coherence'], '\n'.join(errors['coherence'])[:6000])
        late = [l for l in m.stderr.splitlines() if 'replying before' in l]
        checks.check('a flush writes back first what clients stored through their mappings '
                     'before it (SPEC "Views", ctl flush)',
                     not errors['flush'], '\n'.join(errors['flush'])[:6000])
        checks.check("reads of the window racing its resizes show its file's bytes, or stop "
                     "short, or zeros where a shrink cut them; never other bytes",
                     not errors['window'], '\n'.join(errors['window'])[:6000])
        print('reads of the window that raced a shrink and read zeros: %d'
              % sum(len(x.splitlines()) for x in errors['window-zeros']))
        checks.check('the daemon never replied before the kernel dropped stale pages',
                     not late, '%d times, e.g.: %s' % (len(late), late[:1]))
        idle = [names[w] for w in range(len(procs))
                if sum(S.count[w * len(KINDS):(w + 1) * len(KINDS)]) == 0]
        checks.check('every worker completed operations', not idle, idle)
        try:
            final_checks(checks, m, entries)
        except Exception:
            checks.check('final checks ran to the end', False, traceback.format_exc())
        figures['end'] = daemon_figures(pid)
        deadline.arm(30, 'unmount')
        status = m.stop()
        checks.check('daemon exits 0 at unmount', status == 0,
                     'status %s\n%s' % (status, m.stderr[-3000:]))
        deadline.disarm()
        bad = []
        for e in entries:
            if e.anonymous:
                continue
            with open(m.backing('%s.bin' % e.name), 'rb') as f:
                data = f.read()
            for k in range(NRW):
                seq = S.last_rw[k * len(entries) + e.idx]
                at = e.file_off + e.rw_range(k)
                if seq >= 0 and data[at:at + RANGE] != records(e.wid(k), seq):
                    bad.append('%s range %d' % (e.name, k))
        checks.check('after unmount: each rw range holds its last pattern in the file',
                     not bad, bad)
        bad = []
        for e in entries:
            if e.anonymous:
                continue
            with open(m.backing('%s.bin' % e.name), 'rb') as f:
                data = f.read()[e.file_off:]
            for k in range(NMAP):
                problem = map_range_problem(e, k, data[e.map_range(k):e.map_range(k) + RANGE],
                                            exact=True)
                if problem:
                    bad.append('%s range %d: %s (synced %d)' % (
                        e.name, k, problem, S.synced_map[k * len(entries) + e.idx]))
        checks.check('after unmount: each mapping range holds its last pass in the file, '
                     'msynced or not (the unmount wrote back what clients dirtied)',
                     not bad, bad)
    else:
        if any(errors.values()):
            print('worker errors:\n' + '\n'.join(sum(errors.values(), []))[:6000])
        figures['end'] = daemon_figures(pid)
        m.emergency()
    daemon_log = m.stderr
    m.cleanup()
    mounts, daemons = harness.left_behind()
    checks.check('nothing left mounted or running', not mounts and not daemons,
                 'mounts %s, daemons %s' % (mounts, daemons))

    # The figures.
    print()
    print('load: %.1f s, %d workers (%s)' % (elapsed, len(procs), ', '.join(names)))
    print('  %-14s %12s %10s %10s %10s' % ('operation', 'count', 'per s', 'mean ms', 'max ms'))
    for k, kind in enumerate(KINDS):
        print('  %-14s %12d %10.0f %10.2f %10.1f'
              % (kind, totals[k], totals[k] / max(elapsed, 0.001),
                 1000 * total(S.busy, k) / max(totals[k], 1), 1000 * total(S.worst, k, max)))
    print('  %-14s %12s %12s' % ('daemon', 'after mount', 'at the end'))
    for key in ('VmRSS', 'RssAnon', 'fds', 'fds (pipes)', 'threads'):
        print('  %-14s %12s %12s' % (key, figures.get('start', {}).get(key, '?'),
                                     figures.get('end', {}).get(key, '?')))
    log = [l for l in daemon_log.splitlines() if 'mounted on' not in l]
    print('daemon log: %d lines' % len(log))
    seen = {}
    for line in log:
        seen[line] = seen.get(line, 0) + 1
    for line, n in list(seen.items())[:10]:
        print('  %5dx %s' % (n, line))
    print('duration: %.1f s' % (time.monotonic() - t_start))
    summary()
    return 1 if checks.failed else 0


def map_range_problem(e, k, data, exact):
    """None, or what is wrong with mapping range K of E as DATA shows it:
    EXACT, its last pass stored; else, per record, a pass from the last one
    msynced (the initial records if none was) to the last one stored (the
    kernel writes unsynced pages back when it likes)."""
    i = k * len(S.entries) + e.idx
    last, synced = S.last_map[i], S.synced_map[i]
    if last < 0:
        return None
    if exact:
        return None if data == records(e.wid(NRW + NCOW + k), last) else \
            'not pass %d' % last
    ints = array.array('I')
    ints.frombytes(data[:len(data) // REC * REC])
    if len(data) != RANGE or set(ints[0::2]) != {e.wid(NRW + NCOW + k)}:
        return 'foreign records or short (%d bytes)' % len(data)
    ok = set(range(max(synced, 0), last + 1)) | ({INIT_SEQ} if synced < 0 else set())
    seqs = set(ints[1::2])
    return None if seqs <= ok else 'passes %s, expected %d..%d' % (
        sorted(seqs - ok)[:5], synced, last)


def final_checks(checks, m, entries):
    NE = len(entries)
    try:
        with open(os.path.join(m.dir, 'admin.pickle'), 'rb') as f:
            model = pickle.load(f)
    except OSError as err:
        checks.check('the admin left its model', False, err)
        return

    def rw_pattern(e, k):
        seq = S.last_rw[k * NE + e.idx]
        return records(e.wid(k), seq) if seq >= 0 else None

    def cow_pattern(e, k):
        seq = S.last_cow[k * NE + e.idx]
        return records(e.wid(NRW + k), seq) if seq >= 0 else None

    never = ['rw %s/%d' % (e.name, k) for e in entries for k in range(NRW)
             if rw_pattern(e, k) is None]
    never += ['cow %s/%d' % (e.name, k) for e in entries if e.cow_writers
              for k in range(NCOW) if cow_pattern(e, k) is None]
    never += ['map %s/%d' % (e.name, k) for e in entries for k in range(NMAP)
              if S.last_map[k * NE + e.idx] < 0]
    checks.check('every writer completed a pass over each of its ranges', not never, never)

    def file_bytes(e):
        with open(m.backing('%s.bin' % e.name), 'rb') as f:
            return f.read()

    for where in ('ro', 'rw', 'file'):
        bad = []
        for e in entries:
            if where == 'file' and e.anonymous:
                continue
            data = file_bytes(e)[e.file_off:] if where == 'file' else \
                read_range(m.path(where, e.name), 0, e.Z)
            for k in range(NRW):
                want = rw_pattern(e, k)
                if want is not None and data[e.rw_range(k):e.rw_range(k) + RANGE] != want:
                    bad.append('%s range %d (last pass %d)'
                               % (e.name, k, S.last_rw[k * NE + e.idx]))
        checks.check('each rw range holds its last pattern %s' %
                     ('in the backing file' if where == 'file' else 'through %s/' % where),
                     not bad, bad)
        bad = []
        for e in entries:
            if where == 'file' and e.anonymous:
                continue
            data = file_bytes(e)[e.file_off:] if where == 'file' else \
                read_range(m.path(where, e.name), 0, e.Z)
            for k in range(NMAP):
                problem = map_range_problem(e, k, data[e.map_range(k):e.map_range(k) + RANGE],
                                            exact=where == 'rw')
                if problem:
                    bad.append('%s range %d: %s' % (e.name, k, problem))
        checks.check('each mapping range holds %s' %
                     ('its last pass through rw/ (the page cache the mappings wrote)'
                      if where == 'rw' else 'passes from the last one msynced to the last one '
                      'stored %s' % ('in the backing file' if where == 'file'
                                     else 'through %s/' % where)), not bad, bad)

    bad = []
    for e in entries:
        if not e.cow_writers:
            continue
        data = read_range(m.path('cow', e.name), 0, e.Z)
        for k in range(NCOW):
            want = cow_pattern(e, k)
            if want is not None and data[e.cow_range(k):e.cow_range(k) + RANGE] != want:
                bad.append('%s range %d' % (e.name, k))
    checks.check('each cow range holds its last pattern through cow/', not bad, bad)

    bad = []
    for e in entries:
        for view in ('ro', 'rw'):
            data = read_range(m.path(view, e.name), 0, e.cs1)
            for a, b in ((NRW * RANGE, (NRW + NCOW) * RANGE), (e.cs0, e.cs1)):
                if data[a:b] != e.init[a:b]:
                    bad.append('%s/%s %d..%d' % (view, e.name, a, b))
    checks.check('no cow write shows through ro/ or rw/', not bad, bad)

    bad = []
    for e in entries:
        if e.anonymous:
            continue
        data = file_bytes(e)
        for a, b in ((NRW * RANGE, (NRW + NCOW) * RANGE), (e.cs0, e.cs1)):
            a, b = e.file_off + a, e.file_off + b
            if data[a:b] != e.file[a:b]:
                bad.append('%s %d..%d' % (e.name, a, b))
    checks.check('no cow write reached a backing file (cow ranges and cow scratch)', not bad, bad)

    bad = []
    for e in entries:
        want = model['ms'][e.name]
        if read_range(m.path('ro', e.name), e.ms0, e.ms1 - e.ms0) != want:
            bad.append('ro/%s' % e.name)
        if not e.anonymous and file_bytes(e)[e.file_off + e.ms0:e.file_off + e.ms1] != want:
            bad.append('%s.bin' % e.name)
        if read_range(m.path('cow', e.name), e.cs0, e.cs1 - e.cs0) != model['cs'][e.name]:
            bad.append('cow/%s' % e.name)
    checks.check("the scratch ranges match the admin's model of its moves", not bad, bad)

    bad = []
    for e in entries:
        want = model['sizes'][e.name]
        got = (os.stat(m.path('ro', e.name)).st_size, os.stat(m.path('rw', e.name)).st_size,
               int(parse_status(ctl_read(e, 'status'))['size']))
        if got != (want,) * 3:
            bad.append('%s: ro, rw, status %s, last resize %d' % (e.name, got, want))
        if not e.anonymous and not e.file_off:      # the file follows the region
            size = os.stat(m.backing('%s.bin' % e.name)).st_size
            if size != want:
                bad.append('%s.bin: %d bytes, last resize %d' % (e.name, size, want))
    checks.check("sizes are the admin's last resize", not bad, bad)

    bad = []
    for e in entries:
        if e.file_off:
            data = file_bytes(e)
            if len(data) != len(e.file):
                bad.append('%s.bin: %d bytes, was %d' % (e.name, len(data), len(e.file)))
            if data[:e.file_off] != e.file[:e.file_off]:
                bad.append('%s.bin before the window' % e.name)
            a = e.file_off + e.floor
            if data[a:] != e.file[a:]:
                bad.append('%s.bin past the scratch ranges' % e.name)
    checks.check('the window never cut nor changed its file outside the ranges written',
                 not bad, bad)


if __name__ == '__main__':
    sys.exit(main())
