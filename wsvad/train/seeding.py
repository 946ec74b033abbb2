"""Seeding: the same seed and config give the same metrics on CPU."""

import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch's global RNG (dropout, init); return a generator for sampling.

    Bag sampling draws from its own generator so that a change in how many random numbers a
    method's forward consumes does not change which videos are sampled.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed + 1_000_003)
    return generator
