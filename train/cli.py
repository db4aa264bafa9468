"""`jax-softsplat train`: arguments and the glue from them to a Trainer (heavy imports happen on run)."""

import argparse
import logging
import os
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-dir", required=True, help="folder for checkpoints, config.json, metrics, weights")
    parser.add_argument(
        "--data",
        help="training data: a Vimeo-90k folder (holding tri_trainlist.txt) or a folder of videos / frame "
        "folders; generated scenes when omitted",
    )
    parser.add_argument("--data-kind", choices=("vimeo", "frames", "synthetic"), help="override the detected kind")
    parser.add_argument("--val", help="a folder of triplets (Vimeo layout or frame folders) validated periodically")
    parser.add_argument("--steps", type=int, help="total training steps (same as --set steps=N)")
    parser.add_argument("--init", help="start from these weights (.msgpack from save_weights, e.g. converted l1)")
    parser.add_argument("--config", help="a config.json to start from (e.g. another run's)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any hyperparameter, e.g. --set optim.lr=1e-4 --set data.batch_size=8 "
        "(see train/config.py; model.network.NAME=JSON sets a NetworkConfig field)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --run-dir exactly where its last checkpoint left it (an error if there is none)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    multi = parser.add_argument_group("multi-host (passed to jax.distributed.initialize)")
    multi.add_argument("--coordinator", help="address:port of process 0")
    multi.add_argument("--num-processes", type=int)
    multi.add_argument("--process-id", type=int)


def _data_kind(path: str) -> str:
    return "vimeo" if (Path(path) / "tri_trainlist.txt").is_file() else "frames"


def build_config(args: argparse.Namespace):
    from .config import TrainConfig, apply_overrides

    run_dir = Path(args.run_dir)
    if args.resume:
        saved = run_dir / "config.json"
        if not saved.is_file():
            raise FileNotFoundError(f"--resume: {run_dir} holds no run to resume (no {saved.name})")
        config = TrainConfig.load(saved)
    elif args.config:
        config = TrainConfig.load(args.config)
    else:
        config = TrainConfig()
    if args.data:
        if not Path(args.data).is_dir():
            raise FileNotFoundError(f"--data {args.data}: no such folder")
        config.data.kind, config.data.path = args.data_kind or _data_kind(args.data), args.data
    elif args.data_kind:
        config.data.kind = args.data_kind
    if args.val:
        if not Path(args.val).is_dir():
            raise FileNotFoundError(f"--val {args.val}: no such folder")
        config.data.val_path, config.data.val_kind = args.val, _data_kind(args.val)
    if args.init:
        config.model.init = args.init
    if args.steps is not None:
        config.steps = args.steps
    return apply_overrides(config, args.overrides)


def run(args: argparse.Namespace) -> None:
    import jax

    if args.coordinator or args.num_processes:
        jax.distributed.initialize(
            coordinator_address=args.coordinator, num_processes=args.num_processes, process_id=args.process_id
        )
    # Our own messages (skipped triplets, resume, video decoding) at INFO; libraries' chatter (orbax
    # reports every file it writes) only from WARNING up.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("jax_softsplat.train").setLevel(logging.INFO)

    if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        # Compiling the network's train step takes minutes on a CPU; cached, a resumed run starts at once.
        jax.config.update("jax_compilation_cache_dir", str(Path.home() / ".cache" / "jax_softsplat" / "xla"))

    from .model import network_interpolation
    from .sources import make_source
    from .trainer import Trainer, check_run_dir

    config = build_config(args)
    # The cheap checks (run folder, data) come before building the network, which takes a while.
    check_run_dir(args.run_dir, resume=args.resume)
    data = config.data
    source = make_source(data.kind, data.path, cache=Path(args.run_dir) / "frames", config=data, seed=config.seed)
    interpolation = network_interpolation(config.model, seed=config.seed)
    trainer = Trainer(config, args.run_dir, interpolation, source=source)
    last = trainer.train(resume=args.resume, progress=not args.no_progress)
    if jax.process_index() == 0:
        summary = ", ".join(f"{k} {v:.4g}" for k, v in last.items())
        print(f"step {config.steps}: {summary}\nweights: {Path(args.run_dir) / 'weights.msgpack'}")
