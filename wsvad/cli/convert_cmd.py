"""`wsvad convert`: an official checkpoint (a saved state_dict) → a wsvad checkpoint."""

from pathlib import Path

import numpy as np
import torch

from wsvad.errors import CheckpointError, ConfigError
from wsvad.methods import get_method, make_config
from wsvad.train import save_checkpoint


def read_official_state_dict(path) -> dict:
    """A state_dict saved by official code, loaded without unpickling arbitrary objects."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: cannot be read as a plain state_dict with weights_only=True "
                              f"({type(exc).__name__}: {(str(exc).splitlines() or [''])[0]})") from None
    for key in ("state_dict", "model", "model_state_dict"):  # common wrappers around the state_dict
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: expected a state_dict (a dict of tensors) as saved by torch.save(model.state_dict())")
    return obj


def run(args) -> int:
    cls = get_method(args.method)
    dim = args.feature_dim or cls.inputs.official_dim
    if dim is None:
        raise ConfigError(f"{cls.name} has no official feature dimension: pass --feature-dim")
    model = cls(make_config(cls), dim)
    state_dict = read_official_state_dict(args.official)
    if args.dictionary:
        if not hasattr(model, "set_dictionary"):
            raise ConfigError(f"--dictionary is only for methods with a dictionary (s3r), not {cls.name}")
        try:
            dictionary = np.load(args.dictionary, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{args.dictionary}: not a readable .npy array ({exc})") from None
        if dictionary.ndim != 2 or dictionary.shape[1] != dim or not np.isfinite(dictionary).all():
            raise CheckpointError(f"{args.dictionary}: dictionary must be a finite (S, {dim}) array, got {dictionary.shape}")
        model.load_official(state_dict, dictionary=torch.from_numpy(dictionary.astype(np.float32)))
    else:
        model.load_official(state_dict)
    save_checkpoint(args.out, model=model, feature_set_hash="", dataset=args.dataset,
                    extra={"converted_from": str(Path(args.official).resolve()), "official_code": cls.official_code})
    print(f"converted {args.official} ({cls.name}, feature dim {dim}) to {args.out}")
    return 0
