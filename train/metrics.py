"""Metrics of a run: one JSON object per line in `<run_dir>/metrics.jsonl`, the same scalars as
TensorBoard event files in `<run_dir>/tensorboard/` (`tensorboard --logdir RUN_DIR`), and a plot."""

import json
import time
from pathlib import Path


class MetricsLog:
    """Appends {"step", "time", **values} lines; flushed per line so a killed run keeps what it logged.

    On resume, lines past the resumed step (logged after the last checkpoint of the interrupted run) are
    dropped first, so the file reads as one run; TensorBoard (event files in the folder `tensorboard`)
    is told to purge the same events."""

    def __init__(self, path, tensorboard, *, resume_step: int | None = None):
        from tensorboardX import SummaryWriter

        self.path = Path(path)
        if resume_step is not None and self.path.is_file():
            kept = [line for line in self.path.read_text().splitlines() if _step(line) <= resume_step]
            self.path.write_text("".join(line + "\n" for line in kept))
        self.file = open(self.path, "a")
        purge = resume_step + 1 if resume_step else None  # a fresh run (step 0) has nothing to purge
        self.events = SummaryWriter(str(tensorboard), purge_step=purge)

    def write(self, step: int, **values) -> None:
        record = {"step": step, "time": round(time.time(), 3), **{k: float(v) for k, v in values.items()}}
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        for name, value in values.items():
            self.events.add_scalar(name, float(value), step)
        self.events.flush()  # a killed run keeps these too

    def close(self) -> None:
        self.file.close()
        self.events.close()


def _step(line: str) -> int:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return -1


def read_metrics(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def plot_metrics(path, out, *, title: str = "training") -> None:
    """Loss and PSNR against step, as a PNG (needs matplotlib, a dev dependency)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jax_softsplat.files import atomic_path

    records = read_metrics(path)
    train = [r for r in records if "loss" in r]
    val = [r for r in records if "val_psnr" in r]
    figure, (loss_axis, psnr_axis) = plt.subplots(1, 2, figsize=(10, 3.6))
    loss_axis.plot([r["step"] for r in train], [r["loss"] for r in train])
    loss_axis.set(xlabel="step", ylabel="training loss", yscale="log", title=f"{title}: loss")
    psnr_axis.plot([r["step"] for r in train], [r["psnr"] for r in train], label="training batch")
    if val:
        psnr_axis.plot([r["step"] for r in val], [r["val_psnr"] for r in val], "o-", label="validation")
    psnr_axis.set(xlabel="step", ylabel="PSNR (dB)", title=f"{title}: PSNR")
    psnr_axis.legend()
    figure.tight_layout()
    with atomic_path(out) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)
