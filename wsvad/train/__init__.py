"""The pure-torch trainer: bags, pooling, seeding, periodic evaluation, honest model selection."""

from wsvad.train.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from wsvad.train.trainer import TrainOptions, TrainResult, Trainer, train

__all__ = ["TrainOptions", "TrainResult", "Trainer", "train",
           "load_checkpoint", "model_from_checkpoint", "save_checkpoint"]
