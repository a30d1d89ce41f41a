"""A plain in-memory model of one mmapfs entry, and a randomized
differential run of the real mount against it (SPEC "Views" and "Control
files").

The model is two things: the region's bytes (the ro and rw views, and the
backing file, since the entry maps its whole file), and the cow view, a file
of its own (SPEC "cow/NAME"): its own size, and its base, the least of its
size at reset and every later size of the file or of the cow view itself.
It reads as the pages it has written, then the region below the base, then
zeros (MAP_PRIVATE: an unwritten page shows the file as it is now; the first
write to a page copies the page as it reads then). Cow instances are more
cow views of the same kind (SPEC "Cow instances"): a fork copies one, a
commit makes the region a view's bytes and starts that view afresh.
"""

import errno
import os
import random
import signal
import time

PAGE = os.sysconf("SC_PAGE_SIZE")


class CowView:
    """A cow view (cow/NAME or an instance): its own size, its base, and
    its private pages."""

    def __init__(self, size):
        self.size = self.base = size
        self.private = {}  # page index -> bytearray(PAGE)

    def copy(self):
        c = CowView(self.size)
        c.base = self.base
        c.private = {p: bytearray(v) for p, v in self.private.items()}
        return c


class Model:
    def __init__(self, data):
        self.region = bytearray(data)
        self.main = CowView(len(data))
        self.instances = {}  # TAG -> CowView, cow/NAME@TAG

    @property
    def cow_size(self):
        return self.main.size

    def views(self):
        return [self.main] + list(self.instances.values())

    # ---- the cow views ----

    def _unwritten_page(self, v, p):
        """Cow page P of V as it reads while unwritten: the file below the base."""
        page = self.region[p * PAGE:min((p + 1) * PAGE, v.base)]
        return page + bytes(PAGE - len(page))

    def view_bytes(self, v):
        out = bytearray(self.region[:v.base]) + bytes(v.size - v.base)
        for p, page in v.private.items():
            start = p * PAGE
            if start < v.size:
                end = min(start + PAGE, v.size)
                out[start:end] = page[:end - start]
        return bytes(out)

    def cow_bytes(self):
        return self.view_bytes(self.main)

    def _store(self, v, off, data):
        for i in range(0, len(data)):
            p, o = divmod(off + i, PAGE)
            if p not in v.private:
                v.private[p] = bytearray(self._unwritten_page(v, p))
            v.private[p][o] = data[i]
        v.size = max(v.size, off + len(data))

    def _truncate(self, v, size):
        if size < v.size:
            last = (size + PAGE - 1) // PAGE
            v.private = {p: page for p, page in v.private.items() if p < last}
            p, o = divmod(size, PAGE)
            if o and p in v.private:
                v.private[p][o:] = bytes(PAGE - o)
            v.base = min(v.base, size)
        v.size = size
        return 0

    # ---- operations; each returns what the syscall returns, or an errno ----

    def write_rw(self, off, data):
        end = off + len(data)
        if end > len(self.region):
            self.region.extend(bytes(end - len(self.region)))
        self.region[off:end] = data
        return len(data)

    def write_cow(self, off, data):
        # Pages are copied as they are when first written, so store page by
        # page in order: a write never reads what it wrote. Past the end it
        # grows the cow view, zeros between.
        self._store(self.main, off, data)
        return len(data)

    def truncate_cow(self, size):
        return self._truncate(self.main, size)

    def resize(self, size):
        """Through rw/ or ctl: the cow views keep their sizes and their
        written pages; a shrink of the file cuts their bases."""
        if size < len(self.region):
            del self.region[size:]
        else:
            self.region.extend(bytes(size - len(self.region)))
        for v in self.views():
            v.base = min(v.base, size)
        return 0

    def truncate_outside(self, size):
        """Another process sets the file's size: a cut drops the cow views'
        private pages past the new end that still map the file, below their
        bases (the kernel unmaps even private copies; the page across the
        end stays; pages past a base are anonymous memory already), and cuts
        their bases."""
        if size < len(self.region):
            for v in self.views():
                lost = range((size + PAGE - 1) // PAGE, (v.base + PAGE - 1) // PAGE)
                v.private = {p: page for p, page in v.private.items() if p not in lost}
        return self.resize(size)

    def move(self, cow, dest, src, count):
        size = self.main.size if cow else len(self.region)
        if dest + count > size or src + count > size:
            return -errno.EINVAL
        if dest == src:
            return 0  # writes nothing: no cow page is copied
        if cow:
            moved = self.cow_bytes()[src:src + count]
            self._store(self.main, dest, moved)
        else:
            self.region[dest:dest + count] = self.region[src:src + count]
        return 0

    def reset(self):
        self.main = CowView(len(self.region))
        return 0

    def flush(self, off, size):
        return 0 if off + size <= len(self.region) else -errno.EINVAL

    # ---- cow instances (SPEC "Cow instances"); SRC None is cow/NAME ----

    def _view(self, tag):
        return self.main if tag is None else self.instances[tag]

    def fork(self, src, tag):
        if tag in self.instances:
            return -errno.EEXIST
        self.instances[tag] = self._view(src).copy()
        return 0

    def drop(self, tag):
        del self.instances[tag]
        return 0

    def write_inst(self, tag, off, data):
        self._store(self.instances[tag], off, data)
        return len(data)

    def truncate_inst(self, tag, size):
        return self._truncate(self.instances[tag], size)

    def commit(self, src):
        """The region takes the view's size and bytes; the view starts afresh."""
        data = self.view_bytes(self._view(src))
        self.resize(len(data))
        self.region[:] = data
        if src is None:
            self.main = CowView(len(data))
        else:
            self.instances[src] = CowView(len(data))
        return 0


class Mounted:
    """The same operations on the mount, through descriptors opened once at
    the start, so that every read also checks that cached pages of
    descriptors opened earlier were invalidated."""

    def __init__(self, mnt, name, backing):
        self.mnt, self.name, self.backing = mnt, name, backing
        self.ro = os.open(f"{mnt}/ro/{name}", os.O_RDONLY)
        self.rw = os.open(f"{mnt}/rw/{name}", os.O_RDWR)
        self.cow = os.open(f"{mnt}/cow/{name}", os.O_RDWR)
        self.instances = {}  # TAG -> a descriptor of cow/NAME@TAG opened at its fork

    def close(self):
        for fd in [self.ro, self.rw, self.cow] + list(self.instances.values()):
            os.close(fd)

    @staticmethod
    def _call(fn, *args):
        try:
            result = fn(*args)
            return 0 if result is None else result
        except OSError as e:
            return -e.errno

    def ctl(self, file, text, tag=None):
        folder = self.name if tag is None else f"{self.name}@{tag}"

        def write():
            fd = os.open(f"{self.mnt}/ctl/{folder}/{file}", os.O_WRONLY | os.O_TRUNC)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
        return self._call(write)

    def write_rw(self, off, data):
        return self._call(os.pwrite, self.rw, data, off)

    def write_cow(self, off, data):
        return self._call(os.pwrite, self.cow, data, off)

    def resize(self, size):
        return self.ctl("resize", f"{size}\n")

    def truncate(self, size):
        return self._call(os.ftruncate, self.rw, size)

    def truncate_cow(self, size):
        return self._call(os.ftruncate, self.cow, size)

    def truncate_outside(self, size):
        os.truncate(self.backing, size)
        # seen at the next open of each view (close-to-open), which drops
        # the kernel's pages of the view for earlier descriptors too
        names = [f"{view}/{self.name}" for view in ("ro", "rw", "cow")]
        for path in names + [f"cow/{self.name}@{tag}" for tag in self.instances]:
            os.close(os.open(f"{self.mnt}/{path}", os.O_RDONLY))
        return 0

    def move(self, cow, dest, src, count):
        return self.ctl("move", f"{'cow ' if cow else ''}{dest} {src} {count}\n")

    def reset(self):
        return self.ctl("reset", "\n")

    def flush(self, off, size):
        return self.ctl("flush", f"{off:#x} {size}\n")

    def fork(self, src, tag):
        got = self.ctl("fork", f"{tag}\n", src)
        if got == 0:
            self.instances[tag] = os.open(f"{self.mnt}/cow/{self.name}@{tag}", os.O_RDWR)
        return got

    def drop(self, tag):
        got = self._call(os.unlink, f"{self.mnt}/cow/{self.name}@{tag}")
        os.close(self.instances.pop(tag))   # still works after the rm, until here
        return got

    def write_inst(self, tag, off, data):
        return self._call(os.pwrite, self.instances[tag], data, off)

    def truncate_inst(self, tag, size):
        return self._call(os.ftruncate, self.instances[tag], size)

    def commit(self, src):
        return self.ctl("commit", "\n", src)

    def read_all(self, fd):
        size = os.fstat(fd).st_size
        chunks, off = [], 0
        while True:
            chunk = os.pread(fd, 1 << 20, off)
            if not chunk:
                break
            chunks.append(chunk)
            off += len(chunk)
        return size, b"".join(chunks)


def _random_offset(rng, size):
    """Offsets that like page boundaries and the ends."""
    choice = rng.random()
    if choice < 0.3:
        return max(0, rng.choice([0, size, size - 1, PAGE, 2 * PAGE, PAGE - 1]))
    if choice < 0.5:
        return rng.randrange(0, size // PAGE + 2) * PAGE + rng.choice([-1, 0, 1]) % PAGE
    return rng.randrange(0, size + PAGE)


TAGS = ("i0", "i1", "i2")


def _random_instance_step(rng, model, kind, data):
    """A step on the cow instances: a fork when there is none to use."""
    tags = sorted(model.instances)
    if kind == "fork" or not tags:
        return ("fork", rng.choice([None] + tags), rng.choice(TAGS))
    tag = rng.choice(tags)
    size = model.instances[tag].size
    if kind == "write_inst":
        return ("write_inst", tag, min(_random_offset(rng, size), 1 << 18), data)
    if kind == "truncate_inst":
        return ("truncate_inst", tag, rng.randrange(0, min(size * 2, 1 << 18) + 2))
    if kind == "commit":
        return ("commit", rng.choice([None, tag]))
    return ("drop", tag)


def _random_step(rng, model):
    size, cow_size = len(model.region), model.cow_size
    kind = rng.choices(
        ["write_rw", "write_cow", "move", "move_cow", "resize_up", "resize_down",
         "truncate", "truncate_cow", "truncate_outside", "reset", "flush",
         "fork", "drop", "write_inst", "truncate_inst", "commit"],
        weights=[25, 20, 12, 8, 6, 6, 5, 5, 3, 4, 4, 4, 2, 12, 3, 3])[0]
    data = bytes(rng.getrandbits(8) for _ in range(rng.choice([1, 7, 100, PAGE, PAGE + 3, 3 * PAGE])))
    if kind in ("fork", "drop", "write_inst", "truncate_inst", "commit"):
        return _random_instance_step(rng, model, kind, data)
    if kind == "write_rw":
        return ("write_rw", min(_random_offset(rng, size), 1 << 18), data)
    if kind == "write_cow":
        return ("write_cow", min(_random_offset(rng, cow_size), 1 << 18), data)
    if kind == "truncate_outside":
        return ("truncate_outside", rng.randrange(0, min(size * 2, 1 << 18) + 2))
    if kind == "truncate_cow":
        return ("truncate_cow", rng.randrange(0, min(cow_size * 2, 1 << 18) + 2))
    if kind in ("move", "move_cow"):
        limit = cow_size if kind == "move_cow" else size
        count = rng.choice([0, 1, 100, PAGE, rng.randrange(0, limit + 2)])
        return ("move", kind == "move_cow", _random_offset(rng, limit),
                _random_offset(rng, limit), count)
    if kind == "resize_up":
        return ("resize", min(size + rng.randrange(0, 4 * PAGE), 1 << 18))
    if kind == "resize_down":
        return ("resize", rng.randrange(0, size + 1))
    if kind == "truncate":
        return ("truncate", rng.randrange(0, min(size * 2, 1 << 18) + 2))
    if kind == "reset":
        return ("reset",)
    return ("flush", _random_offset(rng, size), rng.choice([0, 1, PAGE, size]))


def _apply(target, step):
    op, *args = step
    if op == "truncate" and isinstance(target, Model):
        op = "resize"
    return getattr(target, op)(*args)


def _describe(step):
    op, *args = step
    shown = [f"<{len(a)} bytes>" if isinstance(a, bytes) else repr(a) for a in args]
    return f"{op}({', '.join(shown)})"


def _compare(model, mounted):
    """Returns a description of the first difference, or None."""
    with open(mounted.backing, "rb") as f:
        file_bytes = f.read()
    expected = {"ro": bytes(model.region), "rw": bytes(model.region),
                "cow": model.cow_bytes()}
    fds = {"ro": mounted.ro, "rw": mounted.rw, "cow": mounted.cow}
    for tag, v in model.instances.items():
        expected["cow@" + tag] = model.view_bytes(v)
        fds["cow@" + tag] = mounted.instances[tag]
    for view in expected:
        size, data = mounted.read_all(fds[view])
        want = expected[view]
        if size != len(want):
            return f"{view}: st_size {size}, model {len(want)}"
        if data != want:
            at = next((i for i in range(min(len(data), len(want))) if data[i] != want[i]),
                      min(len(data), len(want)))
            return f"{view}: {len(data)} bytes read, model {len(want)}; first difference at {at}"
    if file_bytes != bytes(model.region):
        return f"backing file: {len(file_bytes)} bytes differ from the model's {len(model.region)}"
    return None


def run(mnt, name, backing, seed, steps):
    """Runs STEPS random steps from SEED on the mount and the model, comparing
    every view and the backing file after each. Raises AssertionError naming
    the seed and the steps on the first divergence."""
    rng = random.Random(seed)
    with open(backing, "rb") as f:
        model = Model(f.read())
    mounted = Mounted(mnt, name, backing)
    done = []
    try:
        for i in range(steps):
            step = _random_step(rng, model)
            done.append(step)
            got, want = _apply(mounted, step), _apply(model, step)
            problem = None
            if got != want:
                problem = f"returned {got}, model {want}"
            else:
                problem = _compare(model, mounted)
            if problem:
                history = "\n  ".join(f"{n}: {_describe(s)}" for n, s in enumerate(done))
                raise AssertionError(
                    f"model divergence at step {i} (seed {seed}): {_describe(step)}: "
                    f"{problem}\nsteps:\n  {history}")
    finally:
        mounted.close()
    return len(done)


# ======================================================================
# Writes through clients' own mappings (SPEC "Views", the paragraph
# beginning "Client programs may mmap(2) any view"; issue 10).
#
# Real client processes (mapclient.Helper) hold MAP_SHARED writable mappings
# of rw/x (two of them) and of cow/x (one), and store into them; a writer
# process pwrites and ftruncates through descriptors of rw/x and cow/x that
# it keeps open; an admin process sends control commands (move, move cow,
# resize, reset, flush) and reads ro/x and the status; the test process
# reloads (SIGHUP), now and then with x's path switched between A.bin and
# B.bin. Steps are seeded random and one at a time (each done when its
# process answered), so the model is exact: what the kernel holds dirty,
# and which bytes every view, every backing file and every mapping must show
# after each step.
#
# The model keeps the bytes the rw view must show, `rw` (the region with
# what clients dirtied on top), and the pages that may still be dirty in the
# kernel, unwritten back: `dirty` (rw/x) and `cow_dirty` (cow/x). The kernel
# may write a dirty page back at any time (msync, its own writeback, an
# open that drops the cache), so a page in `dirty` may or may not have
# reached the region yet; everything else must have:
#
#  - a control command that comes after a client's write takes effect only
#    once the write has landed (SPEC): the model asks that of the pages
#    whose order the bytes show, those the command reads or changes (a
#    move's source and destination, the part a resize cuts or grows, a
#    flush's range (all of the region without one), every page of the cow view for a reset, everything for
#    a reload that changes the path), and keeps the other pages as maybe
#    dirty still; a command that fails, or does nothing (a move of 0 bytes
#    or onto itself), and a reload that leaves x as it is, ask nothing;
#  - an msync writes back the pages of its mapping's range;
#  - a truncate(2) of rw/x cuts what lies past the new end (the kernel
#    drops those pages itself); pages below it may stay dirty (the kernel
#    holds writebacks of the inode back while its SETATTR runs);
#  - a page written back never changes a size: sizes are exact always.
#
# The cow view is the region seen through its written pages. A client's
# store into its mapping of cow/x makes the page the cow view's own with
# the bytes it had at the client's fault, whenever it is written back. The
# unwritten cow pages over a page of rw/x that may be dirty show the region
# as it is, which the model cannot tell: those bytes are not compared, and
# no cow write is made into such a page. The region never shrinks below the
# cow view's size (resizes and truncates stop there), so that the rules
# about the cow view's base play no part.
#
# interleave=False is the control: every store into a mapping is msynced at
# once, so nothing is ever dirty when another process acts, and reloads
# never change the path; today's daemon passes it. interleave=True lets
# dirty pages wait across other steps and reloads switch the file.

MAP_MAX = 12 * PAGE


class MappedModel:
    def __init__(self, files, cur):
        self.files = {k: bytearray(v) for k, v in files.items()}
        self.cur = cur
        self.fresh_entry()

    def fresh_entry(self):
        """x as a new entry over files[cur] (mount, or a reload that
        changed its path)."""
        self.rw = bytearray(self.files[self.cur])
        self.dirty = set()
        self.cow_size = len(self.rw)
        self.private = {}       # cow page -> bytearray(PAGE): the cow view's own
        self.cow_dirty = set()

    @property
    def other(self):
        return next(k for k in self.files if k != self.cur)

    @staticmethod
    def pages(off, n):
        return set(range(off // PAGE, (off + n - 1) // PAGE + 1)) if n > 0 else set()

    def _region_page(self, p):
        page = self.rw[p * PAGE:(p + 1) * PAGE]
        return page + bytes(PAGE - len(page))

    def cow_page(self, p):
        return bytes(self.private[p]) if p in self.private else self._region_page(p)

    def cow_bytes(self):
        n = (self.cow_size + PAGE - 1) // PAGE
        return b"".join(self.cow_page(p) for p in range(n))[:self.cow_size]

    def cow_known(self, p):
        """Whether the model knows cow page P's bytes."""
        return p in self.private or p not in self.dirty

    def _cow_store(self, off, data):
        for p in sorted(self.pages(off, len(data))):
            if p not in self.private:
                self.private[p] = bytearray(self.cow_page(p))
        for i, b in enumerate(data):
            p, o = divmod(off + i, PAGE)
            self.private[p][o] = b

    def land(self, pages=None, cow_pages=None):
        """The clients' dirty pages in PAGES (of rw/x) and COW_PAGES (of
        cow/x) reach the regions; None: all of them."""
        self.dirty = set() if pages is None else self.dirty - set(pages)
        self.cow_dirty = set() if cow_pages is None else self.cow_dirty - set(cow_pages)

    def _size_to(self, size):
        if size < len(self.rw):
            del self.rw[size:]
        else:
            self.rw.extend(bytes(size - len(self.rw)))
        last = (size + PAGE - 1) // PAGE
        self.dirty = {p for p in self.dirty if p < last}

    # ---- steps; each returns what the real step returns (or -errno) ----

    def poke(self, view, off, data):
        if view == "rw":
            self.rw[off:off + len(data)] = data
            self.dirty |= self.pages(off, len(data))
        else:
            self._cow_store(off, data)
            self.cow_dirty |= self.pages(off, len(data))
        return 0

    def msync(self, view, length):
        keep = {p for p in (self.dirty if view == "rw" else self.cow_dirty) if p * PAGE >= length}
        if view == "rw":
            self.dirty = keep
        else:
            self.cow_dirty = keep
        return 0

    def pwrite(self, view, off, data):
        if view == "rw":
            end = off + len(data)
            if end > len(self.rw):
                self.rw.extend(bytes(end - len(self.rw)))
            self.rw[off:end] = data
        else:
            self._cow_store(off, data)
        return len(data)

    def truncate(self, size):
        self._size_to(size)
        return 0

    def resize(self, size):
        low = min(size, len(self.rw))
        self.land(self.pages(low, max(size, len(self.rw)) - low), ())
        self._size_to(size)
        return 0

    def move(self, cow, dest, src, count):
        size = self.cow_size if cow else len(self.rw)
        if dest + count > size or src + count > size:
            return -errno.EINVAL
        if count and dest != src:
            touched = self.pages(src, count) | self.pages(dest, count)
            if cow:
                self.land((), touched)
                self._cow_store(dest, self.cow_bytes()[src:src + count])
            else:
                self.land(touched, ())
                self.rw[dest:dest + count] = self.rw[src:src + count]
        return 0

    def reset(self):
        self.land((), None)
        self.private = {}
        self.cow_size = len(self.rw)
        return 0

    def flush(self, off=None, size=None):
        if off is None:
            self.land(None, ())
            return 0
        if off + size > len(self.rw):
            return -errno.EINVAL
        start = off // PAGE * PAGE
        self.land(self.pages(start, off + size - start) if size else (), ())
        return 0

    def reload(self, new_path):
        if new_path != self.cur:
            self.land()
            self.files[self.cur] = bytearray(self.rw)
            self.cur = new_path
            self.fresh_entry()
        return 0


class MappedRun:
    """The processes, the steps and the comparisons."""

    MAPPERS = ("map0", "map1")      # rw/x
    COW_MAPPER = "cowmap"           # cow/x

    def __init__(self, mount, seed, interleave, reload_paths):
        import mapclient
        self.mapclient = mapclient
        self.m = mount
        self.rng = random.Random(seed)
        self.seed = seed
        self.interleave = interleave
        self.reload_paths = reload_paths
        files = {p: mount.read_backing(p) for p in ("A.bin", "B.bin")}
        self.model = MappedModel(files, "A.bin")
        self.other_entry = False    # the extra entry that benign reloads toggle
        self.maplen = {}
        self.helpers = []
        self.writer = self._helper("writer")
        self.admin = self._helper("admin")
        self.clients = {n: self._helper(n) for n in self.MAPPERS + (self.COW_MAPPER,)}
        self._open_writer()
        for name in self.clients:
            self._map(name)

    def _helper(self, name):
        h = self.mapclient.Helper(name, self.m)
        self.helpers.append(h)
        return h

    def close(self):
        for h in self.helpers:
            h.kill()

    def path(self, view):
        return self.m.path(view, "x")

    def view_of(self, name):
        return "cow" if name == self.COW_MAPPER else "rw"

    def _open_writer(self):
        self.writer.ok("open", "rw", self.path("rw"), os.O_RDWR)
        self.writer.ok("open", "cow", self.path("cow"), os.O_RDWR)

    def _map(self, name):
        view = self.view_of(name)
        length = max(1, len(self.model.rw) if view == "rw" else self.model.cow_size)
        self.clients[name].ok("map", "x", self.path(view), length)
        self.maplen[name] = length

    # ---- the steps ----

    def _data(self, limit):
        n = self.rng.choice([1, 7, 100, PAGE - 1, PAGE, PAGE + 3, 2 * PAGE])
        return self.rng.randbytes(max(1, min(n, limit)))

    def _cow_range_known(self, off, n):
        return all(self.model.cow_known(p) for p in self.model.pages(off, n))

    def _poke_step(self):
        name = self.rng.choice(self.MAPPERS + (self.COW_MAPPER,))
        view = self.view_of(name)
        size = len(self.model.rw) if view == "rw" else self.model.cow_size
        limit = min(self.maplen[name], size)
        if limit <= 0:
            return None
        for _ in range(5):
            off = self.rng.randrange(0, limit)
            data = self._data(limit - off)
            if view == "rw" or self._cow_range_known(off, len(data)):
                return ("poke", name, off, data)
        return None

    def _pwrite_step(self):
        if self.rng.random() < 0.6:
            off = self.rng.randrange(0, len(self.model.rw) + PAGE)
            data = self._data(MAP_MAX - off)
            return ("pwrite", "rw", off, data) if off < MAP_MAX else None
        for _ in range(5):
            off = self.rng.randrange(0, self.model.cow_size)
            data = self._data(self.model.cow_size - off)
            if self._cow_range_known(off, len(data)):
                return ("pwrite", "cow", off, data)
        return None

    def _size(self):
        return self.rng.choice([
            self.rng.randrange(self.model.cow_size, MAP_MAX + 1),
            min(MAP_MAX, max(self.model.cow_size, self.rng.randrange(1, MAP_MAX // PAGE + 1) * PAGE)),
            self.model.cow_size, len(self.model.rw)])

    def _offset(self, size):
        return max(0, min(size, self.rng.choice([0, PAGE, size - 1, size,
                                                self.rng.randrange(0, size + 1)])))

    def random_step(self):
        kinds = ["poke", "msync", "remap", "pwrite", "truncate", "move", "move_cow",
                 "resize", "reset", "flush", "reload"]
        weights = [30, 10, 3, 14, 3, 7, 4, 6, 3, 4, 2]
        kind = self.rng.choices(kinds, weights)[0]
        step = None
        if kind == "poke":
            step = self._poke_step()
        elif kind == "msync":
            step = ("msync", self.rng.choice(sorted(self.clients)))
        elif kind == "remap":
            step = ("remap", self.rng.choice(sorted(self.clients)))
        elif kind == "pwrite":
            step = self._pwrite_step()
        elif kind == "truncate":
            step = ("truncate", self._size())
        elif kind in ("move", "move_cow"):
            cow = kind == "move_cow"
            size = self.model.cow_size if cow else len(self.model.rw)
            count = min(size, self.rng.choice([0, 1, 100, PAGE, self.rng.randrange(0, size + 1)]))
            if self.rng.random() < 0.1:     # maybe past the end: EINVAL
                dest, src = self._offset(size), self._offset(size)
            else:
                dest, src = (self.rng.randrange(0, size - count + 1) for _ in range(2))
            # Unwritten cow pages over maybe dirty rw pages: unknown bytes.
            if not cow or self._cow_range_known(src, count):
                step = ("move", cow, dest, src, count)
        elif kind == "resize":
            step = ("resize", self._size())
        elif kind == "reset":
            step = ("reset",)
        elif kind == "flush":
            size = len(self.model.rw)
            if self.rng.random() < 0.4:
                step = ("flush", None, None)
            else:
                off = self._offset(size)
                step = ("flush", off, self.rng.choice([0, 1, PAGE, size - off, size]))
        else:
            change = self.reload_paths and self.rng.random() < 0.6
            step = ("reload", self.model.other if change else self.model.cur)
        return step or ("msync", self.rng.choice(sorted(self.clients)))

    def apply(self, step):
        """Runs STEP on the mount; returns (what it returned, the model's)."""
        op, *a = step
        mdl = self.model
        if op == "poke":
            name, off, data = a
            view = self.view_of(name)
            self.clients[name].poke("x", off, data)
            want = mdl.poke(view, off, data)
            if not self.interleave:         # the control: written back at once
                got = -self.clients[name].errno_of("msync", "x")
                return got, mdl.msync(view, self.maplen[name])
            return 0, want
        if op == "msync":
            name = a[0]
            got = -self.clients[name].errno_of("msync", "x")
            return got, mdl.msync(self.view_of(name), self.maplen[name])
        if op == "remap":
            name = a[0]
            self.clients[name].ok("unmap", "x")
            self._map(name)
            return 0, 0
        if op == "pwrite":
            view, off, data = a
            out = self.writer.call("fd_pwrite", view, off, data.hex())
            return (out["n"] if out["ok"] else -out["errno"]), mdl.pwrite(view, off, data)
        if op == "truncate":
            return -self.writer.errno_of("fd_truncate", "rw", a[0]), mdl.truncate(a[0])
        ctl = self.m.path("ctl", "x")
        if op == "move":
            cow, dest, src, count = a
            text = "%s%d %d %d\n" % ("cow " if cow else "", dest, src, count)
            return -self.admin.command(os.path.join(ctl, "move"), text), mdl.move(*a)
        if op == "resize":
            return -self.admin.command(os.path.join(ctl, "resize"), "%d\n" % a[0]), mdl.resize(a[0])
        if op == "reset":
            return -self.admin.command(os.path.join(ctl, "reset"), "\n"), mdl.reset()
        if op == "flush":
            off, size = a
            text = "\n" if off is None else "%d %d\n" % (off, size)
            want = mdl.flush(off, size)
            return -self.admin.command(os.path.join(ctl, "flush"), text), want
        if op == "reload":
            return self._reload(a[0])
        raise ValueError(op)

    def _reload(self, path):
        changes = path != self.model.cur
        before = {v: self.admin.ok("stat", self.path(v))["ino"] for v in ("ro", "rw", "cow")}
        if not changes:
            self.other_entry = not self.other_entry
        text = "[x]\npath = %s\n" % path
        if self.other_entry:
            text += "[other]\nanonymous = yes\nlength = 4K\n"
        tmp = self.m.config_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.m.config_path)
        n = self.m.stderr.count("reloaded:")
        os.kill(self.m.pid, signal.SIGHUP)
        deadline = time.monotonic() + self.mapclient.CALL_TIMEOUT
        while self.m.stderr.count("reloaded:") <= n:
            if time.monotonic() > deadline:
                raise self.mapclient.HangError('no "reloaded:" in the log within %.0f s'
                                               % self.mapclient.CALL_TIMEOUT)
            time.sleep(0.01)
        want = self.model.reload(path)
        if not changes:
            return 0, want
        problems = []
        after = {v: self.admin.ok("stat", self.path(v))["ino"] for v in ("ro", "rw", "cow")}
        same = [v for v in after if after[v] == before[v]]
        if same:
            problems.append("inode numbers kept by %s/x, whose path changed" % ", ".join(same))
        got = self.writer.errno_of("fd_pread", "rw", 0, 1)
        if got != errno.ESTALE:
            problems.append("a descriptor of rw/x opened before: pread %s, not ESTALE"
                            % (errno.errorcode.get(got, got) if got else "succeeds"))
        self.writer.ok("close", "rw")
        self.writer.ok("close", "cow")
        self._open_writer()
        for name in self.clients:
            self.clients[name].ok("unmap", "x")
            self._map(name)
        return ("; ".join(problems) or 0), want

    # ---- the comparisons ----

    def compare(self):
        mdl = self.model
        rw = bytes(mdl.rw)

        def differs(got, want, what, pages=None):
            if len(got) != len(want):
                return "%s: %d bytes, model %d" % (what, len(got), len(want))
            for p in range((len(want) + PAGE - 1) // PAGE):
                if pages is not None and p not in pages:
                    continue
                a, b = got[p * PAGE:(p + 1) * PAGE], want[p * PAGE:(p + 1) * PAGE]
                if a != b:
                    at = next(i for i in range(len(b)) if a[i] != b[i])
                    return "%s: page %d differs from byte %d on" % (what, p, p * PAGE + at)
            return None

        known = set(range((len(rw) + PAGE - 1) // PAGE)) - mdl.dirty
        out = []
        st = self.writer.ok("fd_fstat", "rw")
        if st["size"] != len(rw):
            out.append("rw/x: st_size %d, model %d" % (st["size"], len(rw)))
        out.append(differs(self.writer.data("fd_pread", "rw", 0, len(rw) + PAGE), rw,
                           "rw/x (a descriptor opened before)"))
        cow = mdl.cow_bytes()
        st = self.writer.ok("fd_fstat", "cow")
        if st["size"] != mdl.cow_size:
            out.append("cow/x: st_size %d, model %d" % (st["size"], mdl.cow_size))
        cow_known = {p for p in range((mdl.cow_size + PAGE - 1) // PAGE) if mdl.cow_known(p)}
        out.append(differs(self.writer.data("fd_pread", "cow", 0, mdl.cow_size + PAGE), cow,
                           "cow/x (a descriptor opened before)", cow_known))
        out.append(differs(self.m.read_backing(mdl.cur), rw,
                           "%s (the backing file; pages maybe still dirty: %s)"
                           % (mdl.cur, sorted(mdl.dirty)), known))
        out.append(differs(self.m.read_backing(mdl.other), bytes(mdl.files[mdl.other]),
                           "%s (the other file, which nothing may write)" % mdl.other))
        out.append(differs(self.admin.read(self.path("ro")), rw, "ro/x (opened afresh)", known))
        name = self.rng.choice(sorted(self.clients))
        view = self.view_of(name)
        limit = min(self.maplen[name], len(rw) if view == "rw" else mdl.cow_size)
        seen = self.clients[name].data("peek", "x", 0, limit)
        out.append(differs(seen, (rw if view == "rw" else cow)[:limit],
                           "%s's mapping of %s/x" % (name, view), None if view == "rw" else cow_known))
        if not mdl.dirty and not mdl.cow_dirty:
            text = self.admin.read(self.m.path("ctl", "x", "status")).decode()
            status = dict(line.split(": ", 1) for line in text.splitlines())
            n_cow = (mdl.cow_size + PAGE - 1) // PAGE
            want = {"size": str(len(rw)), "cow_size": str(mdl.cow_size),
                    "cow_private_bytes": str(PAGE * sum(1 for p in mdl.private if p < n_cow))}
            got = {k: status.get(k) for k in want}
            if got != want:
                out.append("status %s, model %s" % (got, want))
        return "; ".join(p for p in out if p) or None


def _describe_mapped(step):
    op, *args = step
    shown = [f"<{len(a)} bytes>" if isinstance(a, bytes) else repr(a) for a in args]
    return f"{op}({', '.join(shown)})"


def run_mapped(mount, seed, steps, interleave=True, reload_paths=True):
    """STEPS random steps from SEED with mapping clients (see above) on
    MOUNT, a mount of '[x]\\npath = A.bin' with A.bin and B.bin; raises
    AssertionError naming the seed and the steps on the first divergence.
    Returns the number of steps done and the model (the helpers are gone:
    what the files must hold once unmounted is files[other], and rw for
    files[cur])."""
    r = MappedRun(mount, seed, interleave, reload_paths)
    done = []
    try:
        problem = r.compare()
        if problem:
            raise AssertionError(f"model divergence at the start (seed {seed}): {problem}")
        for i in range(steps):
            step = r.random_step()
            done.append(step)
            got, want = r.apply(step)
            problem = None
            if isinstance(got, str):
                problem = "; ".join(p for p in (got, r.compare()) if p)
            elif got != want:
                problem = f"returned {got}, model {want}"
            else:
                problem = r.compare()
            if problem:
                history = "\n  ".join(f"{n}: {_describe_mapped(s)}" for n, s in enumerate(done))
                raise AssertionError(
                    f"model divergence at step {i} (seed {seed}, interleave={interleave}): "
                    f"{_describe_mapped(step)}: {problem}\nsteps:\n  {history}")
        for h in r.helpers:
            h.exit()
    finally:
        r.close()
    return len(done), r.model
