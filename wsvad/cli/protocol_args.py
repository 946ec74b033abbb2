"""The evaluation protocol from CLI options (wsvad.cli.args.common.add_protocol)."""

from wsvad.protocol import Protocol


def protocol_from_args(args) -> Protocol:
    return Protocol(frames_per_snippet=args.frames_per_snippet, gt_length=args.gt_length, end=args.gt_end,
                    threshold=args.threshold)
