"""
SPEC "Views" (issue 12) with the real programs that users run on the views:
Debian's sqlite3 and Python's lmdb (python3-lmdb) on cow/ as a scratch copy
of a fixture, mdb_stat on ro/ (EROFS for its lock file, then read-only),
touch and rsync setting times on rw/, cp onto cow/ (O_TRUNC), and
fallocate(1) on rw/ and cow/.

`make deps` installs the programs (sqlite3, python3-lmdb, lmdb-utils, rsync,
util-linux). Python's lmdb is Debian's, so it is run by whichever of this
interpreter and /usr/bin/python3 can import it, in a process of its own
(bounded by a timeout, as every program here).
"""
import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
import unittest

import harness
from harness import PAGE, Mount, pattern, read_file
from test_cowfile import sha

TIMEOUT = 120


def run(argv, input=None, **kw):
    """ARGV run to its end (at most TIMEOUT seconds), its output as text."""
    return subprocess.run(argv, input=input, capture_output=True, text=True,
                          timeout=TIMEOUT, **kw)


def lmdb_python():
    """An interpreter that imports lmdb, or None."""
    for py in (sys.executable, '/usr/bin/python3'):
        if py and os.path.exists(py) and subprocess.run(
                [py, '-c', 'import lmdb'], capture_output=True, timeout=60).returncode == 0:
            return py
    return None


