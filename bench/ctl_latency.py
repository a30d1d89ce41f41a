#!/usr/bin/env python3
"""
ctl_latency.py - what a client's own mapping adds to control commands
(issue 10): the median time of `move`, `resize`, `reset` and `move cow`
through ctl/x/, first with no view open, then while a client process holds
MAP_SHARED writable mappings of rw/x and cow/x with a dirty page in each,
so that every command first writes back (docs/design.md).

    python3 bench/ctl_latency.py --binary build/mmapfs [--baseline OTHER] [--rounds 3]

With --baseline, the two binaries run alternately, ROUNDS times each, and
the ratios new/baseline are printed per command: the medians of the
rounds' medians. Run it as root on a quiet machine; it mounts on a temp
folder under /tmp and unmounts on the way out.
"""
import argparse
import mmap
import os
import shutil
import statistics
import subprocess
import tempfile
import time

COMMANDS = [('move', b'4096 0 10'), ('resize', b'4194304'), ('reset', b'x'),
            ('move', b'cow 4096 0 10')]
SIZE = 4 << 20


def mounted(mnt, binary):
    d = tempfile.mkdtemp(prefix='ctl-latency.')
    data, cfg = os.path.join(d, 'x.bin'), os.path.join(d, 'c.ini')
    with open(data, 'wb') as f:
        f.write(b'.' * SIZE)
    with open(cfg, 'w') as f:
        f.write('[x]\npath = %s\n' % data)
    proc = subprocess.Popen([binary, cfg, mnt, '-f'], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not os.path.exists(os.path.join(mnt, 'ctl')):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit('ctl_latency: %s did not mount' % binary)
        time.sleep(0.02)
    return proc, d


def command(mnt, name, text):
    fd = os.open(os.path.join(mnt, 'ctl', 'x', name), os.O_WRONLY)
    try:
        os.write(fd, text)
    finally:
        os.close(fd)


def medians(mnt, n):
    out = []
    for name, text in COMMANDS:
        for _ in range(20):
            command(mnt, name, text)
        times = []
        for _ in range(n):
            t = time.perf_counter_ns()
            command(mnt, name, text)
            times.append(time.perf_counter_ns() - t)
        out.append(statistics.median(times) / 1000)
    return out


def client(mnt, ready, done):
    """A child process that maps rw/x and cow/x, dirties a page of each,
    and keeps the mappings until DONE is readable."""
    maps = []
    for view in ('rw', 'cow'):
        fd = os.open(os.path.join(mnt, view, 'x'), os.O_RDWR)
        maps.append(mmap.mmap(fd, 1 << 20))
        os.close(fd)
        maps[-1][100:104] = b'abcd'
    os.write(ready, b'.')
    os.read(done, 1)
    os._exit(0)


def run(binary, n):
    """{'none': [us per command], 'mapped': [...]} for one mount."""
    mnt = tempfile.mkdtemp(prefix='ctl-latency-mnt.')
    proc, d = mounted(mnt, binary)
    try:
        none = medians(mnt, n)
        ready_r, ready_w = os.pipe()
        done_r, done_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            client(mnt, ready_w, done_r)
        os.read(ready_r, 1)
        try:
            mapped = medians(mnt, n)
        finally:
            os.write(done_w, b'.')
            os.waitpid(pid, 0)
        return {'none': none, 'mapped': mapped}
    finally:
        subprocess.run(['fusermount3', '-u', mnt])
        proc.wait()
        shutil.rmtree(d, ignore_errors=True)
        os.rmdir(mnt)


def label(i):
    return '%s %s' % (COMMANDS[i][0], COMMANDS[i][1].decode().split()[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--binary', default='build/mmapfs')
    ap.add_argument('--baseline')
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--commands', type=int, default=300, help='timed commands per figure')
    opts = ap.parse_args()
    binaries = [opts.binary] + ([opts.baseline] if opts.baseline else [])
    got = {b: [] for b in binaries}
    for _ in range(opts.rounds):
        for b in binaries:
            got[b].append(run(b, opts.commands))

    def fig(b, case, i):
        return statistics.median(r[case][i] for r in got[b])

    for case in ('none', 'mapped'):
        print('%s:' % ('no view open' if case == 'none' else
                       'a client maps rw/x and cow/x (one dirty page each)'))
        for i in range(len(COMMANDS)):
            line = '  %-12s %s %6.1f us' % (label(i), opts.binary, fig(opts.binary, case, i))
            if opts.baseline:
                base = fig(opts.baseline, case, i)
                line += '   %s %6.1f us   ratio %.2fx' % (opts.baseline, base,
                                                          fig(opts.binary, case, i) / base)
            else:
                line += '   (%.2fx the same with no view open)' % (
                    fig(opts.binary, case, i) / fig(opts.binary, 'none', i))
            print(line)


if __name__ == '__main__':
    main()
