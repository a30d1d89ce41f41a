"""A plain in-memory model of one mmapfs entry, and a randomized
differential run of the real mount against it (SPEC "Views" and "Control
files").

The model is two things: the region's bytes (the ro and rw views, and the
backing file, since the entry maps its whole file), and the cow view, which
is the region's bytes seen through the pages the cow view has written
(MAP_PRIVATE: an unwritten page shows the file as it is now; the first write
to a page copies the page as it is then).
"""

import errno
import os
import random

PAGE = os.sysconf("SC_PAGE_SIZE")


class Model:
    def __init__(self, data):
        self.region = bytearray(data)
        self.cow_size = len(data)
        self.private = {}  # cow page index -> bytearray(PAGE)

    # ---- the cow view ----

    def _file_page(self, p):
        page = self.region[p * PAGE:(p + 1) * PAGE]
        return page + bytes(PAGE - len(page))

    def cow_bytes(self):
        out = bytearray(self.region[:self.cow_size])
        for p, page in self.private.items():
            start = p * PAGE
            if start < self.cow_size:
                end = min(start + PAGE, self.cow_size)
                out[start:end] = page[:end - start]
        return bytes(out)

    def _cow_store(self, off, data):
        for i in range(0, len(data)):
            p, o = divmod(off + i, PAGE)
            if p not in self.private:
                self.private[p] = bytearray(self._file_page(p))
            self.private[p][o] = data[i]

    # ---- operations; each returns what the syscall returns, or an errno ----

    def write_rw(self, off, data):
        end = off + len(data)
        if end > len(self.region):
            self.region.extend(bytes(end - len(self.region)))
        self.region[off:end] = data
        return len(data)

    def write_cow(self, off, data):
        if off >= self.cow_size:
            return -errno.ENOSPC if data else 0
        n = min(len(data), self.cow_size - off)
        # Pages are copied as they are when first written, so store page by
        # page in order: a write never reads what it wrote.
        self._cow_store(off, data[:n])
        return n

    def resize(self, size):
        if size < len(self.region):
            del self.region[size:]
        else:
            self.region.extend(bytes(size - len(self.region)))
        if size < self.cow_size:
            self.cow_size = size
            last = (size + PAGE - 1) // PAGE
            self.private = {p: v for p, v in self.private.items() if p < last}
        return 0

    def move(self, cow, dest, src, count):
        size = self.cow_size if cow else len(self.region)
        if dest + count > size or src + count > size:
            return -errno.EINVAL
        if dest == src:
            return 0  # writes nothing: no cow page is copied
        if cow:
            moved = self.cow_bytes()[src:src + count]
            self._cow_store(dest, moved)
        else:
            self.region[dest:dest + count] = self.region[src:src + count]
        return 0

    def reset(self):
        self.private = {}
        self.cow_size = len(self.region)
        return 0

    def flush(self, off, size):
        return 0 if off + size <= len(self.region) else -errno.EINVAL


class Mounted:
    """The same operations on the mount, through descriptors opened once at
    the start, so that every read also checks that cached pages of
    descriptors opened earlier were invalidated."""

    def __init__(self, mnt, name, backing):
        self.mnt, self.name, self.backing = mnt, name, backing
        self.ro = os.open(f"{mnt}/ro/{name}", os.O_RDONLY)
        self.rw = os.open(f"{mnt}/rw/{name}", os.O_RDWR)
        self.cow = os.open(f"{mnt}/cow/{name}", os.O_RDWR)

    def close(self):
        for fd in (self.ro, self.rw, self.cow):
            os.close(fd)

    @staticmethod
    def _call(fn, *args):
        try:
            result = fn(*args)
            return 0 if result is None else result
        except OSError as e:
            return -e.errno

    def ctl(self, file, text):
        def write():
            fd = os.open(f"{self.mnt}/ctl/{self.name}/{file}", os.O_WRONLY | os.O_TRUNC)
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

    def move(self, cow, dest, src, count):
        return self.ctl("move", f"{'cow ' if cow else ''}{dest} {src} {count}\n")

    def reset(self):
        return self.ctl("reset", "\n")

    def flush(self, off, size):
        return self.ctl("flush", f"{off:#x} {size}\n")

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


def _random_step(rng, model):
    size, cow_size = len(model.region), model.cow_size
    kind = rng.choices(
        ["write_rw", "write_cow", "move", "move_cow", "resize_up", "resize_down",
         "truncate", "reset", "flush"],
        weights=[25, 20, 12, 8, 6, 6, 5, 4, 4])[0]
    data = bytes(rng.getrandbits(8) for _ in range(rng.choice([1, 7, 100, PAGE, PAGE + 3, 3 * PAGE])))
    if kind == "write_rw":
        return ("write_rw", min(_random_offset(rng, size), 1 << 18), data)
    if kind == "write_cow":
        return ("write_cow", _random_offset(rng, cow_size), data)
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
    for view in ("ro", "rw", "cow"):
        size, data = mounted.read_all(getattr(mounted, view))
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
