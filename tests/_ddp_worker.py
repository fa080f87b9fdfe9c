"""One process of the distributed-training test (run by torchrun, or directly for the 1-process
reference).

usage: python tests/_ddp_worker.py OUT_DIR BATCH_SIZE STEPS MODE
MODE 'mvnet' trains the mvnet recipe on a tiny SyntheticShapes configuration; MODE 'exact' trains a
per-sample regression on the same data with no batch-coupled layer (no BatchNorm, a mean of
per-sample losses), where one process with the combined batch must agree with the distributed run
to round-off. Saves this rank's parameters.
"""
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402

from p2ikit.recipes import build_trainer, make_datasets, recipe_config  # noqa: E402
from p2ikit.teachers import OpenCLIPTeacher  # noqa: E402
from p2ikit.trainer import Method, Trainer  # noqa: E402
from p2ikit.transforms import collate_points  # noqa: E402

out, batch, steps, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]


class PerSampleRegression(Method):
    "Predict each cloud's extent from its points: a loss that is a plain mean over samples."
    recipe = "exact"

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(3, 32), torch.nn.ReLU(),
                                       torch.nn.Linear(32, 3))

    def forward(self, inputs):
        pred = self.net(inputs["points"]).mean(1)
        loss = (pred - inputs["points"].abs().amax(1)).pow(2).mean()
        return loss, {}


torch.set_num_threads(1)
torch.manual_seed(0)
teacher = OpenCLIPTeacher("p2i-test-vit", image_size=32)
cfg = recipe_config("mvnet", [
    "data.num_points=128", "data.samples_per_class=2", f"data.batch_size={batch}",
    "render.image_size=32", "render.views=3", "render.teacher_input=depth",
    f"optim.max_steps={steps}", "optim.warmup_steps=1", "optim.lr=1e-3", "run.progress=false",
    "run.ckpt_every=0"])
if mode == "exact":
    torch.manual_seed(0)
    trainer = Trainer(PerSampleRegression(), make_datasets(cfg)["train"], cfg,
                      collate_fn=collate_points)
else:
    trainer = build_trainer(cfg, run_dir=None, teacher=teacher)
start = {k: v.detach().clone() for k, v in trainer.method.state_dict().items()}
trainer.fit()
rank = int(os.environ.get("RANK", 0))
torch.save({"start": start, "end": trainer.method.state_dict(),
            "losses": [r["loss"] for r in trainer.history], "world": trainer.world},
           os.path.join(out, f"rank{rank}.pt"))
if trainer.world > 1:
    torch.distributed.destroy_process_group()
