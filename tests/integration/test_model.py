"""
The randomized differential test: seeded random steps (pwrite on rw and
cow, move, cow move, resize up and down, truncate, reset, flush; fork,
drop, pwrite and truncate of cow instances, commit of cow/NAME or of an
instance) applied to the mount and to the in-memory model of model.py,
comparing ro, rw, cow, every instance (through a descriptor opened at its
fork) and the backing file after every step.

MMAPFS_MODEL_STEPS and MMAPFS_MODEL_SEEDS set the run's length (make
model-test runs a long one); a divergence names its seed and steps.

Mapped: the same with clients' own MAP_SHARED mappings of rw/x and cow/x
(model.run_mapped): two processes store into rw/x and one into cow/x
through their mappings, a writer pwrites and truncates, an admin sends
move, move cow, resize, reset and flush, and the test process reloads,
switching x between two files. MMAPFS_MODEL_MAP_STEPS and
MMAPFS_MODEL_MAP_SEEDS set their length. The control run msyncs every
store at once and never changes the path (nothing is dirty when another
process acts); the interleaved runs let the dirty pages wait (issue 10).
After the unmount the files must hold the model's bytes.
"""
import os
import random
import unittest

import model
from harness import Mount

STEPS = int(os.environ.get('MMAPFS_MODEL_STEPS', '250'))
MAP_STEPS = int(os.environ.get('MMAPFS_MODEL_MAP_STEPS', '80'))
MAP_SEEDS = [int(s) for s in os.environ.get('MMAPFS_MODEL_MAP_SEEDS', '1,2').split(',')]
SEEDS = [int(s) for s in os.environ.get('MMAPFS_MODEL_SEEDS', '1,2,3').split(',')]


class Differential(unittest.TestCase):
    def run_seed(self, seed, args=()):
        data = random.Random(seed).randbytes(5 * model.PAGE + 123)
        with Mount('[m]\npath = m.bin\n', files={'m.bin': data}, args=args) as m:
            done = model.run(m.mnt, 'm', m.backing('m.bin'), seed, STEPS)
        self.assertEqual(done, STEPS)

    def test_seeds(self):
        for seed in SEEDS:
            with self.subTest(seed=seed):
                self.run_seed(seed)

    def test_single_threaded(self):
        self.run_seed(SEEDS[0] + 1000, args=['-s'])


class Mapped(unittest.TestCase):
    def run_mapped(self, seed, interleave, reload_paths, args=()):
        rnd = random.Random(seed)
        files = {'A.bin': rnd.randbytes(5 * model.PAGE + 123),
                 'B.bin': rnd.randbytes(3 * model.PAGE + 700)}
        with Mount('[x]\npath = A.bin\n', files=files, args=args) as m:
            done, mdl = model.run_mapped(m, seed, MAP_STEPS, interleave, reload_paths)
            status = m.stop()
            self.assertEqual(status, 0, m.stderr[-3000:])
            self.assertNotIn('replying before', m.stderr,
                             'a reply went out before the change was complete')
            for name in files:
                want = mdl.rw if name == mdl.cur else mdl.files[name]
                self.assertTrue(m.read_backing(name) == bytes(want),
                                '%s after the unmount differs from the model (seed %d)'
                                % (name, seed))
        self.assertEqual(done, MAP_STEPS)

    def test_mappings_control_without_interleaving(self):
        for seed in MAP_SEEDS:
            with self.subTest(seed=seed):
                self.run_mapped(seed, interleave=False, reload_paths=False)

    def test_mappings_interleaved_with_commands_and_reloads(self):
        for seed in MAP_SEEDS:
            with self.subTest(seed=seed):
                self.run_mapped(seed, interleave=True, reload_paths=True)

    def test_mappings_interleaved_single_threaded(self):
        self.run_mapped(MAP_SEEDS[0] + 1000, interleave=True, reload_paths=True, args=['-s'])


if __name__ == '__main__':
    unittest.main()
