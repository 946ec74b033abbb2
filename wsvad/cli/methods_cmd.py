"""`wsvad methods`: what can be trained, with the official defaults."""

import dataclasses
import json

from wsvad.methods import get_method, list_methods


def run(args) -> int:
    rows = []
    for name in list_methods():
        cls = get_method(name)
        rows.append({
            "name": name,
            "paper": cls.paper,
            "official_code": cls.official_code,
            "inputs": dataclasses.asdict(cls.inputs),
            "defaults": dataclasses.asdict(cls.Config()),
            "search_space": cls.search_space,
        })
    if args.json:
        print(json.dumps(rows, indent=2, default=list))
        return 0
    for r in rows:
        d = r["defaults"]
        budget = f"{d['max_epochs']} epochs" if d["max_epochs"] else f"{d['max_steps']} steps"
        print(f"{r['name']:<9} {r['paper'][:110]}")
        print(f"          lr {d['lr']:g}, wd {d['weight_decay']:g}, batch {d['batch_size']}+{d['batch_size']}, "
              f"{d['segments']} segments ({r['inputs']['pooling']}), {budget}; crops: train {r['inputs']['train_crops']}, "
              f"test {r['inputs']['test_crops']}")
        print(f"          {r['official_code']}")
    return 0
