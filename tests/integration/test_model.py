"""
The randomized differential test: seeded random steps (pwrite on rw and
cow, move, cow move, resize up and down, truncate, reset, flush) applied to
the mount and to the in-memory model of model.py, comparing ro, rw, cow and
the backing file after every step.

MMAPFS_MODEL_STEPS and MMAPFS_MODEL_SEEDS set the run's length (make
model-test runs a long one); a divergence names its seed and steps.
"""
import os
import random
import unittest

import model
from harness import Mount

STEPS = int(os.environ.get('MMAPFS_MODEL_STEPS', '250'))
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


if __name__ == '__main__':
    unittest.main()