class ProgramCase(harness.TmpDirCase):
    def need(self, *programs):
        for p in programs:
            if not shutil.which(p):
                self.fail('%s is missing: `make deps` installs it' % p)

    def start(self, config, files=None, prepare=None):
        """A Mount of CONFIG over FILES; PREPARE(m) makes more files in its
        folder before it starts."""
        m = Mount(config, files)
        self.addCleanup(m.cleanup)
        if prepare:
            prepare(m)
        return m.start()

    def ok(self, r, what):
        self.assertEqual(r.returncode, 0, '%s failed (%d):\nstdout: %s\nstderr: %s'
                         % (what, r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
        return r.stdout


# ====================================================================== sqlite3 on cow/

FIXTURE_SQL = '''
PRAGMA page_size = 4096;
CREATE TABLE fixture(id INTEGER PRIMARY KEY, name TEXT, payload TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000)
INSERT INTO fixture SELECT x, 'row ' || x, printf('%0100d', x) FROM c;
'''

SCRIBBLE_SQL = '''
PRAGMA journal_mode = MEMORY;
CREATE TABLE added(id INTEGER PRIMARY KEY, v TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000)
INSERT INTO added SELECT x, printf('%0200d', x) FROM c;
CREATE INDEX added_v ON added(v);
INSERT INTO fixture(name, payload) VALUES ('new', 'x');
UPDATE fixture SET name = 'changed' WHERE id <= 10;
DELETE FROM fixture WHERE id > 1990;
PRAGMA integrity_check;
SELECT count(*) FROM added;
SELECT count(*), sum(name = 'changed') FROM fixture;
'''


class Sqlite(ProgramCase):
    """Debian's sqlite3 on cow/NAME, journal_mode = MEMORY (a journal file
    cannot be made in cow/)."""

    def setUp(self):
        self.need('sqlite3')

    def fixture(self, m):
        self.ok(run(['sqlite3', '-batch', '-bail', m.backing('fixture.db')], FIXTURE_SQL),
                'making the fixture')

    def sql(self, path, script):
        return self.ok(run(['sqlite3', '-batch', '-bail', path], script), 'sqlite3 %s' % path)

    def test_sqlite3_creates_tables_and_inserts_rows_on_cow(self):
        m = self.start('[db]\npath = fixture.db\n', prepare=self.fixture)
        db = m.path('cow', 'db')
        original = read_file(m.backing('fixture.db'))
        self.assertEqual(self.sql(db, SCRIBBLE_SQL), 'memory\nok\n5000\n1990|10\n')
        size = os.stat(db).st_size
        self.assertGreater(size, len(original), 'the inserts grew the cow view')
        # another process sees it all, and the file is whole
        out = self.sql(db, 'PRAGMA integrity_check;\nSELECT count(*) FROM added;\n'
                           'PRAGMA page_count;\n').split()
        self.assertEqual(out[:2], ['ok', '5000'])
        self.assertEqual(int(out[2]) * 4096, size, 'st_size is the page count')
        self.assertEqual(sha(read_file(m.backing('fixture.db'))), sha(original),
                         'the backing file changed')
        self.assertEqual(sha(read_file(m.path('ro', 'db'))), sha(original))
        # ctl/NAME/reset shows the original again
        self.assertEqual(m.ctl_write('db', 'reset', 'reset\n'), 0)
        self.assertEqual(os.stat(db).st_size, len(original))
        self.assertEqual(self.sql(db, 'PRAGMA integrity_check;\nSELECT count(*), '
                                      "sum(name = 'changed') FROM fixture;\n"
                                      "SELECT group_concat(name) FROM sqlite_master;\n"),
                         'ok\n2000|0\nfixture\n')
        self.assertEqual(read_file(db), original)

    def test_sqlite3_vacuum_shrinks_the_cow_view(self):
        m = self.start('[db]\npath = fixture.db\n', prepare=self.fixture)
        db = m.path('cow', 'db')
        original = read_file(m.backing('fixture.db'))
        out = self.sql(db, 'PRAGMA journal_mode = MEMORY;\nDELETE FROM fixture WHERE id > 20;\n'
                           'VACUUM;\nPRAGMA integrity_check;\nPRAGMA page_count;\n'
                           'SELECT count(*) FROM fixture;\n').split()
        self.assertEqual(out[:2], ['memory', 'ok'])
        self.assertEqual(out[3], '20')
        pages = int(out[2])
        self.assertEqual(os.stat(db).st_size, pages * 4096, 'VACUUM truncates the file')
        self.assertLess(pages * 4096, len(original))
        self.assertEqual(self.sql(db, 'PRAGMA integrity_check;\nSELECT max(id) FROM fixture;\n'),
                         'ok\n20\n')
        self.assertEqual(sha(read_file(m.backing('fixture.db'))), sha(original))


# ====================================================================== lmdb

LMDB_SCRIPT = r'''
import hashlib, json, sys
import lmdb
path, action, writemap = sys.argv[1], sys.argv[2], sys.argv[3] == '1'
env = lmdb.open(path, subdir=False, lock=False, writemap=writemap, map_size=4 << 20,
                readonly=action == 'readonly')
if action == 'fixture':
    with env.begin(write=True) as txn:
        for i in range(100):
            txn.put(b'fix%05d' % i, b'fixture value %d' % i)
elif action == 'write':
    with env.begin(write=True) as txn:
        for i in range(3000):
            txn.put(b'new%05d' % i, b'%d:' % i + b'v' * 200)
        txn.put(b'fix00001', b'changed')
        txn.delete(b'fix00000')
    with env.begin(write=True) as txn:
        txn.put(b'second', b'commit')
h = hashlib.sha256()
with env.begin() as txn:
    entries = txn.stat()['entries']
    for k, v in txn.cursor():
        h.update(b'%d:%s=%d:%s;' % (len(k), k, len(v), v))
env.close()
print(json.dumps({'entries': entries, 'digest': h.hexdigest()}))
'''


def lmdb_digest(items):
    h = hashlib.sha256()
    for k in sorted(items):
        v = items[k]
        h.update(b'%d:%s=%d:%s;' % (len(k), k, len(v), v))
    return {'entries': len(items), 'digest': h.hexdigest()}


FIX_ITEMS = {b'fix%05d' % i: b'fixture value %d' % i for i in range(100)}
NEW_ITEMS = dict(FIX_ITEMS)
NEW_ITEMS.update({b'new%05d' % i: b'%d:' % i + b'v' * 200 for i in range(3000)})
NEW_ITEMS[b'fix00001'] = b'changed'
del NEW_ITEMS[b'fix00000']
NEW_ITEMS[b'second'] = b'commit'


class Lmdb(ProgramCase):
    """Python's lmdb (subdir=False, lock=False) on cow/; mdb_stat on ro/."""

    def lmdb(self, path, action, writemap=False):
        py = self.py
        out = self.ok(run([py, '-c', LMDB_SCRIPT, path, action, '1' if writemap else '0']),
                      'lmdb %s %s writemap=%s' % (action, path, writemap))
        return json.loads(out)

    def test_python_lmdb_on_cow(self):
        self.py = lmdb_python()
        if not self.py:
            self.fail('python3-lmdb is missing: `make deps` installs it')

        def prepare(m):
            self.assertEqual(self.lmdb(m.backing('plain.mdb'), 'fixture'),
                             lmdb_digest(FIX_ITEMS))
            shutil.copyfile(m.backing('plain.mdb'), m.backing('wm.mdb'))
        m = self.start('[plain]\npath = plain.mdb\n[wm]\npath = wm.mdb\n', prepare=prepare)
        original = read_file(m.backing('plain.mdb'))
        for name, writemap in (('plain', False), ('wm', True)):
            with self.subTest(writemap=writemap):
                cow = m.path('cow', name)
                # writemap: LMDB ftruncates to its map size, then writes through
                # a shared mapping of cow/NAME (msync at each commit)
                self.assertEqual(self.lmdb(cow, 'write', writemap), lmdb_digest(NEW_ITEMS))
                self.assertGreater(os.stat(cow).st_size, len(original))
                if writemap:
                    self.assertEqual(os.stat(cow).st_size, 4 << 20, 'ftruncate to the map size')
                # another process, with and without writemap (an ftruncate to
                # the size it has)
                self.assertEqual(self.lmdb(cow, 'read', False), lmdb_digest(NEW_ITEMS))
                self.assertEqual(self.lmdb(cow, 'read', True), lmdb_digest(NEW_ITEMS))
                self.assertEqual(sha(read_file(m.backing(name + '.mdb'))), sha(original),
                                 'the backing file changed')
                self.assertEqual(m.ctl_write(name, 'reset', 'reset\n'), 0)
                self.assertEqual(os.stat(cow).st_size, len(original))
                self.assertEqual(self.lmdb(cow, 'readonly'), lmdb_digest(FIX_ITEMS))

    def test_mdb_stat_on_ro_falls_back_to_read_only_after_erofs(self):
        """mdb_stat opens NAME-lock with O_CREAT; EROFS makes it go on
        without the lock file (MDB_RDONLY)."""
        self.need('mdb_stat', 'mdb_load', 'mdb_dump')
        text = ''.join('key%05d\nvalue %d\n' % (i, i) for i in range(50))

        def prepare(m):
            src = m.backing('load.txt')
            with open(src, 'w') as f:
                f.write(text)
            self.ok(run(['mdb_load', '-n', '-T', '-f', src, m.backing('st.mdb')]), 'mdb_load')
            os.unlink(m.backing('st.mdb-lock'))
        m = self.start('[st]\npath = st.mdb\n', prepare=prepare)
        before = sorted(os.listdir(m.path('ro')))
        out = self.ok(run(['mdb_stat', '-n', '-e', m.path('ro', 'st')]), 'mdb_stat on ro/')
        self.assertIn('Entries: 50', out)
        self.assertIn('Page size: 4096', out)
        dump = self.ok(run(['mdb_dump', '-n', '-p', m.path('ro', 'st')]), 'mdb_dump on ro/')
        self.assertIn(' key00049\n value 49\n', dump)
        self.assertEqual(sorted(os.listdir(m.path('ro'))), before, 'no lock file was made')
        self.assertFalse(os.path.exists(m.backing('st.mdb-lock')))


# ====================================================================== touch, rsync, cp

T_TEXT, T_NS = '2001-02-03 04:05:06.123456789 UTC', 981173106 * 10**9 + 123456789
T2_TEXT, T2_NS = '2002-02-02 02:05:06.5 UTC', 1012615506 * 10**9 + 500000000
T3_TEXT, T3_NS = '2003-03-03 03:03:03 UTC', 1046660583 * 10**9

D = pattern(3 * PAGE + 1000, 41)


class Tools(ProgramCase):
    def times(self, m, name):
        st = os.stat(m.backing(name))
        return st.st_atime_ns, st.st_mtime_ns

    def test_touch_d_on_rw_sets_the_backing_files_times(self):
        self.need('touch', 'stat')
        m = self.start('[t]\npath = t.bin\n', {'t.bin': D})
        rw = m.path('rw', 't')
        self.ok(run(['touch', '-d', T_TEXT, rw]), 'touch -d')
        self.assertEqual(self.times(m, 't.bin'), (T_NS, T_NS))
        self.ok(run(['touch', '-m', '-d', T2_TEXT, rw]), 'touch -m -d')
        self.assertEqual(self.times(m, 't.bin'), (T_NS, T2_NS))
        self.ok(run(['touch', '-a', '-d', T3_TEXT, rw]), 'touch -a -d')
        self.assertEqual(self.times(m, 't.bin'), (T3_NS, T2_NS))
        for view in ('ro', 'rw', 'cow'):
            self.assertEqual(self.ok(run(['stat', '-c', '%X %Y', m.path(view, 't')]), 'stat'),
                             '%d %d\n' % (T3_NS // 10**9, T2_NS // 10**9), view)
        self.assertEqual(read_file(m.backing('t.bin')), D)

    def test_touch_on_ro_and_cow_fails(self):
        self.need('touch')
        m = self.start('[t]\npath = t.bin\n', {'t.bin': D})
        before = self.times(m, 't.bin')
        r = run(['touch', '-d', T_TEXT, m.path('ro', 't')])
        self.assertNotEqual(r.returncode, 0, 'touch on ro/ must fail (EROFS)')
        r = run(['touch', '-d', T_TEXT, m.path('cow', 't')])
        self.assertNotEqual(r.returncode, 0, 'touch on cow/ must fail (EPERM)')
        self.assertIn(os.strerror(errno.EPERM), r.stderr)
        self.assertEqual(self.times(m, 't.bin'), before)

    def test_rsync_a_onto_rw_then_a_second_rsync_transfers_nothing(self):
        """--inplace: rsync's temporary files cannot be made in rw/ (EPERM);
        the files are named, so that rsync sets no time on the rw/ folder."""
        self.need('rsync')
        m = self.start('[a]\npath = a.bin\n[b]\npath = b.bin\n', {'a.bin': D, 'b.bin': D})
        src = self.tmpdir()
        new = {'a': pattern(5 * PAGE + 17, 42), 'b': pattern(700, 43)}
        for n, data in new.items():
            os.chmod(self.write(src, n, data), 0o644)
            os.chmod(m.backing(n + '.bin'), 0o644)
        os.utime(os.path.join(src, 'a'), ns=(T_NS, T_NS))
        os.utime(os.path.join(src, 'b'), ns=(T2_NS, T2_NS))
        argv = ['rsync', '-a', '--inplace', os.path.join(src, 'a'), os.path.join(src, 'b'),
                m.path('rw') + '/']
        self.ok(run(argv), 'the first rsync')
        for n, data in new.items():
            self.assertEqual(read_file(m.backing(n + '.bin')), data)
            self.assertEqual(read_file(m.path('ro', n)), data)
        self.assertEqual(os.stat(m.backing('a.bin')).st_mtime_ns, T_NS)
        self.assertEqual(os.stat(m.backing('b.bin')).st_mtime_ns, T2_NS)
        out = self.ok(run(argv[:1] + ['-i', '--stats'] + argv[1:]), 'the second rsync')
        self.assertIn('Number of regular files transferred: 0\n', out)
        self.assertEqual([line for line in out.splitlines() if line.startswith('>')], [],
                         'the second rsync transferred files')

    def test_cp_onto_cow_replaces_its_bytes(self):
        """cp opens an existing destination with O_TRUNC."""
        self.need('cp')
        m = self.start('[big]\npath = big.bin\n[small]\npath = small.bin\n',
                       {'big.bin': D, 'small.bin': D})
        src = self.tmpdir()
        for n, data in (('big', pattern(5 * len(D), 44)), ('small', b'tiny\n')):
            path = self.write(src, n, data)
            self.ok(run(['cp', path, m.path('cow', n)]), 'cp onto cow/%s' % n)
            self.assertEqual(os.stat(m.path('cow', n)).st_size, len(data))
            self.assertEqual(read_file(m.path('cow', n)), data)
            self.assertEqual(read_file(m.backing(n + '.bin')), D, 'the backing file changed')
            self.assertEqual(read_file(m.path('ro', n)), D)


# ====================================================================== fallocate(1)

def fallocate_steps():
    """(fallocate(1) options, what the view then holds, as a function of what
    it held): the modes of the SPEC."""
    def grow(to):
        return lambda b: b + bytes(max(0, to - len(b)))

    def zero(off, n, keep=False):
        def f(b):
            end = off + n
            b = bytearray(b if keep else grow(end)(b))
            stop = min(end, len(b))
            b[off:stop] = bytes(max(0, stop - off))
            return bytes(b)
        return f
    return [
        (['-l', str(6 * PAGE)], grow(6 * PAGE)),                      # mode 0, grows
        (['-o', '0', '-l', str(PAGE)], lambda b: b),                 # mode 0 inside
        (['-n', '-o', '0', '-l', str(16 * PAGE)], lambda b: b),      # KEEP_SIZE
        (['-p', '-o', str(PAGE), '-l', str(PAGE)], zero(PAGE, PAGE, keep=True)),  # PUNCH_HOLE
        (['-z', '-o', '100', '-l', '200'], zero(100, 200)),          # ZERO_RANGE inside
        (['-z', '-o', '20000', '-l', '10000'], zero(20000, 10000)),  # ZERO_RANGE, grows
        (['-z', '-n', '-o', '29000', '-l', str(2 * PAGE)], zero(29000, 2 * PAGE, keep=True)),
    ]


UNSUPPORTED = [['-c', '-o', '0', '-l', str(PAGE)], ['-i', '-o', '0', '-l', str(PAGE)]]


class Fallocate1(ProgramCase):
    """fallocate(1) on rw/ and cow/: mode 0, --keep-size, --punch-hole,
    --zero-range; --collapse-range and --insert-range fail (EOPNOTSUPP)."""

    def setUp(self):
        self.need('fallocate')

    def test_fallocate_1_modes_on_rw(self):
        m = self.start('[f]\npath = f.bin\n', {'f.bin': D})
        want = D
        for opts, change in fallocate_steps():
            what = 'fallocate %s' % ' '.join(opts)
            self.ok(run(['fallocate'] + opts + [m.path('rw', 'f')]), what)
            want = change(want)
            self.assertEqual(read_file(m.backing('f.bin')), want, what)
            self.assertEqual(read_file(m.path('ro', 'f')), want, what)
            self.assertEqual(os.stat(m.path('cow', 'f')).st_size, len(D),
                             '%s: the cow view keeps its size' % what)
            self.assertEqual(read_file(m.path('cow', 'f')), want[:len(D)], what)
            if opts[:2] == ['-n', '-o']:    # before --punch-hole frees a page of it
                self.assertGreaterEqual(os.stat(m.backing('f.bin')).st_blocks * 512,
                                        16 * PAGE, '--keep-size allocated past the end')
        for opts in UNSUPPORTED:
            r = run(['fallocate'] + opts + [m.path('rw', 'f')])
            self.assertNotEqual(r.returncode, 0, opts)
            self.assertIn(os.strerror(errno.EOPNOTSUPP), r.stderr)
        self.assertEqual(read_file(m.backing('f.bin')), want)

    def test_fallocate_1_modes_on_cow(self):
        m = self.start('[f]\npath = f.bin\n', {'f.bin': D})
        want = D
        for opts, change in fallocate_steps():
            what = 'fallocate %s' % ' '.join(opts)
            self.ok(run(['fallocate'] + opts + [m.path('cow', 'f')]), what)
            want = change(want)
            self.assertEqual(os.stat(m.path('cow', 'f')).st_size, len(want), what)
            self.assertEqual(read_file(m.path('cow', 'f')), want, what)
            self.assertEqual(read_file(m.backing('f.bin')), D,
                             '%s: the backing file changed' % what)
            self.assertEqual(read_file(m.path('ro', 'f')), D, what)
        for opts in UNSUPPORTED:
            r = run(['fallocate'] + opts + [m.path('cow', 'f')])
            self.assertNotEqual(r.returncode, 0, opts)
            self.assertIn(os.strerror(errno.EOPNOTSUPP), r.stderr)
        self.assertEqual(read_file(m.path('cow', 'f')), want)


if __name__ == '__main__':
    unittest.main()
