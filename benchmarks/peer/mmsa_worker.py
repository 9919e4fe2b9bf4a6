"""The peer side of `benchmarks/bench_peer.py`: MMSA's MULT (PyTorch), trained as MMSA trains it.

The model is MMSA's own `MULT`, built from MMSA's regression config for `mult` on MOSEI
(`MMSA.get_config_regression`); a training step is the one of MMSA's MULT trainer
(`MMSA/trains/singleTask/MULT.py`): L1 loss, `clip_grad_value_` with the config's
`grad_clip`, Adam at its `learning_rate`, float32. MMSA's trainer adds up the gradients
of `update_epochs` (8) batches of 4 before each update; here every batch is one update.
Runs in benchmarks/peer/.venv (`make peer`), from the repository root:

    benchmarks/peer/.venv/bin/python -m benchmarks.peer.mmsa_worker DATA.npz THREADS
"""

import sys
from importlib.metadata import version

from benchmarks.peer.protocol import load_batch, missing, serve

try:
    import torch
    from MMSA import get_config_regression
    from MMSA.models.singleTask.MULT import MULT
    from torch.utils.flop_counter import FlopCounterMode
except ImportError as error:
    missing(error)


class Trainer:
    """MMSA's MULT, its optimizer and one step of MMSA's MULT trainer on a fixed batch."""

    def __init__(self, config, batch):
        torch.manual_seed(0)
        self.grad_clip = config.grad_clip
        self.model = MULT(config)
        self.model.train()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate)
        self.criterion = torch.nn.L1Loss()
        # MULT takes (batch, length, features) tensors and transposes them itself.
        self.inputs = [torch.from_numpy(batch[key]) for key in ("text", "audio", "vision")]
        self.labels = torch.from_numpy(batch["labels"]).view(-1, 1)
        self.params = sum(p.numel() for p in self.model.parameters())

    def step(self):
        self.optimizer.zero_grad()
        loss = self.criterion(self.model(*self.inputs)["M"], self.labels)
        loss.backward()
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        torch.nn.utils.clip_grad_value_(trainable, self.grad_clip)
        loss.item()
        self.optimizer.step()

    def train(self, steps):
        for _ in range(steps):
            self.step()

    def flops(self):
        with FlopCounterMode(display=False) as counter:
            self.step()
        return {"flops": counter.get_total_flops(), "notes": []}


def main():
    data_path, threads = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(threads)
    config = get_config_regression("mult", "mosei")
    config.train_mode = "regression"  # MMSA's runner sets it too
    serve(lambda batch_size: Trainer(config, load_batch(data_path, batch_size)),
          config=dict(config), versions={"torch": torch.__version__, "MMSA": version("MMSA")})


if __name__ == "__main__":
    main()
